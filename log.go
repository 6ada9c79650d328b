package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses, as in the seed's webhook_logs.
const (
	StatusPending   DeliveryStatus = "pending"   // queued, not attempted yet
	StatusRetrying  DeliveryStatus = "retrying"  // failed at least once; a retry is scheduled
	StatusDelivered DeliveryStatus = "delivered" // a 2xx answer was received
	StatusFailed    DeliveryStatus = "failed"    // given up; reported to OnFailure
)

// DeliveryLog records one delivery: the seed's webhook_logs fields.
type DeliveryLog struct {
	ID           string          `json:"id"`
	EndpointName string          `json:"endpoint_name"`
	EventID      string          `json:"event_id"`
	EventType    EventType       `json:"event_type"`
	Payload      json.RawMessage `json:"payload"` // the body as sent; null when shaping failed
	Status       DeliveryStatus  `json:"status"`
	StatusCode   int             `json:"status_code"` // of the last answer; 0: none
	ErrorMessage string          `json:"error_message"`
	ResponseBody string          `json:"response_body"` // the start of the last failed answer's body
	Attempts     int             `json:"attempts"`
	CreatedAt    time.Time       `json:"created_at"`
	CompletedAt  *time.Time      `json:"completed_at"`
}

// LogQuery selects delivery logs. Zero fields match everything.
type LogQuery struct {
	Endpoint string         // endpoint name
	Status   DeliveryStatus // "": any
	Limit    int            // 0: DefaultLogLimit
}

// DefaultLogLimit is the number of logs a query returns when its Limit is 0.
const DefaultLogLimit = 100

// ErrLogNotFound is returned by LogStore.Get for an unknown id.
var ErrLogNotFound = errors.New("webhook: delivery log not found")

// LogStore keeps delivery logs. Implementations must be safe for
// concurrent use; Record is called on the delivery path and must be quick.
type LogStore interface {
	// Record inserts the log, or replaces the one with the same ID.
	Record(ctx context.Context, l DeliveryLog) error
	// Query returns the logs that match q, newest first, at most q.Limit.
	Query(ctx context.Context, q LogQuery) ([]DeliveryLog, error)
	// Get returns the log with the id, or an error wrapping ErrLogNotFound.
	Get(ctx context.Context, id string) (DeliveryLog, error)
}

// DefaultLogSize is how many logs the default memory store keeps.
const DefaultLogSize = 10000

// MemoryLogStore keeps the newest logs in memory, up to a fixed number;
// the oldest (by when they were first recorded) are forgotten first. Once
// it is full, a log it does not hold is taken only as pending (how every
// delivery is first recorded): a later update of a forgotten log is dropped.
type MemoryLogStore struct {
	mu   sync.Mutex
	size int
	byID map[string]int // index in ring
	ring []DeliveryLog  // oldest at head once full
	head int
}

var _ LogStore = (*MemoryLogStore)(nil)

// NewMemoryLogStore returns a store that keeps the newest size logs
// (size ≤ 0: DefaultLogSize).
func NewMemoryLogStore(size int) *MemoryLogStore {
	size = cmpOr(size, DefaultLogSize)
	return &MemoryLogStore{size: size, byID: make(map[string]int)}
}

// Record implements LogStore.
func (s *MemoryLogStore) Record(_ context.Context, l DeliveryLog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byID[l.ID]; ok {
		s.ring[i] = l
		return nil
	}
	if len(s.ring) < s.size {
		s.byID[l.ID] = len(s.ring)
		s.ring = append(s.ring, l)
		return nil
	}
	if l.Status != StatusPending {
		// Every delivery is first recorded pending: this is a late update
		// of a log already forgotten. It stays forgotten, or it would push
		// out a newer one.
		return nil
	}
	delete(s.byID, s.ring[s.head].ID)
	s.byID[l.ID] = s.head
	s.ring[s.head] = l
	s.head = (s.head + 1) % s.size
	return nil
}

// Query implements LogStore.
func (s *MemoryLogStore) Query(_ context.Context, q LogQuery) ([]DeliveryLog, error) {
	limit := cmpOr(q.Limit, DefaultLogLimit)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeliveryLog
	n := len(s.ring)
	for i := range n {
		l := &s.ring[(s.head+n-1-i)%n]
		if q.Endpoint != "" && l.EndpointName != q.Endpoint {
			continue
		}
		if q.Status != "" && l.Status != q.Status {
			continue
		}
		out = append(out, *l)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Get implements LogStore.
func (s *MemoryLogStore) Get(_ context.Context, id string) (DeliveryLog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byID[id]; ok {
		return s.ring[i], nil
	}
	return DeliveryLog{}, ErrLogNotFound
}

// MaxLogLimit caps the limit a LogsHandler query may ask for.
const MaxLogLimit = 1000

// LogsHandler serves the delivery logs as JSON, the seed's webhook_logs
// query: GET ?endpoint=orders&status=failed&limit=50 answers a JSON array
// of DeliveryLog, newest first. A bad parameter gets 400 with
// {"error": "…"}; other methods get 405. It has no authentication of its
// own: mount it behind the host's.
func (e *Emitter) LogsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
			return
		}
		q, err := parseLogQuery(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		logs, err := e.Logs(r.Context(), q)
		if err != nil {
			e.logger.Error("webhook: logs handler", "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read delivery logs"})
			return
		}
		if logs == nil {
			logs = []DeliveryLog{}
		}
		writeJSON(w, http.StatusOK, logs)
	})
}

func parseLogQuery(v url.Values) (LogQuery, error) {
	for k := range v {
		if k != "endpoint" && k != "status" && k != "limit" {
			return LogQuery{}, fmt.Errorf("unknown parameter %q (want endpoint, status or limit)", k)
		}
	}
	q := LogQuery{Endpoint: v.Get("endpoint"), Status: DeliveryStatus(v.Get("status"))}
	switch q.Status {
	case "", StatusPending, StatusRetrying, StatusDelivered, StatusFailed:
	default:
		return LogQuery{}, fmt.Errorf("status: %q unknown (want pending, retrying, delivered or failed)", q.Status)
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
