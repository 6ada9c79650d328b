package webhookriver_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// A process without an endpoint (an old one, during a rolling deploy that
// adds it) leaves that endpoint's deliveries for a process that has it,
// for UnknownEndpointGrace: it gives none of them up meanwhile.
func TestUnknownEndpointGrace(t *testing.T) {
	const secret = "secret_123"
	urlA, gotA := pitReceiver(t, secret)
	urlB, gotB := pitReceiver(t, secret)
	path := sqlitePath(t)
	ctx := context.Background()
	ep := func(name, url string) webhook.Endpoint { return webhook.Endpoint{Name: name, URL: url, Secret: secret} }

	type instance struct {
		e        *webhook.Emitter
		q        *webhookriver.Queue[*sql.Tx]
		failures atomic.Int32
		logs     *lockedBuffer
	}
	start := func(cfg webhookriver.Config, eps ...webhook.Endpoint) *instance {
		in := &instance{logs: &lockedBuffer{}}
		cfg.Logger = slog.New(slog.NewTextHandler(in.logs, nil))
		q, err := webhookriver.New(riversqlite.New(openSQLite(t, path)), cfg)
		require.NoError(t, err)
		in.q = q
		in.e, err = webhook.New(webhook.Config{Endpoints: eps, Queue: q,
			OnFailure: func(webhook.Failure) { in.failures.Add(1) }})
		require.NoError(t, err)
		return in
	}
	stop := func(in *instance) {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, in.e.Close(c))
	}
	migrate(t, riversqlite.New(openSQLite(t, path)))

	// The web tier stores an event for a and b.
	insertOnly := fast
	insertOnly.InsertOnly = true
	web := start(insertOnly, ep("a", urlA), ep("b", urlB))
	require.NoError(t, web.e.Emit(ctx, pitOrder(1)))
	stop(web)

	// An old worker knows only a: it delivers a's, and leaves b's.
	grace := fast
	grace.UnknownEndpointGrace = 10 * time.Second // b's is put back for 1 s at a time
	old := start(grace, ep("a", urlA))
	require.Eventually(t, func() bool { return gotA() == 1 }, 15*time.Second, 20*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // b's queue is polled every 25 ms meanwhile
	res, err := old.q.Client().JobList(ctx, river.NewJobListParams().Kinds("webhook_delivery").Queues("webhook_b"))
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	assert.Zero(t, res.Jobs[0].Attempt, "b's delivery was not attempted here")
	assert.NotContains(t, []string{"cancelled", "discarded", "completed"}, string(res.Jobs[0].State))
	assert.Zero(t, old.failures.Load(), "nothing given up")
	assert.Contains(t, old.logs.String(), "webhook_b", "the process says what it leaves")
	stop(old)

	// A new worker has b: it delivers it.
	next := start(fast, ep("a", urlA), ep("b", urlB))
	require.Eventually(t, func() bool { return gotB() == 1 }, 15*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, gotA(), "a's was delivered once")
	assert.Zero(t, next.failures.Load())
	stop(next)
}

// lockedBuffer is a bytes.Buffer for a logger on several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
