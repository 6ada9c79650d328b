package webhookriver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/hookrail/webhook"
)

// migrateLock is the PostgreSQL advisory lock Migrate holds: "webhookr"
// in ASCII.
const migrateLock int64 = 0x776562686f6f6b72

// Migrate brings driver's database up to date: River's migrations, then
// the queue's own (an index of the jobs by delivery ID, and the table
// webhook_endpoint of the endpoints added at runtime: see
// [Queue.EndpointStore]). It is
// idempotent, and safe to run from several processes at once: on
// PostgreSQL they take turns on an advisory lock, held in a transaction
// of its own while River's migrations run, each in its transaction (so
// the pool needs two connections); on SQLite, whose one writer
// serializes them, a process that loses a race tries again. The tables
// go in the connection's search path; MigrateSchema puts them in a
// schema of their own.
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	return MigrateSchema(ctx, driver, "")
}

// MigrateSchema is Migrate for the tables in schema, which must exist:
// the Config.Schema of the queues on them.
func MigrateSchema[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], schema string) error {
	switch {
	case schema != "" && !schemaName.MatchString(schema):
		return fmt.Errorf("webhookriver: migrate: %w: schema: %q is not a plain identifier", webhook.ErrInvalidConfig, schema)
	case schema != "" && driver.DatabaseName() == riverdriver.DatabaseNameSQLite:
		return fmt.Errorf("webhookriver: migrate: %w: schema: PostgreSQL only (a SQLite database is a file of its own)", webhook.ErrInvalidConfig)
	}
	if err := migrate(ctx, driver, schema); err != nil {
		return fmt.Errorf("webhookriver: migrate: %w", err)
	}
	return nil
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], schema string) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(warnAndUp{slog.Default().Handler()}), Schema: schema})
	if err != nil {
		return err
	}
	exec := driver.GetExecutor()
	if driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
		// SQLite's one writer serializes the migrations; a process that
		// lost a race to apply one fails on what the winner made, and
		// its next try finds it recorded.
		for try := 1; ; try++ {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
			if err == nil || try == sqliteMigrateTries || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Duration(try) * 50 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("the migrations of River: %w", err)
		}
		return ownTables(ctx, exec, driver, schema)
	}
	// River's PostgreSQL migrations cannot share one transaction (a new
	// enum value is used by the next): they run in their own while this
	// one holds the lock.
	tx, err := exec.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := tx.PGAdvisoryXactLock(ctx, migrateLock); err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("the migrations of River: %w", err)
	}
	if err := ownTables(ctx, tx, driver, schema); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ownTables creates the queue's own index and tables, unless they exist.
func ownTables[TTx any](ctx context.Context, exec riverdriver.Executor, driver riverdriver.Driver[TTx], schema string) error {
	for _, s := range append([]dialectSQL{indexSQL}, endpointTableSQL...) {
		if err := exec.Exec(ctx, spell(driver, schema, s)); err != nil {
			return err
		}
	}
	return nil
}

// sqliteMigrateTries is how many times Migrate tries River's migrations
// on SQLite.
const sqliteMigrateTries = 5
