package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookrail/webhook"
)

const sendHelp = `
Loads the configuration file (JSON or YAML, as webhook.LoadConfig reads
it: its errors name the file, the line and the key), switches it to Sync
delivery, emits one event and prints each endpoint's outcome: delivered
(status and attempts), failed (the webhook.DeliveryError) or skipped (why
the endpoint does not want the event). Failed attempts are retried as the
file's retry settings say, within --timeout.

The object (and, for updated, the old object, from which "changes" is
computed) are JSON objects; numbers keep their exact text.`

func runSend(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "send", sendHelp)
	configPath := fs.String("config", "", "configuration `file`, .yaml, .yml or .json (required)")
	model := fs.String("model", "", "model `label`, \"app.Model\" (required)")
	eventType := fs.String("event", "", "event `type`: created, updated or deleted (required)")
	objectPath := fs.String("object", "", "JSON `file` of the object (its state after the change), \"-\" for standard input (required)")
	oldPath := fs.String("old", "", "JSON `file` of the object before the change, for updated (default: no changes)")
	id := fs.String("id", "", "event `id` (default: a new \"evt_…\")")
	actor := fs.String("actor", "", "who made the change, `ID:USERNAME`, sent as \"user\"")
	timeout := fs.Duration("timeout", time.Minute, "bound on the whole send, retries included: a `duration`")
	verbose := fs.Bool("verbose", false, "print the library's logs on standard error")
	if code, ok := parse(e, fs, args); !ok {
		return code
	}
	switch {
	case *configPath == "":
		return usageError(e, fs, "--config is required")
	case *model == "":
		return usageError(e, fs, "--model is required")
	case *objectPath == "":
		return usageError(e, fs, "--object is required")
	case *timeout <= 0:
		return usageError(e, fs, "--timeout must be positive")
	}
	ev := webhook.Event{ID: *id, Model: *model}
	switch t := webhook.EventType(*eventType); t {
	case webhook.Created, webhook.Updated, webhook.Deleted:
		ev.Type = t
	case "":
		return usageError(e, fs, "--event is required")
	default:
		return usageError(e, fs, "--event %q: want created, updated or deleted", *eventType)
	}
	if *oldPath != "" && ev.Type != webhook.Updated {
		return usageError(e, fs, "--old is for --event updated")
	}
	if *actor != "" {
		aid, name, ok := strings.Cut(*actor, ":")
		if !ok || aid == "" {
			return usageError(e, fs, `--actor %q: want "ID:USERNAME"`, *actor)
		}
		ev.Actor = &webhook.Actor{ID: aid, Username: name}
	}

	cfg, err := webhook.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(e.stderr, err) // as it is: file, line and key
		return exitUsage
	}
	object, err := readObject(e, "--object", *objectPath)
	if err != nil {
		return inputError(e, fs, err)
	}
	ev.Object = object
	if *oldPath != "" {
		old, err := readObject(e, "--old", *oldPath)
		if err != nil {
			return inputError(e, fs, err)
		}
		ev = withOld(ev, old)
	}

	cfg.Sync = true
	cfg.Queue = nil
	cfg.Logger = slog.New(slog.DiscardHandler)
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	emitter, err := webhook.New(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "hookrail send: %s: %v\n", *configPath, err)
		return exitUsage
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		emitter.Close(closeCtx)
	}()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return send(ctx, e, emitter, ev)
}

// withOld returns ev as an update from old, so that Emit computes its
// changes.
func withOld(ev webhook.Event, old map[string]any) webhook.Event {
	u := webhook.Update(old, ev.Object)
	u.ID, u.Model, u.Actor = ev.ID, ev.Model, ev.Actor
	return u
}

// readObject reads a JSON object, its numbers as json.Number.
func readObject(e *env, what, path string) (map[string]any, error) {
	raw, err := readInput(e, what, path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%s %s: want a JSON object: %w", what, path, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%s %s: want a JSON object, got null", what, path)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s %s: more than one JSON value", what, path)
	}
	return obj, nil
}

// send emits ev and prints each endpoint's outcome.
func send(ctx context.Context, e *env, emitter *webhook.Emitter, ev webhook.Event) int {
	previews, err := emitter.Preview(ctx, ev)
	if err != nil {
		fmt.Fprintf(e.stderr, "hookrail send: %v\n", err)
		return exitUsage
	}
	for _, p := range previews {
		for _, w := range p.Warnings {
			fmt.Fprintf(e.stderr, "warning: endpoint %q: %s\n", p.Endpoint, w)
		}
	}

	emitErr := emitter.Emit(ctx, ev)
	failed := map[string]*webhook.DeliveryError{}
	for _, err := range joined(emitErr) {
		var de *webhook.DeliveryError
		if !errors.As(err, &de) {
			fmt.Fprintf(e.stderr, "hookrail send: %v\n", emitErr)
			if errors.Is(emitErr, webhook.ErrInvalidEvent) {
				return exitUsage
			}
			return exitFail
		}
		failed[de.Endpoint] = de
	}
	logs, err := emitter.Logs(context.WithoutCancel(ctx), webhook.LogQuery{Limit: 10_000})
	if err != nil {
		fmt.Fprintf(e.stderr, "hookrail send: delivery logs: %v\n", err)
		return exitFail
	}
	byEndpoint := map[string]webhook.DeliveryLog{}
	for _, l := range logs {
		byEndpoint[l.EndpointName] = l
	}

	eventID := ev.ID
	for _, l := range logs {
		eventID = l.EventID
	}
	if eventID != "" {
		fmt.Fprintf(e.stdout, "event %s: %s %s\n", eventID, ev.Type, ev.Model)
	} else {
		fmt.Fprintf(e.stdout, "event: %s %s\n", ev.Type, ev.Model)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	code := exitOK
	for _, p := range previews {
		l, logged := byEndpoint[p.Endpoint]
		switch de := failed[p.Endpoint]; {
		case de != nil:
			fmt.Fprintf(tw, "%s\tfailed\t%v\n", p.Endpoint, de)
			code = exitFail
		case logged && l.Status == webhook.StatusDelivered:
			fmt.Fprintf(tw, "%s\tdelivered\t%d %s after %d %s\n", p.Endpoint, l.StatusCode, http.StatusText(l.StatusCode),
				l.Attempts, plural(l.Attempts, "attempt", "attempts"))
		case logged:
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Endpoint, l.Status, l.ErrorMessage)
			code = exitFail
		case p.Skipped != "":
			fmt.Fprintf(tw, "%s\tskipped\t%s\n", p.Endpoint, p.Skipped)
		default:
			fmt.Fprintf(tw, "%s\tnot sent\t\n", p.Endpoint)
		}
	}
	tw.Flush()
	return code
}

// joined returns the errors err joins (errors.Join), err alone when it
// joins none, nothing for nil.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, joined(e)...)
		}
		return out
	}
	return []error{err}
}
