package webhook

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// idQueue keeps the deliveries it is given.
type idQueue struct {
	mu sync.Mutex
	ds []*Delivery
}

func (q *idQueue) Start(Runner) error { return nil }
func (q *idQueue) Enqueue(_ context.Context, ds []*Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ds = append(q.ds, ds...)
	return nil
}
func (q *idQueue) Close(context.Context) error               { return nil }
func (q *idQueue) Stats(context.Context) (QueueStats, error) { return QueueStats{}, nil }

// TestIDs: event and delivery ids are "evt_"/"dlv_" and a UUIDv7 in hex,
// stamped with the time of the Emit, unique, and in the order they were
// made; an event's own id is kept. Emits with 1, 4 and 10 endpoints cover
// the ids made on the stack and those that are not.
func TestIDs(t *testing.T) {
	t.Parallel()
	q := &idQueue{}
	var eps []Endpoint
	for i := range 10 {
		ep := Endpoint{Name: fmt.Sprintf("ep%d", i), URL: "http://127.0.0.1:1/", Secret: "secret_123"}
		switch {
		case i == 0:
		case i < 4:
			ep.IncludeModels = []string{"store.Order", "store.Cart"}
		default:
			ep.IncludeModels = []string{"store.Cart"}
		}
		eps = append(eps, ep)
	}
	e, err := New(Config{Endpoints: eps, Queue: q, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())

	before := time.Now().Add(-time.Millisecond)
	var evts []string
	for _, model := range []string{"store.Customer", "store.Order", "store.Cart", "store.Customer", "store.Cart"} {
		ev := Create(map[string]any{"id": 1})
		ev.Model = model
		if err := e.Emit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	own := Create(map[string]any{"id": 2})
	own.Model, own.ID = "store.Order", "order-2-created"
	if err := e.Emit(context.Background(), own); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Millisecond)

	if got, want := len(q.ds), 1+4+10+1+10+4; got != want {
		t.Fatalf("%d deliveries, want %d", got, want)
	}
	seen := map[string]bool{}
	last := map[string]string{} // prefix → last id
	check := func(id, prefix string) {
		t.Helper()
		digits, ok := strings.CutPrefix(id, prefix)
		if !ok || len(id) != idLen {
			t.Fatalf("id %q: want %q and 26 base-32 digits", id, prefix)
		}
		u, err := parseBase32UUID(digits)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %q: not a UUIDv7 (%v, version %d, variant %v)", id, err, u.Version(), u.Variant())
		}
		sec, nsec := u.Time().UnixTime()
		if ts := time.Unix(sec, nsec); ts.Before(before) || ts.After(after) {
			t.Fatalf("id %q: time %v, want between %v and %v", id, ts, before, after)
		}
		if id <= last[prefix] {
			t.Fatalf("id %q made after %q sorts before it", id, last[prefix])
		}
		last[prefix] = id
		seen[id] = true
	}
	for _, d := range q.ds {
		if len(evts) == 0 || evts[len(evts)-1] != d.EventID {
			evts = append(evts, d.EventID)
			if d.EventID != own.ID {
				check(d.EventID, "evt_")
			}
		}
		if seen[d.ID] {
			t.Fatalf("delivery id %q twice", d.ID)
		}
		check(d.ID, "dlv_")
	}
	if len(evts) != 6 || evts[5] != own.ID {
		t.Fatalf("event ids %q: want 6, the last the event's own", evts)
	}
}

// parseBase32UUID reads the 26 base-32 digits of appendID back into a
// UUID, digit by digit (the reverse of its shifts).
func parseBase32UUID(s string) (uuid.UUID, error) {
	var u uuid.UUID
	if len(s) != 26 {
		return u, fmt.Errorf("%d digits, want 26", len(s))
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(idDigits, s[i])
		if v < 0 {
			return u, fmt.Errorf("digit %q is not base 32", s[i])
		}
		if i == 0 && v > 7 {
			return u, fmt.Errorf("first digit %q above 7", s[i])
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(u[0:8], hi)
	binary.BigEndian.PutUint64(u[8:16], lo)
	return u, nil
}
