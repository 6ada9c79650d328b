package webhookriver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
)

// migrateLock is the PostgreSQL advisory lock Migrate holds: "webhookr"
// in ASCII.
const migrateLock int64 = 0x776562686f6f6b72

// Migrate brings driver's database up to date: River's migrations, then
// the queue's own (an index of the jobs by delivery ID). It is
// idempotent, and safe to run from several processes at once: on
// PostgreSQL they take turns on an advisory lock, held in a transaction
// of its own while River's migrations run, each in its transaction (so
// the pool needs two connections); on SQLite, whose one writer
// serializes them, a process that loses a race tries again. The tables
// go in the connection's search path: to keep them in a schema of their
// own, set search_path on the pool (pgxpool's RuntimeParams, or the
// search_path parameter of the URL).
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	if err := migrate(ctx, driver); err != nil {
		return fmt.Errorf("webhookriver: migrate: %w", err)
	}
	return nil
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(warnAndUp{slog.Default().Handler()})})
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
		return exec.Exec(ctx, spell(driver, indexSQL))
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
	if err := tx.Exec(ctx, spell(driver, indexSQL)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// sqliteMigrateTries is how many times Migrate tries River's migrations
// on SQLite.
const sqliteMigrateTries = 5
