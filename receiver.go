package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Receiver is the receiving side's middleware: it reads the body with a
// size limit, verifies the signature and the timestamp (so replays outside
// the tolerance are refused), deduplicates, and hands each event to the
// next handler once, with the verified body in r.Body.
//
// Deduplication keys on what the signature covers, so that a captured
// request sent again within the tolerance cannot pass for a new event,
// nor claim the key of an event still to come:
//   - with Rail Django's HMAC scheme ([SchemeHMAC]), the key is
//     "sha256:" and the hex SHA-256 of the body. The body is the same on
//     every attempt and redelivery of an event, and holds its id, so they
//     all share one key. [HeaderEventID] is not signed: it is a hint for
//     logs and correlation, which next may read but must not trust, and
//     it plays no part here. An [Endpoint.Transform] that leaves the event
//     id out of the body makes two events with identical bodies one: keep
//     an id (or a timestamp) in transformed bodies.
//   - with Standard Webhooks ([SchemeStandard]), the key is the webhook-id
//     header, which the signature covers.
//
// Its answers:
//   - 413 when the body is over MaxBodyBytes;
//   - 400 when a signature header is malformed or longer than
//     [MaxSignatureHeaderBytes];
//   - 401 when the signature is missing or wrong, or the timestamp is
//     outside the tolerance;
//   - 200, without calling next, when the event was already processed
//     (the sender stops retrying);
//   - 409 with Retry-After, without calling next, while another request
//     for the same event is being processed (the sender retries later);
//   - otherwise next's answer. A final 2xx from next (informational 1xx
//     answers do not count) records the event as processed; so does a
//     handler that writes nothing (an implicit 200) while the request is
//     still live. Any other answer, a panic, or a handler that writes
//     nothing after the request's context has ended (the sender timed
//     out) releases it, so that the sender's retry is processed.
type Receiver struct {
	// Verifier checks signatures; set its Secrets (and Scheme for
	// Standard Webhooks).
	Verifier Verifier

	// MaxBodyBytes bounds the request body. 0: DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64

	// Dedup remembers processed events, by the keys described above.
	// Nil: deduplication is off. NewMemoryDedup gives an in-memory store;
	// share a database-backed one between instances.
	Dedup DedupStore
}

// ClaimState is what a DedupStore knows of a key.
type ClaimState int

// Claim states.
const (
	ClaimNew        ClaimState = iota // the caller now holds the key and must Finish its claim
	ClaimInProgress                   // another request holds it
	ClaimDone                         // it was processed
)

// Claim is a DedupStore's answer to Acquire.
type Claim struct {
	// Key is the key acquired.
	Key string
	// State is what the store knew of Key.
	State ClaimState
	// Token identifies this holder of the claim, when State is ClaimNew;
	// it is empty otherwise. Each successful Acquire of a key gets a token
	// of its own.
	Token string
}

// DedupStore remembers which events were processed, by key (see
// [Receiver] for what the key is). Implementations must be safe for
// concurrent use, and shared by every instance that receives the same
// webhooks.
//
// A claim has one holder at a time, known by its token. A holder may
// outlive its claim (the store let the claim time out and gave the key to
// another request): its Finish must then change nothing, so that it
// neither releases nor completes its successor's claim. Store the token
// with the claim and make Finish conditional on it; in SQL, for example:
//
//	-- Acquire: insert the key with a new random token (crypto/rand.Text),
//	-- or take over a claim that timed out; a row held or done is ClaimInProgress or ClaimDone.
//	INSERT INTO webhook_dedup (key, token, done, expires_at) VALUES ($1, $2, false, now() + $3)
//	ON CONFLICT (key) DO UPDATE SET token = $2, expires_at = now() + $3
//	WHERE NOT webhook_dedup.done AND webhook_dedup.expires_at <= now()
//	-- Finish, processed:
//	UPDATE webhook_dedup SET done = true, token = '', expires_at = now() + $3 WHERE key = $1 AND token = $2 AND NOT done
//	-- Finish, released:
//	DELETE FROM webhook_dedup WHERE key = $1 AND token = $2 AND NOT done
type DedupStore interface {
	// Acquire claims key unless it is held (ClaimInProgress) or was
	// processed (ClaimDone). When the returned State is ClaimNew, the
	// caller holds the claim and must Finish it.
	Acquire(ctx context.Context, key string) (Claim, error)
	// Finish ends claim c, returned by Acquire with State ClaimNew:
	// processed records c.Key as processed; !processed releases it so that
	// a retry is processed. It changes nothing unless c.Token still holds
	// c.Key.
	Finish(ctx context.Context, c Claim, processed bool) error
}

// dedupKey returns the deduplication key of a verified request (see
// Receiver).
func (rc *Receiver) dedupKey(r *http.Request, body []byte) string {
	if rc.Verifier.Scheme == SchemeStandard {
		return r.Header.Get(HeaderStandardID) // verified: present and signed
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Middleware wraps next with verification and deduplication. It keeps
// the keyed HMAC states of the Verifier's Secrets as they are when it is
// called (see NewVerifier). The Receiver's fields must not change while
// requests are served.
func (rc *Receiver) Middleware(next http.Handler) http.Handler {
	keys := rc.Verifier.keys.forSecrets(rc.Verifier.Secrets)
	if keys == nil && rc.Verifier.Scheme != SchemeStandard {
		keys = newVerifierKeys(rc.Verifier.Secrets)
	}
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
		if err := rc.Verifier.verify(r.Header, body, keys); err != nil {
			switch {
			case errors.Is(err, ErrMalformedSignature), errors.Is(err, ErrSignatureHeaderTooLarge):
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
		claim, err := rc.Dedup.Acquire(r.Context(), rc.dedupKey(r, body))
		switch {
		case err != nil:
			http.Error(w, "webhook: deduplication store unavailable", http.StatusServiceUnavailable)
			return
		case claim.State == ClaimDone:
			w.WriteHeader(http.StatusOK)
			return
		case claim.State != ClaimNew:
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
			_ = rc.Dedup.Finish(ctx, claim, ok)
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

// WriteHeader records the first final status: 1xx answers other than
// 101 Switching Protocols are informational, and more may follow them.
func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
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

// MemoryDedup is an in-memory DedupStore. It remembers processed keys for
// a TTL and forgets the oldest beyond MaxEntries; a claim whose request
// never finishes expires after ClaimTimeout, and the key can be acquired
// again. Its tokens are unique within the store.
type MemoryDedup struct {
	ttl, claimTimeout time.Duration
	max               int
	now               func() time.Time

	mu    sync.Mutex
	seq   uint64                 // the last token handed out
	ids   map[string]*dedupEntry // by key
	order []*dedupEntry          // by insertion; expired and evicted from the front
	head  int                    // order[:head] is spent; order[head:] holds every id, and removed entries
}

type dedupEntry struct {
	id      string // the key
	token   string // the holder's, while !done
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
	// TTL is how long a processed key is remembered. It should outlast the
	// sender's retries. Defaults to DefaultDedupTTL (24 h).
	TTL time.Duration
	// ClaimTimeout releases a claim whose request never finished: the key
	// can be acquired again, and the late Finish of the first holder then
	// changes nothing. Defaults to DefaultDedupClaimTimeout (1 min).
	ClaimTimeout time.Duration
	// MaxEntries bounds the keys held; the oldest are forgotten first.
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

// Acquire implements DedupStore.
func (m *MemoryDedup) Acquire(_ context.Context, key string) (Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if e := m.ids[key]; e != nil && now.Before(e.expires) {
		if e.done {
			return Claim{Key: key, State: ClaimDone}, nil
		}
		return Claim{Key: key, State: ClaimInProgress}, nil
	} else if e != nil {
		m.remove(e)
	}
	m.makeRoom()
	m.seq++
	e := &dedupEntry{id: key, token: strconv.FormatUint(m.seq, 10), expires: now.Add(m.claimTimeout)}
	m.ids[key] = e
	m.order = append(m.order, e)
	return Claim{Key: key, State: ClaimNew, Token: e.token}, nil
}

// Finish implements DedupStore. A claim that timed out can still be
// finished as long as no one acquired its key since.
func (m *MemoryDedup) Finish(_ context.Context, c Claim, processed bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.ids[c.Key]; e != nil && !e.done && c.Token != "" && e.token == c.Token {
		m.finish(e, processed)
	}
	return nil
}

// finish ends the claim e: processed records its key as done for the TTL,
// !processed forgets it.
func (m *MemoryDedup) finish(e *dedupEntry, processed bool) {
	m.remove(e)
	if !processed {
		return
	}
	// Re-queue at the back with the longer life of a processed key.
	e = &dedupEntry{id: e.id, done: true, expires: m.now().Add(m.ttl)}
	m.ids[e.id] = e
	m.order = append(m.order, e)
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

// Len reports how many keys the store holds.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}
