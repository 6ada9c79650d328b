package main

// The receiver: a separate process (this program, re-executed with the
// hidden argument -receiver), so that its CPU time is not the sender's.
// It listens on 127.0.0.1:0 and writes one line to stdout,
//
//	RECEIVER http://127.0.0.1:<port>
//
// then serves until its stdin is closed (the parent closes it, or dies).
// On the same server:
//
//	POST /hook           a delivery: read in full, counted, answered 204.
//	                     With the signature headers it is checked with
//	                     a webhook.Verifier of the shared secret (answered 401
//	                     if it does not verify); without them it is a raw
//	                     post and only counted.
//	GET  /start?n=N      forget the counts; the next N deliveries are a run
//	GET  /wait?timeout=D wait up to D for the run's N-th delivery, then
//	                     answer the counts, and the receiver's CPU time
//	                     from /start to the N-th delivery, as JSON (receipts)

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookrail/webhook"
)

// receiverArg, as the only argument, makes the program the receiver.
const receiverArg = "-receiver"

// secret is the secret the library and the naive sender sign with and
// the receiver verifies with.
const secret = "whsec_bench_shared_secret"

// profileEnv names, for the receiver process, the file to write its CPU
// profile to (the parent's -receiver-cpuprofile).
const profileEnv = "WEBHOOK_BENCH_RECEIVER_CPUPROFILE"

// isReceiver reports whether args (os.Args) ask for the receiver.
func isReceiver(args []string) bool { return len(args) == 2 && args[1] == receiverArg }

// receipts are the receiver's counts for one run.
type receipts struct {
	Target   int64 `json:"target"`   // N of /start
	Count    int64 `json:"count"`    // deliveries received, all kinds
	Verified int64 `json:"verified"` // signed, and the Verifier accepted them
	Rejected int64 `json:"rejected"` // signed, and the Verifier refused them
	Unsigned int64 `json:"unsigned"` // without a signature header (raw)
	LastNs   int64 `json:"last_ns"`  // wall time of the N-th receipt (0: not reached)
	CPUNs    int64 `json:"cpu_ns"`   // the receiver's CPU time from /start to the N-th receipt
}

// recvRun is the receiver's state for the current run.
type recvRun struct {
	target                              int64
	cpu0                                time.Duration // cpuTime at /start
	count, verified, rejected, unsigned atomic.Int64
	last, cpu                           atomic.Int64
	done                                chan struct{}
}

func (r *recvRun) receipts() receipts {
	return receipts{Target: r.target, Count: r.count.Load(), Verified: r.verified.Load(),
		Rejected: r.rejected.Load(), Unsigned: r.unsigned.Load(), LastNs: r.last.Load(), CPUNs: r.cpu.Load()}
}

// serveReceiver is the receiver process's main: it serves on 127.0.0.1:0
// until in ends, having written its address to out.
func serveReceiver(in io.Reader, out io.Writer) error {
	if name := os.Getenv(profileEnv); name != "" {
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var cur atomic.Pointer[recvRun]
	cur.Store(&recvRun{done: make(chan struct{})})
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	verifier := webhook.NewVerifier(secret) // as a receiver keeps one: keyed once

	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook", func(w http.ResponseWriter, r *http.Request) {
		buf := bufs.Get().(*bytes.Buffer)
		defer bufs.Put(buf)
		buf.Reset()
		if _, err := buf.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		run := cur.Load()
		status := http.StatusNoContent
		switch {
		case r.Header.Get(webhook.HeaderSignature) == "":
			run.unsigned.Add(1)
		case verifier.Verify(r.Header, buf.Bytes()) == nil:
			run.verified.Add(1)
		default:
			run.rejected.Add(1)
			status = http.StatusUnauthorized
		}
		if run.count.Add(1) == run.target {
			run.last.Store(time.Now().UnixNano())
			run.cpu.Store(int64(cpuTime() - run.cpu0))
			close(run.done)
		}
		w.WriteHeader(status)
	})
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil || n < 1 {
			http.Error(w, "n: want a positive integer", http.StatusBadRequest)
			return
		}
		cur.Store(&recvRun{target: n, cpu0: cpuTime(), done: make(chan struct{})})
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("timeout"))
		if err != nil {
			http.Error(w, "timeout: "+err.Error(), http.StatusBadRequest)
			return
		}
		run := cur.Load()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-run.done:
		case <-t.C:
		}
		json.NewEncoder(w).Encode(run.receipts())
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(out, "RECEIVER http://%s\n", ln.Addr())
	_, err = io.Copy(io.Discard, in) // until the parent closes our stdin
	return err
}

// receiver is the parent's handle on the receiver process.
type receiver struct {
	url    string       // http://127.0.0.1:port
	client *http.Client // for /start and /wait only: never a measured transport
	cmd    *exec.Cmd
	stdin  io.Closer
}

// startReceiver starts exe (this program, or the test binary) with the
// argument -receiver and reads its address. With a profile file name, the
// receiver writes its CPU profile there when it stops.
func startReceiver(exe, profile string) (*receiver, error) {
	cmd := exec.Command(exe, receiverArg)
	if profile != "" {
		cmd.Env = append(os.Environ(), profileEnv+"="+profile)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &receiver{cmd: cmd, stdin: stdin}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "RECEIVER "); ok {
			r.url = url
			break
		}
	}
	if r.url == "" {
		r.close()
		return nil, fmt.Errorf("the receiver process did not start: %v", lines.Err())
	}
	go io.Copy(io.Discard, stdout)
	r.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 10 * time.Minute}
	return r, nil
}

// hookURL is where deliveries go.
func (r *receiver) hookURL() string { return r.url + "/hook" }

// close ends the receiver process.
func (r *receiver) close() error {
	r.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		return errors.Join(errors.New("the receiver did not stop; killed"), <-done)
	}
}

func (r *receiver) get(path string) ([]byte, error) {
	resp, err := r.client.Get(r.url + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("receiver %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, err
}

// start begins a run of n deliveries.
func (r *receiver) start(n int) error {
	_, err := r.get("/start?n=" + strconv.Itoa(n))
	return err
}

// wait waits up to timeout for the run's n-th delivery and returns the
// counts; an error if the n-th did not come.
func (r *receiver) wait(timeout time.Duration) (receipts, error) {
	var res receipts
	body, err := r.get("/wait?timeout=" + timeout.String())
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, err
	}
	if res.LastNs == 0 {
		return res, fmt.Errorf("%d of %d deliveries received within %s", res.Count, res.Target, timeout)
	}
	return res, nil
}
