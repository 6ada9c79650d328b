package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/hookrail/webhook/internal/benchsend"
)

// TestMain runs the tests, or the receiver when run, re-executed, with
// the argument -receiver (before the testing package parses its flags).
func TestMain(m *testing.M) {
	if isReceiver(os.Args) {
		if err := serveReceiver(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "receiver:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the benchmark's core on a tiny workload: every sender
// delivers every request, the receiver verifies the naive sender's and the
// library's signatures and counts the raw posts as unsigned, and the
// tables are printed.
func TestRun(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var out bytes.Buffer
	cfg := config{n: n, reps: 2, warm: 50, conc: []int{8}, body: 1024, sides: allSides, exe: exe,
		out: &out, progress: io.Discard}
	results, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].conc != 8 {
		t.Fatalf("results = %+v, want one for concurrency 8", results)
	}
	for _, side := range allSides {
		ss := results[0].samples[side]
		if len(ss) != cfg.reps {
			t.Fatalf("%s: %d samples, want %d", side, len(ss), cfg.reps)
		}
		for _, s := range ss {
			rec := s.recv
			if rec.Count != n {
				t.Errorf("%s: receiver counted %d, want %d", side, rec.Count, n)
			}
			want := receipts{Target: n, Count: n, Verified: n}
			if side == sideRaw {
				want = receipts{Target: n, Count: n, Unsigned: n}
			}
			if cpuTime() > 0 && rec.CPUNs <= 0 {
				t.Errorf("%s: receiver CPU %d ns, want it measured", side, rec.CPUNs)
			}
			rec.LastNs, rec.CPUNs = 0, 0
			if rec != want {
				t.Errorf("%s: receipts %+v, want %+v", side, rec, want)
			}
			if s.rate <= 0 || s.allocs <= 0 || s.kb <= 0 || s.recvUs < 0 {
				t.Errorf("%s: sample %+v: want positive figures", side, s)
			}
		}
	}
	for _, want := range []string{"### concurrency 8", "| raw |", "| signed |", "| naive |", "| library |", "### summary", "GOMAXPROCS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestWorkload checks the raw sender's bodies: the library's, of the size
// asked for, one per event.
func TestWorkload(t *testing.T) {
	w, err := benchsend.NewWorkload(context.Background(), 10, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Bodies) != 10 || len(w.Events) != 10 {
		t.Fatalf("%d bodies, %d events; want 10 each", len(w.Bodies), len(w.Events))
	}
	for i, b := range w.Bodies {
		if len(b) < 1000 || len(b) > 1050 {
			t.Errorf("body %d: %d bytes, want about 1024", i, len(b))
		}
		if want := fmt.Sprintf(`"object":{"id":%d,`, i); !bytes.Contains(b, []byte(want)) {
			t.Errorf("body %d lacks %s: %s", i, want, b)
		}
	}
}
