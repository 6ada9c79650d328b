package webhook

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses, as in Rail Django's webhook_logs.
const (
	StatusPending   DeliveryStatus = "pending"   // queued, not attempted yet
	StatusRetrying  DeliveryStatus = "retrying"  // failed at least once; a retry is scheduled
	StatusDelivered DeliveryStatus = "delivered" // a 2xx answer was received
	StatusFailed    DeliveryStatus = "failed"    // given up; reported to OnFailure
)

// DeliveryLog records one delivery: Rail Django's webhook_logs fields.
// Payload is shared with the delivery: do not modify it.
type DeliveryLog struct {
	ID           string          `json:"id"`            // the delivery's id, "dlv_…"
	EndpointName string          `json:"endpoint_name"` // the endpoint's name
	EventID      string          `json:"event_id"`      // the event's id, "evt_…" or the host's
	EventType    EventType       `json:"event_type"`    // created, updated or deleted
	Payload      json.RawMessage `json:"payload"`       // the body as sent; null when shaping failed
	Status       DeliveryStatus  `json:"status"`        // where the delivery stands
	StatusCode   int             `json:"status_code"`   // of the last answer; 0: none
	ErrorMessage string          `json:"error_message"` // the last attempt's error; "" when delivered
	ResponseBody string          `json:"response_body"` // the start of the last failed answer's body; "" with an SSRFGuard unless its LogResponseBodies
	Attempts     int             `json:"attempts"`      // attempts made
	CreatedAt    time.Time       `json:"created_at"`    // when the event was emitted (or redelivered)
	CompletedAt  *time.Time      `json:"completed_at"`  // when it was delivered or given up; nil before

	// RedeliveredAs is the id of the delivery that sent this one again
	// (Redeliver, Recover); "" when none did.
	RedeliveredAs string `json:"redelivered_as,omitempty"`

	// History lists the attempts made, oldest first. Given to
	// LogStore.Record, it holds the attempt just made (if one was): the
	// store adds it to the log's own, where Record replaces every other
	// field.
	History []AttemptRecord `json:"history,omitempty"`

	// NextAttemptAt is when the next attempt is due while the delivery
	// is retrying; nil otherwise.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// AttemptRecord is one attempt of a delivery.
type AttemptRecord struct {
	Attempt    int           `json:"attempt"`         // its number, from 1
	At         time.Time     `json:"at"`              // when it was sent
	Duration   time.Duration `json:"duration_ns"`     // until the answer, or the failure
	StatusCode int           `json:"status_code"`     // 0: no answer
	Error      string        `json:"error,omitempty"` // why it failed; "" when delivered
}

// LogQuery selects delivery logs. Zero fields match everything.
type LogQuery struct {
	Endpoint string         // endpoint name
	EventID  string         // the event's id: its deliveries to every endpoint
	Status   DeliveryStatus // "": any
	Since    time.Time      // created at or after; zero: any
	Until    time.Time      // created before; zero: any
	Limit    int            // 0: DefaultLogLimit

	// Endpoints, if set, keeps the logs of these endpoints only (and of
	// Endpoint, when both are set, those it names among them).
	Endpoints []string

	// Tenant keeps the logs of the tenant's endpoints (those that have it
	// now). Emitter.Logs resolves it into Endpoints: a LogStore never
	// sees it set.
	Tenant string

	// Unresolved leaves out failed logs sent again whose redelivery was
	// delivered: what an operator still has to look at. Emitter.Logs
	// applies it (a page may then hold fewer than Limit); a LogStore
	// ignores it.
	Unresolved bool
}

// Matches reports whether q selects l by its endpoint (Endpoint,
// Endpoints), event id (EventID) and creation time (Since, Until): the
// exact check for a LogStore whose own selection is coarser. Status is
// the store's to check its own way; Tenant, Unresolved and Limit are
// applied by the Emitter and the store's paging.
func (q LogQuery) Matches(l DeliveryLog) bool {
	return q.match(l.EndpointName, l.EventID, l.CreatedAt)
}

// match is Matches for a log of endpoint ep, event ev, created at t.
func (q *LogQuery) match(ep, ev string, t time.Time) bool {
	return (q.Endpoint == "" || ep == q.Endpoint) &&
		(q.Endpoints == nil || slices.Contains(q.Endpoints, ep)) &&
		(q.EventID == "" || ev == q.EventID) &&
		!t.Before(q.Since) && (q.Until.IsZero() || t.Before(q.Until))
}

// DefaultLogLimit is the number of logs a query returns when its Limit is 0.
const DefaultLogLimit = 100

// ErrLogNotFound is returned by LogStore.Get for an unknown id.
var ErrLogNotFound = errors.New("delivery log not found")

// LogStore keeps delivery logs. Implementations must be safe for
// concurrent use; Record is called on the delivery path and must be quick.
type LogStore interface {
	// Record inserts the log, or replaces the one with the same ID. It may
	// reject a log it cannot store, with an error saying why.
	Record(ctx context.Context, l DeliveryLog) error
	// Query returns the logs that match q, newest first, at most q.Limit.
	Query(ctx context.Context, q LogQuery) ([]DeliveryLog, error)
	// Get returns the log with the id, or an error wrapping ErrLogNotFound.
	Get(ctx context.Context, id string) (DeliveryLog, error)
}

// Bounds of the default memory store.
const (
	DefaultLogSize  = 10000    // finished logs kept
	DefaultLogBytes = 64 << 20 // bytes of finished logs' payloads kept
)

// MemoryLogStore keeps delivery logs in memory. Logs of deliveries under
// way (pending, retrying) are always kept: the queue bounds how many there
// are. Finished ones (delivered, failed) are kept up to a number and a
// byte budget (payloads, responses and messages), the oldest forgotten
// first. Queries list both, newest first by when each log was first
// recorded. A store of 4,096 finished logs or more is split in 64 shards
// by delivery id, each with its lock, so that workers seldom wait for
// each other: the logs it forgets are then the oldest of a shard, about
// the oldest of all, and it may hold a few more logs than its bounds
// while its shards are busy.
//
// A log the Emitter records with the memory queue (or Sync) shares its
// Delivery (id, event, endpoint, payload, creation time) rather than
// copying those fields: a queued delivery costs its body and a few
// hundred bytes, log included. It keeps CompletedAt to the millisecond,
// and Attempts up to 65,535.
type MemoryLogStore struct {
	shards   []logShard // by a hash of the delivery id
	seed     maphash.Seed
	hash     func(string) uint64 // nil: maphash with seed; tests set one that collides
	seq      atomic.Uint64       // order of first record, across shards
	size     int
	maxBytes int64
	finished atomic.Int64 // finished logs held, in every shard
	bytes    atomic.Int64 // held by them
}

// logShard is a part of a MemoryLogStore, with its own lock: workers
// recording the logs of different deliveries rarely wait for each other.
type logShard struct {
	mu   sync.Mutex
	byID map[uint64]*logEntry // every log held, by its id's hash (see get)
	same map[string]*logEntry // those whose id's hash another id held first
	fin  []finRef             // finished, oldest first from head
	head int
}

// finRef is a finished log in its shard's fin, with its id's hash: the
// log forgotten when the store is full is seldom in the processor's
// cache, and its id need not be read to hash it again.
type finRef struct {
	e *logEntry
	h uint64
}

// get returns the log with the id, whose hash is h. sh.mu held.
func (sh *logShard) get(id string, h uint64) *logEntry {
	if e := sh.byID[h]; e != nil && e.d.ID == id {
		return e
	}
	if len(sh.same) > 0 {
		return sh.same[id]
	}
	return nil
}

// put adds e, which has no log in sh yet, under its id's hash h; under
// its id when another log holds h. sh.mu held.
func (sh *logShard) put(e *logEntry, h uint64) {
	if sh.byID[h] == nil {
		sh.byID[h] = e
		return
	}
	if sh.same == nil {
		sh.same = make(map[string]*logEntry)
	}
	sh.same[e.d.ID] = e
}

// forget removes e, whose id's hash is h. sh.mu held.
func (sh *logShard) forget(e *logEntry, h uint64) {
	if sh.byID[h] == e {
		delete(sh.byID, h)
		return
	}
	delete(sh.same, e.d.ID)
}

// all yields every log in sh. sh.mu held.
func (sh *logShard) all() iter.Seq[*logEntry] {
	return func(yield func(*logEntry) bool) {
		for _, e := range sh.byID {
			if !yield(e) {
				return
			}
		}
		for _, e := range sh.same {
			if !yield(e) {
				return
			}
		}
	}
}

// Shards of a MemoryLogStore: one below shardedLogSize finished logs, so
// that a small store forgets exactly its oldest; logShards above, where
// a store past its bounds forgets the oldest of the shard it adds to
// (about the oldest of all: ids spread evenly).
const (
	logShards      = 64
	shardedLogSize = 4096
)

// logEntry is one log of a MemoryLogStore in 32 bytes. The delivery's own
// fields are read from d, which nobody changes after Enqueue but for its
// Attempts (copied here); what attempts change is kept here, and what
// only some logs have (a message, a response, a completion time that
// completed cannot hold) in detail.
type logEntry struct {
	d         *Delivery
	detail    *logDetail // nil: none of its fields set
	seq       uint64     // order of first record (low 40 bits) and the last attempt's duration (see lastBits)
	completed uint32     // 1 + whole milliseconds from d.CreatedAt to CompletedAt; 0: in detail, or none
	attempts  uint16     // saturated
	bits      uint16     // the status code (0 to 999), the status and done: see entryBits
}

// The layout of logEntry.bits.
const (
	codeMask    = 1<<10 - 1 // the status code
	statusShift = 10        // 2 bits: the logStatus
	doneBit     = 1 << 12   // finished: in fin
)

// The layout of logEntry.seq: the order of first record, then the
// duration of the attempt that finished the delivery, in 100 µs steps,
// plus one (0: no such attempt, or it is in detail's history). That
// attempt's other fields are the log's own (status code, message, the
// completion time it ended at), so the commonest history, one attempt
// that delivered, costs no memory of its own.
const (
	orderMask = 1<<40 - 1
	lastShift = 40
	lastStep  = 100 * time.Microsecond
	maxLast   = (1<<24 - 2) * lastStep
)

func (e *logEntry) order() uint64 { return e.seq & orderMask }

// last returns the duration of the attempt that finished the delivery,
// if the entry keeps it.
func (e *logEntry) last() (time.Duration, bool) {
	b := e.seq >> lastShift
	return time.Duration(b-1) * lastStep, b != 0
}

func (e *logEntry) code() int         { return int(e.bits & codeMask) }
func (e *logEntry) status() logStatus { return logStatus(e.bits>>statusShift) & 3 }
func (e *logEntry) done() bool        { return e.bits&doneBit != 0 }

type logDetail struct {
	msg, response string
	again         string          // RedeliveredAs
	history       []AttemptRecord // but for the last, when the entry keeps it
	next          time.Time       // NextAttemptAt; zero: none
	completed     time.Time
	hasCompleted  bool // CompletedAt is not nil
}

// logStatus is a DeliveryStatus in a byte.
type logStatus uint8

var logStatuses = [...]DeliveryStatus{StatusPending, StatusRetrying, StatusDelivered, StatusFailed}

func toLogStatus(st DeliveryStatus) (logStatus, bool) {
	i := slices.Index(logStatuses[:], st)
	return logStatus(i), i >= 0
}

var _ LogStore = (*MemoryLogStore)(nil)

// NewMemoryLogStore returns a store that keeps the newest size finished
// logs (size ≤ 0: DefaultLogSize), within DefaultLogBytes; see
// WithMaxBytes.
func NewMemoryLogStore(size int) *MemoryLogStore {
	size = cmpOr(size, DefaultLogSize)
	n := 1
	if size >= shardedLogSize {
		n = logShards
	}
	s := &MemoryLogStore{shards: make([]logShard, n), seed: maphash.MakeSeed(), size: size, maxBytes: DefaultLogBytes}
	for i := range s.shards {
		s.shards[i].byID = make(map[uint64]*logEntry)
	}
	return s
}

// WithMaxBytes sets the byte budget of finished logs (n ≤ 0: no budget)
// and returns s. Call it before the store is used.
func (s *MemoryLogStore) WithMaxBytes(n int64) *MemoryLogStore {
	s.maxBytes = n
	return s
}

// shard returns the shard of the log with the id, and the id's hash.
func (s *MemoryLogStore) shard(id string) (*logShard, uint64) {
	var h uint64
	if s.hash != nil {
		h = s.hash(id)
	} else {
		h = maphash.String(s.seed, id)
	}
	return &s.shards[h%uint64(len(s.shards))], h
}

func finished(st DeliveryStatus) bool { return st == StatusDelivered || st == StatusFailed }

func (e *logEntry) bytes() int64 {
	n := int64(len(e.d.Body) + 256)
	if e.detail != nil {
		n += int64(len(e.detail.msg) + len(e.detail.response))
		for _, a := range e.detail.history {
			n += int64(64 + len(a.Error))
		}
	}
	return n
}

// log returns the entry as a DeliveryLog.
func (e *logEntry) log() DeliveryLog {
	l := DeliveryLog{
		ID:           e.d.ID,
		EndpointName: e.d.Endpoint,
		EventID:      e.d.EventID,
		EventType:    e.d.EventType,
		Payload:      e.d.Body,
		Status:       logStatuses[e.status()],
		StatusCode:   e.code(),
		Attempts:     int(e.attempts),
		CreatedAt:    e.d.CreatedAt,
	}
	if e.completed != 0 {
		t := e.d.CreatedAt.Add(time.Duration(e.completed-1) * time.Millisecond)
		l.CompletedAt = &t
	}
	if dt := e.detail; dt != nil {
		l.ErrorMessage, l.ResponseBody, l.RedeliveredAs = dt.msg, dt.response, dt.again
		if dt.hasCompleted {
			t := dt.completed
			l.CompletedAt = &t
		}
		l.History = slices.Clone(dt.history)
		if !dt.next.IsZero() && l.Status == StatusRetrying {
			t := dt.next
			l.NextAttemptAt = &t
		}
	}
	if took, ok := e.last(); ok && l.CompletedAt != nil && l.Attempts > 0 {
		l.History = append(l.History, AttemptRecord{
			Attempt: l.Attempts, At: l.CompletedAt.Add(-took), Duration: took,
			StatusCode: l.StatusCode, Error: l.ErrorMessage,
		})
	}
	return l
}

// Record implements LogStore. It rejects a log whose Status is not one of
// the four statuses, whose StatusCode is not 0 to 999, or whose Attempts
// is negative.
func (s *MemoryLogStore) Record(_ context.Context, l DeliveryLog) error {
	st, ok := toLogStatus(l.Status)
	switch {
	case !ok:
		return fmt.Errorf("webhook: delivery log %q: status %q unknown (want pending, retrying, delivered or failed)", l.ID, l.Status)
	case l.StatusCode < 0 || l.StatusCode > 999:
		return fmt.Errorf("webhook: delivery log %q: status code %d is not 0 to 999", l.ID, l.StatusCode)
	case l.Attempts < 0:
		return fmt.Errorf("webhook: delivery log %q: attempts %d is negative", l.ID, l.Attempts)
	}
	d := &Delivery{ID: l.ID, EventID: l.EventID, EventType: l.EventType, Endpoint: l.EndpointName, Body: l.Payload, CreatedAt: l.CreatedAt}
	var next time.Time
	if l.NextAttemptAt != nil {
		next = *l.NextAttemptAt
	}
	s.record(d, st, l.StatusCode, l.Attempts, l.ErrorMessage, l.ResponseBody, l.CompletedAt, l.RedeliveredAs, l.History, nil, next)
	return nil
}

// recordDelivery is Record for the Emitter, which has the Delivery: the
// log shares it, so d must be one nobody changes (but for Attempts) or
// reuses; the Emitter calls it only for the deliveries of the memory
// queue and of Sync mode. attempts is d.Attempts as the caller read it.
// A zero completed: not finished. tried is the attempt just made, if one
// was; next, when it is retrying, the next one's time.
func (s *MemoryLogStore) recordDelivery(d *Delivery, status DeliveryStatus, code, attempts int, msg, response string, completed time.Time, tried *AttemptRecord, next time.Time) {
	st, _ := toLogStatus(status)
	var c *time.Time
	if !completed.IsZero() {
		c = &completed // does not escape: record copies it
	}
	var add []AttemptRecord
	var last *AttemptRecord
	if tried != nil {
		if finished(status) && tried.StatusCode == code && tried.Error == msg && tried.Duration < maxLast {
			last = tried // kept in the entry (see lastShift)
		} else {
			add = []AttemptRecord{*tried}
		}
	}
	s.record(d, st, code, attempts, msg, response, c, "", add, last, next)
}

// record stores a log. add are attempts to add to its history; last, the
// attempt that finished it, whose fields but its duration are the log's.
func (s *MemoryLogStore) record(d *Delivery, st logStatus, code, attempts int, msg, response string, completed *time.Time, again string, add []AttemptRecord, last *AttemptRecord, next time.Time) {
	n := logEntry{d: d, attempts: uint16(min(max(attempts, 0), math.MaxUint16)),
		bits: uint16(code)&codeMask | uint16(st)<<statusShift}
	inDetail := completed != nil
	if completed != nil {
		// In milliseconds after the delivery's creation when that fits
		// (it does but for a delivery under way for 49 days), at no cost
		// of its own: most logs have nothing else for detail.
		if ms := completed.Sub(d.CreatedAt); ms >= 0 && ms < math.MaxUint32*time.Millisecond && completed.Location() == d.CreatedAt.Location() {
			n.completed, inDetail = uint32(ms/time.Millisecond)+1, false
		}
	}
	if msg != "" || response != "" || inDetail || again != "" || len(add) > 0 || !next.IsZero() {
		n.detail = &logDetail{msg: msg, response: response, again: again, next: next}
		if inDetail {
			n.detail.completed, n.detail.hasCompleted = *completed, true
		}
	}
	if last != nil {
		n.seq = uint64(last.Duration/lastStep+1) << lastShift
	}
	fin := finished(logStatuses[st])
	sh, h := s.shard(d.ID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(d.ID, h)
	if e != nil {
		// The history so far, and a finished log's last attempt, stay.
		if e.detail != nil && len(e.detail.history) > 0 {
			if n.detail == nil {
				n.detail = new(logDetail)
			}
			n.detail.history = append(slices.Clip(e.detail.history), add...)
		} else if n.detail != nil {
			n.detail.history = add
		}
		if last == nil && len(add) == 0 {
			n.seq = e.seq &^ orderMask
		}
	} else if n.detail != nil {
		n.detail.history = add
	}
	switch {
	case e == nil:
		n.seq |= s.seq.Add(1) & orderMask
		e = new(logEntry) // not &n, which would put every n on the heap
		*e = n
		sh.put(e, h)
		if fin {
			s.push(sh, e, h)
		}
	case !e.done():
		n.seq |= e.order()
		*e = n
		if fin {
			s.push(sh, e, h)
		}
	default: // an update of a finished log
		was := e.bytes()
		n.seq |= e.order()
		n.bits |= doneBit
		*e = n
		s.bytes.Add(e.bytes() - was)
	}
}

// push adds a finished log, whose id's hash is h, to sh and, while the
// store is beyond its bounds, forgets sh's oldest. When sh has nothing
// older than the log just finished, the other shards that are not busy
// forget their oldest instead: each shard keeping its last log would let
// a store of large payloads hold one per shard beyond its byte budget.
// sh.mu held.
func (s *MemoryLogStore) push(sh *logShard, e *logEntry, h uint64) {
	e.bits |= doneBit
	sh.fin = append(sh.fin, finRef{e, h})
	count, bytes := s.finished.Add(1), s.bytes.Add(e.bytes())
	for len(sh.fin)-sh.head > 1 && s.over(count, bytes) {
		count, bytes = s.forgetOldest(sh)
	}
	sh.compact()
	if !s.over(count, bytes) {
		return
	}
	for i := range s.shards {
		o := &s.shards[i]
		if o == sh || !o.mu.TryLock() {
			continue
		}
		for len(o.fin) > o.head && s.over(count, bytes) {
			count, bytes = s.forgetOldest(o)
		}
		o.compact()
		o.mu.Unlock()
		if !s.over(count, bytes) {
			return
		}
	}
}

// over reports whether count finished logs of bytes exceed the store's
// bounds.
func (s *MemoryLogStore) over(count, bytes int64) bool {
	return count > int64(s.size) || (s.maxBytes > 0 && bytes > s.maxBytes)
}

// forgetOldest forgets sh's oldest finished log and returns the store's
// finished count and bytes after it. sh.mu held; sh has one.
func (s *MemoryLogStore) forgetOldest(sh *logShard) (count, bytes int64) {
	old := sh.fin[sh.head]
	sh.fin[sh.head] = finRef{}
	sh.head++
	// It is the log held under its id: an entry is pushed once, when it
	// finishes, and stays under its id until forgotten here.
	sh.forget(old.e, old.h)
	return s.finished.Add(-1), s.bytes.Add(-old.e.bytes())
}

// compact moves sh's finished logs to the front of fin once most of it
// is forgotten ones. sh.mu held.
func (sh *logShard) compact() {
	if sh.head > 1024 && sh.head > len(sh.fin)/2 {
		sh.fin = append(sh.fin[:0:0], sh.fin[sh.head:]...)
		sh.head = 0
	}
}

// Query implements LogStore.
func (s *MemoryLogStore) Query(_ context.Context, q LogQuery) ([]DeliveryLog, error) {
	limit := cmpOr(q.Limit, DefaultLogLimit)
	st, known := toLogStatus(q.Status)
	if q.Status != "" && !known {
		return nil, nil
	}
	type hit struct {
		seq uint64
		log DeliveryLog
	}
	var hits []hit
	for i := range s.shards {
		sh := &s.shards[i]
		var mine []*logEntry
		sh.mu.Lock()
		for e := range sh.all() {
			if (q.Status == "" || e.status() == st) && q.match(e.d.Endpoint, e.d.EventID, e.d.CreatedAt) {
				mine = append(mine, e)
			}
		}
		// Each shard's newest limit are enough.
		slices.SortFunc(mine, func(a, b *logEntry) int { return cmp.Compare(b.order(), a.order()) })
		for _, e := range mine[:min(len(mine), limit)] {
			hits = append(hits, hit{e.order(), e.log()})
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]DeliveryLog, min(len(hits), limit))
	for i := range out {
		out[i] = hits[i].log
	}
	return out, nil
}

// Get implements LogStore.
func (s *MemoryLogStore) Get(_ context.Context, id string) (DeliveryLog, error) {
	sh, h := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.get(id, h); e != nil {
		return e.log(), nil
	}
	return DeliveryLog{}, ErrLogNotFound
}

// Log returns the delivery log with the id (a delivery's, "dlv_…"); an
// error wrapping ErrLogNotFound when the store has none.
func (e *Emitter) Log(ctx context.Context, id string) (DeliveryLog, error) {
	if e.queue == nil {
		return DeliveryLog{}, errNotNew
	}
	l, err := e.logs.Get(ctx, id)
	if err != nil {
		return DeliveryLog{}, fmt.Errorf("webhook: delivery log %s: %w", id, err)
	}
	return l, nil
}

// Logs returns the delivery logs that match q, newest first.
func (e *Emitter) Logs(ctx context.Context, q LogQuery) ([]DeliveryLog, error) {
	if e.queue == nil {
		return nil, errNotNew
	}
	unresolved := q.Unresolved
	q.Unresolved = false
	if t := q.Tenant; t != "" {
		q.Tenant = ""
		names := make([]string, 0)
		for _, ep := range e.eps.Load().byTenant[t] {
			if q.Endpoints == nil || slices.Contains(q.Endpoints, ep.Name) {
				names = append(names, ep.Name)
			}
		}
		if len(names) == 0 {
			return nil, nil
		}
		q.Endpoints = names
	}
	logs, err := e.logs.Query(ctx, q)
	if err != nil || !unresolved {
		return logs, err
	}
	kept := logs[:0]
	for _, l := range logs {
		if l.Status == StatusFailed && l.RedeliveredAs != "" {
			if again, err := e.logs.Get(ctx, l.RedeliveredAs); err == nil && again.Status == StatusDelivered {
				continue
			}
		}
		kept = append(kept, l)
	}
	return kept, nil
}

// MaxLogLimit is the largest page LogsHandler serves: a query whose limit
// is above it is refused with 400.
const MaxLogLimit = 1000

// LogsHandler serves the delivery logs as JSON, Rail Django's webhook_logs
// query: GET ?endpoint=orders&status=failed&limit=50 answers a JSON array
// of DeliveryLog, newest first (event_id, tenant and unresolved=true
// select as LogQuery's fields do; since and until, RFC 3339 times, bound
// their creation): at most limit logs, DefaultLogLimit (100)
// without one, and never more than MaxLogLimit (1000). The array is
// streamed log by log, each payload written from the log as the LogStore
// returned it (the MemoryLogStore shares it): besides the logs, serving a
// page takes a few KiB, whatever their size. The bytes are those
// json.Marshal makes of the page. A payload that is not valid JSON (a
// LogStore's fault) is served as null, and logged; a log that cannot be
// encoded at all (a time past year 9999) is logged and gets 500 if it
// comes first, and otherwise aborts the answer (http.ErrAbortHandler), so
// that a client never takes a short page for a whole one.
//
// A bad parameter gets 400 with {"error": "…"}; other methods get 405.
// Every answer, errors included, is application/json with
// X-Content-Type-Options: nosniff and Cache-Control: no-store. It has no
// authentication of its own: mount it behind the host's.
func (e *Emitter) LogsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		q, err := ParseLogQuery(r.URL.Query())
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		if e.queue == nil {
			writeJSONError(w, http.StatusInternalServerError, errNotNew.Error())
			return
		}
		logs, err := e.Logs(r.Context(), q)
		if err != nil {
			e.logger.Error("webhook: logs handler", "error", err)
			writeJSONError(w, http.StatusInternalServerError, "cannot read delivery logs")
			return
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		e.writeLogs(w, logs)
	})
}

// writeLogs writes logs as a JSON array and a newline: byte for byte what
// json.Marshal makes of the slice, and a newline, but written one log at
// a time, its payload straight from the log.
func (e *Emitter) writeLogs(w http.ResponseWriter, logs []DeliveryLog) {
	sw := &stickyWriter{w: w}
	lw := &logWriter{w: bufio.NewWriterSize(sw, 16<<10)}
	lw.enc = json.NewEncoder(&lw.fields)
	for i, l := range logs {
		if err := lw.encode(l); err != nil {
			e.logger.Error("webhook: logs handler: encoding a delivery log", "delivery_id", l.ID, "error", err)
			if i == 0 {
				writeJSONError(w, http.StatusInternalServerError, "cannot encode delivery logs")
				return
			}
			// The answer has begun: abort it, so that the client sees an
			// incomplete answer rather than a short page.
			panic(http.ErrAbortHandler)
		}
		if !lw.validPayload {
			e.logger.Error("webhook: logs handler: payload is not valid JSON; served as null", "delivery_id", l.ID)
		}
		sep := byte(',')
		if i == 0 {
			sep = '['
		}
		lw.write(sep)
		if sw.err != nil {
			return // the client is gone
		}
	}
	if len(logs) == 0 {
		lw.w.WriteByte('[')
	}
	lw.w.WriteString("]\n")
	lw.w.Flush()
}

// stickyWriter keeps the first error of w.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// logWriter writes delivery logs one by one. A log's fields but its
// payload are encoded into a buffer reused from log to log; its payload,
// which may be large, is written from the log itself, compacted and
// escaped on the way as encoding/json does with a json.RawMessage. Serving
// a page so takes the same small memory whatever its logs' size.
type logWriter struct {
	w      *bufio.Writer
	fields bytes.Buffer // the log last encoded, with a null payload
	enc    *json.Encoder

	// The log last encoded: head, payload, tail.
	head, tail   []byte
	payload      []byte // nil: null
	validPayload bool   // false: the payload was not JSON, and is served as null
}

var payloadNull = []byte(`"payload":null`)

// encode encodes l, but for its payload, which write writes.
func (lw *logWriter) encode(l DeliveryLog) error {
	p := l.Payload
	l.Payload = nil
	lw.fields.Reset()
	if err := lw.enc.Encode(l); err != nil {
		return err
	}
	f := bytes.TrimSuffix(lw.fields.Bytes(), []byte("\n"))
	// Every key is ours and every quote inside a string is escaped: the
	// first `"payload":null` is the payload's.
	i := bytes.Index(f, payloadNull)
	if i < 0 {
		return errors.New("no payload field in the encoded log")
	}
	lw.head, lw.tail = f[:i+len(`"payload":`)], f[i+len(payloadNull):]
	lw.payload, lw.validPayload = p, true
	if p != nil && !json.Valid(p) {
		lw.payload, lw.validPayload = nil, false
	}
	return nil
}

// write writes sep and the log last encoded.
func (lw *logWriter) write(sep byte) {
	lw.w.WriteByte(sep)
	lw.w.Write(lw.head)
	if lw.payload == nil {
		lw.w.WriteString("null")
	} else {
		writeCompactJSON(lw.w, lw.payload)
	}
	lw.w.Write(lw.tail)
}

const hexDigits = "0123456789abcdef"

// writeCompactJSON writes the valid JSON p as encoding/json writes a
// json.RawMessage: without the white space between tokens, and with <, >,
// &, U+2028 and U+2029 escaped (\u003c…).
func writeCompactJSON(w *bufio.Writer, p []byte) {
	start, inString := 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case inString && c == '\\':
			i++ // the escaped character, kept as it is
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			w.Write(p[start:i])
			start = i + 1
		case c == '<' || c == '>' || c == '&':
			w.Write(p[start:i])
			w.WriteString(`\u00`)
			w.WriteByte(hexDigits[c>>4])
			w.WriteByte(hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(p) && p[i+1] == 0x80 && p[i+2]&^1 == 0xA8: // U+2028, U+2029
			w.Write(p[start:i])
			w.WriteString(`\u202`)
			w.WriteByte(hexDigits[p[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	w.Write(p[start:])
}

// ParseLogQuery reads a LogQuery from the parameters LogsHandler takes:
// endpoint, event_id, tenant, status, unresolved (true or false), since
// and until (RFC 3339 times) and limit (1 to MaxLogLimit; 0 when absent).
// For a handler of the host's own that serves logs in its own shape. Any
// other parameter, or a value out of its range, is an error naming it.
func ParseLogQuery(v url.Values) (LogQuery, error) {
	for k := range v {
		switch k {
		case "endpoint", "event_id", "tenant", "status", "unresolved", "since", "until", "limit":
		default:
			return LogQuery{}, fmt.Errorf("unknown parameter %q (want endpoint, event_id, tenant, status, unresolved, since, until or limit)", k)
		}
	}
	q := LogQuery{Endpoint: v.Get("endpoint"), EventID: v.Get("event_id"), Tenant: v.Get("tenant"), Status: DeliveryStatus(v.Get("status"))}
	switch u := v.Get("unresolved"); u {
	case "", "false", "0":
	case "true", "1":
		q.Unresolved = true
	default:
		return LogQuery{}, fmt.Errorf("unresolved: %q is not true or false", u)
	}
	switch q.Status {
	case "", StatusPending, StatusRetrying, StatusDelivered, StatusFailed:
	default:
		return LogQuery{}, fmt.Errorf("status: %q unknown (want pending, retrying, delivered or failed)", q.Status)
	}
	for _, t := range []struct {
		key string
		dst *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(t.key); s != "" {
			var err error
			if *t.dst, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return LogQuery{}, fmt.Errorf("%s: %q is not an RFC 3339 time (2006-01-02T15:04:05Z)", t.key, s)
			}
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLogLimit {
			return LogQuery{}, fmt.Errorf("limit: %q is not a number from 1 to %d", s, MaxLogLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// writeJSONError answers code with {"error": msg}; the handler has set
// the headers.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
