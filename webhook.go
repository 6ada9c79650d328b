package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20
)

// Config configures an Emitter. The zero value with one Endpoint works.
//
// Printed (String, fmt.Formatter), logged (slog.LogValuer) or encoded
// (MarshalJSON, MarshalText), a Config shows its settings and its
// endpoints as Endpoint shows them, without their secrets (fmt's %p and
// %w of a Config value excepted, see Endpoint).
type Config struct {
	// Disabled turns Emit into a no-op. Defaults to false: enabled.
	Disabled bool

	// Endpoints are the receivers. Names must be unique.
	Endpoints []Endpoint

	// Sync makes Emit deliver inline to every matching endpoint at once,
	// retrying as configured within Emit's context, and return every
	// endpoint's failure, joined (Rail Django's on_failure "raise"): Emit
	// runs on an inline Queue instead of a queue of workers. Workers and
	// QueueSize are then unused, and Queue must be nil. Defaults to false:
	// deliveries are queued and Emit returns at once.
	Sync bool

	// Workers is the number of attempts run at once by the default
	// memory queue. Defaults to DefaultWorkers (32).
	Workers int

	// QueueSize bounds the deliveries the default memory queue holds
	// (one event to three endpoints is three; waiting retries count), in
	// equal shares per endpoint. Defaults to DefaultQueueSize (10,000).
	QueueSize int

	// Queue replaces the memory queue, for example with a durable one.
	// Workers and QueueSize are then the Queue's business. New starts it
	// and Close closes it.
	Queue Queue

	// Timeout bounds one attempt. Defaults to DefaultTimeout (30 s).
	Timeout time.Duration

	// Retry is the retry policy of endpoints without their own. Nil: the
	// defaults of Rail Django's settings (see RetryConfig).
	Retry *RetryConfig

	// CircuitBreaker configures every endpoint's circuit breaker, and so
	// how long a delivery may wait for an open circuit (its deadline).
	// The zero value opens after 10 down-looking failures for 30 s.
	CircuitBreaker CircuitBreaker

	// OnFailure is called once for every delivery that is given up, with
	// the reason (Rail Django's failure_callback). It runs on the goroutine
	// that gave the delivery up: a queue worker after its last attempt;
	// Emit's or Redeliver's when the body cannot be built or queued (and in
	// Sync mode); Close's for deliveries left when its ctx ended; one of
	// the queue's for those of an endpoint removed (RemoveEndpoint). It must
	// not block, and a panic in it is logged. Close waits for every call.
	// Failure.Body is shared with other deliveries: do not modify it.
	//
	// Errors about the event itself, which Emit returns before any
	// delivery exists, are not reported here: the caller has them.
	OnFailure func(Failure)

	// Monitor alerts on endpoints that keep failing.
	Monitor Monitor

	// Observer, if set, watches deliveries for metrics and traces (see
	// Observer, and the webhookotel module for OpenTelemetry).
	Observer Observer

	// Logger receives the library's logs: every failure at Error level,
	// retries at Debug. Secrets and redacted values never reach it.
	// Nil: slog.Default().
	Logger *slog.Logger

	// Models holds per-model settings by label ("store.Order"): Rail
	// Django's WebhookMeta. An entry here replaces the settings the
	// model's type declares through [MetaProvider].
	Models map[string]ModelMeta

	// LogStore keeps delivery logs. Nil: the Queue's own when it has one
	// (a method LogStore() LogStore: a durable queue keeps the logs in its
	// database, beside the deliveries), else a MemoryLogStore keeping the
	// logs of deliveries under way, and the DefaultLogSize (10,000) last
	// finished within DefaultLogBytes (64 MiB).
	LogStore LogStore

	// EndpointStore keeps the endpoints added at runtime (AddEndpoint,
	// UpdateEndpoint, RemoveEndpoint), so that they survive a restart and
	// every process sharing it sees every change. Nil: the Queue's own
	// when it has one (a method EndpointStore() EndpointStore, as the River
	// queue has), else none: runtime changes then live in this process
	// only. New loads the stored endpoints before it returns; Config's
	// Endpoints work beside them, and win over a stored endpoint of the
	// same name.
	EndpointStore EndpointStore

	// EndpointSync is how often the Emitter reads the changes other
	// processes made to the EndpointStore: a change made anywhere is in
	// use here within about this long. 0: DefaultEndpointSync (2 s).
	EndpointSync time.Duration

	// HTTPClient sends the requests. Nil: a client on a pooled transport
	// with an idle connection per worker. Its CheckRedirect is replaced so
	// that redirects are never followed.
	HTTPClient *http.Client

	// SSRFGuard, if set, refuses connections to internal addresses (see
	// SSRFGuard), for endpoint URLs that come from users. It needs an
	// *http.Transport (the default, or HTTPClient's).
	SSRFGuard *SSRFGuard

	// HTTPSOnly rejects endpoints whose URL, or OAuth2 token URL, is not
	// https. Defaults to false: http and https.
	HTTPSOnly bool

	// MaxBodyBytes bounds a body (after shaping). An event whose body for
	// an endpoint is larger fails that delivery, and Emit returns an error
	// wrapping ErrBodyTooLarge that names the endpoint. 0:
	// DefaultMaxBodyBytes (1 MiB); negative: no limit.
	MaxBodyBytes int

	// Now is the clock for timestamps (envelope, signature, logs) and for
	// a delivery's deadline (see CircuitBreaker). Nil: time.Now. Retry
	// delays and circuit cooldowns run on the real clock.
	Now func() time.Time
}

// String describes the configuration without its secrets: the settings
// that are plain values, the type of a Queue, the model labels, and each
// endpoint as Endpoint.String describes it. Callbacks, the logger and the
// HTTP client are left out.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Endpoints:%v Workers:%d QueueSize:%d Timeout:%s", c.Endpoints, c.Workers, c.QueueSize, c.Timeout)
	if c.Disabled {
		b.WriteString(" Disabled:true")
	}
	if c.Sync {
		b.WriteString(" Sync:true")
	}
	if c.Queue != nil {
		fmt.Fprintf(&b, " Queue:%T", c.Queue)
	}
	if c.HTTPSOnly {
		b.WriteString(" HTTPSOnly:true")
	}
	if c.SSRFGuard != nil {
		b.WriteString(" SSRFGuard:on")
	}
	if c.MaxBodyBytes != 0 {
		fmt.Fprintf(&b, " MaxBodyBytes:%d", c.MaxBodyBytes)
	}
	if len(c.Models) > 0 {
		fmt.Fprintf(&b, " Models:%v", slices.Sorted(maps.Keys(c.Models)))
	}
	b.WriteString("}")
	return b.String()
}

// GoString describes the configuration as String does, for fmt's %#v.
func (c Config) GoString() string { return "webhook.Config" + c.String() }

// Format implements fmt.Formatter so that every fmt verb prints String's
// description (see Endpoint.Format).
func (c Config) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, "webhook.Config", c.String())
}

// LogValue keeps the endpoints' secrets out of logs: the endpoints are
// logged as Endpoint.MarshalJSON (JSON handlers) or Endpoint.String
// (text handlers) shows them.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Any("endpoints", c.Endpoints),
		slog.Int("workers", c.Workers),
		slog.Int("queue_size", c.QueueSize),
		slog.Duration("timeout", c.Timeout),
		slog.Bool("disabled", c.Disabled),
		slog.Bool("sync", c.Sync),
		slog.Bool("https_only", c.HTTPSOnly),
		slog.Bool("ssrf_guard", c.SSRFGuard != nil),
		slog.Int("max_body_bytes", c.MaxBodyBytes),
	}
	if c.Queue != nil {
		attrs = append(attrs, slog.String("queue", fmt.Sprintf("%T", c.Queue)))
	}
	if len(c.Models) > 0 {
		attrs = append(attrs, slog.Any("models", slices.Sorted(maps.Keys(c.Models))))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the configuration without its secrets, for
// debugging: the fields String shows, each endpoint as
// Endpoint.MarshalJSON encodes it. It cannot be decoded back into a
// working Config.
func (c Config) MarshalJSON() ([]byte, error) {
	v := struct {
		Endpoints    []Endpoint `json:"endpoints"`
		Workers      int        `json:"workers,omitempty"`
		QueueSize    int        `json:"queue_size,omitempty"`
		Timeout      string     `json:"timeout,omitempty"`
		Disabled     bool       `json:"disabled,omitempty"`
		Sync         bool       `json:"sync,omitempty"`
		Queue        string     `json:"queue,omitempty"`
		HTTPSOnly    bool       `json:"https_only,omitempty"`
		SSRFGuard    bool       `json:"ssrf_guard,omitempty"`
		MaxBodyBytes int        `json:"max_body_bytes,omitempty"`
		Models       []string   `json:"models,omitempty"`
	}{
		Endpoints: c.Endpoints, Workers: c.Workers, QueueSize: c.QueueSize,
		Disabled: c.Disabled, Sync: c.Sync, HTTPSOnly: c.HTTPSOnly, SSRFGuard: c.SSRFGuard != nil,
		MaxBodyBytes: c.MaxBodyBytes,
	}
	if c.Timeout != 0 {
		v.Timeout = c.Timeout.String()
	}
	if c.Queue != nil {
		v.Queue = fmt.Sprintf("%T", c.Queue)
	}
	if len(c.Models) > 0 {
		v.Models = slices.Sorted(maps.Keys(c.Models))
	}
	return json.Marshal(v)
}

// MarshalText returns String's description (see Endpoint.MarshalText).
func (c Config) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// ModelMeta is one model's webhook settings: Rail Django's WebhookMeta.
type ModelMeta struct {
	// Disabled stops every event of the model.
	Disabled bool

	// Events lists the event types sent for the model. Empty: all.
	Events []EventType

	// ShouldSend decides per event; nil sends every event. It runs inside
	// Emit on the caller's goroutine. A panic makes Emit return an error
	// wrapping ErrInvalidEvent and ErrPanic, and nothing is sent.
	ShouldSend func(Event) bool
}

// MetaProvider may be implemented by a host model type to declare its
// webhook settings in code, as a Rail Django model's inner class
// WebhookMeta does.
// A Config.Models entry for the same label replaces it.
type MetaProvider interface {
	WebhookMeta() ModelMeta
}

// Failure reports a delivery given up, to Config.OnFailure.
type Failure struct {
	Endpoint   string // the endpoint's name
	EventID    string
	DeliveryID string // the DeliveryLog's ID, for Redeliver
	Body       []byte // the body as it would have been sent (nil if shaping failed)
	Err        error  // why: a *DeliveryError
	Attempts   int    // attempts made
	StatusCode int    // of the last answer; 0: none
}

// Emitter turns model events into signed webhook deliveries. Make one
// with New; its methods are safe for concurrent use. Printed, logged or
// encoded, it shows its Config (defaults applied) without secrets, as
// Config does.
type Emitter struct {
	cfg        Config
	eps        atomic.Pointer[endpointSet] // replaced whole on a change: read without a lock
	epMu       sync.Mutex                  // orders the changes to eps
	removed    sync.Map                    // names removed at runtime → struct{}: why their deliveries fail
	store      EndpointStore               // nil: runtime changes stay in this process
	storeSeen  int64                       // the store's last version applied; under epMu
	queue      Queue                       // nil: not made by New
	logs       LogStore
	client     *http.Client    // every endpoint's requests go through it
	ownTrans   *http.Transport // closed by Close when we made it
	madeClient bool            // Config.HTTPClient was nil: New made the client and its Transport
	breaker    breakerPolicy
	logger     *slog.Logger
	obs        Observer // nil: none
	now        func() time.Time
	clocked    bool     // Config.Now set: now is not time.Now (see timeAt)
	lint       ruleLint // the rules that cannot match, logged once

	// life ends when Close is done with the queue: OAuth2 token fetches,
	// which outlive the attempt that started them, run under it.
	life lifetime

	mu        sync.RWMutex   // orders enter (read) against Close (write)
	closed    bool           // under mu
	closing   atomic.Bool    // Close has begun
	active    sync.WaitGroup // Emit and Redeliver calls under way
	abandoned atomic.Int64   // deliveries given up because Close gave up
	closeOnce sync.Once
	closeErr  error
	ids       idClock // for newID

	// memLogs is the LogStore when it is a MemoryLogStore and every
	// Delivery it sees is one this Emitter made and nobody reuses (the
	// memory queue, or Sync): its logs then share the Delivery.
	memLogs *MemoryLogStore
	// answers holds the last answer of each delivery under way that got
	// one, for the logs and Failures of later attempts that get none. It
	// is kept only when every attempt of a delivery runs here (inProcess:
	// the memory or inline queue); with a queue shared by processes an
	// entry could outlive its delivery.
	answers   sync.Map // delivery id → answer
	inProcess bool

	detach    func()             // an AttachingObserver's, for Close; nil: none
	syncStop  context.CancelFunc // ends syncLoop; nil: none runs
	syncDone  chan struct{}      // closed when syncLoop returns
	recoverMu sync.Mutex         // one Recover at a time, so that none redelivers a log twice
}

// String describes the Emitter by its Config, without secrets (see
// Config.String).
func (e *Emitter) String() string {
	if e == nil {
		return "<nil>"
	}
	return "{Config:" + e.cfg.String() + "}"
}

// Format implements fmt.Formatter so that every fmt verb prints String's
// description: the Emitter's fields hold the endpoints' secrets.
func (e *Emitter) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, "*webhook.Emitter", e.String())
}

// LogValue logs the Emitter as its Config (see Config.LogValue).
func (e *Emitter) LogValue() slog.Value {
	if e == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.Any("config", e.cfg))
}

// MarshalJSON encodes the Emitter as {"config": …}, its Config as
// Config.MarshalJSON encodes it.
func (e *Emitter) MarshalJSON() ([]byte, error) {
	if e == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Config Config `json:"config"`
	}{e.cfg})
}

// MarshalText returns String's description (see Endpoint.MarshalText).
func (e *Emitter) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// New validates cfg and returns an Emitter whose queue is running. Every
// problem is reported, each naming the endpoint and field; errors wrap
// ErrInvalidConfig.
func New(cfg Config) (*Emitter, error) {
	e := &Emitter{cfg: cfg, logger: cfg.Logger, now: cfg.Now, obs: cfg.Observer}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	} else {
		e.clocked = true
	}
	if e.cfg.Timeout == 0 {
		e.cfg.Timeout = DefaultTimeout
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("webhook: %w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if e.cfg.Timeout < 0 {
		bad("timeout: %s is negative", cfg.Timeout)
	}
	if cfg.Workers < 0 {
		bad("workers: %d is negative", cfg.Workers)
	}
	if cfg.QueueSize < 0 {
		bad("queue_size: %d is negative", cfg.QueueSize)
	}
	if cfg.Sync && cfg.Queue != nil {
		bad("sync: cannot be combined with a Queue (Sync delivers inside Emit)")
	}
	if _, err := resolveRetry(cfg.Retry); err != nil {
		bad("%v", err)
	}
	for label, m := range cfg.Models {
		if _, err := parseLabel(label); err != nil {
			bad("models: label %q: want \"app.Name\"", label)
		}
		if _, err := eventsMask("events", m.Events); err != nil {
			bad("models[%q]: %v", label, err)
		}
	}
	e.breaker = resolveBreaker(cfg.CircuitBreaker)

	switch {
	case e.cfg.MaxBodyBytes == 0:
		e.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	case e.cfg.MaxBodyBytes < 0:
		e.cfg.MaxBodyBytes = 0
	}
	base := cfg.HTTPClient
	if base == nil {
		e.ownTrans = newTransport(cmpOr(cfg.Workers, DefaultWorkers))
		base = &http.Client{Transport: e.ownTrans}
		e.madeClient = true
	}
	if cfg.SSRFGuard != nil {
		rt := base.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		if t, err := cfg.SSRFGuard.guardTransport(rt); err != nil {
			bad("%v", err)
		} else {
			e.ownTrans = t
			c := *base
			c.Transport = t
			base = &c
		}
	}
	e.client = newHTTPClient(base)
	e.life.ctx, e.life.end = context.WithCancel(context.Background())

	if e.cfg.EndpointSync < 0 {
		bad("endpoint_sync: %s is negative", cfg.EndpointSync)
	}
	e.cfg.EndpointSync = cmp.Or(e.cfg.EndpointSync, DefaultEndpointSync)
	seen := make(map[string]int, len(cfg.Endpoints))
	eps := make([]*endpoint, 0, len(cfg.Endpoints))
	for i, ep := range cfg.Endpoints {
		where := fmt.Sprintf("endpoint %q", ep.Name)
		if err := checkName(ep.Name); err != nil {
			if ep.Name == "" {
				where = fmt.Sprintf("endpoint[%d]", i)
			}
			bad("%s: %v", where, err)
		} else if prev, dup := seen[ep.Name]; dup {
			bad("%s: name: duplicate (endpoint[%d] has it too)", where, prev)
			continue
		}
		seen[ep.Name] = i
		c, cerrs := e.compileEndpoint(ep)
		for _, err := range cerrs {
			bad("%s: %v", where, err)
		}
		c.static = true
		eps = append(eps, c)
	}
	if len(errs) > 0 {
		e.life.end()
		return nil, errors.Join(errs...)
	}
	e.eps.Store(newEndpointSet(eps))

	e.logs = cfg.LogStore
	if q, ok := cfg.Queue.(interface{ LogStore() LogStore }); ok && e.logs == nil && !cfg.Sync {
		e.logs = q.LogStore()
	}
	if e.logs == nil {
		e.logs = NewMemoryLogStore(DefaultLogSize)
	}
	e.store = cfg.EndpointStore
	if q, ok := cfg.Queue.(interface{ EndpointStore() EndpointStore }); ok && e.store == nil && !cfg.Sync {
		e.store = q.EndpointStore()
	}
	if e.store != nil {
		ctx, cancel := context.WithTimeout(e.life.ctx, loadTimeout)
		err := e.syncEndpoints(ctx, true)
		cancel()
		if err != nil {
			e.life.end()
			return nil, fmt.Errorf("webhook: loading the stored endpoints: %w", err)
		}
	}
	switch {
	case cfg.Sync:
		e.queue = newInlineQueue()
	case cfg.Queue != nil:
		e.queue = cfg.Queue
	default:
		e.queue = NewMemoryQueue(MemoryQueueConfig{Workers: cfg.Workers, Size: cfg.QueueSize})
	}
	switch e.queue.(type) {
	case *MemoryQueue, *inlineQueue:
		e.inProcess = true
		e.memLogs, _ = e.logs.(*MemoryLogStore)
	}
	if err := e.queue.Start(runner{e}); err != nil {
		e.life.end()
		return nil, fmt.Errorf("webhook: starting the queue: %w", err)
	}
	if a, ok := e.obs.(AttachingObserver); ok {
		e.detach = a.Attach(e)
	}
	if e.store != nil {
		var ctx context.Context
		ctx, e.syncStop = context.WithCancel(e.life.ctx)
		e.syncDone = make(chan struct{})
		go e.syncLoop(ctx)
	}
	return e, nil
}

// timeAt is the time of an Emit or an attempt whose clock was read as
// wall: wall itself, so that the clock is read once, unless Config.Now
// is set, whose time it then is.
func (e *Emitter) timeAt(wall time.Time) time.Time {
	if e.clocked {
		return e.now()
	}
	return wall
}
