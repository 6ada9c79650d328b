package webhook_test

// BenchmarkThroughput measures delivery throughput against a fair
// baseline (`go run ./bench` is the longer, stand-alone run of
// the same comparison): deliveries/s from the first send to the last
// receipt at a receiver in a separate process on 127.0.0.1 (the isolation
// benchmark's receiver, which counts and answers 200), for three senders
// at the same concurrency c:
//
//	raw      plain net/http POSTs of bodies built before the run, the
//	         library's exact bytes (Emitter.Preview of the same events),
//	         unsigned, through one tuned transport (MaxIdleConnsPerHost = c)
//	         made once per concurrency and reused by every batch; each
//	         response read to EOF and closed (internal/benchsend.Raw)
//	naive    a hand-written dispatcher: c goroutines on a channel, a
//	         map[string]any envelope, json.Marshal, HMAC-SHA256 in the
//	         library's scheme, three headers, one request through its own
//	         tuned transport (internal/benchsend.Naive)
//	lib      an Emitter with Workers = c and one endpoint, made once per
//	         concurrency; Emit of every event from one goroutine
//
//	go test -run '^$' -bench Throughput -benchtime 1x -count 3 .
//
// One op is tpReps repetitions; each runs the three senders, a batch of
// tpBatch deliveries each, warmed first with isoWarm deliveries, in an
// order that rotates by one each repetition so that drift in the
// machine's load falls on each alike. Reported, as medians over the
// batches: raw/s, naive/s, lib/s; lib/raw and naive/raw (medians of each
// repetition's ratio); and per delivery, for each sender, this process's
// CPU time (raw-cpu-µs/op …; getrusage, so the receiver's is not in it)
// and heap allocations (raw-allocs/op …). CPU and allocations run until
// the sender is done with the last response (the Emitter: queue empty,
// nothing in flight). The receiver shares the machine: where it sets the
// rate, the CPU figures show the senders' difference.

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/internal/benchsend"
)

const (
	tpBatch = 4000
	tpReps  = 3
)

// tpWorkload returns n Created events of bench.Item, about 1 KB each,
// and, for the raw sender, the body the library builds for each (Preview).
func tpWorkload(t testing.TB, n int) ([]webhook.Event, [][]byte) {
	w, err := benchsend.NewWorkload(context.Background(), n, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return w.Events, w.Bodies
}

// tpSide is one sender: send delivers items [0, n) of the workload; settle
// waits until the sender is done with them.
type tpSide struct {
	name   string
	send   func(n int) error
	settle func()
}

// tpSample is one measured batch.
type tpSample struct {
	rate, cpuUs, allocs float64
}

func BenchmarkThroughput(b *testing.B) {
	r := isoStartReceiver(b)
	events, bodies := tpWorkload(b, max(tpBatch, isoWarm))
	url := r.healthy + "/hook"
	for _, conc := range []int{8, 32, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			raw := benchsend.NewRaw(url, conc)
			defer raw.Close()
			naive := benchsend.NewNaive(url, dtSecret, conc)
			defer naive.Close()
			e, err := webhook.New(webhook.Config{
				Workers:   conc,
				Endpoints: []webhook.Endpoint{{Name: "healthy", URL: url, Secret: dtSecret}},
				Logger:    quietLogger,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(context.Background())
			sides := []tpSide{
				{"raw", func(n int) error { return raw.Send(context.Background(), bodies[:n]) }, func() {}},
				{"naive", func(n int) error { return naive.Send(context.Background(), events[:n]) }, func() {}},
				{"lib", func(n int) error {
					for _, ev := range events[:n] {
						if err := e.Emit(context.Background(), ev); err != nil {
							return err
						}
					}
					return nil
				}, func() { tpSettle(b, e) }},
			}

			samples := map[string][]tpSample{}
			var libRatios, naiveRatios []float64
			for b.Loop() {
				for rep := range tpReps {
					k := rep % len(sides)
					rates := map[string]float64{}
					for _, side := range append(slices.Clone(sides[k:]), sides[:k]...) {
						s := tpMeasure(b, r, side)
						samples[side.name] = append(samples[side.name], s)
						rates[side.name] = s.rate
					}
					libRatios = append(libRatios, rates["lib"]/rates["raw"])
					naiveRatios = append(naiveRatios, rates["naive"]/rates["raw"])
				}
			}
			for _, side := range sides {
				ss := samples[side.name]
				b.ReportMetric(tpMedian(ss, func(s tpSample) float64 { return s.rate }), side.name+"/s")
			}
			b.ReportMetric(isoMedian(libRatios), "lib/raw")
			b.ReportMetric(isoMedian(naiveRatios), "naive/raw")
			for _, side := range sides {
				ss := samples[side.name]
				b.ReportMetric(tpMedian(ss, func(s tpSample) float64 { return s.cpuUs }), side.name+"-cpu-µs/op")
				b.ReportMetric(tpMedian(ss, func(s tpSample) float64 { return s.allocs }), side.name+"-allocs/op")
			}
		})
	}
}

// tpMeasure warms side with isoWarm deliveries, then measures a batch of
// tpBatch: deliveries/s from the first send to the last receipt, and this
// process's CPU time and allocations per delivery until side is settled.
func tpMeasure(b *testing.B, r *isoReceiver, side tpSide) tpSample {
	b.Helper()
	r.start(b, isoWarm)
	if err := side.send(isoWarm); err != nil {
		b.Fatalf("%s warm-up: %v", side.name, err)
	}
	if res := r.wait(b, 30*time.Second); res.Count < isoWarm {
		b.Fatalf("%s warm-up: %d of %d", side.name, res.Count, isoWarm)
	}
	side.settle()

	r.start(b, tpBatch)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c0 := isoCPU()
	t0 := time.Now()
	if err := side.send(tpBatch); err != nil {
		b.Fatalf("%s: %v", side.name, err)
	}
	res := r.wait(b, time.Minute)
	if res.Count < tpBatch || res.LastNs == 0 {
		b.Fatalf("%s: %d of %d delivered within a minute", side.name, res.Count, tpBatch)
	}
	side.settle()
	c1 := isoCPU()
	runtime.ReadMemStats(&m1)
	return tpSample{
		rate:   float64(tpBatch) / time.Duration(res.LastNs-t0.UnixNano()).Seconds(),
		cpuUs:  float64((c1 - c0).Nanoseconds()) / 1e3 / tpBatch,
		allocs: float64(m1.Mallocs-m0.Mallocs) / tpBatch,
	}
}

// tpSettle waits until e's queue is empty and no attempt is in flight:
// every delivery's log recorded.
func tpSettle(b *testing.B, e *webhook.Emitter) {
	for {
		st, err := e.Stats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if st.Queued == 0 && st.InFlight == 0 {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func tpMedian(ss []tpSample, f func(tpSample) float64) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return isoMedian(xs)
}
