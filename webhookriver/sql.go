package webhookriver

import (
	"strings"

	"github.com/riverqueue/river/riverdriver"
)

// The queue's own queries, in each database's spelling. River's driver
// runs them, with "{river_job}" the job table (in Config.Schema) and "{1}"
// the job kind. Each
// query answers one row: lists are aggregated into a string of
// comma-separated items (River's queue names have no commas).
type dialectSQL struct{ postgres, sqlite string }

// unfinished are the River states of a delivery not yet finished.
const unfinished = `('available', 'scheduled', 'retryable', 'running', 'pending')`

var (
	// statsSQL counts the unfinished deliveries by queue and state:
	// "queue:state:count,…".
	statsSQL = dialectSQL{
		postgres: `SELECT coalesce(string_agg(queue || ':' || state || ':' || n, ','), '') FROM (
	SELECT queue, state::text AS state, count(*) AS n FROM {river_job}
	WHERE kind = {1} AND state IN ` + unfinished + ` GROUP BY queue, state) t`,
		sqlite: `SELECT coalesce(group_concat(queue || ':' || state || ':' || n, ','), '') FROM (
	SELECT queue, state, count(*) AS n FROM {river_job}
	WHERE kind = {1} AND state IN ` + unfinished + ` GROUP BY queue, state)`,
	}

	// queuesSQL lists the queues that hold unfinished deliveries.
	queuesSQL = dialectSQL{
		postgres: `SELECT coalesce(string_agg(DISTINCT queue, ','), '') FROM {river_job} WHERE kind = {1} AND state IN ` + unfinished,
		sqlite:   `SELECT coalesce(group_concat(DISTINCT queue), '') FROM {river_job} WHERE kind = {1} AND state IN ` + unfinished,
	}

	// indexSQL indexes the jobs by delivery ID, for LogStore.Get.
	indexSQL = dialectSQL{
		postgres: `CREATE INDEX IF NOT EXISTS river_job_webhook_delivery_id ON {river_job} ((args ->> 'id'))`,
		sqlite:   `CREATE INDEX IF NOT EXISTS river_job_webhook_delivery_id ON {river_job} (args ->> 'id')`,
	}
)

// sql returns s for the queue's database.
func (q *Queue[TTx]) sql(s dialectSQL) string { return spell(q.driver, q.cfg.Schema, s) }

// spell returns s for driver's database, with the job table in schema
// ("": the search path's).
func spell[TTx any](driver riverdriver.Driver[TTx], schema string, s dialectSQL) string {
	text := s.postgres
	if driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
		text = s.sqlite
	}
	table := "river_job"
	if schema != "" {
		table = schema + "." + table
	}
	return strings.NewReplacer("{river_job}", table, "{1}", driver.ArgPlaceholder()+placeholderIndex(driver)).Replace(text)
}

// placeholderIndex is what follows the placeholder character of the
// first argument: "1" for PostgreSQL's $1, nothing for SQLite's ?.
func placeholderIndex[TTx any](driver riverdriver.Driver[TTx]) string {
	if driver.ArgPlaceholder() == "?" {
		return ""
	}
	return "1"
}
