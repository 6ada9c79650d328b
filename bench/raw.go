package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
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

// rawSender is the baseline: plain net/http POSTs of bodies built before
// the run (the library's exact bytes, from Emitter.Preview), unsigned,
// Content-Type application/json, through one client whose transport is
// made once and reused by every run at this concurrency. Each response is
// read to EOF and closed, so its connection goes back to the pool. The
// client has no Timeout (which would cost a timer per request): this is
// what net/http alone costs to move these bytes.
type rawSender struct {
	url    string
	conc   int
	client *http.Client
}

func newRawSender(url string, conc int) *rawSender {
	return &rawSender{url: url, conc: conc, client: &http.Client{Transport: tunedTransport(conc)}}
}

// send posts bodies with s.conc goroutines, each taking the next body
// not yet taken, and returns when every response has been read.
func (s *rawSender) send(ctx context.Context, bodies [][]byte) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, s.conc)
	for g := range s.conc {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(bodies)); i = next.Add(1) - 1 {
				if err := s.post(ctx, bodies[i]); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return firstError(errs)
}

func (s *rawSender) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = contentTypeJSON
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("raw: %s", resp.Status)
	}
	return err
}

var contentTypeJSON = []string{"application/json"}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *rawSender) close() { s.client.CloseIdleConnections() }
