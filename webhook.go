package webhook

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Errors callers branch on with errors.Is.
var (
	// ErrClosed is returned by Emit after Close has begun.
	ErrClosed = errors.New("webhook: emitter closed")

	// ErrQueueFull: an endpoint's share of the queue stayed full until
	// Emit's context ended.
	ErrQueueFull = errors.New("webhook: queue full")

	// ErrInvalidEvent: the event itself is wrong (unknown type, malformed
	// model label, an object that does not serialise to a JSON object).
	ErrInvalidEvent = errors.New("webhook: invalid event")

	// ErrInvalidConfig: New was given a Config it cannot run.
	ErrInvalidConfig = errors.New("webhook: invalid config")
)

// Defaults of Config.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20
)

// ErrBodyTooLarge: an endpoint's body is over Config.MaxBodyBytes.
var ErrBodyTooLarge = errors.New("webhook: body too large")

// Config configures an Emitter. The zero value with one Endpoint works.
type Config struct {
	// Disabled turns Emit into a no-op. Defaults to false: enabled.
	Disabled bool

	// Endpoints are the receivers. Names must be unique.
	Endpoints []Endpoint

	// Sync makes Emit deliver inline to every matching endpoint at once,
	// retrying as configured within Emit's context, and return every
	// endpoint's failure, joined (the seed's on_failure "raise"). Queue,
	// Workers and QueueSize are then unused. Defaults to false: deliveries
	// are queued and Emit returns at once.
	Sync bool

	// Workers is the number of attempts run at once by the default
	// memory queue. Defaults to DefaultWorkers (32).
	Workers int

	// QueueSize bounds the deliveries the default memory queue holds
	// (one event to three endpoints is three; waiting retries count), in
	// equal shares per endpoint. Defaults to DefaultQueueSize (10,000).
	QueueSize int

	// Queue replaces the memory queue, for example with a durable one.
	// Workers and QueueSize are then the Queue's business.
	Queue Queue

	// Timeout bounds one attempt. Defaults to DefaultTimeout (30 s).
	Timeout time.Duration

	// Retry is the retry policy of endpoints without their own. Nil: the
	// seed's defaults (see RetryConfig).
	Retry *RetryConfig

	// CircuitBreaker configures every endpoint's circuit breaker.
	// The zero value opens after 10 down-looking failures for 30 s.
	CircuitBreaker CircuitBreaker

	// OnFailure is called once for every delivery that is given up, with
	// the reason (the seed's failure_callback). It runs on the goroutine
	// that gave the delivery up: a queue worker after its last attempt;
	// Emit's or Redeliver's when the body cannot be built or queued (and in
	// Sync mode); Close's for deliveries left when its ctx ended. It must
	// not block, and a panic in it is logged. Close waits for every call.
	// Failure.Body is shared with other deliveries: do not modify it.
	OnFailure func(Failure)

	// Monitor alerts on endpoints that keep failing.
	Monitor Monitor

	// Logger receives the library's logs: every failure at Error level,
	// retries at Debug. Secrets and redacted values never reach it.
	// Nil: slog.Default().
	Logger *slog.Logger

	// Models holds per-model settings by label ("store.Order"): the
	// seed's WebhookMeta. An entry here replaces the settings the model's
	// type declares through [MetaProvider].
	Models map[string]ModelMeta

	// LogStore keeps delivery logs. Nil: a MemoryLogStore keeping the
	// logs of deliveries under way, and the DefaultLogSize (10,000) last
	// finished within DefaultLogBytes (64 MiB).
	LogStore LogStore

	// HTTPClient sends the requests. Nil: a client on a pooled transport
	// with an idle connection per worker. Its CheckRedirect is replaced so
	// that redirects are never followed.
	HTTPClient *http.Client

	// SSRFGuard, if set, refuses connections to internal addresses (see
	// SSRFGuard), for endpoint URLs that come from users. It needs an
	// *http.Transport (the default, or HTTPClient's).
	SSRFGuard *SSRFGuard

	// HTTPSOnly rejects endpoints whose URL is not https. Defaults to
	// false: http and https.
	HTTPSOnly bool

	// MaxBodyBytes bounds a body (after shaping). An event whose body for
	// an endpoint is larger fails that delivery, and Emit returns an error
	// wrapping ErrBodyTooLarge that names the endpoint. 0:
	// DefaultMaxBodyBytes (1 MiB); negative: no limit.
	MaxBodyBytes int

	// Now is the clock for timestamps (envelope, signature, logs). Nil:
	// time.Now. Retry delays run on the real clock.
	Now func() time.Time
}

// ModelMeta is one model's webhook settings: the seed's WebhookMeta.
type ModelMeta struct {
	// Disabled stops every event of the model.
	Disabled bool

	// Events lists the event types sent for the model. Empty: all.
	Events []EventType

	// ShouldSend decides per event; nil sends every event. It runs inside
	// Emit on the caller's goroutine. A panic fails the event's deliveries
	// (logged, reported to OnFailure).
	ShouldSend func(Event) bool
}

// MetaProvider may be implemented by a host model type to declare its
// webhook settings in code, as the seed's inner class WebhookMeta does.
// A Config.Models entry for the same label replaces it.
type MetaProvider interface {
	WebhookMeta() ModelMeta
}

// Failure reports a delivery given up, to Config.OnFailure.
type Failure struct {
	Endpoint   string // the endpoint's name
	EventID    string
	DeliveryID string // the DeliveryLog's ID, for Redeliver
	Body       []byte // the body as it would have been sent (nil if shaping failed)
	Err        error  // why: a *DeliveryError for a failed attempt
	Attempts   int
	StatusCode int // of the last answer; 0: none
}

// UndeliveredError is returned by Close when its context ended before
// every delivery finished. Each of them was reported to OnFailure.
type UndeliveredError struct {
	Count int   // deliveries not delivered
	Err   error // the context's error
}

func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("webhook: close: %d deliveries not delivered: %v", e.Count, e.Err)
}

// Unwrap returns the context's error.
func (e *UndeliveredError) Unwrap() error { return e.Err }

// Emitter turns model events into signed webhook deliveries. Its methods
// are safe for concurrent use.
type Emitter struct {
	cfg       Config
	endpoints []*endpoint
	byName    map[string]*endpoint
	names     []string
	queue     Queue
	logs      LogStore
	client    *http.Client    // every endpoint's requests go through it
	ownTrans  *http.Transport // closed by Close when we made it
	breaker   breakerPolicy
	logger    *slog.Logger
	now       func() time.Time

	mu        sync.RWMutex   // orders enter (read) against Close (write)
	closed    bool           // under mu
	active    sync.WaitGroup // Emit and Redeliver calls under way
	stop      context.Context
	stopNow   context.CancelCauseFunc // cancels Sync deliveries when Close gives up
	abandoned atomic.Int64            // Sync deliveries that stopNow ended
	closeOnce sync.Once
	closeErr  error
	ids       idClock   // for newID
	keyOrders keyOrders // of the object types seen, for the field filters

	// memLogs is the LogStore when it is a MemoryLogStore and every
	// Delivery it sees is one this Emitter made and nobody reuses (the
	// memory queue, or Sync): its logs then share the Delivery.
	memLogs *MemoryLogStore
	// answers holds the last answer of each delivery under way that got
	// one, for the logs and Failures of later attempts that get none.
	answers sync.Map // delivery id → answer
}

// New validates cfg and returns an Emitter whose queue is running. Every
// problem is reported, each naming the endpoint and field; errors wrap
// ErrInvalidConfig.
func New(cfg Config) (*Emitter, error) {
	e := &Emitter{cfg: cfg, logger: cfg.Logger, now: cfg.Now}
	e.stop, e.stopNow = context.WithCancelCause(context.Background())
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.cfg.Timeout == 0 {
		e.cfg.Timeout = DefaultTimeout
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if e.cfg.Timeout < 0 {
		bad("timeout: %s is negative", cfg.Timeout)
	}
	if cfg.Workers < 0 {
		bad("workers: %d is negative", cfg.Workers)
	}
	if cfg.QueueSize < 0 {
		bad("queue_size: %d is negative", cfg.QueueSize)
	}
	if _, err := resolveRetry(cfg.Retry); err != nil {
		bad("%v", err)
	}
	for label, m := range cfg.Models {
		if _, err := parseLabel(label); err != nil {
			bad("models: label %q: want \"app.Name\"", label)
		}
		if _, err := eventsMask("events", m.Events); err != nil {
			bad("models[%q]: %v", label, err)
		}
	}
	e.breaker = resolveBreaker(cfg.CircuitBreaker)

	switch {
	case e.cfg.MaxBodyBytes == 0:
		e.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	case e.cfg.MaxBodyBytes < 0:
		e.cfg.MaxBodyBytes = 0
	}
	base := cfg.HTTPClient
	if base == nil {
		e.ownTrans = newTransport(cmpOr(cfg.Workers, DefaultWorkers))
		base = &http.Client{Transport: e.ownTrans}
	}
	if cfg.SSRFGuard != nil {
		rt := base.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		if t, err := cfg.SSRFGuard.guardTransport(rt); err != nil {
			bad("%v", err)
		} else {
			e.ownTrans = t
			c := *base
			c.Transport = t
			base = &c
		}
	}
	e.client = newHTTPClient(base)

	e.byName = make(map[string]*endpoint, len(cfg.Endpoints))
	for i, ep := range cfg.Endpoints {
		where := fmt.Sprintf("endpoint %q", ep.Name)
		if ep.Name == "" {
			where = fmt.Sprintf("endpoint[%d]", i)
			bad("%s: name: empty", where)
		} else if strings.TrimSpace(ep.Name) != ep.Name {
			bad("%s: name: leading or trailing space", where)
		} else if prev, dup := e.byName[ep.Name]; dup {
			bad("%s: name: duplicate (endpoint[%d] has it too)", where, prev.index)
			continue
		}
		c, cerrs := compileEndpoint(ep, &e.cfg, e.client)
		for _, err := range cerrs {
			bad("%s: %v", where, err)
		}
		c.index = i
		if ep.Name != "" {
			e.byName[ep.Name] = c
		}
		e.endpoints = append(e.endpoints, c)
		e.names = append(e.names, ep.Name)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	e.logs = cfg.LogStore
	if e.logs == nil {
		e.logs = NewMemoryLogStore(DefaultLogSize)
	}
	e.queue = cfg.Queue
	if e.queue == nil {
		e.queue = NewMemoryQueue(MemoryQueueConfig{Workers: cfg.Workers, Size: cfg.QueueSize})
	}
	if ms, ok := e.logs.(*MemoryLogStore); ok {
		if _, mq := e.queue.(*MemoryQueue); mq || cfg.Sync {
			e.memLogs = ms
		}
	}
	if !cfg.Sync {
		if err := e.queue.Start(func(ctx context.Context, d *Delivery) Result {
			r, _ := e.attempt(ctx, d)
			return r
		}, e.names); err != nil {
			return nil, fmt.Errorf("webhook: starting queue: %w", err)
		}
	}
	return e, nil
}

// Emit sends ev to every endpoint that wants it. The body is built and
// fixed now; delivery happens on the queue's workers (in Sync mode, before
// Emit returns).
//
// Emit returns an error about the event itself (wrapping ErrInvalidEvent),
// ErrClosed after Close, and, for an endpoint whose share of the queue
// stayed full until ctx ended, an error wrapping ErrQueueFull that names it
// (its delivery fails; the others are queued first), and, for a body over
// Config.MaxBodyBytes, an error wrapping ErrBodyTooLarge that names the
// endpoint. A failure of one endpoint's shaping (Transform error or panic)
// fails that endpoint's delivery only, and Emit returns nil for it. In
// Sync mode Emit returns every endpoint's failure, joined.
func (e *Emitter) Emit(ctx context.Context, ev Event) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	if e.cfg.Disabled {
		return nil
	}
	if !ev.Type.valid() {
		return fmt.Errorf("%w: type %q unknown (want created, updated or deleted)", ErrInvalidEvent, ev.Type)
	}
	if err := checkEventID(ev.ID); err != nil {
		return err
	}
	// The object's own methods (WebhookLabel, WebhookMeta, MarshalJSON)
	// are host code: a panic in them is the event's error, not the host's.
	var model ModelInfo
	var err error
	if perr := e.guard("WebhookLabel", func() { model, err = modelLabel(&ev) }); perr != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, perr)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	var meta ModelMeta
	var ok bool
	if perr := e.guard("WebhookMeta", func() { meta, ok = e.meta(&ev, model.Label) }); perr != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, perr)
	}
	if ok && (meta.Disabled || !hasEvent(meta.Events, ev.Type)) {
		return nil
	}
	var targets []*endpoint
	for _, ep := range e.endpoints {
		if ep.wants(ev.Type, model.Label) {
			targets = append(targets, ep)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	var shapeErr error
	if ok && meta.ShouldSend != nil {
		send := false
		shapeErr = e.guard("ShouldSend", func() { send = meta.ShouldSend(ev) })
		if shapeErr == nil && !send {
			return nil
		}
	}
	id, dlvIDs := e.newIDs(ev.ID, len(targets))
	now := e.now().UTC()
	ts := now.Truncate(time.Second)
	var snap *snapshot
	if shapeErr == nil {
		var user *Actor
		if a, ok := actorFrom(ctx, &ev); ok {
			user = &a
		}
		if perr := e.guard("MarshalJSON", func() { snap, err = newSnapshot(&ev, model, id, ts, user) }); perr != nil {
			err = perr
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
		}
	}

	var plain []byte // the body of every endpoint without rules or transform
	deliveries := make([]*Delivery, 0, len(targets))
	var errs []error
	for i, ep := range targets {
		d := &Delivery{ID: dlvID(dlvIDs, i), EventID: id, EventType: ev.Type, Endpoint: ep.Name, CreatedAt: now}
		err := shapeErr
		if err == nil {
			d.Body, err = e.shape(snap, ep, &plain)
		}
		if err != nil {
			err = fmt.Errorf("webhook: endpoint %q: event %s: shaping the body: %w", ep.Name, id, err)
		} else if n := len(d.Body); e.cfg.MaxBodyBytes > 0 && n > e.cfg.MaxBodyBytes {
			err = fmt.Errorf("webhook: endpoint %q: event %s: body of %d bytes is over the limit of %d: %w", ep.Name, id, n, e.cfg.MaxBodyBytes, ErrBodyTooLarge)
			d.Body = nil
		}
		e.record(d, StatusPending, 0, "", "")
		if err != nil {
			e.fail(d, err, 0, "")
			if e.cfg.Sync || errors.Is(err, ErrBodyTooLarge) {
				errs = append(errs, err)
			}
			continue
		}
		deliveries = append(deliveries, d)
	}
	if snap != nil {
		snap.release() // every body is built: none refers to it
	}
	if e.cfg.Sync {
		return errors.Join(append(errs, e.deliverNow(ctx, deliveries)...)...)
	}
	// First every delivery that has room, so that a full endpoint never
	// holds back the others; then the full ones wait for room within ctx.
	var full []*Delivery
	for _, d := range deliveries {
		if err := e.queue.Enqueue(cancelled, d); errors.Is(err, ErrQueueFull) {
			full = append(full, d)
		} else if err != nil {
			errs = append(errs, e.enqueueFailed(d, err))
		}
	}
	for _, d := range full {
		if err := e.queue.Enqueue(ctx, d); err != nil {
			errs = append(errs, e.enqueueFailed(d, err))
		}
	}
	return errors.Join(errs...)
}

// cancelled is an ended context: Enqueue with it adds a delivery only if
// there is room at once.
var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// enqueueFailed fails a delivery the queue did not take and returns the
// error Emit reports for it.
func (e *Emitter) enqueueFailed(d *Delivery, err error) error {
	if errors.Is(err, ErrClosed) {
		err = fmt.Errorf("webhook: endpoint %q: %w", d.Endpoint, err)
	} else {
		err = fmt.Errorf("webhook: endpoint %q: event %s: %w", d.Endpoint, d.EventID, err)
	}
	return e.giveUp(d, err)
}

// giveUp fails a delivery that a call accepted but could not hand on or
// finish, and returns err. One that Close closed out (err wraps
// ErrClosed) is counted for Close's UndeliveredError.
func (e *Emitter) giveUp(d *Delivery, err error) error {
	if errors.Is(err, ErrClosed) {
		e.abandoned.Add(1)
	}
	e.fail(d, err, 0, "")
	return err
}

// enter registers an Emit or Redeliver call, so that Close waits for it;
// false once Close has begun. A true enter must be followed by leave.
func (e *Emitter) enter() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return false
	}
	e.active.Add(1) // before close's Wait: close sets closed under the write lock
	return true
}

func (e *Emitter) leave() { e.active.Done() }

// maxEventID bounds a host-given event id.
const maxEventID = 255

// checkEventID accepts an empty id (one is generated) or 1 to 255 visible
// ASCII characters: it is sent as a header.
func checkEventID(id string) error {
	if len(id) > maxEventID {
		return fmt.Errorf("%w: id: %d bytes, want at most %d", ErrInvalidEvent, len(id), maxEventID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: id: byte %d is %q; want visible ASCII (it is sent as a header)", ErrInvalidEvent, i, c)
		}
	}
	return nil
}

// meta returns the model's settings: Config.Models, else the object's
// MetaProvider. ok is false when there are none.
func (e *Emitter) meta(ev *Event, label string) (ModelMeta, bool) {
	if m, ok := e.cfg.Models[label]; ok {
		return m, true
	}
	if p, ok := ev.Object.(MetaProvider); ok {
		return p.WebhookMeta(), true
	}
	return ModelMeta{}, false
}

func hasEvent(types []EventType, t EventType) bool {
	return len(types) == 0 || slices.Contains(types, t)
}

// shape builds ep's body from the snapshot: field rules, then Transform.
// Endpoints without either share one body, built once.
func (e *Emitter) shape(s *snapshot, ep *endpoint, plain *[]byte) ([]byte, error) {
	rules := ep.rules.forModel(s.model.Label)
	if rules == nil && ep.Transform == nil {
		if *plain == nil {
			*plain = s.plainBody()
		}
		return *plain, nil
	}
	if rules != nil && rules.include == nil && ep.Transform == nil {
		// Edit rules only: filter the object in one pass over its bytes.
		changes := s.changes
		if changes != nil {
			if s.splits == nil {
				s.splits = make(splits)
			}
			var err error
			if changes, err = rules.editChanges(changes, s.splits); err != nil {
				return nil, err
			}
		}
		h := rules.horizon.get(e.keyOrders.of(s.rawType), rules.edit)
		return s.streamBody(rules.edit, h, changes)
	}
	obj, err := s.fields()
	if err != nil {
		return nil, err
	}
	changes := s.changes
	if rules != nil {
		if s.splits == nil {
			s.splits = make(splits)
		}
		if obj, changes, err = rules.apply(obj, changes, s.splits); err != nil {
			return nil, err
		}
	}
	if ep.Transform == nil {
		return s.body(obj, changes), nil
	}
	p, err := s.payload(obj, changes)
	if err != nil {
		return nil, err
	}
	var out any
	if perr := e.guard("Transform", func() { out, err = ep.Transform(p) }); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("transform: result of type %T cannot be serialised: %w", out, err)
	}
	return b, nil
}

// deliverNow runs Sync mode: every delivery at once, retries within ctx.
// Close, when its own ctx ends, cancels them too.
func (e *Emitter) deliverNow(ctx context.Context, ds []*Delivery) []error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unhook := context.AfterFunc(e.stop, func() { cancel(context.Cause(e.stop)) })
	defer unhook()
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			for {
				r, err := e.attempt(ctx, d)
				if r.Done {
					errs[i] = err
					return
				}
				t := time.NewTimer(r.Delay)
				select {
				case <-t.C:
					if ctx.Err() == nil {
						continue
					}
				case <-ctx.Done():
					t.Stop()
				}
				if err == nil {
					err = fmt.Errorf("webhook: endpoint %q: event %s: not delivered", d.Endpoint, d.EventID)
				}
				errs[i] = e.giveUp(d, fmt.Errorf("%w: %w", err, context.Cause(ctx)))
				return
			}
		})
	}
	wg.Wait()
	return errs
}

// Close stops accepting events (Emit then returns ErrClosed), waits for
// Emit and Redeliver calls under way, and waits until every queued
// delivery and scheduled retry has finished, with the callbacks they
// trigger. If ctx ends first, attempts under way are cancelled, every
// delivery left is reported to OnFailure and logged as failed, and Close
// returns an *UndeliveredError counting them and wrapping ctx.Err(); when
// nothing was left undelivered it returns nil. It cannot interrupt user
// code that blocks (a Transform, a callback, a LogStore): such code must
// return promptly. Later calls return the first call's result.
func (e *Emitter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() { e.closeErr = e.close(ctx) })
	return e.closeErr
}

func (e *Emitter) close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	// Calls under way were accepted: let them finish, and queue what they
	// emit, before the queue stops accepting. If ctx ends first, Sync
	// deliveries are cancelled, and closing the queue makes any Enqueue
	// still waiting for room fail.
	var left []*Delivery
	var err error
	queueClosed := false
	// With no call under way and ctx ended, either case comes to the same:
	// the queue is closed with the ended ctx, and no Sync delivery runs.
	calls := make(chan struct{})
	go func() { e.active.Wait(); close(calls) }()
	select {
	case <-calls:
	case <-ctx.Done():
		e.stopNow(fmt.Errorf("%w before delivery: %w", ErrClosed, ctx.Err()))
		if !e.cfg.Sync {
			// Its ctx has ended: this aborts at once, and wakes any
			// Enqueue still waiting for room.
			left, err = e.queue.Close(ctx)
			queueClosed = true
		}
		<-calls
	}
	if !e.cfg.Sync && !queueClosed {
		left, err = e.queue.Close(ctx)
	}
	e.stopNow(ErrClosed)
	for _, d := range left {
		e.fail(d, fmt.Errorf("webhook: endpoint %q: event %s: %w before delivery: %w", d.Endpoint, d.EventID, ErrClosed, ctx.Err()), 0, "")
	}
	if e.ownTrans != nil {
		e.ownTrans.CloseIdleConnections()
	}
	// Undelivered: left in the queue, or lost by calls under way. When
	// nothing was, Close succeeded, even if its ctx ended meanwhile.
	if lost := len(left) + int(e.abandoned.Load()); lost > 0 {
		if err == nil {
			err = ctx.Err()
		}
		return &UndeliveredError{Count: lost, Err: err}
	}
	return nil
}

// Logs returns the delivery logs that match q, newest first.
func (e *Emitter) Logs(ctx context.Context, q LogQuery) ([]DeliveryLog, error) {
	return e.logs.Query(ctx, q)
}

// Redeliver sends a finished delivery again: a new delivery (a new
// attempt series, with a new delivery id, returned) of the same body to the
// same endpoint, with the same event id, so receivers that already have it
// can tell. It takes the id of a DeliveryLog whose status is failed or
// delivered. In Sync mode it delivers before returning.
func (e *Emitter) Redeliver(ctx context.Context, id string) (string, error) {
	if !e.enter() {
		return "", ErrClosed
	}
	defer e.leave()
	l, err := e.logs.Get(ctx, id)
	if err != nil {
		return "", fmt.Errorf("webhook: redeliver %s: %w", id, err)
	}
	switch {
	case l.Status != StatusFailed && l.Status != StatusDelivered:
		return "", fmt.Errorf("webhook: redeliver %s: status is %s; only failed or delivered deliveries can be sent again", id, l.Status)
	case l.Payload == nil:
		return "", fmt.Errorf("webhook: redeliver %s: no body was built (its shaping failed); emit the event again", id)
	}
	ep := e.byName[l.EndpointName]
	if ep == nil {
		return "", fmt.Errorf("webhook: redeliver %s: endpoint %q: not configured", id, l.EndpointName)
	}
	if err := ep.unavailable(); err != nil {
		hint := ""
		if err == ErrEndpointGone {
			hint = "; call EnableEndpoint first"
		}
		return "", fmt.Errorf("webhook: redeliver %s: endpoint %q: %w%s", id, l.EndpointName, err, hint)
	}
	d := &Delivery{ID: e.newID("dlv_"), EventID: l.EventID, EventType: l.EventType, Endpoint: l.EndpointName, Body: l.Payload, CreatedAt: e.now().UTC()}
	e.record(d, StatusPending, 0, "", "")
	if e.cfg.Sync {
		return d.ID, errors.Join(e.deliverNow(ctx, []*Delivery{d})...)
	}
	if err := e.queue.Enqueue(ctx, d); err != nil {
		return d.ID, e.giveUp(d, fmt.Errorf("webhook: redeliver %s: endpoint %q: %w", id, d.Endpoint, err))
	}
	return d.ID, nil
}

// EnableEndpoint re-enables an endpoint that a 410 Gone answer disabled.
// While it was disabled, events were not queued for it (nothing is logged
// for them: the receiver said it is gone); the delivery that got the 410
// can be sent again with Redeliver.
func (e *Emitter) EnableEndpoint(name string) error {
	ep := e.byName[name]
	if ep == nil {
		return fmt.Errorf("webhook: endpoint %q: not configured", name)
	}
	ep.gone.Store(false)
	return nil
}

// Stats reports what the Emitter holds: queued and in-flight deliveries,
// in total and per endpoint, with each endpoint's circuit state.
type Stats struct {
	Queued    int                      // waiting: due, scheduled for a retry, or held by an open circuit
	InFlight  int                      // being attempted
	Endpoints map[string]EndpointStats // by endpoint name
}

// EndpointStats is one endpoint's part of Stats.
type EndpointStats struct {
	Queued   int          // as Stats.Queued, for this endpoint
	InFlight int          // as Stats.InFlight, for this endpoint
	Circuit  CircuitState // the circuit breaker's state
	Disabled bool         // configured disabled, or by a 410 answer
}

// Stats returns a snapshot of the Emitter's queue and endpoints, for
// health checks and metrics.
func (e *Emitter) Stats() Stats {
	var qs QueueStats
	if !e.cfg.Sync {
		qs = e.queue.Stats()
	}
	st := Stats{Queued: qs.Queued, InFlight: qs.InFlight, Endpoints: make(map[string]EndpointStats, len(e.endpoints))}
	for _, ep := range e.endpoints {
		s := qs.Endpoints[ep.Name]
		st.Endpoints[ep.Name] = EndpointStats{
			Queued:   s.Queued,
			InFlight: s.InFlight,
			Circuit:  ep.circuit(),
			Disabled: ep.unavailable() != nil,
		}
	}
	return st
}

// idClock is the clock of newID: 48 bits of Unix milliseconds, then 12
// bits of the time within the millisecond (in 256 ns steps), bumped when
// two ids would share them, so that an Emitter's ids are monotonic
// (RFC 9562 section 6.2, method 3, as github.com/google/uuid makes them).
type idClock struct {
	mu   sync.Mutex
	last int64 // the milliseconds and steps of the last id
}

// idLen is the length of an id: a four-byte prefix ("evt_", "dlv_") and a
// UUIDv7 in 32 hex digits.
const idLen = 4 + 32

// newID returns prefix (four bytes) followed by a UUIDv7 in hex: unique,
// and sortable by time (monotonic within an Emitter).
func (e *Emitter) newID(prefix string) string {
	var b [idLen]byte
	return string(e.appendID(b[:0], prefix, time.Now().UnixNano()))
}

// newIDs returns the ids of an Emit: the event's (unless it has one) and
// one for each of its n deliveries, back to back in dlv (the i-th is
// dlvID(dlv, i)), read from one clock reading into one string. An id kept
// longer than its siblings (a Failure's, a log's) keeps that string of
// 36 × (n+1) bytes alive: one allocation per Emit is worth it, as the
// siblings' logs usually go together.
func (e *Emitter) newIDs(eventID string, n int) (evt, dlv string) {
	k := n
	if eventID == "" {
		k++
	}
	var small [4 * idLen]byte
	b := small[:0]
	if k > len(small)/idLen {
		b = make([]byte, 0, k*idLen)
	}
	nano := time.Now().UnixNano()
	if eventID == "" {
		b = e.appendID(b, "evt_", nano)
	}
	for range n {
		b = e.appendID(b, "dlv_", nano)
	}
	all := string(b)
	if eventID == "" {
		return all[:idLen], all[idLen:]
	}
	return eventID, all
}

// dlvID returns the i-th delivery id of newIDs.
func dlvID(dlv string, i int) string { return dlv[i*idLen : (i+1)*idLen] }

// appendID appends prefix and a UUIDv7 for the time nano (Unix
// nanoseconds) in hex. It is uuid.NewV7's layout without its allocation
// and its crypto/rand read on every id.
func (e *Emitter) appendID(b []byte, prefix string, nano int64) []byte {
	// The random bits come from the runtime's ChaCha8 generator, seeded by
	// the operating system: ids must be unique, not secret, and this costs
	// no system call.
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:16], rand.Uint64())
	milli := nano / 1e6
	t := milli<<12 + (nano-milli*1e6)>>8
	c := &e.ids
	c.mu.Lock()
	if t <= c.last {
		t = c.last + 1 // the same step as the last id: take the next
	}
	c.last = t
	c.mu.Unlock()
	milli, seq := t>>12, t&0xfff
	for i := range 6 {
		u[i] = byte(milli >> (40 - 8*i))
	}
	u[6] = 0x70 | byte(seq>>8) // version 7
	u[7] = byte(seq)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	b = append(b, prefix...)
	const hexd = "0123456789abcdef"
	for _, x := range u {
		b = append(b, hexd[x>>4], hexd[x&0xf])
	}
	return b
}
