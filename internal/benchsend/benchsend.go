// Package benchsend holds the two baselines the library's throughput is
// measured against, shared by the bench command and by the root
// package's BenchmarkThroughput: [Raw], plain net/http POSTs of bodies
// built before the run, and [Naive], the dispatcher a user would write by
// hand instead of using the library.
//
// Both send with a fixed number of goroutines through one client whose
// transport keeps an idle connection for each of them, read every
// response to EOF and close it, and return the first error met once every
// goroutine has stopped. A sender is made once per concurrency and may
// serve any number of runs; Close releases its idle connections.
package benchsend

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookrail/webhook"
)

// tunedTransport is http.DefaultTransport's settings with an idle
// connection kept for each of conc senders: without it, all but two
// connections (the default MaxIdleConnsPerHost) are closed after each
// request and dialled again.
func tunedTransport(conc int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conc
	t.MaxIdleConns = max(t.MaxIdleConns, conc)
	return t
}

// contentTypeJSON is the Content-Type header's value, shared by every
// request of a Raw sender so that setting it allocates nothing.
var contentTypeJSON = []string{"application/json"}

// Raw is the baseline: plain net/http POSTs of bodies built before the
// run (the library's exact bytes, from Emitter.Preview), unsigned, with
// Content-Type application/json, through one client whose tuned transport
// is made once and reused by every run. The client has no Timeout (which
// would cost a timer per request): a Raw sender measures what net/http
// alone costs to move these bytes.
type Raw struct {
	url    string
	conc   int
	client *http.Client
}

// NewRaw returns a Raw sender that posts to url with conc goroutines.
func NewRaw(url string, conc int) *Raw {
	return &Raw{url: url, conc: conc, client: &http.Client{Transport: tunedTransport(conc)}}
}

// Send posts bodies, each goroutine taking the next body not yet taken,
// and returns when every response has been read. A goroutine stops at its
// first error (a failed request or a status other than 2xx); Send returns
// one such error.
func (s *Raw) Send(ctx context.Context, bodies [][]byte) error {
	return fanOut(s.conc, len(bodies), func() func(int) error {
		return func(i int) error { return s.post(ctx, bodies[i]) }
	})
}

// fanOut calls post(i) for every i < n from conc goroutines, each taking
// the next i not yet taken and stopping at its first error; it returns
// one such error. Each goroutine gets its post from start, with any
// state of its own.
func fanOut(conc, n int, start func() func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for g := range conc {
		wg.Go(func() {
			post := start()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if err := post(int(i)); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return firstError(errs)
}

// roundTrip sends req, reads its response to the end and closes it. A
// status other than 2xx is an error naming the sender.
func roundTrip(c *http.Client, req *http.Request, sender string) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("%s: %s", sender, resp.Status)
	}
	return err
}

// post sends one body and reads and closes its response.
func (s *Raw) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = contentTypeJSON
	return roundTrip(s.client, req, "raw")
}

// Close closes the sender's idle connections.
func (s *Raw) Close() { s.client.CloseIdleConnections() }

// Signed is raw plus what every webhook sender must add to a body it has
// already built: at send time, the body is signed in the library's
// scheme (as webhook.Sign signs, with one keyed HMAC per goroutine) and
// sent with the library's headers
// (Content-Type, User-Agent, and the signature, timestamp and event id),
// through the same kind of tuned transport. It is the floor under any
// sender the receiver verifies: the library's extra cost above it is its
// own (marshalling and the envelope, the queue, the log, the timeout).
type Signed struct {
	url    string
	conc   int
	secret string
	client *http.Client
}

// NewSigned returns the signed sender at concurrency conc.
func NewSigned(url, secret string, conc int) *Signed {
	return &Signed{url: url, conc: conc, secret: secret, client: &http.Client{Transport: tunedTransport(conc)}}
}

// Send posts every body, signed, from conc goroutines; ids are the
// bodies' event ids.
func (s *Signed) Send(ctx context.Context, bodies [][]byte, ids []string) error {
	return fanOut(s.conc, len(bodies), func() func(int) error {
		// One HMAC per goroutine, reset for each body: the key's
		// padding is hashed once.
		mac := hmac.New(sha256.New, []byte(s.secret))
		return func(i int) error { return s.post(ctx, mac, bodies[i], ids[i]) }
	})
}

var signedUserAgent = []string{"hookrail-webhook/1"}

func (s *Signed) post(ctx context.Context, mac hash.Hash, body []byte, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	var buf [128]byte
	ts := strconv.AppendInt(buf[:0], time.Now().Unix(), 10)
	n := len(ts)
	mac.Reset()
	mac.Write(append(ts, '.'))
	mac.Write(body)
	sig := append(buf[n:n], "sha256="...)
	sig = hex.AppendEncode(sig, mac.Sum(buf[len(buf)-sha256.Size:len(buf)-sha256.Size]))
	hs := string(buf[:n+len(sig)]) // the timestamp, then the signature
	req.Header["Content-Type"] = contentTypeJSON
	req.Header["User-Agent"] = signedUserAgent
	req.Header[webhook.HeaderSignature] = []string{hs[n:]}
	req.Header[webhook.HeaderTimestamp] = []string{hs[:n]}
	req.Header[webhook.HeaderEventID] = []string{id}
	return roundTrip(s.client, req, "signed")
}

// Close closes the transport's idle connections.
func (s *Signed) Close() { s.client.CloseIdleConnections() }

// Naive is the dispatcher a user would write by hand instead of using the
// library: its goroutines take events from a channel, and for each one
// build the envelope as a map[string]any, json.Marshal it, sign it with
// HMAC-SHA256 over "<unix timestamp>.<body>" (the library's scheme, so
// that webhook.Verify accepts it), set the content type and the three
// signature headers, and POST it through their own tuned transport (made
// once, like Raw's), with a client Timeout as anyone sending to a remote
// endpoint sets. No retries, no log, no queue beyond the channel.
type Naive struct {
	url    string
	conc   int
	key    []byte
	client *http.Client
}

// NewNaive returns a Naive sender that posts to url with conc goroutines,
// signing with secret.
func NewNaive(url, secret string, conc int) *Naive {
	return &Naive{url: url, conc: conc, key: []byte(secret),
		client: &http.Client{Transport: tunedTransport(conc), Timeout: 30 * time.Second}}
}

// Send delivers every event and returns when every response has been
// read. A goroutine that meets an error (a failed request or a status
// other than 2xx) skips the events it takes afterwards; Send returns one
// such error.
func (s *Naive) Send(ctx context.Context, events []webhook.Event) error {
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

// post builds, signs and sends one event's envelope, and reads and closes
// its response.
func (s *Naive) post(ctx context.Context, ev webhook.Event) error {
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

// Close closes the sender's idle connections.
func (s *Naive) Close() { s.client.CloseIdleConnections() }

// firstError returns the first non-nil error of errs, or nil.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
