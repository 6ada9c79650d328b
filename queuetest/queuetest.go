// Package queuetest is the conformance suite that every [webhook.Queue]
// implementation must pass: the memory queue, the inline queue of Sync
// mode, and the durable queues that live in modules of their own.
//
// A backend runs it from its own tests:
//
//	func TestQueue(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) webhook.Queue {
//			return mybackend.NewQueue(…)
//		})
//	}
//
// A durable backend uses [RunWithOptions] with Options.Durable and
// Options.Reopen, which opens a new queue on the storage of a closed one,
// as a restarted process would.
//
// The suite drives the queue the way an Emitter does. It starts it with a
// [webhook.Runner] of its own, whose endpoints are [Endpoints] and whose
// Attempt runs, for each delivery, a handler the case chose; it enqueues
// each event's deliveries in one call. It checks the contract written on
// the Queue interface:
//
//   - every delivery taken is run until a Result finishes it (Delivered or
//     Failed); then it is never run again and never given up;
//   - Retry and Deferred run it again no earlier than Result.Delay, with no
//     worker waiting through the delay; Interrupted, while the queue runs
//     on, runs it again;
//   - the queue keeps Delivery.Attempts: each run sees the number of
//     counted results (Retry, Delivered, Failed) before it, and sees every
//     other field as it was enqueued;
//   - a delivery not taken (ctx ended, no room, closed) is given up through
//     Runner.GiveUp before Enqueue returns, once, and Enqueue's error joins
//     what GiveUp returned;
//   - Close wakes an Enqueue waiting for room; a non-durable queue drains,
//     or, when Close's ctx ends first, interrupts the attempts under way,
//     gives up every unfinished delivery once and returns ctx's error (nil
//     when nothing was left); a durable queue lets the attempts under way
//     finish within ctx, keeps the rest, and a new queue on the same
//     storage resumes them with their counts;
//   - Stats counts what is queued and in flight, in total and per endpoint;
//   - all of it is safe for concurrent use: run the suite with -race.
//
// Throughout, the Runner checks that every delivery ends through it at
// most once (a finished run, or GiveUp), that a delivery never runs
// concurrently with itself, after it ended, or after Close returned, and
// that nothing the suite did not enqueue is run.
package queuetest

import (
	"testing"
	"time"

	"github.com/hookrail/webhook"
)

// Options tune the suite to a backend.
type Options struct {
	// Durable reports that the queue keeps what is unfinished across
	// Close, for a new queue on the same storage to resume: Close stops
	// fetching, lets the attempts under way finish within its ctx
	// (interrupting them when it ends), gives up none of the rest and
	// returns nil (or ctx's error). Reopen is then required. A non-durable
	// queue's Close drains, or, when its ctx ends first, gives up every
	// unfinished delivery and returns ctx.Err(). Defaults to false.
	Durable bool

	// Reopen returns a new, not started queue on the same storage as
	// closed, as a process restart would. The suite starts it with a new
	// Runner and closes it. Required when Durable; unused otherwise.
	Reopen func(t *testing.T, closed webhook.Queue) webhook.Queue

	// Inline reports that Enqueue returns only when its deliveries are
	// finished (the inline queue of Sync mode): it runs and retries
	// them within the caller's ctx, and its error joins their failures.
	// The suite then calls Enqueue on goroutines of its own wherever a case
	// needs the deliveries held while it looks on, and expects a Failed
	// result's error back from Enqueue. Not with Durable or
	// RoomPerEndpoint. Defaults to false.
	Inline bool

	// RoomPerEndpoint is how many deliveries the queue holds for one
	// endpoint (due, scheduled and in flight) before Enqueue waits for room,
	// until its ctx ends or Close. When set, the suite fills it to check
	// that Enqueue waits, gives up at its ctx's end, and is woken by Close;
	// it must be at least MaxHeld. 0: the queue does not bound its room (or
	// the suite is not told), and those cases are skipped. For a
	// [webhook.MemoryQueue], it is Size divided by len(Endpoints), rounded
	// up. Defaults to 0.
	RoomPerEndpoint int

	// Parallel runs the subtests in parallel. Set it when the queues
	// newQueue returns share nothing (no common database schema).
	// Defaults to false.
	Parallel bool

	// Timeout bounds every wait of the suite (a delivery to be run, Close
	// to drain, Enqueue to return). Defaults to 30 s.
	Timeout time.Duration

	// HeldDelay is the retry delay of the case that checks that no worker
	// waits through one: a delivery enqueued while 40 retries wait must
	// run before those of them that fall due after half of it. Defaults
	// to 2 s; a backend whose fetches may take a second on a loaded
	// machine (SQLite, whose one connection every fetch and write
	// shares) raises it.
	HeldDelay time.Duration
}

// Endpoints are the endpoint names the suite's Runner reports.
var Endpoints = []string{"a", "b", "c", "d"}

// MaxHeld is the most deliveries the suite holds for one endpoint at once
// without expecting Enqueue to wait for room (but for the cases that fill
// Options.RoomPerEndpoint); a queue under test needs at least this much
// room per endpoint.
const MaxHeld = 50

// Run runs the conformance suite with the default Options. newQueue must
// return a new, not yet started queue each time it is called; the suite
// starts and closes it.
func Run(t *testing.T, newQueue func(t *testing.T) webhook.Queue) {
	t.Helper()
	RunWithOptions(t, newQueue, Options{})
}

// mode says which queues a case applies to.
type mode uint8

const (
	anyQueue   mode = iota
	nonDurable      // a queue that drains or gives up at Close
	durable         // a queue that keeps what is unfinished at Close
)

// RunWithOptions runs the conformance suite with opts. newQueue must
// return a new, not yet started queue each time it is called; the suite
// starts and closes it.
func RunWithOptions(t *testing.T, newQueue func(t *testing.T) webhook.Queue, opts Options) {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.HeldDelay <= 0 {
		opts.HeldDelay = 2 * time.Second
	}
	switch {
	case opts.Durable && opts.Reopen == nil:
		t.Fatal("queuetest: Options.Durable needs Options.Reopen, to check that a new queue on the same storage resumes what Close kept")
	case opts.Durable && opts.Inline:
		t.Fatal("queuetest: Options.Durable and Options.Inline exclude each other: an inline queue holds nothing between calls")
	case opts.Inline && opts.RoomPerEndpoint != 0:
		t.Fatal("queuetest: Options.RoomPerEndpoint does not apply to an inline queue: it holds nothing between calls")
	case opts.RoomPerEndpoint < 0, opts.RoomPerEndpoint > 0 && opts.RoomPerEndpoint < MaxHeld:
		t.Fatalf("queuetest: Options.RoomPerEndpoint = %d; want 0 (not bounded) or at least MaxHeld (%d), which the other cases hold for one endpoint",
			opts.RoomPerEndpoint, MaxHeld)
	}
	tests := []struct {
		name string
		only mode
		fn   func(t *testing.T, h *harness)
	}{
		{"RunsEveryDeliveryOnce", anyQueue, testRunsEveryDeliveryOnce},
		{"BatchEnqueue", anyQueue, testBatchEnqueue},
		{"KeepsDeliveryFields", anyQueue, testKeepsDeliveryFields},
		{"AttemptCounting", anyQueue, testAttemptCounting},
		{"FailedIsFinal", anyQueue, testFailedIsFinal},
		{"DelayedRetry", anyQueue, testDelayedRetry},
		{"NoWorkerWaitsThroughDelay", anyQueue, testNoWorkerWaitsThroughDelay},
		{"EnqueueWithEndedContext", anyQueue, testEnqueueWithEndedContext},
		{"EnqueueAfterClose", anyQueue, testEnqueueAfterClose},
		{"EnqueueWaitsForRoom", anyQueue, testEnqueueWaitsForRoom},
		{"CloseWakesBlockedEnqueue", anyQueue, testCloseWakesBlockedEnqueue},
		{"EnqueueRacesClose", anyQueue, testEnqueueRacesClose},
		{"CloseEmpty", anyQueue, testCloseEmpty},
		{"CloseDrains", nonDurable, testCloseDrains},
		{"CloseWhenContextEnds", nonDurable, testCloseWhenContextEnds},
		{"CloseWhenContextEndsNothingLeft", anyQueue, testCloseWhenContextEndsNothingLeft},
		{"DurableCloseFinishesAttempts", durable, testDurableCloseFinishesAttempts},
		{"DurableCloseKeepsLeftovers", durable, testDurableCloseKeepsLeftovers},
		{"RestartResumes", durable, testRestartResumes},
		{"Stats", anyQueue, testStats},
		{"ConcurrentUse", anyQueue, testConcurrentUse},
	}
	t.Run("CloseIdleWithEndedContext", func(t *testing.T) {
		if opts.Parallel {
			t.Parallel()
		}
		testCloseIdleWithEndedContext(t, newQueue, opts)
	})
	for _, tc := range tests {
		if tc.only == durable && !opts.Durable || tc.only == nonDurable && opts.Durable {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			if opts.Parallel {
				t.Parallel()
			}
			tc.fn(t, newHarness(t, newQueue(t), opts))
		})
	}
}
