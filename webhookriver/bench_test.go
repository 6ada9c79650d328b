package webhookriver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// The benchmarks run against the PostgreSQL of WEBHOOK_TEST_POSTGRES_URL
// (through riverpgxv5) and report rates measured in the same run, and
// their ratios: the machines here are shared, so only ratios compare.
//
//	go test -run '^$' -bench 'River' -benchtime 3x .

const (
	benchEvents  = 2000 // events per measurement
	benchEmitter = 8    // goroutines emitting (or inserting)
	benchSecret  = "secret_123"
)

// benchConfig is the River tuning shared by every side of a comparison.
var benchConfig = webhookriver.Config{
	Workers:           64,
	FetchCooldown:     5 * time.Millisecond,
	FetchPollInterval: 50 * time.Millisecond,
}

// benchReceiver answers every request with 204 at once, and counts them.
type benchReceiver struct {
	url string
	n   atomic.Int64
}

func newBenchReceiver(b *testing.B) *benchReceiver {
	r := &benchReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// hangingReceiver never answers: each request waits until the sender
// gives up on it.
func hangingReceiver(b *testing.B) string {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-stop:
		}
	}))
	b.Cleanup(func() { close(stop); srv.Close() })
	return srv.URL
}

// waitFor waits until count() reaches n, or fails b after a minute.
func waitFor(b *testing.B, what string, n int64, count func() int64) {
	deadline := time.Now().Add(time.Minute)
	for count() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d after a minute", what, count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// run calls do(i) for i in [0, n) from benchEmitter goroutines.
func run(b *testing.B, n int, do func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchEmitter)
	for range benchEmitter {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func benchOrder(i int) webhook.Event {
	ev := webhook.Create(map[string]any{"id": i, "status": "paid", "total": "129.90", "customer": "c_42"})
	ev.Model = "store.Order"
	return ev
}

// noopArgs is River's no-op job, the baseline.
type noopArgs struct {
	ID int `json:"id"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done *atomic.Int64
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.done.Add(1)
	return nil
}

// riverNoop is River's own rate: n no-op jobs inserted one by one from
// benchEmitter goroutines, and worked by one queue tuned as benchConfig.
func riverNoop(b *testing.B, driver *riverpgxv5.Driver, n int) float64 {
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{done: &done})
	client, err := river.NewClient(driver, &river.Config{
		Queues: map[string]river.QueueConfig{"bench_noop": {
			MaxWorkers: benchConfig.Workers, FetchCooldown: benchConfig.FetchCooldown, FetchPollInterval: benchConfig.FetchPollInterval,
		}},
		Workers: workers,
		Logger:  quietLogger(),
	})
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, client.Start(ctx))
	defer func() { require.NoError(b, client.Stop(ctx)) }()
	start := time.Now()
	run(b, n, func(i int) error {
		_, err := client.Insert(ctx, noopArgs{ID: i}, &river.InsertOpts{Queue: "bench_noop"})
		return err
	})
	waitFor(b, "no-op jobs", int64(n), done.Load)
	return float64(n) / time.Since(start).Seconds()
}

// deliver is the rate of n events emitted through e from benchEmitter
// goroutines until count() has them all.
func deliver(b *testing.B, e *webhook.Emitter, n int, count func() int64) float64 {
	ctx := context.Background()
	from := count()
	start := time.Now()
	run(b, n, func(i int) error { return e.Emit(ctx, benchOrder(i)) })
	waitFor(b, "deliveries", from+int64(n), count)
	return float64(n) / time.Since(start).Seconds()
}

// newEmitter returns an Emitter on queue (nil: the memory queue with
// benchConfig's workers) with endpoints at urls, closed by close.
func newEmitter(b *testing.B, queue webhook.Queue, urls map[string]string) *webhook.Emitter {
	var eps []webhook.Endpoint
	for name, url := range urls {
		eps = append(eps, webhook.Endpoint{Name: name, URL: url, Secret: benchSecret, Timeout: 2 * time.Second,
			Retry: &webhook.RetryConfig{MaxRetries: 0}})
	}
	slices.SortFunc(eps, func(a, b webhook.Endpoint) int { return strings.Compare(a.Name, b.Name) })
	cfg := webhook.Config{Endpoints: eps, Queue: queue, Workers: benchConfig.Workers, Logger: quietLogger()}
	e, err := webhook.New(cfg)
	require.NoError(b, err)
	return e
}

func closeEmitter(b *testing.B, e *webhook.Emitter, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = e.Close(ctx) // a hanging endpoint's deliveries are interrupted, not failed
}

// BenchmarkRiverQueue compares, in one run and interleaved: River's own
// no-op jobs, webhook deliveries through the River queue on PostgreSQL
// to a receiver on 127.0.0.1, and the same through the memory queue.
// Target: river/noop ≥ 0.5.
func BenchmarkRiverQueue(b *testing.B) {
	dbURL := postgresURL(b)
	driver := pgxDriver(b, dbURL)
	recv := newBenchReceiver(b)
	var noop, durable, memory, ratios []float64
	for range b.N {
		n := riverNoop(b, driver, benchEvents)

		q, err := webhookriver.New(driver, benchConfig)
		require.NoError(b, err)
		e := newEmitter(b, q, map[string]string{"orders": recv.url})
		d := deliver(b, e, benchEvents, recv.n.Load)
		closeEmitter(b, e, 10*time.Second)

		e = newEmitter(b, nil, map[string]string{"orders": recv.url})
		m := deliver(b, e, benchEvents, recv.n.Load)
		closeEmitter(b, e, 10*time.Second)

		noop, durable, memory = append(noop, n), append(durable, d), append(memory, m)
		ratios = append(ratios, d/n)
	}
	b.ReportMetric(median(noop), "noop-jobs/s")
	b.ReportMetric(median(durable), "river-deliveries/s")
	b.ReportMetric(median(memory), "memory-deliveries/s")
	b.ReportMetric(median(ratios), "river/noop")
}

// BenchmarkRiverIsolation measures a healthy endpoint's deliveries/s
// through the River queue alone, and beside an endpoint that never
// answers (every event goes to both), in ABBA order. The ratio is
// beside ÷ alone: an endpoint that hangs holds only its own workers.
func BenchmarkRiverIsolation(b *testing.B) {
	recv := newBenchReceiver(b)
	hung := hangingReceiver(b)
	measure := func(withHung bool) float64 {
		// A schema of its own: the hung deliveries left by one
		// measurement stay out of the next.
		q, err := webhookriver.New(pgxDriver(b, postgresURL(b)), benchConfig)
		require.NoError(b, err)
		urls := map[string]string{"healthy": recv.url}
		if withHung {
			urls["hung"] = hung
		}
		e := newEmitter(b, q, urls)
		defer closeEmitter(b, e, 200*time.Millisecond)
		return deliver(b, e, benchEvents, recv.n.Load)
	}
	var alone, beside, ratios []float64
	for i := range b.N {
		var a, w float64
		if i%2 == 0 {
			a, w = measure(false), measure(true)
		} else {
			w, a = measure(true), measure(false)
		}
		alone, beside = append(alone, a), append(beside, w)
		ratios = append(ratios, w/a)
	}
	b.ReportMetric(median(alone), "alone-deliveries/s")
	b.ReportMetric(median(beside), "beside-hung-deliveries/s")
	b.ReportMetric(median(ratios), "ratio")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quietLogger drops every record: a benchmark's hanging endpoint is
// expected to fail.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkRiverCeiling shows River's ceiling on one endpoint's rate in
// one process: about Workers / FetchCooldown. Each sub-benchmark reports
// the rate measured and that ceiling.
func BenchmarkRiverCeiling(b *testing.B) {
	driver := pgxDriver(b, postgresURL(b))
	recv := newBenchReceiver(b)
	for _, c := range []struct {
		workers  int
		cooldown time.Duration
	}{
		{10, 100 * time.Millisecond}, // River's defaults
		{webhookriver.DefaultWorkers, webhookriver.DefaultFetchCooldown},
		{64, 5 * time.Millisecond},
	} {
		b.Run(fmt.Sprintf("workers=%d/cooldown=%s", c.workers, c.cooldown), func(b *testing.B) {
			var rates []float64
			for range b.N {
				q, err := webhookriver.New(driver, webhookriver.Config{Workers: c.workers, FetchCooldown: c.cooldown})
				require.NoError(b, err)
				e := newEmitter(b, q, map[string]string{"orders": recv.url})
				n := min(benchEvents, int(3*float64(c.workers)/c.cooldown.Seconds())) // about 3 s at the ceiling
				rates = append(rates, deliver(b, e, n, recv.n.Load))
				closeEmitter(b, e, 10*time.Second)
			}
			b.ReportMetric(median(rates), "deliveries/s")
			b.ReportMetric(float64(c.workers)/c.cooldown.Seconds(), "ceiling/s")
		})
	}
}
