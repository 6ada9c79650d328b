package webhook_test

// BenchmarkIsolation measures how much a black-holed endpoint (it accepts
// the connection and never answers; Endpoint.Timeout 200 ms) slows a
// healthy one that shares the Emitter, as DESIGN.md "How performance is
// measured" describes: the receivers run in a separate process on
// 127.0.0.1 (this test binary, re-executed: TestMain runs the receiver),
// every event goes to the healthy endpoint and every 10th also to the black
// hole, and the figure is the healthy endpoint's throughput beside the
// black hole divided by its throughput alone, measured interleaved in the
// same run.
//
//	go test -run '^$' -bench Isolation -benchtime 3x -count 3 .
//
// Sub-benchmarks (one op = one batch of isoBatch events, offered as fast
// as Emit takes them):
//
//	alone           healthy deliveries/s with no event to the black hole
//	with_blackhole  the same with every 10th event also to the black hole
//	interleaved     both, isoPairs pairs per op in ABBA order; reports
//	                the median ratio of the pairs (the figure)
//	fixed_rate      both, alternately, at a fixed offered rate (isoRate/s):
//	                the share of events delivered within 1 s of the end of
//	                the offer, and the p99 latency, alone and beside the
//	                black hole
//
// Both configurations hold the same two endpoints (so the same
// per-endpoint concurrency limit, 16 of the 32 workers each); only the
// traffic to the black hole differs. The circuit breaker is off: the
// worst case, where the dead endpoint takes every attempt it may.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

const (
	isoEnv       = "HOOKRAIL_ISOLATION_RECEIVER"
	isoBatch     = 10000 // events per op of alone and with_blackhole
	isoPairBatch = 5000  // events per batch of interleaved
	isoPairs     = 4     // pairs of batches per op of interleaved
	isoWarm      = 200   // events before each op, to fill the connection pool
	isoEvery     = 10    // every isoEvery-th event also goes to the black hole
	isoBHTimeout = 200 * time.Millisecond
	isoRate      = 3000 // events/s offered by fixed_rate
	isoRateSpan  = 2 * time.Second
)

// isoPad makes bodies of about 1 KB.
var isoPad = strings.Repeat("x", 900)

// TestMain runs the tests, or, when BenchmarkIsolation starts this test
// binary again as its receiver process, that receiver.
func TestMain(m *testing.M) {
	if os.Getenv(isoEnv) == "1" {
		if err := isoServe(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "isolation receiver:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// isoResult is what the receiver process reports for a batch.
type isoResult struct {
	Count  int   `json:"count"`   // healthy deliveries received
	LastNs int64 `json:"last_ns"` // wall time of the target-th receipt (0: not reached)
	P50Ns  int64 `json:"p50_ns"`  // emit-to-receipt latency
	P99Ns  int64 `json:"p99_ns"`
}

// isoStats is the receiver process's record of the current batch.
type isoStats struct {
	mu     sync.Mutex
	target int
	count  int
	last   int64
	lats   []int64
	done   chan struct{}
}

func (s *isoStats) reset(target int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target, s.count, s.last, s.lats = target, 0, 0, s.lats[:0]
	s.done = make(chan struct{})
}

func (s *isoStats) result() isoResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := isoResult{Count: s.count, LastNs: s.last}
	if n := len(s.lats); n > 0 {
		l := slices.Clone(s.lats)
		slices.Sort(l)
		r.P50Ns, r.P99Ns = l[n/2], l[min(n-1, n*99/100)]
	}
	return r
}

// isoServe runs the healthy receiver, the black hole and the control
// server until in is closed. It writes their URLs as one line to out.
func isoServe(in io.Reader, out io.Writer) error {
	stats := &isoStats{done: make(chan struct{})}
	tsKey := []byte(`"t_ns":`)
	healthy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		var sent int64
		if i := bytes.Index(body, tsKey); i >= 0 {
			rest := body[i+len(tsKey):]
			j := 0
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			sent, _ = strconv.ParseInt(string(rest[:j]), 10, 64)
		}
		stats.mu.Lock()
		stats.count++
		if sent > 0 {
			stats.lats = append(stats.lats, now-sent)
		}
		if stats.count == stats.target {
			stats.last = now
			close(stats.done)
		}
		stats.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	ctl := http.NewServeMux()
	ctl.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		stats.reset(n)
	})
	ctl.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("timeout"))
		stats.mu.Lock()
		done := stats.done
		stats.mu.Unlock()
		select {
		case <-done:
		case <-time.After(d):
		}
		json.NewEncoder(w).Encode(stats.result())
	})

	var lns []net.Listener
	listen := func() (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			lns = append(lns, ln)
		}
		return ln, err
	}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	hl, err := listen()
	if err != nil {
		return err
	}
	cl, err := listen()
	if err != nil {
		return err
	}
	bl, err := listen()
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: healthy}
	cs := &http.Server{Handler: ctl}
	go hs.Serve(hl)
	go cs.Serve(cl)
	defer hs.Close()
	defer cs.Close()

	// The black hole: accepts, reads, never answers; the sender's timeout
	// closes the connection (or the deadline does, or the process ends).
	go func() {
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(time.Minute))
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()

	fmt.Fprintf(out, "ISO http://%s http://%s http://%s\n", hl.Addr(), bl.Addr(), cl.Addr())
	_, err = io.Copy(io.Discard, in) // until the benchmark closes our stdin
	return err
}

// isoReceiver is the benchmark's handle on the receiver process.
type isoReceiver struct {
	healthy, blackhole, ctl string
	client                  *http.Client
}

func isoStartReceiver(b *testing.B) *isoReceiver {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), isoEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	lines := bufio.NewScanner(stdout)
	var f []string
	for lines.Scan() {
		if f = strings.Fields(lines.Text()); len(f) == 4 && f[0] == "ISO" {
			break
		}
	}
	if len(f) != 4 {
		b.Fatalf("the receiver process did not start: %v", lines.Err())
	}
	go io.Copy(io.Discard, stdout)
	return &isoReceiver{healthy: f[1], blackhole: f[2], ctl: f[3], client: &http.Client{Timeout: time.Minute}}
}

func (r *isoReceiver) get(b *testing.B, path string) []byte {
	resp, err := r.client.Get(r.ctl + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%s: %d %v", path, resp.StatusCode, err)
	}
	return body
}

func (r *isoReceiver) start(b *testing.B, n int) { r.get(b, fmt.Sprintf("/start?n=%d", n)) }

func (r *isoReceiver) wait(b *testing.B, timeout time.Duration) isoResult {
	var res isoResult
	if err := json.Unmarshal(r.get(b, "/wait?timeout="+timeout.String()), &res); err != nil {
		b.Fatal(err)
	}
	return res
}

// isoEmitter makes the Emitter every op uses: the healthy endpoint gets
// every event, the black hole only events of model bench.Tenth.
func isoEmitter(b *testing.B, r *isoReceiver) *webhook.Emitter {
	e, err := webhook.New(webhook.Config{
		Endpoints: []webhook.Endpoint{
			{Name: "healthy", URL: r.healthy + "/hook", Secret: dtSecret, Timeout: 5 * time.Second},
			{Name: "blackhole", URL: r.blackhole + "/hook", Secret: dtSecret, Timeout: isoBHTimeout,
				IncludeModels: []string{"bench.Tenth"},
				Retry:         &webhook.RetryConfig{MaxRetries: 3, RetryDelay: 100 * time.Millisecond}},
		},
		CircuitBreaker: webhook.CircuitBreaker{Threshold: -1},
		Logger:         quietLogger,
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// isoEmit emits event i; every-th events (every > 0) also go to the
// black hole.
func isoEmit(b *testing.B, e *webhook.Emitter, i, every int) {
	model := "bench.Item"
	if every > 0 && i%every == 0 {
		model = "bench.Tenth"
	}
	ev := webhook.Event{Type: webhook.Created, Model: model,
		Object: map[string]any{"id": i, "t_ns": time.Now().UnixNano(), "pad": isoPad}}
	if err := e.Emit(context.Background(), ev); err != nil {
		b.Fatal(err)
	}
}

// isoOp is one measured batch.
type isoOp struct {
	rate      float64 // healthy deliveries/s, first Emit to last receipt
	cpu       float64 // this process's CPU µs per healthy delivery
	delivered float64 // share of the batch received within the wait
	p50, p99  time.Duration
}

// isoRun runs one op on a fresh, warmed-up Emitter: n events, every-th
// also to the black hole, offered as fast as possible (rate 0) or at rate
// events/s. The timer runs only while the batch is offered and delivered.
func isoRun(b *testing.B, r *isoReceiver, n, every, rate int) isoOp {
	b.StopTimer()
	e := isoEmitter(b, r)
	r.start(b, isoWarm)
	for i := range isoWarm {
		isoEmit(b, e, i+1, 0)
	}
	if res := r.wait(b, 30*time.Second); res.Count < isoWarm {
		b.Fatalf("warm-up: %d of %d delivered", res.Count, isoWarm)
	}
	r.start(b, n)

	b.StartTimer()
	cpu0 := isoCPU()
	t0 := time.Now()
	for i := range n {
		if rate > 0 {
			if d := time.Until(t0.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
		isoEmit(b, e, i, every)
	}
	wait := time.Minute
	if rate > 0 {
		wait = time.Until(t0.Add(time.Duration(n)*time.Second/time.Duration(rate) + time.Second))
	}
	res := r.wait(b, wait)
	cpu := isoCPU() - cpu0
	b.StopTimer()

	// Abandon the black hole's backlog: it must not slow the next op.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.Close(ctx)

	op := isoOp{delivered: float64(res.Count) / float64(n), p50: time.Duration(res.P50Ns), p99: time.Duration(res.P99Ns),
		cpu: float64(cpu.Microseconds()) / float64(n)}
	if res.LastNs > 0 {
		op.rate = float64(n) / time.Duration(res.LastNs-t0.UnixNano()).Seconds()
	}
	if rate == 0 && res.Count < n {
		b.Fatalf("%d of %d healthy deliveries within %s", res.Count, n, wait)
	}
	return op
}

// isoCPU returns the CPU time this process has used.
func isoCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func isoMedian(xs []float64) float64 {
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

func BenchmarkIsolation(b *testing.B) {
	r := isoStartReceiver(b)

	single := func(every int) func(*testing.B) {
		return func(b *testing.B) {
			var rates, p99s, cpus []float64
			for range b.N {
				op := isoRun(b, r, isoBatch, every, 0)
				rates = append(rates, op.rate)
				p99s = append(p99s, float64(op.p99)/1e6)
				cpus = append(cpus, op.cpu)
			}
			b.ReportMetric(isoMedian(rates), "healthy-deliveries/s")
			b.ReportMetric(isoMedian(p99s), "p99-ms")
			b.ReportMetric(isoMedian(cpus), "cpu-us/delivery")
		}
	}
	b.Run("alone", single(0))
	b.Run("with_blackhole", single(isoEvery))

	b.Run("interleaved", func(b *testing.B) {
		// Each op is isoPairs pairs in ABBA order (alone, beside, beside,
		// alone, …), so that drift in the machine's load cancels out; the
		// figure is the median of the pairs' ratios.
		var alone, beside, ratios, aCPU, wCPU []float64
		for range b.N {
			for p := range isoPairs {
				var a, w isoOp
				if p%2 == 0 {
					a = isoRun(b, r, isoPairBatch, 0, 0)
					w = isoRun(b, r, isoPairBatch, isoEvery, 0)
				} else {
					w = isoRun(b, r, isoPairBatch, isoEvery, 0)
					a = isoRun(b, r, isoPairBatch, 0, 0)
				}
				alone, beside = append(alone, a.rate), append(beside, w.rate)
				aCPU, wCPU = append(aCPU, a.cpu), append(wCPU, w.cpu)
				ratios = append(ratios, w.rate/a.rate)
			}
		}
		b.ReportMetric(isoMedian(alone), "alone-deliveries/s")
		b.ReportMetric(isoMedian(beside), "blackhole-deliveries/s")
		b.ReportMetric(isoMedian(aCPU), "alone-cpu-us/delivery")
		b.ReportMetric(isoMedian(wCPU), "blackhole-cpu-us/delivery")
		b.ReportMetric(isoMedian(ratios), "ratio")
	})

	b.Run("fixed_rate", func(b *testing.B) {
		n := int(isoRateSpan.Seconds() * isoRate)
		var aDel, wDel, aP99, wP99, ratios []float64
		for range b.N {
			a := isoRun(b, r, n, 0, isoRate)
			w := isoRun(b, r, n, isoEvery, isoRate)
			aDel, wDel = append(aDel, a.delivered), append(wDel, w.delivered)
			aP99, wP99 = append(aP99, float64(a.p99)/1e6), append(wP99, float64(w.p99)/1e6)
			ratios = append(ratios, w.delivered/a.delivered)
		}
		b.ReportMetric(isoMedian(aDel), "alone-delivered/offered")
		b.ReportMetric(isoMedian(wDel), "blackhole-delivered/offered")
		b.ReportMetric(isoMedian(aP99), "alone-p99-ms")
		b.ReportMetric(isoMedian(wP99), "blackhole-p99-ms")
		b.ReportMetric(isoMedian(ratios), "ratio")
	})
}
