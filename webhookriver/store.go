package webhookriver

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/hookrail/webhook"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// EndpointStore returns the queue's [webhook.EndpointStore]: the
// endpoints added at runtime, kept in the table webhook_endpoint of the
// queue's database (in Config.Schema), which [Migrate] creates. Every
// process on the database shares them, and they survive restarts.
// webhook.New uses it when Config.EndpointStore is nil; it works before
// Start (New loads the stored endpoints before it starts the queue),
// with the driver's pool.
//
// A row per name holds the endpoint's latest spec, as the Emitter encoded
// it (JSON: secrets included, as they were given; protect the table as
// the host's own secrets), or NULL once it is removed, with the version
// of its last change. Changes are serialized (PostgreSQL: a transaction
// holding an advisory lock; SQLite has one writer), so that each gets a
// version above every version committed before it: a process that polls
// the changes after the last version it saw misses none. Removals stay in
// the table, for the processes that have yet to see them.
//
// With SQLite, as for Emit, do not add, update or remove an endpoint
// while the same goroutine holds a transaction on the one connection.
func (q *Queue[TTx]) EndpointStore() webhook.EndpointStore { return endpointStore[TTx]{q} }

type endpointStore[TTx any] struct{ q *Queue[TTx] }

var _ webhook.EndpointStore = endpointStore[any]{}

// PutEndpoint implements [webhook.EndpointStore]. A name whose endpoint
// was removed may be created again.
func (s endpointStore[TTx]) PutEndpoint(ctx context.Context, name string, spec []byte, create bool) error {
	if len(spec) == 0 {
		return fmt.Errorf("webhookriver: storing endpoint %q: empty spec", name)
	}
	stmt := endpointUpdateSQL
	if create {
		stmt = endpointCreateSQL
	}
	err := s.write(ctx, stmt, name, spec)
	switch {
	case errors.Is(err, errNoRow) && create:
		return fmt.Errorf("webhookriver: endpoint %q: %w", name, webhook.ErrEndpointExists)
	case errors.Is(err, errNoRow):
		return fmt.Errorf("webhookriver: endpoint %q: %w", name, webhook.ErrEndpointNotFound)
	case err != nil:
		return fmt.Errorf("webhookriver: storing endpoint %q: %w", name, err)
	}
	return nil
}

// DeleteEndpoint implements [webhook.EndpointStore].
func (s endpointStore[TTx]) DeleteEndpoint(ctx context.Context, name string) error {
	err := s.write(ctx, endpointDeleteSQL, name)
	switch {
	case errors.Is(err, errNoRow):
		return fmt.Errorf("webhookriver: endpoint %q: %w", name, webhook.ErrEndpointNotFound)
	case err != nil:
		return fmt.Errorf("webhookriver: removing endpoint %q: %w", name, err)
	}
	return nil
}

// errNoRow: a write's statement changed no row.
var errNoRow = errors.New("no row")

// write runs stmt, a change that answers the version it gave, or no row
// when it changed nothing (errNoRow). With PostgreSQL, it runs in a
// transaction that holds the endpoints' advisory lock first, so that the
// changes, each numbered from the versions committed before it, commit
// in the order of their versions. With SQLite, whose one writer
// serializes them, the statement is a transaction of its own, which
// takes the write lock before it reads.
func (s endpointStore[TTx]) write(ctx context.Context, stmt dialectSQL, args ...any) error {
	q := s.q
	exec := q.driver.GetExecutor()
	text := q.sql(stmt)
	var version int64
	if q.driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
		return noRow(exec.QueryRow(ctx, text, args...).Scan(&version))
	}
	tx, err := exec.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := tx.PGAdvisoryXactLock(ctx, endpointLock(q.cfg.Schema)); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, text, args...).Scan(&version); err != nil {
		return noRow(err)
	}
	return tx.Commit(ctx)
}

// noRow returns errNoRow for the drivers' "no rows" errors, else err.
func noRow(err error) error {
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, rivertype.ErrNotFound) { // pgx's ErrNoRows is sql.ErrNoRows too
		return errNoRow
	}
	return err
}

// endpointLock is the PostgreSQL advisory lock that serializes the
// changes of the endpoints stored in schema.
func endpointLock(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("webhookriver endpoints " + schema))
	return int64(h.Sum64()) //nolint:gosec // a lock key: any 64 bits
}

// EndpointChanges implements [webhook.EndpointStore]: the rows whose
// version is above after, in version order.
func (s endpointStore[TTx]) EndpointChanges(ctx context.Context, after int64) ([]webhook.EndpointRecord, error) {
	q := s.q
	var agg string
	if err := q.driver.GetExecutor().QueryRow(ctx, q.sql(endpointChangesSQL), after).Scan(&agg); err != nil {
		return nil, fmt.Errorf("webhookriver: reading the stored endpoints (has webhookriver.Migrate run on this database?): %w", err)
	}
	var rows []struct {
		Name      string  `json:"name"`
		Spec      *string `json:"spec"` // hex; nil: removed
		Version   int64   `json:"version"`
		UpdatedAt int64   `json:"updated_at"` // Unix microseconds
	}
	if err := json.Unmarshal([]byte(agg), &rows); err != nil {
		return nil, fmt.Errorf("webhookriver: reading the stored endpoints: %w", err)
	}
	recs := make([]webhook.EndpointRecord, len(rows))
	for i, r := range rows {
		recs[i] = webhook.EndpointRecord{Name: r.Name, Version: r.Version, UpdatedAt: time.UnixMicro(r.UpdatedAt).UTC()}
		if r.Spec != nil {
			spec, err := hex.DecodeString(*r.Spec)
			if err != nil {
				return nil, fmt.Errorf("webhookriver: reading the stored endpoint %q: %w", r.Name, err)
			}
			recs[i].Spec = spec
		}
	}
	slices.SortFunc(recs, func(a, b webhook.EndpointRecord) int { return cmp.Compare(a.Version, b.Version) })
	return recs, nil
}

// removedEndpoints returns the names whose stored endpoint was removed.
func (q *Queue[TTx]) removedEndpoints(ctx context.Context) ([]string, error) {
	var agg string
	if err := q.driver.GetExecutor().QueryRow(ctx, q.sql(removedSQL)).Scan(&agg); err != nil {
		return nil, err
	}
	var names []string
	err := json.Unmarshal([]byte(agg), &names)
	return names, err
}
