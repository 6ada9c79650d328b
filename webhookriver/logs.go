package webhookriver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hookrail/webhook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// LogStore returns the queue's delivery logs: a [webhook.LogStore] read
// from the jobs themselves, so that the logs are in the database beside
// the deliveries, survive restarts, are shared by every process on it
// (any of them can redeliver what another attempted), and are kept as
// long as Config.DeliveredRetention and FailedRetention keep the jobs.
// webhook.New uses it when Config.LogStore is nil.
//
// A delivery's log is its job: pending until an attempt is recorded,
// which River stores with the job's state when the attempt ends (as the
// job's output: status, status code, error, the start of the answer,
// attempts, the history of the attempts, the last [maxHistory] of them,
// and the next attempt's time). Recording the first attempt's log costs
// no query of its own; a later attempt's reads the history the job keeps
// (one row, by the index on the delivery's id), to add itself to it: the
// attempts may have been made by other processes. While the delivery is
// retrying, DeliveryLog.NextAttemptAt is when River has the job
// scheduled. The logs of deliveries that never reached the database (the
// insert failed, or Emit could not build the body) are kept in this
// process's memory, the last thousand.
func (q *Queue[TTx]) LogStore() webhook.LogStore { return logStore[TTx]{q} }

type logStore[TTx any] struct{ q *Queue[TTx] }

// attemptLog holds the last log the Emitter recorded during an attempt
// of this process, for the job's output, with the whole history: the
// job's, and the attempts recorded since.
type attemptLog struct {
	mu      sync.Mutex
	log     webhook.DeliveryLog
	set     bool
	history []webhook.AttemptRecord // the job's, read once (see loaded), and this attempt's
	loaded  bool                    // history holds the job's, if it has one
}

func (a *attemptLog) load() (webhook.DeliveryLog, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log, a.set
}

// maxHistory is the most attempts a job's log keeps in its history (the
// last ones): the history is in the job's metadata, which every attempt
// writes whole, and a delivery may be retried up to maxRetries times.
// DeliveryLog.Attempts still counts them all.
const maxHistory = 100

// appendHistory returns h with add, but for the oldest beyond maxHistory.
func appendHistory(h []webhook.AttemptRecord, add ...webhook.AttemptRecord) []webhook.AttemptRecord {
	h = append(h, add...)
	if n := len(h) - maxHistory; n > 0 {
		h = slices.Delete(h, 0, n)
	}
	return h
}

// output is what a job keeps of its delivery log: the rest is in its
// args and state.
type output struct {
	Status       webhook.DeliveryStatus `json:"status"`
	StatusCode   int                    `json:"status_code,omitempty"`
	ErrorMessage string                 `json:"error_message,omitempty"`
	ResponseBody string                 `json:"response_body,omitempty"`
	Attempts     int                    `json:"attempts"`
	CompletedAt  *time.Time             `json:"completed_at,omitempty"`
	// History is the attempts made, oldest first: those of the job's
	// earlier attempts (read back when the attempt recorded) and this
	// one's; the last maxHistory.
	History []webhook.AttemptRecord `json:"history,omitempty"`
	// NextAttemptAt is the next attempt's time, as the Emitter scheduled
	// it, when the attempt left the delivery retrying.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// RedeliveredAs is set when the log was recorded redelivered during
	// the attempt; once the job is finished, it goes into the metadata's
	// redeliveredKey.
	RedeliveredAs string `json:"redelivered_as,omitempty"`
}

// jobOutput is the output a job's metadata keeps (river.RecordOutput's
// "output" key), nil when no attempt recorded one.
func jobOutput(metadata []byte) (*output, error) {
	m, err := jobMetadata(metadata)
	return m.Output, err
}

// metadata is what the queue keeps in a job's metadata.
type metadata struct {
	Output        *output `json:"output"`
	RedeliveredAs string  `json:"webhook_redelivered_as"` // redeliveredKey
}

func jobMetadata(b []byte) (metadata, error) {
	var m metadata
	err := json.Unmarshal(b, &m)
	return m, err
}

func outputOf(l webhook.DeliveryLog) output {
	return output{
		Status: l.Status, StatusCode: l.StatusCode, ErrorMessage: l.ErrorMessage,
		ResponseBody: l.ResponseBody, Attempts: l.Attempts, CompletedAt: l.CompletedAt,
		History: l.History, NextAttemptAt: l.NextAttemptAt, RedeliveredAs: l.RedeliveredAs,
	}
}

// Record implements webhook.LogStore. A pending log is the stored job
// itself; a log of an attempt under way here goes into the job's output
// when the attempt ends, its History (the attempt just made) added to
// the job's; the log of a finished delivery that was sent again
// (DeliveryLog.RedeliveredAs: Redeliver, Recover) has the new delivery's
// id stored in its job's metadata; any other (a delivery that could not
// be stored) is kept in memory.
func (s logStore[TTx]) Record(ctx context.Context, l webhook.DeliveryLog) error {
	if l.Status == webhook.StatusPending && l.Attempts == 0 && l.RedeliveredAs == "" {
		return nil
	}
	if a, ok := s.q.running.Load(l.ID); ok {
		return s.recordAttempt(a.(*attemptLog), l)
	}
	if l.RedeliveredAs != "" {
		err := s.redelivered(ctx, l.ID, l.RedeliveredAs)
		if !errors.Is(err, errNoRow) {
			return err
		}
		// Not stored: a delivery kept in memory.
		if l.Status == webhook.StatusPending && l.Attempts == 0 {
			return nil
		}
	}
	return s.q.fallback.Record(ctx, l)
}

// historyTimeout bounds the read of a job's history by Record, which
// the Emitter calls without a deadline.
const historyTimeout = 10 * time.Second

// recordAttempt keeps l, recorded during an attempt under way here, for
// the job's output, with the job's history and the attempt l holds. The
// job's history is read at the first record of the attempt that follows
// an earlier one: the output the attempt writes replaces the job's. If
// it cannot be read, l is kept with this attempt's history, and the
// error says so.
func (s logStore[TTx]) recordAttempt(a *attemptLog, l webhook.DeliveryLog) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var err error
	if !a.loaded {
		a.loaded = true
		// Attempts made before the ones l holds: their history is the job's.
		if l.Attempts > len(l.History) {
			ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
			a.history, err = s.history(ctx, l.ID)
			cancel()
		}
	}
	a.history = appendHistory(a.history, l.History...)
	l.History = slices.Clone(a.history)
	a.log, a.set = l, true
	return err
}

// history reads the history the job of delivery id keeps; none when no
// job has id.
func (s logStore[TTx]) history(ctx context.Context, id string) ([]webhook.AttemptRecord, error) {
	q := s.q
	var text string
	err := noRow(q.driver.GetExecutor().QueryRow(ctx, q.sql(historySQL), jobKind, id).Scan(&text))
	if errors.Is(err, errNoRow) {
		return nil, nil
	}
	var h []webhook.AttemptRecord
	if err == nil {
		err = json.Unmarshal([]byte(text), &h)
	}
	if err != nil {
		return nil, fmt.Errorf("webhookriver: log %s: reading the history of its earlier attempts (this attempt's is kept alone): %w", id, err)
	}
	return appendHistory(h), nil
}

// redelivered stores, in the job of delivery id, the id of the delivery
// that sent it again; errNoRow when no job has id.
func (s logStore[TTx]) redelivered(ctx context.Context, id, as string) error {
	q := s.q
	var jobID int64
	err := noRow(q.driver.GetExecutor().QueryRow(ctx, q.sql(redeliveredSQL), jobKind, as, id).Scan(&jobID))
	if err != nil && !errors.Is(err, errNoRow) {
		return fmt.Errorf("webhookriver: log %s: keeping its redelivery: %w", id, err)
	}
	return err
}

// maxListed is the most logs one Query reads from the database.
const maxListed = 10_000

// Query implements webhook.LogStore: newest first. The database selects
// the jobs by River queue (LogQuery.Endpoint, Endpoints), state (Status),
// event id (EventID) and creation time (Since, Until); the logs are then
// checked exactly.
func (s logStore[TTx]) Query(ctx context.Context, lq webhook.LogQuery) ([]webhook.DeliveryLog, error) {
	st := s.q.state.Load()
	if st == nil {
		return nil, ErrNotStarted
	}
	limit := min(cmp.Or(lq.Limit, webhook.DefaultLogLimit), maxListed)
	p := river.NewJobListParams().Kinds(jobKind).OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	eps := endpointsOf(lq)
	if eps != nil {
		if len(eps) == 0 {
			return make([]webhook.DeliveryLog, 0), nil
		}
		queues := make([]string, 0, len(eps))
		for name := range eps {
			queues = append(queues, queueName(name))
		}
		slices.Sort(queues)
		p = p.Queues(slices.Compact(queues)...)
	}
	if lq.EventID != "" {
		p = p.Where("args ->> 'event_id' = @webhook_event_id", river.NamedArgs{"webhook_event_id": lq.EventID})
	}
	switch lq.Status {
	case "":
	case webhook.StatusDelivered:
		p = p.States(rivertype.JobStateCompleted)
	case webhook.StatusFailed:
		p = p.States(rivertype.JobStateCancelled, rivertype.JobStateDiscarded)
	case webhook.StatusPending, webhook.StatusRetrying:
		p = p.States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled)
		if lq.Status == webhook.StatusPending {
			p = p.Where("metadata ->> 'output' IS NULL")
		} else {
			p = p.Where("metadata ->> 'output' IS NOT NULL")
		}
	default:
		return nil, fmt.Errorf("webhookriver: logs: unknown status %q", lq.Status)
	}
	p = s.createdWhere(p, lq)
	logs := make([]webhook.DeliveryLog, 0)
	for {
		res, err := st.client.JobList(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("webhookriver: logs: %w", err)
		}
		for _, job := range res.Jobs {
			l, err := logOf(job)
			if err != nil {
				return nil, err
			}
			if lq.Matches(l) {
				logs = append(logs, l)
			}
		}
		// Some were left out here (another endpoint's River queue, the
		// database's margin of Since and Until): read on, for the limit.
		if len(logs) >= limit || len(res.Jobs) < limit {
			break
		}
		p = p.After(river.JobListCursorFromJob(res.Jobs[len(res.Jobs)-1]))
	}
	logs = logs[:min(len(logs), limit)]
	lost, err := s.q.fallback.Query(ctx, webhook.LogQuery{Endpoint: lq.Endpoint, Endpoints: lq.Endpoints, EventID: lq.EventID,
		Status: lq.Status, Since: lq.Since, Until: lq.Until, Limit: limit})
	if err != nil || len(lost) == 0 {
		return logs, err
	}
	logs = append(logs, lost...)
	slices.SortStableFunc(logs, func(a, b webhook.DeliveryLog) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return logs[:min(len(logs), limit)], nil
}

// endpointsOf is the set of endpoint names whose logs lq selects (its
// Endpoint, its Endpoints, both: those of Endpoints it names); nil: any
// endpoint's, empty: none.
func endpointsOf(lq webhook.LogQuery) map[string]bool {
	switch {
	case lq.Endpoints == nil && lq.Endpoint == "":
		return nil
	case lq.Endpoints == nil:
		return map[string]bool{lq.Endpoint: true}
	}
	set := make(map[string]bool, len(lq.Endpoints))
	for _, name := range lq.Endpoints {
		if lq.Endpoint == "" || name == lq.Endpoint {
			set[name] = true
		}
	}
	return set
}

// createdMargin widens the database's filter of LogQuery.Since and Until,
// which compares times rounded to the microsecond (PostgreSQL) or the
// millisecond (SQLite): the logs are then filtered exactly (created).
const createdMargin = 2 * time.Millisecond

// createdWhere adds LogQuery.Since and Until to p, widened by
// createdMargin, on the delivery's CreatedAt (in its args: the Emitter's
// clock, not River's created_at).
func (s logStore[TTx]) createdWhere(p *river.JobListParams, lq webhook.LogQuery) *river.JobListParams {
	at := `(args ->> 'created_at')::timestamptz`
	bound := func(name string) string { return "@" + name }
	if s.q.driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
		at = `julianday(args ->> 'created_at')`
		bound = func(name string) string { return "julianday(@" + name + ")" }
	}
	if !lq.Since.IsZero() {
		p = p.Where(at+" >= "+bound("webhook_since"), river.NamedArgs{"webhook_since": lq.Since.Add(-createdMargin)})
	}
	if !lq.Until.IsZero() {
		p = p.Where(at+" < "+bound("webhook_until"), river.NamedArgs{"webhook_until": lq.Until.Add(createdMargin)})
	}
	return p
}

// Get implements webhook.LogStore.
func (s logStore[TTx]) Get(ctx context.Context, id string) (webhook.DeliveryLog, error) {
	st := s.q.state.Load()
	if st == nil {
		return webhook.DeliveryLog{}, ErrNotStarted
	}
	p := river.NewJobListParams().Kinds(jobKind).First(1).
		Where("args ->> 'id' = @id", river.NamedArgs{"id": id})
	res, err := st.client.JobList(ctx, p)
	if err != nil {
		return webhook.DeliveryLog{}, fmt.Errorf("webhookriver: log %s: %w", id, err)
	}
	if len(res.Jobs) == 0 {
		return s.q.fallback.Get(ctx, id)
	}
	return logOf(res.Jobs[0])
}

// logOf is the delivery log of a job.
func logOf(job *rivertype.JobRow) (webhook.DeliveryLog, error) {
	var a deliveryArgs
	if err := json.Unmarshal(job.EncodedArgs, &a); err != nil {
		return webhook.DeliveryLog{}, fmt.Errorf("webhookriver: job %d: args: %w", job.ID, err)
	}
	m, err := jobMetadata(job.Metadata)
	if err != nil {
		return webhook.DeliveryLog{}, fmt.Errorf("webhookriver: job %d: metadata: %w", job.ID, err)
	}
	o := m.Output
	l := webhook.DeliveryLog{
		ID: a.ID, EndpointName: a.Endpoint, EventID: a.EventID, EventType: a.EventType,
		Payload: a.Body, Status: webhook.StatusPending, CreatedAt: a.CreatedAt,
	}
	if o != nil {
		l.Status, l.StatusCode, l.ErrorMessage, l.ResponseBody, l.Attempts, l.CompletedAt =
			o.Status, o.StatusCode, o.ErrorMessage, o.ResponseBody, o.Attempts, o.CompletedAt
		l.RedeliveredAs = o.RedeliveredAs
	}
	if m.RedeliveredAs != "" {
		l.RedeliveredAs = m.RedeliveredAs
	}
	if o != nil {
		l.History = o.History
	}
	// The job's state has the last word: River may have finished a job
	// whose output was not recorded (a job cancelled by an operator).
	switch job.State {
	case rivertype.JobStateCompleted:
		l.Status = webhook.StatusDelivered
	case rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
		l.Status = webhook.StatusFailed
		if l.ErrorMessage == "" && len(job.Errors) > 0 {
			l.ErrorMessage = job.Errors[len(job.Errors)-1].Error
		}
	}
	if l.CompletedAt == nil && job.FinalizedAt != nil {
		t := job.FinalizedAt.UTC()
		l.CompletedAt = &t
	}
	if l.Status == webhook.StatusRetrying {
		switch job.State {
		case rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateAvailable:
			// When River runs it: the Emitter's time, or later (a
			// snooze: the circuit is open, the endpoint paused).
			t := job.ScheduledAt.UTC()
			l.NextAttemptAt = &t
		default: // running: the time the attempt under way was due
			l.NextAttemptAt = o.NextAttemptAt
		}
	}
	if a.Body == nil {
		l.Payload = nil
	}
	return l, nil
}
