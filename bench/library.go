package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookrail/webhook"
)

// librarySender is the library as a user sets it up: webhook.New with
// Workers = concurrency and one endpoint, the receiver, signed with the
// shared secret; everything else (memory queue of the default size,
// memory delivery log, retries, circuit breaker, timeouts) is the
// default. Logs are discarded. One Emitter per concurrency serves every
// run, as one serves a long-running service.
type librarySender struct {
	e *webhook.Emitter
}

func newLibrarySender(url string, conc int) (*librarySender, error) {
	e, err := webhook.New(webhook.Config{
		Workers:   conc,
		Endpoints: []webhook.Endpoint{{Name: "bench", URL: url, Secret: secret}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	return &librarySender{e: e}, nil
}

// send emits every event from one goroutine; Emit blocks while the
// endpoint's share of the queue is full. It returns when the last one is
// queued, not delivered.
func (s *librarySender) send(ctx context.Context, events []webhook.Event) error {
	for _, ev := range events {
		if err := s.e.Emit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// settle waits until the Emitter has finished with every delivery (its
// log recorded, its worker free), so that the run's CPU time and
// allocations include the work done after the receiver answered.
func (s *librarySender) settle(ctx context.Context) error {
	for {
		st, err := s.e.Stats(ctx)
		if err != nil || st.Queued == 0 && st.InFlight == 0 {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (s *librarySender) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.e.Close(ctx)
}
