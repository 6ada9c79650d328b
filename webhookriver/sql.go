package webhookriver

import (
	"strconv"
	"strings"

	"github.com/riverqueue/river/riverdriver"
)

// The queue's own queries, in each database's spelling. River's driver
// runs them, with "{river_job}" the job table and "{webhook_endpoint}"
// the endpoint table (in Config.Schema), and "{1}", "{2}"… the arguments
// ($1 in PostgreSQL, ?1 in SQLite). Each query answers one row at most:
// lists are aggregated into a string of comma-separated items (River's
// queue names have no commas) or a JSON array.
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

	// dueSQL makes the waiting deliveries of an endpoint ({3}) in its
	// River queue ({2}) due now, as River's JobRetry does for one job:
	// those of a removed endpoint, to be given up at once.
	dueSQL = dialectSQL{
		postgres: `UPDATE {river_job} SET state = 'available', scheduled_at = now()
	WHERE kind = {1} AND queue = {2} AND args ->> 'endpoint' = {3}
	AND state IN ('available', 'scheduled', 'retryable') AND scheduled_at > now()`,
		sqlite: `UPDATE {river_job} SET state = 'available', scheduled_at = datetime('now', 'subsec')
	WHERE kind = {1} AND queue = {2} AND args ->> 'endpoint' = {3}
	AND state IN ('available', 'scheduled', 'retryable') AND scheduled_at > datetime('now', 'subsec')`,
	}

	// historySQL answers the history of the attempts the job of delivery
	// {2} keeps in its output, a JSON array ("[]" when it has none); no
	// row when there is no such job.
	historySQL = dialectSQL{
		postgres: `SELECT coalesce((metadata -> 'output' -> 'history')::text, '[]') FROM {river_job}
	WHERE kind = {1} AND args ->> 'id' = {2} LIMIT 1`,
		sqlite: `SELECT coalesce(metadata -> '$.output.history', '[]') FROM {river_job}
	WHERE kind = {1} AND args ->> 'id' = {2} LIMIT 1`,
	}

	// redeliveredSQL keeps, in the metadata of the job of delivery {3},
	// the id of the delivery that sent it again ({2}); it answers the
	// job's id, no row when there is no such job.
	redeliveredSQL = dialectSQL{
		postgres: `UPDATE {river_job} SET metadata = metadata || jsonb_build_object('` + redeliveredKey + `', {2}::text)
	WHERE kind = {1} AND args ->> 'id' = {3} RETURNING id`,
		sqlite: `UPDATE {river_job} SET metadata = jsonb_set(metadata, '$.` + redeliveredKey + `', {2})
	WHERE kind = {1} AND args ->> 'id' = {3} RETURNING id`,
	}
)

// The endpoint table: a row per name, its latest change. A removal
// keeps the row, with a NULL spec, so that every process polling the
// changes sees it. Versions are unique, and a change's is above every
// version committed before it (see endpointStore).
var (
	endpointTableSQL = []dialectSQL{{
		postgres: `CREATE TABLE IF NOT EXISTS {webhook_endpoint} (
	name       text PRIMARY KEY,
	spec       bytea,
	version    bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
)`,
		sqlite: `CREATE TABLE IF NOT EXISTS {webhook_endpoint} (
	name       text PRIMARY KEY NOT NULL,
	spec       blob,
	version    integer NOT NULL,
	updated_at timestamp NOT NULL DEFAULT (datetime('now', 'subsec'))
)`,
	}, {
		postgres: `CREATE UNIQUE INDEX IF NOT EXISTS webhook_endpoint_version ON {webhook_endpoint} (version)`,
		sqlite:   `CREATE UNIQUE INDEX IF NOT EXISTS webhook_endpoint_version ON {webhook_endpoint} (version)`,
	}}

	// endpointCreateSQL stores spec {2} under name {1} unless a live
	// endpoint has it; it answers the new version, no row when one has.
	endpointCreateSQL = dialectSQL{
		postgres: `INSERT INTO {webhook_endpoint} AS e (name, spec, version, updated_at)
	VALUES ({1}, {2}, (SELECT coalesce(max(version), 0) + 1 FROM {webhook_endpoint}), statement_timestamp())
	ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, version = excluded.version, updated_at = excluded.updated_at
	WHERE e.spec IS NULL
	RETURNING version`,
		sqlite: `INSERT INTO {webhook_endpoint} AS e (name, spec, version, updated_at)
	VALUES ({1}, {2}, (SELECT coalesce(max(version), 0) + 1 FROM {webhook_endpoint}), datetime('now', 'subsec'))
	ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, version = excluded.version, updated_at = excluded.updated_at
	WHERE e.spec IS NULL
	RETURNING version`,
	}

	// endpointUpdateSQL replaces the spec of the live endpoint {1} with
	// {2}; it answers the new version, no row when none is live.
	endpointUpdateSQL = dialectSQL{
		postgres: `UPDATE {webhook_endpoint}
	SET spec = {2}, version = (SELECT coalesce(max(version), 0) + 1 FROM {webhook_endpoint}), updated_at = statement_timestamp()
	WHERE name = {1} AND spec IS NOT NULL
	RETURNING version`,
		sqlite: `UPDATE {webhook_endpoint}
	SET spec = {2}, version = (SELECT coalesce(max(version), 0) + 1 FROM {webhook_endpoint}), updated_at = datetime('now', 'subsec')
	WHERE name = {1} AND spec IS NOT NULL
	RETURNING version`,
	}

	// endpointDeleteSQL records the removal of the live endpoint {1}; it
	// answers the new version, no row when none is live.
	endpointDeleteSQL = dialectSQL{
		postgres: `UPDATE {webhook_endpoint}
	SET spec = NULL, version = (SELECT coalesce(max(version), 0) + 1 FROM {webhook_endpoint}), updated_at = statement_timestamp()
	WHERE name = {1} AND spec IS NOT NULL
	RETURNING version`,
		sqlite: `UPDATE {webhook_endpoint}
	SET spec = NULL, version = (SELECT coalesce(max(version), 0) + 1 FROM {webhook_endpoint}), updated_at = datetime('now', 'subsec')
	WHERE name = {1} AND spec IS NOT NULL
	RETURNING version`,
	}

	// endpointChangesSQL lists the rows whose version is above {1}, as a
	// JSON array of {name, spec (hex, null when removed), version,
	// updated_at (Unix microseconds)}.
	endpointChangesSQL = dialectSQL{
		postgres: `SELECT coalesce(json_agg(json_build_object(
		'name', name, 'spec', CASE WHEN spec IS NULL THEN NULL ELSE encode(spec, 'hex') END, 'version', version,
		'updated_at', (extract(epoch FROM updated_at) * 1000000)::bigint) ORDER BY version)::text, '[]')
	FROM {webhook_endpoint} WHERE version > {1}`,
		sqlite: `SELECT coalesce(json_group_array(json_object(
		'name', name, 'spec', CASE WHEN spec IS NULL THEN NULL ELSE hex(spec) END, 'version', version,
		'updated_at', CAST(round(unixepoch(updated_at, 'subsec') * 1000) AS INTEGER) * 1000)), '[]')
	FROM (SELECT * FROM {webhook_endpoint} WHERE version > {1} ORDER BY version)`,
	}

	// removedSQL lists, as a JSON array, the names whose latest record is
	// a removal.
	removedSQL = dialectSQL{
		postgres: `SELECT coalesce(json_agg(name)::text, '[]') FROM {webhook_endpoint} WHERE spec IS NULL`,
		sqlite:   `SELECT coalesce(json_group_array(name), '[]') FROM {webhook_endpoint} WHERE spec IS NULL`,
	}
)

// redeliveredKey is the job metadata's key for DeliveryLog.RedeliveredAs
// when it is set after the job finished.
const redeliveredKey = "webhook_redelivered_as"

// sql returns s for the queue's database.
func (q *Queue[TTx]) sql(s dialectSQL) string { return spell(q.driver, q.cfg.Schema, s) }

// spell returns s for driver's database, with the tables in schema ("":
// the search path's).
func spell[TTx any](driver riverdriver.Driver[TTx], schema string, s dialectSQL) string {
	text := s.postgres
	if driver.DatabaseName() == riverdriver.DatabaseNameSQLite {
		text = s.sqlite
	}
	prefix := ""
	if schema != "" {
		prefix = schema + "."
	}
	// $1 in PostgreSQL; ?1 in SQLite, which binds numbered parameters by
	// their number.
	mark := driver.ArgPlaceholder()
	pairs := []string{"{river_job}", prefix + "river_job", "{webhook_endpoint}", prefix + "webhook_endpoint"}
	for i := 1; i <= maxArgs; i++ {
		pairs = append(pairs, "{"+strconv.Itoa(i)+"}", mark+strconv.Itoa(i))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// maxArgs is the most arguments a query of dialectSQL takes.
const maxArgs = 4
