package webhookriver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/riverqueue/river/rivertype"
	"log/slog"
	"regexp"
	"time"

	"github.com/hookrail/webhook"
)

// Defaults of Config.
const (
	// DefaultWorkers is how many attempts to one endpoint a process runs
	// at once.
	DefaultWorkers = 20

	// DefaultFetchCooldown is the shortest time between two fetches of
	// one endpoint's deliveries: a fifth of River's default, so that the
	// defaults allow about 1,000 deliveries per second per endpoint and
	// process. It costs nothing while an endpoint has nothing to fetch.
	DefaultFetchCooldown = 20 * time.Millisecond

	// DefaultFetchPollInterval is how often an endpoint's deliveries are
	// looked for when no notification says they are there (always, with
	// SQLite and database/sql): River's default.
	DefaultFetchPollInterval = time.Second

	// DefaultDeliveredRetention is how long a delivered delivery, and so
	// its log, is kept.
	DefaultDeliveredRetention = 24 * time.Hour

	// DefaultFailedRetention is how long a failed delivery, and so its
	// log, is kept: long enough to redeliver it after an outage.
	DefaultFailedRetention = 7 * 24 * time.Hour

	// DefaultUnknownEndpointGrace is how long a delivery for an endpoint
	// a process does not have is left for one that has it.
	DefaultUnknownEndpointGrace = 15 * time.Minute
)

// Config tunes a Queue. The zero Config is ready to use.
//
// River fetches each endpoint's deliveries at most once per FetchCooldown
// and runs at most Workers of them at once, so one process attempts at
// most about Workers / FetchCooldown deliveries per second per endpoint
// (20 per 20 ms by default: 1,000 per second when the receiver answers at
// once; with River's own defaults, 10 per 100 ms, it would be 100). Raise
// Workers, or lower FetchCooldown, for more.
type Config struct {
	// Workers is how many attempts to one endpoint this process runs at
	// once. Each endpoint has a River queue of its own with this many
	// workers, so an endpoint that hangs holds only its own. Defaults to
	// DefaultWorkers (20).
	Workers int

	// FetchCooldown is River's QueueConfig.FetchCooldown: the shortest
	// time between two fetches of an endpoint's deliveries. Defaults to
	// DefaultFetchCooldown (20 ms).
	FetchCooldown time.Duration

	// FetchPollInterval is River's QueueConfig.FetchPollInterval: how
	// often an endpoint's deliveries are fetched when no notification
	// says new ones are there. With PostgreSQL through riverpgxv5 an
	// insert notifies at once; SQLite and riverdatabasesql only poll, so
	// this is their latency. Defaults to DefaultFetchPollInterval (1 s).
	FetchPollInterval time.Duration

	// RescueAfter is how long a delivery may stay in River's running
	// state before it is taken for the work of a process that died and
	// made available again (River's RescueStuckJobsAfter). It must be
	// longer than any endpoint's Timeout plus 10 s. Defaults to the
	// longest Timeout of the endpoints the queue starts with, and of the
	// Emitter's (webhook.Config.Timeout), plus one minute. River cannot
	// change it once started: when endpoints added at runtime may have a
	// longer Timeout, set it.
	RescueAfter time.Duration

	// DeliveredRetention is how long a delivered delivery and its log
	// are kept (River's CompletedJobRetentionPeriod). Defaults to
	// DefaultDeliveredRetention (24 h).
	DeliveredRetention time.Duration

	// FailedRetention is how long a failed delivery and its log are kept
	// (River's CancelledJobRetentionPeriod and DiscardedJobRetentionPeriod).
	// Defaults to DefaultFailedRetention (7 days).
	FailedRetention time.Duration

	// UnknownEndpointGrace is how long after it was stored a delivery for
	// an endpoint this process does not have is left for a process that
	// has it (another instance, during a rolling deploy that adds the
	// endpoint): until then, an attempt here puts it back, uncounted, for
	// a tenth of the grace, 30 s at most. After it, the delivery is given up with
	// webhook.ErrEndpointNotFound, logged and reported to OnFailure: its
	// endpoint left the configuration. Defaults to
	// DefaultUnknownEndpointGrace (15 minutes).
	UnknownEndpointGrace time.Duration

	// Schema is the PostgreSQL schema of River's tables and the queue's
	// (River's Config.Schema): every query names it, so that EmitTx in a
	// transaction of the host's, whose search path is the host's own,
	// still reaches them. Create it and run MigrateSchema on it first. A
	// host that runs River for its own jobs must give the queue a schema
	// of its own: River's leader discards the job kinds it has no worker
	// for. "": the connection's search path.
	Schema string

	// InsertOnly makes a queue that stores deliveries but attempts none:
	// for a process (a web tier) that emits while other processes on the
	// same database, with the same endpoints, deliver. Defaults to false.
	InsertOnly bool

	// Plugins are River plugins (hooks and middleware) installed on the
	// River client the queue builds, such as River's OpenTelemetry
	// middleware (github.com/riverqueue/rivercontrib/otelriver), whose
	// work spans then parent the attempts' spans of the webhookotel
	// Observer. Nil: none.
	Plugins []rivertype.Plugin

	// Logger receives River's own logs. Nil: slog.Default(), from Warn
	// up. (The Emitter logs every delivery's failures itself; River
	// logs each failed attempt again at Info.)
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields defaulted, or an error
// naming each field that is out of range.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("webhookriver: %w: "+format, append([]any{webhook.ErrInvalidConfig}, args...)...))
	}
	if c.Workers < 0 || c.Workers > maxWorkers {
		bad("workers: %d is out of range [0, %d]", c.Workers, maxWorkers)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"fetch_cooldown", c.FetchCooldown},
		{"fetch_poll_interval", c.FetchPollInterval},
		{"rescue_after", c.RescueAfter},
		{"delivered_retention", c.DeliveredRetention},
		{"failed_retention", c.FailedRetention},
		{"unknown_endpoint_grace", c.UnknownEndpointGrace},
	} {
		if d.v < 0 {
			bad("%s: %s is negative", d.name, d.v)
		}
	}
	if c.FetchCooldown > 0 && c.FetchCooldown < time.Millisecond {
		bad("fetch_cooldown: %s is below River's minimum of 1ms", c.FetchCooldown)
	}
	if c.FetchPollInterval > 0 && c.FetchPollInterval < time.Millisecond {
		bad("fetch_poll_interval: %s is below River's minimum of 1ms", c.FetchPollInterval)
	}
	if c.Schema != "" && !schemaName.MatchString(c.Schema) {
		bad("schema: %q is not a plain identifier (letters, digits and _, not first a digit)", c.Schema)
	}
	if c.FetchCooldown > 0 && c.FetchPollInterval > 0 && c.FetchPollInterval < c.FetchCooldown {
		bad("fetch_poll_interval: %s is below fetch_cooldown (%s); River wants it at least as long", c.FetchPollInterval, c.FetchCooldown)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.FetchCooldown = cmp.Or(c.FetchCooldown, DefaultFetchCooldown)
	c.FetchPollInterval = cmp.Or(c.FetchPollInterval, max(DefaultFetchPollInterval, c.FetchCooldown))
	c.UnknownEndpointGrace = cmp.Or(c.UnknownEndpointGrace, DefaultUnknownEndpointGrace)
	c.DeliveredRetention = cmp.Or(c.DeliveredRetention, DefaultDeliveredRetention)
	c.FailedRetention = cmp.Or(c.FailedRetention, DefaultFailedRetention)
	if c.Logger == nil {
		c.Logger = slog.New(warnAndUp{slog.Default().Handler()})
	}
	return c, nil
}

// schemaName is the schema names Config.Schema takes: written in SQL as
// they are.
var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// maxWorkers is River's QueueNumWorkersMax.
const maxWorkers = 10_000

// warnAndUp passes on the records of its handler from slog.LevelWarn up.
type warnAndUp struct{ slog.Handler }

func (h warnAndUp) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnAndUp) WithAttrs(as []slog.Attr) slog.Handler { return warnAndUp{h.Handler.WithAttrs(as)} }
func (h warnAndUp) WithGroup(name string) slog.Handler    { return warnAndUp{h.Handler.WithGroup(name)} }
