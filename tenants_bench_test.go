package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// countQueue is a Queue that counts the deliveries it is given.
type countQueue struct {
	discardQueue
	n atomic.Int64
}

func (q *countQueue) Enqueue(_ context.Context, ds []*webhook.Delivery) error {
	q.n.Add(int64(len(ds)))
	return nil
}

// BenchmarkEmitTenants measures what the endpoints that do not match cost
// Emit: one event of tenant t42 emitted with 10,000 tenant endpoints and
// 3 global ones registered, against the same Emit with only the 4 that
// match (the 3 global ones and t42's). Rounds interleave a batch of each,
// so that a busy machine slows both alike; read med-ratio, the median of
// the rounds' ratios (registered / matching), and the ns of each side.
//
//	go test -run '^$' -bench EmitTenants -benchtime 2s .
func BenchmarkEmitTenants(b *testing.B) {
	objs := benchObjects(b)
	ctx := context.Background()
	now := time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)
	const tenants, batch = 10_000, 16
	endpoint := func(name, tenant string) webhook.Endpoint {
		return webhook.Endpoint{Name: name, URL: "http://127.0.0.1:9/" + name, Secret: "bench-secret-0123456789", Tenant: tenant}
	}
	global := []webhook.Endpoint{endpoint("audit", ""), endpoint("search", ""), endpoint("warehouse", "")}
	matching := append(slices.Clone(global), endpoint("t42", "t42"))
	registered := slices.Clone(global)
	for i := range tenants {
		registered = append(registered, endpoint(fmt.Sprintf("t%d", i), fmt.Sprintf("t%d", i)))
	}
	emitter := func(eps []webhook.Endpoint) (*webhook.Emitter, *countQueue) {
		q := &countQueue{}
		e, err := webhook.New(webhook.Config{
			Endpoints: eps, Queue: q, LogStore: discardLogs{},
			Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.Close(ctx) })
		return e, q
	}
	ev := webhook.Create(objs["struct"])
	ev.Model, ev.Tenant = "store.Order", "t42"

	few, fewQ := emitter(matching)
	many, manyQ := emitter(registered)

	var fewT, manyT time.Duration
	var ratios []float64
	rounds := 0
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			if err := few.Emit(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range batch {
			if err := many.Emit(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		fewT += t1.Sub(t0)
		manyT += t2.Sub(t1)
		ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
		rounds++
	}
	b.ReportMetric(float64(fewT.Nanoseconds())/float64(rounds*batch), "matching-ns")
	b.ReportMetric(float64(manyT.Nanoseconds())/float64(rounds*batch), "registered-ns")
	b.StopTimer()
	// Both emitters made the same 4 deliveries of each event.
	if f, m := fewQ.n.Load(), manyQ.n.Load(); f != m || f != int64(4*rounds*batch) {
		b.Fatalf("deliveries: %d and %d, want %d each", f, m, 4*rounds*batch)
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "med-ratio")
}
