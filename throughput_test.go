package webhook_test

// BenchmarkThroughput measures delivery throughput against plain net/http,
// as DESIGN.md "How performance is measured" describes: deliveries/s from
// the first Emit to the last receipt at a receiver in a separate process
// on 127.0.0.1 (the isolation benchmark's receiver), divided by plain
// net/http POSTs of bodies of the same size to the same receiver at the
// same concurrency, measured in the same run, interleaved (raw, lib, raw,
// lib …). The figure is the median ratio of the pairs.
//
//	go test -run '^$' -bench Throughput -benchtime 1x -count 3 .
//
// One op is tpPairs pairs of batches of tpBatch deliveries each. The
// library runs with Workers = concurrency and one endpoint (so its
// per-endpoint limit is the same), the raw sender with as many goroutines
// sharing one http.Client. Reported: raw/s, lib/s (medians), ratio, and
// the sending process's CPU time per delivery of each (raw-cpu-µs/op,
// lib-cpu-µs/op: warm-up included), which shows the library's own cost
// where the receiver, not the sender, limits the rate.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

const (
	tpBatch = 4000
	tpPairs = 4
)

func BenchmarkThroughput(b *testing.B) {
	r := isoStartReceiver(b)
	for _, conc := range []int{8, 32, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var raws, libs, ratios, rawCPU, libCPU []float64
			for b.Loop() {
				for range tpPairs {
					c0 := isoCPU()
					raw := tpRaw(b, r, conc, tpBatch)
					c1 := isoCPU()
					lib := tpLib(b, r, conc, tpBatch)
					c2 := isoCPU()
					raws, libs = append(raws, raw), append(libs, lib)
					ratios = append(ratios, lib/raw)
					rawCPU = append(rawCPU, float64((c1-c0).Nanoseconds())/1e3/float64(tpBatch+isoWarm))
					libCPU = append(libCPU, float64((c2-c1).Nanoseconds())/1e3/float64(tpBatch+isoWarm))
				}
			}
			b.ReportMetric(isoMedian(raws), "raw/s")
			b.ReportMetric(isoMedian(libs), "lib/s")
			b.ReportMetric(isoMedian(ratios), "ratio")
			b.ReportMetric(isoMedian(rawCPU), "raw-cpu-µs/op")
			b.ReportMetric(isoMedian(libCPU), "lib-cpu-µs/op")
		})
	}
}

// tpBody is a body of about 1 KB, like the Emitter's.
func tpBody(i int) []byte {
	return fmt.Appendf(nil, `{"id":"evt_%032d","event":"created","timestamp":"2026-01-16T12:00:00Z","model":{"app":"bench","name":"Item","label":"bench.Item"},"object":{"id":%d,"t_ns":%d,"pad":%q},"changes":null,"user":null}`,
		i, i, time.Now().UnixNano(), isoPad)
}

// tpRaw posts n bodies with conc goroutines and plain net/http; it returns
// deliveries/s from the first POST to the last receipt.
func tpRaw(b *testing.B, r *isoReceiver, conc, n int) float64 {
	b.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	url := r.healthy + "/hook"
	post := func(i int) error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(tpBody(i)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	// Warm the pool as the library's run is warmed.
	r.start(b, isoWarm)
	tpRun(b, conc, isoWarm, post)
	if res := r.wait(b, 30*time.Second); res.Count < isoWarm {
		b.Fatalf("raw warm-up: %d of %d", res.Count, isoWarm)
	}
	r.start(b, n)
	t0 := time.Now()
	tpRun(b, conc, n, post)
	return tpRate(b, r, n, t0)
}

// tpRun calls post(i) for i in [0, n) on conc goroutines.
func tpRun(b *testing.B, conc, n int, post func(int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range conc {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := post(i); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// tpLib emits n events to one endpoint of an Emitter with conc workers.
func tpLib(b *testing.B, r *isoReceiver, conc, n int) float64 {
	b.Helper()
	e, err := webhook.New(webhook.Config{
		Workers:   conc,
		QueueSize: 2 * n,
		Endpoints: []webhook.Endpoint{{Name: "healthy", URL: r.healthy + "/hook", Secret: dtSecret, Timeout: 30 * time.Second}},
		Logger:    quietLogger,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	emit := func(i int) {
		ev := webhook.Event{Type: webhook.Created, Model: "bench.Item",
			Object: map[string]any{"id": i, "t_ns": time.Now().UnixNano(), "pad": isoPad}}
		if err := e.Emit(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	r.start(b, isoWarm)
	for i := range isoWarm {
		emit(i)
	}
	if res := r.wait(b, 30*time.Second); res.Count < isoWarm {
		b.Fatalf("library warm-up: %d of %d", res.Count, isoWarm)
	}
	r.start(b, n)
	t0 := time.Now()
	for i := range n {
		emit(i)
	}
	return tpRate(b, r, n, t0)
}

// tpRate waits for n receipts and returns deliveries/s since t0.
func tpRate(b *testing.B, r *isoReceiver, n int, t0 time.Time) float64 {
	b.Helper()
	res := r.wait(b, time.Minute)
	if res.Count < n || res.LastNs == 0 {
		b.Fatalf("%d of %d delivered within a minute", res.Count, n)
	}
	return float64(n) / time.Duration(res.LastNs-t0.UnixNano()).Seconds()
}
