package webhookriver_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
	"github.com/hookrail/webhook/webhookriver"
)

// storeDrivers runs f on a new, migrated database through each driver:
// pgx, database/sql (pgx's stdlib) and SQLite. open makes another handle
// on the same database (another process's).
func storeDrivers(t *testing.T, f func(t *testing.T, open func(t *testing.T) webhook.EndpointStore)) {
	t.Run("pgx", func(t *testing.T) {
		dsn := postgresURL(t)
		f(t, func(t *testing.T) webhook.EndpointStore { return storeOn(t, pgxDriver(t, dsn)) })
	})
	t.Run("database_sql", func(t *testing.T) {
		dsn := postgresURL(t)
		f(t, func(t *testing.T) webhook.EndpointStore { return storeOn(t, sqlDriver(t, dsn)) })
	})
	t.Run("sqlite", func(t *testing.T) {
		path := sqlitePath(t)
		f(t, func(t *testing.T) webhook.EndpointStore { return storeOn(t, sqliteDriver(t, path)) })
	})
}

// storeOn is the EndpointStore of a queue on d, never started: the store
// works without Start, as webhook.New needs.
func storeOn[TTx any](t *testing.T, d riverdriver.Driver[TTx]) webhook.EndpointStore {
	q, err := webhookriver.New(d, fast)
	require.NoError(t, err)
	return q.EndpointStore()
}

// The store's semantics, step by step: create, a taken name, update, a
// missing name, delete, a removed name, create again; the changes after
// each version, one record per name (its latest), in version order.
func TestEndpointStore(t *testing.T) {
	storeDrivers(t, func(t *testing.T, open func(t *testing.T) webhook.EndpointStore) {
		ctx := e2eCtx(t)
		s := open(t)
		begin := time.Now()

		recs, err := s.EndpointChanges(ctx, 0)
		require.NoError(t, err)
		assert.Empty(t, recs, "nothing stored yet")

		// Specs are opaque bytes, kept byte for byte.
		odd := []byte("{\"x\":\"\x00\xff\xfe é\"}")
		steps := []struct {
			op      string // create, update, delete
			name    string
			spec    string
			wantErr error
		}{
			{"create", "a", `{"v":1}`, nil},                             // 1
			{"create", "a", `{"v":"again"}`, webhook.ErrEndpointExists}, // a taken name
			{"update", "b", `{"v":1}`, webhook.ErrEndpointNotFound},     // no b
			{"delete", "b", "", webhook.ErrEndpointNotFound},
			{"update", "a", `{"v":2}`, nil},                              // 2
			{"create", "b", string(odd), nil},                            // 3
			{"delete", "a", "", nil},                                     // 4
			{"delete", "a", "", webhook.ErrEndpointNotFound},             // removed already
			{"update", "a", `{"v":"gone"}`, webhook.ErrEndpointNotFound}, // removed: no update
			{"create", "c", `{"c":1}`, nil},                              // 5
			{"create", "a", `{"v":3}`, nil},                              // 6: a removed name is created again
			{"create", "a", `{"v":"twice"}`, webhook.ErrEndpointExists},  // and is taken again
			{"delete", "never", "", webhook.ErrEndpointNotFound},
		}
		for i, st := range steps {
			var err error
			switch st.op {
			case "create", "update":
				err = s.PutEndpoint(ctx, st.name, []byte(st.spec), st.op == "create")
			case "delete":
				err = s.DeleteEndpoint(ctx, st.name)
			}
			if st.wantErr == nil {
				require.NoError(t, err, "step %d: %s %s", i, st.op, st.name)
			} else {
				require.ErrorIs(t, err, st.wantErr, "step %d: %s %s", i, st.op, st.name)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", st.name), "the error names the endpoint")
			}
		}
		require.Error(t, s.PutEndpoint(ctx, "empty", nil, true), "an empty spec is refused")

		type rec struct {
			Name    string
			Spec    string
			Removed bool
			Version int64
		}
		read := func(after int64) []rec {
			t.Helper()
			recs, err := s.EndpointChanges(ctx, after)
			require.NoError(t, err)
			var out []rec
			for _, r := range recs {
				out = append(out, rec{r.Name, string(r.Spec), r.Spec == nil, r.Version})
				assert.WithinRange(t, r.UpdatedAt, begin.Add(-time.Minute), time.Now().Add(time.Minute), "%s's UpdatedAt", r.Name)
			}
			return out
		}
		cases := []struct {
			after int64
			want  []rec
		}{
			{0, []rec{{"b", string(odd), false, 3}, {"c", `{"c":1}`, false, 5}, {"a", `{"v":3}`, false, 6}}},
			{3, []rec{{"c", `{"c":1}`, false, 5}, {"a", `{"v":3}`, false, 6}}},
			{5, []rec{{"a", `{"v":3}`, false, 6}}},
			{6, nil},
			{100, nil},
		}
		for _, c := range cases {
			assert.Equal(t, c.want, read(c.after), "changes after %d", c.after)
		}

		// A removal is a record of its own, with a nil spec, seen by a
		// poller that saw the versions before it; another handle (another
		// process) reads the same.
		require.NoError(t, s.DeleteEndpoint(ctx, "b"))
		assert.Equal(t, []rec{{"b", "", true, 7}}, read(6))
		other := open(t)
		recs, err = other.EndpointChanges(ctx, 0)
		require.NoError(t, err)
		require.Len(t, recs, 3)
		assert.Equal(t, []string{"c", "a", "b"}, []string{recs[0].Name, recs[1].Name, recs[2].Name})
		assert.Nil(t, recs[2].Spec)
		assert.False(t, recs[1].UpdatedAt.After(recs[2].UpdatedAt), "versions and times agree")
		require.ErrorIs(t, other.PutEndpoint(ctx, "a", []byte(`{}`), true), webhook.ErrEndpointExists)
		require.NoError(t, other.PutEndpoint(ctx, "b", []byte(`{"b":2}`), true))
		assert.Equal(t, []rec{{"b", `{"b":2}`, false, 8}}, read(7))
	})
}

// Writers in several processes and a poller that reads the changes after
// the last version it saw, all at once: the poller misses no change, and
// the versions are unique.
func TestEndpointStoreConcurrentWritersMissNothing(t *testing.T) {
	storeDrivers(t, func(t *testing.T, open func(t *testing.T) webhook.EndpointStore) {
		const (
			writers = 4
			each    = 40
		)
		ctx := e2eCtx(t)
		poller := open(t)
		stores := make([]webhook.EndpointStore, writers)
		for i := range stores {
			stores[i] = open(t)
		}

		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					name := fmt.Sprintf("w%d-%d", w, i)
					if err := s.PutEndpoint(ctx, name, []byte(`{"n":"`+name+`"}`), true); err != nil {
						errs <- err
						return
					}
					if i%3 == 0 { // a change of a name already seen
						if err := s.PutEndpoint(ctx, name, []byte(`{"n":"`+name+`","v":2}`), false); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		seen := map[string]string{} // name → latest spec seen
		versions := map[int64]string{}
		var last int64
		poll := func() {
			recs, err := poller.EndpointChanges(ctx, last)
			require.NoError(t, err)
			for _, r := range recs {
				require.Greater(t, r.Version, last, "only changes after the last version seen, in order")
				if other, dup := versions[r.Version]; dup && other != r.Name {
					t.Fatalf("version %d given to %s and %s", r.Version, other, r.Name)
				}
				versions[r.Version] = r.Name
				seen[r.Name] = string(r.Spec)
				last = r.Version
			}
		}
		for polling := true; polling; {
			select {
			case <-done:
				polling = false
			case <-time.After(time.Millisecond):
			}
			poll()
		}
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		poll()

		require.Len(t, seen, writers*each, "every endpoint was seen by the poller")
		for w := range writers {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				want := `{"n":"` + name + `"}`
				if i%3 == 0 {
					want = `{"n":"` + name + `","v":2}`
				}
				assert.Equal(t, want, seen[name], "the poller has %s's latest spec", name)
			}
		}
		assert.Equal(t, int64(writers*(each+(each+2)/3)), last, "one version per change, none skipped")
	})
}
