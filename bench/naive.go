package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookrail/webhook"
)

// naiveSender is the dispatcher a user would write by hand instead of
// using the library: conc goroutines take events from a channel, and for
// each one build the envelope as a map[string]any, json.Marshal it, sign
// it with HMAC-SHA256 over "<unix timestamp>.<body>" (the library's
// scheme, so the receiver's webhook.Verify accepts it), set the content
// type and the three signature headers, and POST it through their own
// tuned transport (made once per concurrency, like the raw one), with a
// client Timeout as anyone sending to a remote endpoint sets. No retries,
// no log, no queue beyond the channel.
type naiveSender struct {
	url    string
	conc   int
	key    []byte
	client *http.Client
}

func newNaiveSender(url string, conc int) *naiveSender {
	return &naiveSender{url: url, conc: conc, key: []byte(secret),
		client: &http.Client{Transport: tunedTransport(conc), Timeout: 30 * time.Second}}
}

// send delivers every event and returns when every response has been read.
func (s *naiveSender) send(ctx context.Context, events []webhook.Event) error {
	jobs := make(chan webhook.Event, s.conc)
	var wg sync.WaitGroup
	errs := make([]error, s.conc)
	for g := range s.conc {
		wg.Go(func() {
			for ev := range jobs {
				if errs[g] == nil {
					errs[g] = s.post(ctx, ev)
				}
			}
		})
	}
	for _, ev := range events {
		jobs <- ev
	}
	close(jobs)
	wg.Wait()
	return firstError(errs)
}

func (s *naiveSender) post(ctx context.Context, ev webhook.Event) error {
	var rnd [16]byte
	rand.Read(rnd[:])
	id := "evt_" + hex.EncodeToString(rnd[:])
	app, name, _ := strings.Cut(ev.Model, ".")
	envelope := map[string]any{
		"id":        id,
		"event":     ev.Type,
		"timestamp": time.Now().UTC().Format(time.RFC3339),
		"model":     map[string]any{"app": app, "name": name, "label": ev.Model},
		"object":    ev.Object,
		"changes":   nil,
		"user":      nil,
	}
	body, err := json.Marshal(envelope)
	if err != nil {
		return err
	}

	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderSignature, signature)
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderEventID, id)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("naive: %s", resp.Status)
	}
	return nil
}

func (s *naiveSender) close() { s.client.CloseIdleConnections() }
