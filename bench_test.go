package webhook_test

// Benchmarks of Emit's shaping and marshalling, next to one plain
// json.Marshal of the same envelope measured in the same run:
//
//	go test -run '^$' -bench 'Emit|Marshal' -benchmem -count 5 .
//
// The Queue discards deliveries, so no HTTP is measured. The figure to
// watch is Emit(N endpoints) / (N × MarshalEnvelope): what a naive sender
// that marshals one envelope per endpoint would pay.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// discardQueue is a Queue that holds nothing.
type discardQueue struct{}

var _ webhook.Queue = discardQueue{}

func (discardQueue) Start(webhook.Runner) error                         { return nil }
func (discardQueue) Enqueue(context.Context, []*webhook.Delivery) error { return nil }
func (discardQueue) Close(context.Context) error                        { return nil }
func (discardQueue) Stats(context.Context) (webhook.QueueStats, error) {
	return webhook.QueueStats{}, nil
}

// discardLogs is a LogStore that keeps nothing. With discardQueue no
// delivery ever finishes, so a real store would keep every pending log
// and the benchmark would measure its growth (and the GC work it makes),
// not Emit.
type discardLogs struct{}

var _ webhook.LogStore = discardLogs{}

func (discardLogs) Record(context.Context, webhook.DeliveryLog) error { return nil }
func (discardLogs) Query(context.Context, webhook.LogQuery) ([]webhook.DeliveryLog, error) {
	return nil, nil
}
func (discardLogs) Get(context.Context, string) (webhook.DeliveryLog, error) {
	return webhook.DeliveryLog{}, webhook.ErrLogNotFound
}

// benchBodyQueue keeps the bodies of the deliveries it is given.
type benchBodyQueue struct {
	discardQueue
	bodies [][]byte
}

func (q *benchBodyQueue) Enqueue(_ context.Context, ds []*webhook.Delivery) error {
	for _, d := range ds {
		q.bodies = append(q.bodies, d.Body)
	}
	return nil
}

type benchAddress struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Zip     string `json:"zip"`
	Country string `json:"country"`
}

type benchCustomer struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Email   string       `json:"email"`
	Phone   string       `json:"phone"`
	Address benchAddress `json:"address"`
}

type benchItem struct {
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Price    string `json:"price"`
}

type benchOrder struct {
	ID        int64         `json:"id"`
	Reference string        `json:"reference"`
	Status    string        `json:"status"`
	Total     string        `json:"total"`
	Currency  string        `json:"currency"`
	Paid      bool          `json:"paid"`
	Notes     string        `json:"notes"`
	Tags      []string      `json:"tags"`
	Customer  benchCustomer `json:"customer"`
	Shipping  benchAddress  `json:"shipping"`
	Items     []benchItem   `json:"items"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// benchObject returns a ~1 KB order.
func benchObject() benchOrder {
	addr := benchAddress{Street: "12 Rue de la Paix", City: "Paris", Zip: "75002", Country: "FR"}
	o := benchOrder{
		ID: 42, Reference: "ORD-2026-0042", Status: "pending", Total: "299.99", Currency: "EUR", Paid: true,
		Notes:     "Leave the parcel with the concierge if nobody answers.",
		Tags:      []string{"priority", "gift", "eu"},
		Customer:  benchCustomer{ID: "15", Name: "John Doe", Email: "john.doe@example.com", Phone: "+33 1 23 45 67 89", Address: addr},
		Shipping:  addr,
		CreatedAt: time.Date(2026, 1, 16, 11, 59, 0, 0, time.UTC),
		UpdatedAt: time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC),
	}
	for i := range 5 {
		o.Items = append(o.Items, benchItem{SKU: fmt.Sprintf("SKU-%04d", i), Name: fmt.Sprintf("Item number %d", i), Quantity: i + 1, Price: "59.99"})
	}
	return o
}

// benchObjects returns the order as a struct and as a map[string]any.
func benchObjects(b *testing.B) map[string]any {
	o := benchObject()
	j, err := json.Marshal(o)
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		b.Fatal(err)
	}
	return map[string]any{"struct": o, "map": m}
}

// benchEnvelope is a webhook.Payload holding the object as it is given.
type benchEnvelope struct {
	ID        string                    `json:"id"`
	Event     webhook.EventType         `json:"event"`
	Timestamp time.Time                 `json:"timestamp"`
	Model     webhook.ModelInfo         `json:"model"`
	Object    any                       `json:"object"`
	Changes   map[string]webhook.Change `json:"changes"`
	User      *webhook.Actor            `json:"user"`
}

var benchSink []byte

// BenchmarkMarshalEnvelope is the baseline: one json.Marshal of the
// envelope a naive sender would build per endpoint.
func BenchmarkMarshalEnvelope(b *testing.B) {
	objs := benchObjects(b)
	for _, kind := range []string{"struct", "map"} {
		b.Run(kind, func(b *testing.B) {
			env := benchEnvelope{
				ID: "evt_01jcx3d8s5k9w7qz2m4n6p8r0t", Event: webhook.Created,
				Timestamp: time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC),
				Model:     webhook.ModelInfo{App: "store", Name: "Order", Label: "store.Order"},
				Object:    objs[kind],
				User:      &webhook.Actor{ID: "1", Username: "admin"},
			}
			b.ReportAllocs()
			var n int
			for b.Loop() {
				j, err := json.Marshal(env)
				if err != nil {
					b.Fatal(err)
				}
				n = len(j)
				benchSink = j
			}
			b.ReportMetric(float64(n), "body-bytes")
		})
	}
}

// benchExcludes are the fields the "rules" endpoints exclude, one each.
// Each endpoint's filter reads the whole object, wherever its fields are.
var benchExcludes = []string{"notes", "customer.phone", "items.name", "tags", "shipping", "customer.address", "paid", "currency", "items.sku", "updated_at"}

// benchModes are the endpoint set-ups: no rules (one body shared by
// all), or each endpoint with an exclude rule and a redact rule.
var benchModes = []string{"shared", "rules"}

func benchEndpoints(n int, mode string) []webhook.Endpoint {
	eps := make([]webhook.Endpoint, n)
	for i := range eps {
		eps[i] = webhook.Endpoint{Name: fmt.Sprintf("ep%d", i), URL: fmt.Sprintf("http://127.0.0.1:1/ep%d", i), Secret: "secret_123"}
		if mode == "shared" {
			continue
		}
		exclude := benchExcludes[i%len(benchExcludes)]
		eps[i].ExcludeFields = map[string][]string{"store.Order": {exclude}}
		eps[i].RedactFields = map[string]map[string]any{"store.Order": {"customer.email": fmt.Sprintf("***%d", i)}}
	}
	return eps
}

// BenchmarkEmit measures Emit with 1, 3 and 10 matching endpoints: either
// without field rules (one body shared by all) or each with its own
// exclude and redact rule (one body per endpoint; see benchModes).
func BenchmarkEmit(b *testing.B) {
	objs := benchObjects(b)
	ctx := webhook.WithActor(context.Background(), webhook.Actor{ID: "1", Username: "admin"})
	now := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	for _, kind := range []string{"struct", "map"} {
		for _, mode := range benchModes {
			for _, n := range []int{1, 3, 10} {
				b.Run(fmt.Sprintf("%s/%s/endpoints=%d", kind, mode, n), func(b *testing.B) {
					ev := webhook.Create(objs[kind])
					ev.Model = "store.Order"

					// Check once that every endpoint gets a body of the size expected.
					check := &benchBodyQueue{}
					e, err := webhook.New(webhook.Config{
						Endpoints: benchEndpoints(n, mode), Queue: check,
						Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
					})
					if err != nil {
						b.Fatal(err)
					}
					if err := e.Emit(ctx, ev); err != nil {
						b.Fatal(err)
					}
					if len(check.bodies) != n {
						b.Fatalf("%d deliveries, want %d", len(check.bodies), n)
					}
					if err := e.Close(ctx); err != nil {
						b.Fatal(err)
					}

					e, err = webhook.New(webhook.Config{
						Endpoints: benchEndpoints(n, mode), Queue: discardQueue{}, LogStore: discardLogs{},
						Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
					})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if err := e.Emit(ctx, ev); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(len(check.bodies[0])), "body-bytes")
					if err := e.Close(ctx); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

// BenchmarkEmitVsMarshal measures the same ratio as BenchmarkEmit against
// BenchmarkMarshalEnvelope, but interleaved: each round times a batch of
// Emits, then a batch of N plain marshals, so that a busy machine slows
// both alike. Its ns/op is the sum of both and means nothing; read the
// metrics emit-ns (one Emit), marshal-ns (one json.Marshal), ratio
// (emit-ns / (N × marshal-ns)) and med-ratio, the median of the rounds'
// ratios, which a preemption in one round barely moves.
func BenchmarkEmitVsMarshal(b *testing.B) {
	objs := benchObjects(b)
	ctx := webhook.WithActor(context.Background(), webhook.Actor{ID: "1", Username: "admin"})
	now := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	const batch = 8
	for _, kind := range []string{"struct", "map"} {
		for _, mode := range benchModes {
			for _, n := range []int{1, 3, 10} {
				b.Run(fmt.Sprintf("%s/%s/endpoints=%d", kind, mode, n), func(b *testing.B) {
					ev := webhook.Create(objs[kind])
					ev.Model = "store.Order"
					env := benchEnvelope{
						ID: "evt_01jcx3d8s5k9w7qz2m4n6p8r0t", Event: webhook.Created, Timestamp: now,
						Model:  webhook.ModelInfo{App: "store", Name: "Order", Label: "store.Order"},
						Object: objs[kind], User: &webhook.Actor{ID: "1", Username: "admin"},
					}
					e, err := webhook.New(webhook.Config{
						Endpoints: benchEndpoints(n, mode), Queue: discardQueue{}, LogStore: discardLogs{},
						Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
					})
					if err != nil {
						b.Fatal(err)
					}
					defer e.Close(ctx)
					var emitT, marshalT time.Duration
					var ratios []float64
					rounds := 0
					for b.Loop() {
						t0 := time.Now()
						for range batch {
							if err := e.Emit(ctx, ev); err != nil {
								b.Fatal(err)
							}
						}
						t1 := time.Now()
						for range batch * n {
							j, err := json.Marshal(env)
							if err != nil {
								b.Fatal(err)
							}
							benchSink = j
						}
						t2 := time.Now()
						emitT += t1.Sub(t0)
						marshalT += t2.Sub(t1)
						ratios = append(ratios, float64(t1.Sub(t0))/float64(t2.Sub(t1)))
						rounds++
					}
					emitNs := float64(emitT.Nanoseconds()) / float64(rounds*batch)
					marshalNs := float64(marshalT.Nanoseconds()) / float64(rounds*batch*n)
					b.ReportMetric(emitNs, "emit-ns")
					b.ReportMetric(marshalNs, "marshal-ns")
					b.ReportMetric(emitNs/(float64(n)*marshalNs), "ratio")
					slices.Sort(ratios)
					b.ReportMetric(ratios[len(ratios)/2], "med-ratio")
				})
			}
		}
	}
}

// BenchmarkQueuedMemory measures the heap one queued delivery holds: an
// endpoint that never answers (within the benchmark) holds its one worker,
// and 10,000 events of the ~1 KB order queue behind it. Reported per
// queued delivery: B/queued (heap growth after a GC, body, Delivery, id,
// delivery log and queue slot) and body-B (the body's length).
//
//	go test -run '^$' -bench QueuedMemory -benchtime 3x .
func BenchmarkQueuedMemory(b *testing.B) {
	const n = 10000
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ev := webhook.Create(benchObject())
	ev.Model = "store.Order"
	var perDelivery []float64
	var bodyLen int
	for b.Loop() {
		e, err := webhook.New(webhook.Config{
			Workers: 1, QueueSize: 2 * n, Timeout: time.Minute, Logger: slog.New(slog.DiscardHandler),
			Endpoints: []webhook.Endpoint{{Name: "held", URL: srv.URL, Secret: "secret_123"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Emit(context.Background(), ev); err != nil { // the one the worker holds
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			if err := e.Emit(context.Background(), ev); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perDelivery = append(perDelivery, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n)
		logs, err := e.Logs(context.Background(), webhook.LogQuery{Limit: 1})
		if err != nil || len(logs) != 1 || logs[0].Status != webhook.StatusPending {
			b.Fatalf("Logs = %v, %v; want the last delivery pending", logs, err)
		}
		bodyLen = len(logs[0].Payload)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e.Close(ctx) // abandon the queue
	}
	slices.Sort(perDelivery)
	b.ReportMetric(perDelivery[len(perDelivery)/2], "B/queued")
	b.ReportMetric(float64(bodyLen), "body-B")
}
