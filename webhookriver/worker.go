package webhookriver

import (
	"context"
	"errors"
	"time"

	"github.com/hookrail/webhook"
	"github.com/riverqueue/river"
)

// deliveryArgs is a delivery as a River job's args.
type deliveryArgs struct {
	ID        string            `json:"id"`
	EventID   string            `json:"event_id"`
	EventType webhook.EventType `json:"event_type"`
	Endpoint  string            `json:"endpoint"`
	// Body is base64 in the args: a JSON string, whose bytes JSONB
	// keeps, where an object would lose its key order and spelling.
	Body      []byte    `json:"body"`
	CreatedAt time.Time `json:"created_at"`

	// GiveUp, when set, is why the body could not be built (EmitTx): the
	// job gives the delivery up, once the transaction has committed.
	GiveUp string `json:"give_up,omitempty"`
}

// Kind implements river.JobArgs.
func (deliveryArgs) Kind() string { return jobKind }

// delivery is the Delivery of a, with attempts counted so far.
func (a *deliveryArgs) delivery(attempts int) *webhook.Delivery {
	return &webhook.Delivery{
		ID: a.ID, EventID: a.EventID, EventType: a.EventType, Endpoint: a.Endpoint,
		Body: a.Body, CreatedAt: a.CreatedAt, Attempts: attempts,
	}
}

// shapeMessage is what a shaping failure's job keeps of its error: the
// cause, without the endpoint and event the DeliveryError adds.
func shapeMessage(err error) string {
	var de *webhook.DeliveryError
	if errors.As(err, &de) && de.Err != nil {
		err = de.Err
	}
	if msg := err.Error(); msg != "" {
		return msg
	}
	return "the body could not be built"
}

// unknownRecheck is the longest a delivery for an endpoint this process
// does not have is put back for, during the grace (a tenth of it at
// most).
const unknownRecheck = 30 * time.Second

// worker runs a delivery's attempt for River.
type worker[TTx any] struct {
	river.WorkerDefaults[deliveryArgs]
	q *Queue[TTx]
}

// Work makes the attempt and tells River what comes next (see Queue).
func (w *worker[TTx]) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	q := w.q
	st := q.state.Load()
	r := st.runner
	if !q.attemptable(ctx, st, job.Args.Endpoint) {
		// Another process may have the endpoint (a rolling deploy that
		// adds it): leave the delivery to it for a while.
		if age := time.Since(job.CreatedAt); age < q.cfg.UnknownEndpointGrace {
			return river.JobSnooze(min(q.cfg.UnknownEndpointGrace-age, q.cfg.UnknownEndpointGrace/10, unknownRecheck))
		}
	}
	// River counts the attempt it is making now; the Runner, those
	// made before it.
	d := job.Args.delivery(job.Attempt - 1)
	d.LastAnswer = lastAnswer(job.Metadata)
	slot := new(attemptLog)
	q.running.Store(d.ID, slot)
	defer q.running.Delete(d.ID)

	var res webhook.Result
	if job.Args.GiveUp != "" {
		res = webhook.Result{Outcome: webhook.OutcomeFailed, Err: r.GiveUp(d, errors.New(job.Args.GiveUp))}
	} else {
		res = r.Attempt(ctx, d)
	}
	if l, ok := slot.load(); ok {
		if err := river.RecordOutput(ctx, outputOf(l)); err != nil {
			q.cfg.Logger.Warn("webhookriver: keeping the delivery log", "delivery_id", d.ID, "error", err)
		}
	}
	switch res.Outcome {
	case webhook.OutcomeDelivered:
		return nil
	case webhook.OutcomeRetry:
		q.delays.Store(job.ID, res.Delay)
		return errOr(res.Err)
	case webhook.OutcomeDeferred:
		return river.JobSnooze(res.Delay)
	case webhook.OutcomeInterrupted:
		return river.JobSnooze(0)
	default: // OutcomeFailed
		return river.JobCancel(errOr(res.Err))
	}
}

func errOr(err error) error {
	if err == nil {
		return errors.New("webhookriver: the attempt failed")
	}
	return err
}

// NextRetry is when the attempt that just failed is retried: after the
// Emitter's own delay.
func (w *worker[TTx]) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	if d, ok := w.q.delays.LoadAndDelete(job.ID); ok {
		return time.Now().Add(d.(time.Duration))
	}
	// Not from Work's Result (River failed the attempt itself): the
	// endpoint's schedule.
	r := w.q.state.Load().runner
	if d, ok := r.NextRetry(job.Args.delivery(job.Attempt), job.Attempt); ok {
		return time.Now().Add(d)
	}
	return time.Now().Add(time.Minute)
}

// Timeout is the endpoint's Timeout, which bounds the attempt, and a
// margin: River cancels the attempt only if it hangs past its own bound.
func (w *worker[TTx]) Timeout(job *river.Job[deliveryArgs]) time.Duration {
	r := w.q.state.Load().runner
	return r.AttemptTimeout(job.Args.delivery(job.Attempt-1)) + attemptSlack
}

// lastAnswer is the answer the output of a job's earlier attempt keeps,
// nil when there is none.
func lastAnswer(metadata []byte) *webhook.Answer {
	o, err := jobOutput(metadata)
	if err != nil || o == nil || o.StatusCode == 0 {
		return nil
	}
	return &webhook.Answer{StatusCode: o.StatusCode, Body: o.ResponseBody}
}
