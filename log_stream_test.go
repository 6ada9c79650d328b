package webhook_test

// The logs handler streams: memory for one page is bounded by the largest
// log, not by the page; the output is the JSON the whole page marshals
// to; every answer, errors included, is JSON with nosniff.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// lsSink is a ResponseWriter that keeps only a hash and a count of the
// body, so that measuring the handler's memory measures nothing of ours.
type lsSink struct {
	h      http.Header
	code   int
	n      int64
	digest [sha256.Size]byte
	sum    hash.Hash
}

func newLSSink() *lsSink { return &lsSink{h: make(http.Header), sum: sha256.New()} }

func (s *lsSink) Header() http.Header { return s.h }
func (s *lsSink) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}

func (s *lsSink) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	s.n += int64(len(p))
	return s.sum.Write(p)
}

func (s *lsSink) finish() { copy(s.digest[:], s.sum.Sum(nil)) }

// lsPayload is a JSON object of about size bytes that is not compact and
// holds characters the JSON encoder escapes (<, >, &, U+2028).
func lsPayload(i, size int) json.RawMessage {
	pad := strings.Repeat("x", max(size-120, 0))
	return json.RawMessage(fmt.Sprintf("{ \"n\": %d,\n  \"html\": \"<b>a & b</b>\u2028\",  \"pad\": %q }", i, pad))
}

// lsEmitter returns an Emitter whose store holds logs with the payloads.
func lsEmitter(t *testing.T, payloads []json.RawMessage) *webhook.Emitter {
	t.Helper()
	store := webhook.NewMemoryLogStore(0).WithMaxBytes(0)
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, p := range payloads {
		done := created.Add(time.Duration(i) * time.Second)
		l := webhook.DeliveryLog{
			ID: fmt.Sprintf("dlv_%04d", i), EndpointName: "orders", EventID: fmt.Sprintf("evt_%04d", i),
			EventType: webhook.Created, Payload: p, Status: webhook.StatusFailed, StatusCode: 500,
			ErrorMessage: "webhook: <status 500> & more", ResponseBody: "busy", Attempts: 1,
			CreatedAt: created, CompletedAt: &done,
		}
		if i%3 == 1 {
			l.Status, l.CompletedAt, l.ResponseBody = webhook.StatusPending, nil, ""
		}
		require.NoError(t, store.Record(context.Background(), l))
	}
	return newEmitter(t, webhook.Config{
		LogStore:  store,
		Endpoints: []webhook.Endpoint{{Name: "orders", URL: "http://127.0.0.1:9/", Secret: dtSecret}},
	})
}

// lsWant is what the handler answered before it streamed: the page
// marshalled whole, with a newline.
func lsWant(t *testing.T, e *webhook.Emitter, q webhook.LogQuery) []byte {
	t.Helper()
	logs, err := e.Logs(context.Background(), q)
	require.NoError(t, err)
	if logs == nil {
		logs = []webhook.DeliveryLog{}
	}
	b, err := json.Marshal(logs)
	require.NoError(t, err)
	return append(b, '\n')
}

// TestLogsHandlerStreamsBoundedMemory: serving 64 logs of 256 KiB (a
// 16 MiB page) allocates less than 2 logs' worth, and the bytes served are
// exactly those of the page marshalled whole. Not parallel: TotalAlloc
// counts every goroutine's allocations.
func TestLogsHandlerStreamsBoundedMemory(t *testing.T) {
	const (
		count   = 64
		logSize = 256 << 10
	)
	payloads := make([]json.RawMessage, count)
	for i := range payloads {
		payloads[i] = lsPayload(i, logSize)
	}
	e := lsEmitter(t, payloads)
	h := e.LogsHandler()
	req := httptest.NewRequest(http.MethodGet, "/logs?limit=1000", nil)

	h.ServeHTTP(newLSSink(), req) // warm up the type caches
	// Two collections empty sync.Pools (the second drops their victim
	// caches): a buffer the warm-up left there must not hide what one
	// request costs.
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	w := newLSSink()
	runtime.ReadMemStats(&before)
	h.ServeHTTP(w, req)
	runtime.ReadMemStats(&after)
	w.finish()

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("page %d bytes, allocated %d bytes serving it", w.n, allocated)
	require.Equal(t, http.StatusOK, w.code)
	require.Greater(t, w.n, int64(count*logSize), "the page is smaller than its payloads")
	assert.Less(t, allocated, uint64(2*logSize), "serving a %d-byte page allocated %d bytes: more than 2 logs' worth", w.n, allocated)

	want := lsWant(t, e, webhook.LogQuery{Limit: 1000})
	assert.Equal(t, int64(len(want)), w.n, "length differs from the page marshalled whole")
	assert.Equal(t, sha256.Sum256(want), w.digest, "bytes differ from the page marshalled whole")
}

// TestLogsHandlerOutput: the handler's output is, byte for byte, the page
// marshalled whole (a JSON array, then a newline), for pages of zero, one
// and several logs, payloads non-compact or null.
func TestLogsHandlerOutput(t *testing.T) {
	t.Parallel()
	payloads := []json.RawMessage{lsPayload(0, 200), nil, json.RawMessage(`[1, 2,  3]`), lsPayload(3, 1000), json.RawMessage(`"s"`)}
	e := lsEmitter(t, payloads)
	srv := httptest.NewServer(e.LogsHandler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name  string
		query string
		q     webhook.LogQuery
	}{
		{"all", "", webhook.LogQuery{}},
		{"one", "limit=1", webhook.LogQuery{Limit: 1}},
		{"two", "limit=2", webhook.LogQuery{Limit: 2}},
		{"pending", "status=pending", webhook.LogQuery{Status: webhook.StatusPending}},
		{"none", "endpoint=nope", webhook.LogQuery{Endpoint: "nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + "/logs?" + tc.query)
			require.NoError(t, err)
			defer resp.Body.Close()
			var got bytes.Buffer
			_, err = got.ReadFrom(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, json.Valid(got.Bytes()), "not JSON: %.300s", got.Bytes())
			assert.Equal(t, string(lsWant(t, e, tc.q)), got.String())
		})
	}
}

// TestLogsHandlerHeaders: every answer, errors included, is JSON, not to
// be sniffed nor cached.
func TestLogsHandlerHeaders(t *testing.T) {
	t.Parallel()
	e := lsEmitter(t, []json.RawMessage{lsPayload(0, 200)})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		method  string
		query   string
		code    int
	}{
		{"ok", e.LogsHandler(), http.MethodGet, "", http.StatusOK},
		{"head", e.LogsHandler(), http.MethodHead, "", http.StatusOK},
		{"bad parameter", e.LogsHandler(), http.MethodGet, "limit=0", http.StatusBadRequest},
		{"limit over the maximum", e.LogsHandler(), http.MethodGet, fmt.Sprintf("limit=%d", webhook.MaxLogLimit+1), http.StatusBadRequest},
		{"method", e.LogsHandler(), http.MethodPost, "", http.StatusMethodNotAllowed},
		{"not made by New", (&webhook.Emitter{}).LogsHandler(), http.MethodGet, "", http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, httptest.NewRequest(tc.method, "/logs?"+tc.query, nil))
			assert.Equal(t, tc.code, rec.Code)
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			if tc.method != http.MethodHead {
				assert.True(t, json.Valid(rec.Body.Bytes()), "not JSON: %q", rec.Body.String())
			}
		})
	}
}

// TestLogsHandlerInvalidPayload: a payload a LogStore holds that is not
// JSON is served as null, and the page around it stays valid JSON.
func TestLogsHandlerInvalidPayload(t *testing.T) {
	t.Parallel()
	e := lsEmitter(t, []json.RawMessage{lsPayload(0, 200), json.RawMessage(`{"broken": `), lsPayload(2, 200)})
	rec := httptest.NewRecorder()
	e.LogsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/logs", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var got []map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), "body: %.300s", rec.Body.String())
	require.Len(t, got, 3)
	byID := make(map[string]any)
	for _, l := range got {
		byID[l["id"].(string)] = l["payload"]
	}
	assert.Nil(t, byID["dlv_0001"])
	assert.NotNil(t, byID["dlv_0000"])
	assert.NotNil(t, byID["dlv_0002"])
}

// TestLogsHandlerUnencodableLog: a log that cannot be encoded (a time
// past year 9999, from a LogStore) gets a JSON 500 when it comes first,
// and aborts the answer when it does not, so that the client never takes
// a short page for a whole one.
func TestLogsHandlerUnencodableLog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		goodLogs int // recorded before the bad one: served first
	}{
		{"first", 0},
		{"after others", 2},
		{"after a page already sent", 40}, // 40 logs of 200 bytes: past the server's buffer
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := webhook.NewMemoryLogStore(0)
			created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			record := func(id string, at time.Time) {
				require.NoError(t, store.Record(context.Background(), webhook.DeliveryLog{
					ID: id, EndpointName: "orders", EventID: "evt_" + id, EventType: webhook.Created,
					Payload: lsPayload(0, 200), Status: webhook.StatusPending, CreatedAt: at,
				}))
			}
			record("bad", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
			for i := range tc.goodLogs {
				record(fmt.Sprintf("good%d", i), created)
			}
			e := newEmitter(t, webhook.Config{
				LogStore:  store,
				Endpoints: []webhook.Endpoint{{Name: "orders", URL: "http://127.0.0.1:9/", Secret: dtSecret}},
			})
			srv := httptest.NewServer(e.LogsHandler())
			t.Cleanup(srv.Close)
			resp, err := srv.Client().Get(srv.URL + "/logs")
			if err != nil && tc.goodLogs > 0 {
				t.Logf("aborted before the headers: %v", err)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			var body bytes.Buffer
			_, readErr := body.ReadFrom(resp.Body)
			if tc.goodLogs == 0 {
				require.NoError(t, readErr)
				assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
				assert.JSONEq(t, `{"error": "cannot encode delivery logs"}`, body.String())
				return
			}
			assert.Error(t, readErr, "the answer was not aborted: %.300s", body.String())
			assert.False(t, json.Valid(body.Bytes()))
		})
	}
}

// lsPayloads are payloads whose compaction and escaping must match
// encoding/json's, byte for byte.
var lsPayloads = []string{
	`{}`, `[]`, `null`, `true`, `-0.5e+10`, `"s"`, `""`,
	"{ \"a\" : [ 1 ,\t2 ,\r\n3 ] }",
	`{"q": "a \"quoted\" word", "b": "back\\slash\\", "sp": "  spaces  inside  "}`,
	`{"esc": "\" < > & \\\" \\u2028"}`,
	"{\"ls\": \"\u2028\", \"ps\": \"\u2029\", \"e2\": \"\u20ac\u2027\u202a\"}",
	"{\"bad utf8\": \"\xff\xfe\", \"ctl\": \"\\u0001\"}",
	`  [ { "x" : { "y" : [ ] } } , "<script>" ]  `,
}

// TestLogsHandlerPayloadEncoding: each payload is served as encoding/json
// serves it.
func TestLogsHandlerPayloadEncoding(t *testing.T) {
	t.Parallel()
	for _, p := range lsPayloads {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			require.True(t, json.Valid([]byte(p)))
			lsCheckPayload(t, json.RawMessage(p))
		})
	}
}

// lsCheckPayload checks that the page of one log with payload p is served
// as json.Marshal makes it.
func lsCheckPayload(t *testing.T, p json.RawMessage) {
	t.Helper()
	e := lsEmitter(t, []json.RawMessage{p})
	rec := httptest.NewRecorder()
	e.LogsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/logs", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, string(lsWant(t, e, webhook.LogQuery{})), rec.Body.String())
}

// FuzzLogsHandlerPayload: any valid JSON payload is served as
// encoding/json serves it.
func FuzzLogsHandlerPayload(f *testing.F) {
	for _, p := range lsPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if !json.Valid(p) {
			return
		}
		lsCheckPayload(t, json.RawMessage(p))
	})
}
