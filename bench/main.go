// Command bench measures the library's delivery throughput and cost
// against a fair baseline, and prints markdown tables.
//
//	go run ./bench                # 20,000 deliveries × 3 reps × 3 senders at 8, 32, 64
//	go run ./bench -quick         # 2,000 deliveries × 1 rep: a smoke test
//	go run ./bench -n 50000 -reps 5 -conc 8,64 -body 4096
//	go build -o /tmp/bench ./bench && /tmp/bench -sides library -conc 32 -cpuprofile lib.prof
//	go tool pprof -top -cum /tmp/bench lib.prof   # where the library's CPU goes
//	/tmp/bench -sides library -conc 32 -memprofile mem.prof -mutexprofile mutex.prof
//	go tool pprof -sample_index alloc_space -top /tmp/bench mem.prof
//	/tmp/bench -sides signed -conc 32 -receiver-cpuprofile recv.prof   # the receiver's CPU
//	go test ./bench               # the core on 300 deliveries: every request arrives, verified
//
// The default run takes about a minute on 2 cores at ~20,000 deliveries/s
// (36 measured runs of 20,000, each after a warm-up); -n and -reps scale
// it. Tables go to stdout, a line per run to stderr.
//
// A receiver runs in a separate process (this program, re-executed with
// the hidden argument -receiver; receiver.go) on 127.0.0.1: it answers
// 204, verifies the signature of every signed request with a webhook.Verifier
// of the shared secret, and counts. Four senders, each at concurrency
// c, deliver the same n ~1 KB Created events to it:
//
//	raw      plain net/http POSTs of bodies built before the run, the
//	         library's exact bytes (Emitter.Preview), unsigned, through
//	         one tuned transport (MaxIdleConnsPerHost = c) reused by every
//	         run at c; each response read to EOF and closed (raw.go)
//	signed   raw plus signing: the same bodies, each signed when sent
//	         (HMAC-SHA256 in the library's scheme, one HMAC per goroutine)
//	         and sent with the library's five headers; the floor under any
//	         sender whose requests the receiver verifies (raw.go)
//	naive    a hand-written dispatcher: c goroutines on a channel, each
//	         building a map[string]any envelope, json.Marshal, HMAC-SHA256
//	         in the library's scheme, three headers, one request through
//	         its own tuned transport (naive.go)
//	library  webhook.New with Workers = c and one endpoint; Emit of every
//	         event, from one goroutine (library.go)
//
// Each repetition runs the four in turn (raw, signed, naive, library; the order
// rotates by one each repetition, so that drift in the machine's load
// falls on each alike), each warmed first with -warm deliveries. For each
// run: deliveries/s from the first send to the receiver's n-th receipt;
// this process's CPU time (getrusage, user + system) per delivery, and the
// receiver's, from the start of the run to its n-th receipt; heap
// allocations and bytes per delivery (runtime.MemStats Mallocs and
// TotalAlloc). CPU and allocations run until the sender has finished with
// the last response (for the library: its queue empty, no attempt in
// flight). Every figure printed is the median over the repetitions; the
// ratios (÷ raw) are the medians of each repetition's ratio.
//
// The receiver shares the machine: where it, not the sender, sets the
// rate, the rates are close and the sender's CPU per delivery shows the
// difference. It verifies an HMAC for naive and library requests and
// none for raw ones, so it has more to do for the other three; signed
// against raw shows what signing and verifying cost, library against
// signed what the library costs besides.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/hookrail/webhook/internal/benchsend"
)

// The senders, in the order of the first repetition.
const (
	sideRaw     = "raw"
	sideSigned  = "signed"
	sideNaive   = "naive"
	sideLibrary = "library"
)

var allSides = []string{sideRaw, sideSigned, sideNaive, sideLibrary}

// config is one invocation of the benchmark.
type config struct {
	n     int      // deliveries per measured run
	reps  int      // repetitions
	warm  int      // deliveries before each measured run
	conc  []int    // concurrencies
	body  int      // approximate body size in bytes
	sides []string // senders to run, in allSides order
	exe   string   // the program to start as the receiver

	out          io.Writer // tables
	progress     io.Writer // a line per run
	cpuprofile   io.Writer // if not nil, a CPU profile of the runs (not of building the workload)
	recvprofile  string    // if not empty, the file the receiver writes its CPU profile to
	memprofile   io.Writer // if not nil, the allocations of the runs (pprof's alloc_space and alloc_objects)
	mutexprofile io.Writer // if not nil, the contention on mutexes during the runs
}

// result is the samples of one concurrency, by sender, in repetition order.
type result struct {
	conc    int
	samples map[string][]sample
}

func main() {
	if isReceiver(os.Args) {
		if err := serveReceiver(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "receiver:", err)
			os.Exit(1)
		}
		return
	}
	if err := benchMain(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func benchMain(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 20000, "deliveries per measured run")
	reps := fs.Int("reps", 3, "repetitions (each runs every sender once)")
	warmN := fs.Int("warm", 300, "deliveries before each measured run, not measured")
	concList := fs.String("conc", "8,32,64", "concurrencies, comma-separated")
	body := fs.Int("body", 1024, "approximate body size in bytes")
	sidesList := fs.String("sides", strings.Join(allSides, ","), "senders to run, comma-separated")
	quick := fs.Bool("quick", false, "smoke test: -n 2000 -reps 1")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the runs (warm-ups included) to this file")
	memprofile := fs.String("memprofile", "", "write the runs' allocations (warm-ups included) to this file")
	mutexprofile := fs.String("mutexprofile", "", "write the runs' mutex contention (warm-ups included) to this file")
	recvprofile := fs.String("receiver-cpuprofile", "", "write a CPU profile of the receiver process (its whole life) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		*n, *reps = 2000, 1
	}
	cfg := config{n: *n, reps: *reps, warm: *warmN, body: *body, out: os.Stdout, progress: os.Stderr, recvprofile: *recvprofile}
	var err error
	if cfg.conc, err = parseConc(*concList); err != nil {
		return err
	}
	if cfg.sides, err = parseSides(*sidesList); err != nil {
		return err
	}
	if cfg.n < 1 || cfg.reps < 1 || cfg.warm < 1 || cfg.body < 1 {
		return errors.New("-n, -reps, -warm and -body must be positive")
	}
	if cfg.exe, err = os.Executable(); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		to   *io.Writer
	}{{*cpuprofile, &cfg.cpuprofile}, {*memprofile, &cfg.memprofile}, {*mutexprofile, &cfg.mutexprofile}} {
		if p.name == "" {
			continue
		}
		f, err := os.Create(p.name)
		if err != nil {
			return err
		}
		defer f.Close()
		*p.to = f
	}
	_, err = run(context.Background(), cfg)
	return err
}

func parseConc(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("-conc: %q is not a positive integer", f)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseSides(s string) ([]string, error) {
	var want []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allSides, f) {
			return nil, fmt.Errorf("-sides: %q is none of %v", f, allSides)
		}
		want = append(want, f)
	}
	var out []string
	for _, side := range allSides {
		if slices.Contains(want, side) {
			out = append(out, side)
		}
	}
	return out, nil
}

// run is the benchmark: it starts the receiver, builds the workload,
// measures every concurrency and prints a table for each as it ends,
// then a summary.
func run(ctx context.Context, cfg config) ([]result, error) {
	r, err := startReceiver(cfg.exe, cfg.recvprofile)
	if err != nil {
		return nil, err
	}
	defer r.close()
	w, err := benchsend.NewWorkload(ctx, max(cfg.n, cfg.warm), cfg.body)
	if err != nil {
		return nil, err
	}
	if cfg.cpuprofile != nil {
		if err := pprof.StartCPUProfile(cfg.cpuprofile); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.memprofile != nil {
		// Every allocation from here on, the workload's not among them.
		runtime.MemProfileRate = 4096
		runtime.GC()
		defer writeProfile("allocs", cfg.memprofile)
	}
	if cfg.mutexprofile != nil {
		runtime.SetMutexProfileFraction(5)
		defer writeProfile("mutex", cfg.mutexprofile)
	}
	bodyLen := len(w.Bodies[0])
	fmt.Fprintf(cfg.out, "machine: %s/%s, %d CPUs, GOMAXPROCS %d, %s; receiver: separate process on 127.0.0.1\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(cfg.out, "workload: %d deliveries per run of %d-byte bodies (%s), %d warm-up deliveries before each, %d repetitions, order rotated each repetition\n\n",
		cfg.n, bodyLen, w.Events[0].Model, cfg.warm, cfg.reps)

	var results []result
	for _, conc := range cfg.conc {
		res, err := runConc(ctx, cfg, r, w, conc)
		if err != nil {
			return results, fmt.Errorf("concurrency %d: %w", conc, err)
		}
		results = append(results, res)
		printConc(cfg.out, cfg.sides, res)
	}
	printSummary(cfg.out, cfg.sides, results)
	return results, nil
}

// runConc measures every sender cfg.reps times at concurrency conc.
func runConc(ctx context.Context, cfg config, r *receiver, w *benchsend.Workload, conc int) (result, error) {
	url := r.hookURL()
	raw := newRawSender(url, conc)
	defer raw.Close()
	sgn := newSignedSender(url, conc)
	defer sgn.Close()
	naive := newNaiveSender(url, conc)
	defer naive.Close()
	lib, err := newLibrarySender(url, conc)
	if err != nil {
		return result{}, err
	}
	defer lib.close()

	none := func() error { return nil }
	type runner struct {
		send   func(lo, hi int) error
		settle func() error
		check  func(receipts, int) error
	}
	signed := func(rec receipts, n int) error {
		if rec.Verified != int64(n) || rec.Rejected != 0 || rec.Unsigned != 0 {
			return fmt.Errorf("want %d verified: %+v", n, rec)
		}
		return nil
	}
	runners := map[string]runner{
		sideRaw: {
			send:   func(lo, hi int) error { return raw.Send(ctx, w.Bodies[lo:hi]) },
			settle: none,
			check: func(rec receipts, n int) error {
				if rec.Unsigned != int64(n) || rec.Verified != 0 || rec.Rejected != 0 {
					return fmt.Errorf("want %d unsigned: %+v", n, rec)
				}
				return nil
			},
		},
		sideSigned: {
			send:   func(lo, hi int) error { return sgn.Send(ctx, w.Bodies[lo:hi], w.EventIDs[lo:hi]) },
			settle: none,
			check:  signed,
		},
		sideNaive: {
			send:   func(lo, hi int) error { return naive.Send(ctx, w.Events[lo:hi]) },
			settle: none,
			check:  signed,
		},
		sideLibrary: {
			send:   func(lo, hi int) error { return lib.send(ctx, w.Events[lo:hi]) },
			settle: func() error { return lib.settle(ctx) },
			check:  signed,
		},
	}

	res := result{conc: conc, samples: map[string][]sample{}}
	for rep := range cfg.reps {
		k := rep % len(cfg.sides)
		order := append(slices.Clone(cfg.sides[k:]), cfg.sides[:k]...)
		for _, side := range order {
			x := runners[side]
			if err := warm(r, cfg.warm, func() error { return x.send(0, cfg.warm) }, x.settle); err != nil {
				return res, fmt.Errorf("%s: %w", side, err)
			}
			s, err := measure(r, cfg.n, func() error { return x.send(0, cfg.n) }, x.settle)
			if err != nil {
				return res, fmt.Errorf("%s: %w", side, err)
			}
			if err := x.check(s.recv, cfg.n); err != nil {
				return res, fmt.Errorf("%s: %w", side, err)
			}
			res.samples[side] = append(res.samples[side], s)
			fmt.Fprintf(cfg.progress, "concurrency %d, rep %d/%d, %-7s %8.0f deliveries/s %6.1f CPU µs (receiver %5.1f) %6.1f allocs %5.2f KB per delivery\n",
				conc, rep+1, cfg.reps, side, s.rate, s.cpuUs, s.recvUs, s.allocs, s.kb)
		}
	}
	return res, nil
}

// figures are the medians of one sender's samples at one concurrency.
type figures struct {
	rate, ratio, cpuUs, recvUs, allocs, kb float64 // ratio: 0 without raw
}

func (r result) figures(side string) figures {
	ss := r.samples[side]
	pick := func(f func(sample) float64) float64 {
		xs := make([]float64, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		return median(xs)
	}
	f := figures{
		rate:   pick(func(s sample) float64 { return s.rate }),
		cpuUs:  pick(func(s sample) float64 { return s.cpuUs }),
		recvUs: pick(func(s sample) float64 { return s.recvUs }),
		allocs: pick(func(s sample) float64 { return s.allocs }),
		kb:     pick(func(s sample) float64 { return s.kb }),
	}
	f.ratio = r.ratio(side, sideRaw)
	return f
}

// ratio is the median over the repetitions of side's rate divided by
// base's in the same repetition; 0 when either was not run.
func (r result) ratio(side, base string) float64 {
	ss, bs := r.samples[side], r.samples[base]
	if len(bs) != len(ss) || len(ss) == 0 {
		return 0
	}
	ratios := make([]float64, len(ss))
	for i := range ss {
		ratios[i] = ss[i].rate / bs[i].rate
	}
	return median(ratios)
}

func printConc(w io.Writer, sides []string, r result) {
	fmt.Fprintf(w, "### concurrency %d (medians of %d)\n\n", r.conc, len(r.samples[sides[0]]))
	fmt.Fprintln(w, "| sender | deliveries/s | ÷ raw | sender CPU µs/delivery | receiver CPU µs/delivery | allocs/delivery | KB/delivery |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, side := range sides {
		f := r.figures(side)
		fmt.Fprintf(w, "| %s | %s | %s | %.1f | %.1f | %.0f | %.2f |\n", side, thousands(f.rate), ratio(f.ratio), f.cpuUs, f.recvUs, f.allocs, f.kb)
	}
	fmt.Fprintln(w)
}

func printSummary(w io.Writer, sides []string, results []result) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintln(w, "### summary (medians; ratios are medians of each repetition's ratio)")
	fmt.Fprintln(w)
	head := []string{"concurrency"}
	for _, side := range sides {
		head = append(head, side+"/s")
	}
	for _, side := range sides {
		if side != sideRaw && slices.Contains(sides, sideRaw) {
			head = append(head, side+" ÷ raw")
		}
	}
	bySigned := slices.Contains(sides, sideSigned) && slices.Contains(sides, sideLibrary)
	if bySigned {
		head = append(head, "library ÷ signed")
	}
	names := strings.Join(sides, " / ")
	head = append(head, "CPU µs ("+names+")", "receiver CPU µs", "allocs ("+names+")", "KB ("+names+")")
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---:|", len(head)))
	for _, r := range results {
		row := []string{strconv.Itoa(r.conc)}
		fs := make([]figures, len(sides))
		for i, side := range sides {
			fs[i] = r.figures(side)
			row = append(row, thousands(fs[i].rate))
		}
		for i, side := range sides {
			if side != sideRaw && slices.Contains(sides, sideRaw) {
				row = append(row, ratio(fs[i].ratio))
			}
		}
		if bySigned {
			row = append(row, ratio(r.ratio(sideLibrary, sideSigned)))
		}
		join := func(f func(figures) string) string {
			var parts []string
			for _, x := range fs {
				parts = append(parts, f(x))
			}
			return strings.Join(parts, " / ")
		}
		row = append(row,
			join(func(f figures) string { return strconv.FormatFloat(f.cpuUs, 'f', 1, 64) }),
			join(func(f figures) string { return strconv.FormatFloat(f.recvUs, 'f', 1, 64) }),
			join(func(f figures) string { return strconv.FormatFloat(f.allocs, 'f', 0, 64) }),
			join(func(f figures) string { return strconv.FormatFloat(f.kb, 'f', 1, 64) }))
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)
}

func ratio(x float64) string {
	if x == 0 {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// thousands formats x rounded, with commas: 51,078.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(x+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeProfile writes the named runtime profile to w; an error is
// printed, not returned: the tables are the run's result.
func writeProfile(name string, w io.Writer) {
	if err := pprof.Lookup(name).WriteTo(w, 0); err != nil {
		fmt.Fprintf(os.Stderr, "bench: writing the %s profile: %v\n", name, err)
	}
}
