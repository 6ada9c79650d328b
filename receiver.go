package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Receiver is the receiving side's middleware: it reads the body with a
// size limit, verifies the signature and the timestamp (so replays outside
// the tolerance are refused), deduplicates by event id, and hands each
// event to the next handler once, with the verified body in r.Body.
//
// Its answers:
//   - 413 when the body is over MaxBodyBytes;
//   - 400 when a signature header is malformed or the event id is missing;
//   - 401 when the signature is missing or wrong, or the timestamp is
//     outside the tolerance;
//   - 200, without calling next, when the event was already processed
//     (the sender stops retrying);
//   - 409 with Retry-After, without calling next, while another request
//     for the same event is being processed (the sender retries later);
//   - otherwise next's answer. A 2xx from next records the event as
//     processed; so does a handler that writes nothing (an implicit 200)
//     while the request is still live. Any other answer, a panic, or a
//     handler that writes nothing after the request's context has ended
//     (the sender timed out) releases it, so that the sender's retry is
//     processed.
type Receiver struct {
	// Verifier checks signatures; set its Secrets (and Scheme for
	// Standard Webhooks).
	Verifier Verifier

	// MaxBodyBytes bounds the request body. 0: DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64

	// Dedup remembers processed event ids. Nil: deduplication is off.
	// NewMemoryDedup gives an in-memory store; share a database-backed one
	// between instances.
	Dedup DedupStore
}

// ClaimState is what a DedupStore knows of an event id.
type ClaimState int

// Claim states.
const (
	ClaimNew        ClaimState = iota // the caller now holds the id and must Complete it
	ClaimInProgress                   // another request holds it
	ClaimDone                         // it was processed
)

// DedupStore remembers which event ids were processed. Implementations
// must be safe for concurrent use, and shared by every instance that
// receives the same webhooks.
type DedupStore interface {
	// Claim marks id as being processed, unless it is already held or done.
	Claim(ctx context.Context, id string) (ClaimState, error)
	// Complete ends a claim: ok records id as processed; !ok releases it so
	// that a retry is processed.
	Complete(ctx context.Context, id string, ok bool) error
}

// Middleware wraps next with verification and deduplication.
func (rc *Receiver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := rc.MaxBodyBytes
		if limit <= 0 {
			limit = DefaultMaxBodyBytes
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "webhook: body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "webhook: cannot read body", http.StatusBadRequest)
			return
		}
		if err := rc.Verifier.Verify(r.Header, body); err != nil {
			switch {
			case errors.Is(err, ErrMalformedSignature):
				http.Error(w, err.Error(), http.StatusBadRequest)
			case errors.Is(err, ErrMissingSignature), errors.Is(err, ErrInvalidSignature), errors.Is(err, ErrTimestampOutOfRange):
				http.Error(w, err.Error(), http.StatusUnauthorized)
			default: // the Verifier's configuration
				http.Error(w, "webhook: receiver misconfigured", http.StatusInternalServerError)
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if rc.Dedup == nil {
			next.ServeHTTP(w, r)
			return
		}
		idHeader := HeaderEventID
		if rc.Verifier.Scheme == SchemeStandard {
			idHeader = HeaderStandardID
		}
		id := r.Header.Get(idHeader)
		if id == "" {
			http.Error(w, "webhook: "+idHeader+": header is absent", http.StatusBadRequest)
			return
		}
		state, err := rc.Dedup.Claim(r.Context(), id)
		switch {
		case err != nil:
			http.Error(w, "webhook: deduplication store unavailable", http.StatusServiceUnavailable)
			return
		case state == ClaimDone:
			w.WriteHeader(http.StatusOK)
			return
		case state == ClaimInProgress:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "webhook: event is being processed", http.StatusConflict)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		ok := false
		defer func() {
			// A context of its own: r's may be cancelled already.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			_ = rc.Dedup.Complete(ctx, id, ok)
		}()
		next.ServeHTTP(sw, r)
		// A handler that answered 2xx processed the event. One that wrote
		// nothing answers 200 by default, but if the request had ended by
		// then (the sender gave up waiting) it most likely gave up too:
		// release the claim so that the sender's retry is processed.
		ok = sw.code >= 200 && sw.code < 300 || sw.code == 0 && r.Context().Err() == nil
	})
}

// statusWriter records the status the next handler answers.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 { // 1xx answers are informational
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// MemoryDedup is an in-memory DedupStore. It remembers processed ids for
// a TTL and forgets the oldest beyond MaxEntries; a claim whose request
// never completes expires after ClaimTimeout.
type MemoryDedup struct {
	ttl, claimTimeout time.Duration
	max               int
	now               func() time.Time

	mu    sync.Mutex
	ids   map[string]*dedupEntry
	order []*dedupEntry // by insertion; expired and evicted from the front
	head  int           // order[:head] is spent; order[head:] holds every id, and removed entries
}

type dedupEntry struct {
	id      string
	done    bool
	expires time.Time
	gone    bool // removed from ids; skip when met in order
}

var _ DedupStore = (*MemoryDedup)(nil)

// Defaults of NewMemoryDedup.
const (
	DefaultDedupTTL          = 24 * time.Hour
	DefaultDedupClaimTimeout = time.Minute
	DefaultDedupMaxEntries   = 1_000_000
)

// MemoryDedupConfig configures NewMemoryDedup.
type MemoryDedupConfig struct {
	// TTL is how long a processed id is remembered. It should outlast the
	// sender's retries. Defaults to DefaultDedupTTL (24 h).
	TTL time.Duration
	// ClaimTimeout releases a claim whose request never completed.
	// Defaults to DefaultDedupClaimTimeout (1 min).
	ClaimTimeout time.Duration
	// MaxEntries bounds the ids held; the oldest are forgotten first.
	// Defaults to DefaultDedupMaxEntries.
	MaxEntries int
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// NewMemoryDedup returns an in-memory DedupStore.
func NewMemoryDedup(cfg MemoryDedupConfig) *MemoryDedup {
	m := &MemoryDedup{ttl: cfg.TTL, claimTimeout: cfg.ClaimTimeout, max: cfg.MaxEntries, now: cfg.Now, ids: map[string]*dedupEntry{}}
	if m.ttl <= 0 {
		m.ttl = DefaultDedupTTL
	}
	if m.claimTimeout <= 0 {
		m.claimTimeout = DefaultDedupClaimTimeout
	}
	if m.max <= 0 {
		m.max = DefaultDedupMaxEntries
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Claim implements DedupStore.
func (m *MemoryDedup) Claim(_ context.Context, id string) (ClaimState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if e := m.ids[id]; e != nil && now.Before(e.expires) {
		if e.done {
			return ClaimDone, nil
		}
		return ClaimInProgress, nil
	} else if e != nil {
		m.remove(e)
	}
	m.makeRoom()
	e := &dedupEntry{id: id, expires: now.Add(m.claimTimeout)}
	m.ids[id] = e
	m.order = append(m.order, e)
	return ClaimNew, nil
}

// Complete implements DedupStore.
func (m *MemoryDedup) Complete(_ context.Context, id string, ok bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.ids[id]
	if e == nil {
		return nil
	}
	m.remove(e)
	if !ok {
		return nil
	}
	// Re-queue at the back with the longer life of a processed id.
	e = &dedupEntry{id: id, done: true, expires: m.now().Add(m.ttl)}
	m.ids[id] = e
	m.order = append(m.order, e)
	return nil
}

func (m *MemoryDedup) remove(e *dedupEntry) {
	e.gone = true
	delete(m.ids, e.id)
}

// sweep drops expired entries from the front. Entries are appended in
// order of expiry per kind, so the front is mostly the oldest; an
// in-progress entry with a short life may wait behind a done one until
// that expires, which only delays freeing it.
func (m *MemoryDedup) sweep(now time.Time) {
	for m.head < len(m.order) {
		if e := m.order[m.head]; !e.gone && now.Before(e.expires) {
			break
		}
		m.dropOldest()
	}
	m.compact()
}

// makeRoom forgets the oldest ids until one more fits under max.
func (m *MemoryDedup) makeRoom() {
	for len(m.ids) >= m.max && m.head < len(m.order) {
		m.dropOldest()
	}
	m.compact()
}

// dropOldest takes the front entry off order, forgetting its id unless it
// is gone already.
func (m *MemoryDedup) dropOldest() {
	if e := m.order[m.head]; !e.gone {
		m.remove(e)
	}
	m.order[m.head] = nil
	m.head++
}

// compact drops spent and removed entries from order, so that it stays
// proportional to the ids held.
func (m *MemoryDedup) compact() {
	gone := len(m.order) - m.head - len(m.ids) // removed entries in order[head:]
	switch {
	case gone > len(m.ids)+1024:
		live := make([]*dedupEntry, 0, len(m.ids))
		for _, e := range m.order[m.head:] {
			if !e.gone {
				live = append(live, e)
			}
		}
		m.order, m.head = live, 0
	case m.head > 1024 && m.head > len(m.order)/2:
		m.order = append(m.order[:0:0], m.order[m.head:]...)
		m.head = 0
	}
}

// Len reports how many ids the store holds.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}
