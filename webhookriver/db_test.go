package webhookriver_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql's "sqlite"

	"github.com/hookrail/webhook/webhookriver"
)

// TestMain runs the tests, or, in a process that a test of
// crash_test.go started, that process's part.
func TestMain(m *testing.M) {
	if role := os.Getenv(crashEnvRole); role != "" {
		if err := crashChildMain(role); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// postgresEnv names the variable that holds the test PostgreSQL's URL.
const postgresEnv = "WEBHOOK_TEST_POSTGRES_URL"

// postgresURL returns the URL of a schema of its own on the test
// PostgreSQL, dropped when t ends, or skips t when none is configured.
func postgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skipf("%s is not set: the PostgreSQL tests need a database (e.g. %s=postgres://postgres@127.0.0.1:5432/test)", postgresEnv, postgresEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, base)
	require.NoError(t, err)
	defer admin.Close()
	schema := "webhookriver_" + randomHex(6)
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err, "creating a schema on %s", base)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgxpool.New(ctx, base)
		if err == nil {
			_, err = admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			admin.Close()
		}
		if err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	v := u.Query()
	v.Set("search_path", schema)
	u.RawQuery = v.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pgxDriver returns a migrated riverpgxv5 driver on dbURL, its pool
// closed when t ends.
func pgxDriver(t testing.TB, dbURL string) *riverpgxv5.Driver {
	t.Helper()
	d := pgxDriverUnmigrated(t, dbURL)
	migrate(t, d)
	return d
}

// pgxDriverUnmigrated returns a riverpgxv5 driver on dbURL.
func pgxDriverUnmigrated(t testing.TB, dbURL string) *riverpgxv5.Driver {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return riverpgxv5.New(pool)
}

// sqlDriver returns a migrated riverdatabasesql driver on dbURL.
func sqlDriver(t testing.TB, dbURL string) *riverdatabasesql.Driver {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	d := riverdatabasesql.New(db)
	migrate(t, d)
	return d
}

// sqlitePath returns the path of a new SQLite database in t's temporary
// directory.
func sqlitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "webhooks.db")
}

// openSQLite opens the SQLite database at path as the queue wants it:
// one connection, a busy timeout, WAL.
func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// sqliteDSN is the data source name of the SQLite database at path.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

// sqliteDriver returns a migrated riversqlite driver on the database at
// path.
func sqliteDriver(t testing.TB, path string) *riversqlite.Driver {
	t.Helper()
	d := riversqlite.New(openSQLite(t, path))
	migrate(t, d)
	return d
}

func migrate[TTx any](t testing.TB, d riverdriver.Driver[TTx]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, webhookriver.Migrate(ctx, d))
}

// fast is a Config for tests: short fetch intervals.
// Deliveries for endpoints a process does not have are given up at once
// (see TestUnknownEndpointGrace for the grace).
var fast = webhookriver.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 25 * time.Millisecond,
	UnknownEndpointGrace: time.Nanosecond}
