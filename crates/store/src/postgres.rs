//! The team's history on PostgreSQL: the same tables, points and contract as the SQLite store
//! (`--store postgres://user@host:port/db` or `PERFLAB_STORE`). Versions are recorded in the
//! same `schema_version` table; the schema starts at the SQLite store's current version.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use perflab_model::Run;
use postgres::{Client, NoTls, Transaction};

use crate::rows::{self, RunRow};
use crate::{
    points_of, Acknowledgement, Inserted, Point, RunFilter, RunSummary, Session, Store, StoreError,
    SCHEMA_VERSION,
};

/// PostgreSQL's error as the kind callers act on: no server (a lost or refused connection),
/// locked (lock_not_available, deadlock_detected, serialization_failure: retry), or other.
fn db(e: postgres::Error) -> StoreError {
    let backend = "postgres";
    // postgres::Error's own text is "db error" for a server's error: say what the server said.
    let message = match (e.as_db_error(), std::error::Error::source(&e)) {
        (Some(d), _) => format!("{} ({})", d.message(), d.code().code()),
        // "error connecting to server" says little without its cause (refused, no such host).
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
    .replace('\n', " ");
    match e.as_db_error().map(|d| d.code().code()) {
        None if e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) =>
        {
            StoreError::Unavailable { backend, message }
        }
        Some("55P03" | "40P01" | "40001") => StoreError::Locked { backend, message },
        Some(c) if c.starts_with("08") || c.starts_with("57P") => {
            StoreError::Unavailable { backend, message }
        }
        _ => StoreError::Database { backend, message },
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    git_commit      TEXT,
    git_branch      TEXT,
    git_dirty       BOOLEAN NOT NULL DEFAULT FALSE,
    interrupted     BOOLEAN NOT NULL DEFAULT FALSE,
    document        TEXT NOT NULL,
    started_unix_ms BIGINT NOT NULL DEFAULT 0,
    benchmarks      BIGINT NOT NULL DEFAULT 0,
    command         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_time ON runs (started_unix_ms, id);
CREATE INDEX IF NOT EXISTS runs_branch_time ON runs (git_branch, started_unix_ms);
CREATE TABLE IF NOT EXISTS baselines (
    name       TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    benchmark    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    unit         TEXT NOT NULL,
    better       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    median       DOUBLE PRECISION NOT NULL,
    ci_low       DOUBLE PRECISION,
    ci_high      DOUBLE PRECISION,
    time_unix_ms BIGINT NOT NULL,
    git_commit   TEXT,
    git_branch   TEXT,
    PRIMARY KEY (run_id, benchmark, metric, unit)
);
ALTER TABLE points ADD COLUMN IF NOT EXISTS testbed TEXT;
CREATE INDEX IF NOT EXISTS points_series ON points (benchmark, metric, time_unix_ms);
CREATE INDEX IF NOT EXISTS points_series_run ON points (benchmark, metric, time_unix_ms, run_id);
CREATE INDEX IF NOT EXISTS points_time ON points (time_unix_ms);
CREATE TABLE IF NOT EXISTS acks (
    alert_id TEXT PRIMARY KEY,
    by_name  TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generation (n BIGINT NOT NULL);
INSERT INTO generation (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM generation);
CREATE TABLE IF NOT EXISTS sessions (
    hash            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    can_write       BOOLEAN NOT NULL,
    expires_unix_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
";

/// A PostgreSQL history. One connection behind a mutex (the CLI's needs); a server process
/// that wants more opens more stores. A connection the server dropped (restart, failover,
/// `pg_terminate_backend`) fails the call that meets it and is opened again by the next one.
pub struct PostgresStore {
    client: Mutex<Client>,
    url: String,
    /// The schema its tables live in, when not the connection's default (a project's).
    schema: Option<String>,
    broken: AtomicBool,
}

/// Open a connection, in `schema` when one is given (created when missing).
fn open_client(url: &str, schema: Option<&str>) -> Result<Client, postgres::Error> {
    let mut client = Client::connect(url, NoTls)?;
    if let Some(schema) = schema {
        // The name is checked by the caller (letters, digits, `_`); quoted all the same.
        client.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET search_path TO \"{schema}\""
        ))?;
    }
    Ok(client)
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:pass@host:port/db`) and create or check the schema.
    ///
    /// # Errors
    /// Connection and database errors; [`StoreError::NewerSchema`].
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_in(url, None)
    }

    /// [`PostgresStore::connect`] with the tables in `schema` (created when missing): how one
    /// database holds several projects' histories.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub fn connect_in(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
        let mut client = open_client(url, schema).map_err(db)?;
        let mut tx = client.transaction().map_err(db)?;
        // One migrator at a time when several CI jobs start together.
        tx.batch_execute("SELECT pg_advisory_xact_lock(4242)")
            .map_err(db)?;
        tx.batch_execute(SCHEMA).map_err(db)?;
        let found: Option<i64> = tx
            .query_one("SELECT MAX(version) FROM schema_version", &[])
            .map_err(db)?
            .get(0);
        match found {
            None => {
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )
                .map_err(db)?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(v) if v < SCHEMA_VERSION => {
                // The tables above were created with IF NOT EXISTS: record the version.
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&SCHEMA_VERSION],
                )
                .map_err(db)?;
            }
            Some(_) => {}
        }
        tx.commit().map_err(db)?;
        Ok(PostgresStore {
            client: Mutex::new(client),
            url: url.into(),
            schema: schema.map(str::to_string),
            broken: AtomicBool::new(false),
        })
    }

    /// Record `run` and its points in one transaction; `append_only`: a stored run with this
    /// id is never replaced (the same content is [`Inserted::Same`], other content a
    /// [`StoreError::Conflict`]). Two servers inserting one id at once meet at the primary key.
    fn write_run(&self, run: &Run, append_only: bool) -> Result<Inserted, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(|e| self.fail(e))?;
        let r = RunRow::of(run);
        let on_conflict = if append_only {
            "DO NOTHING"
        } else {
            "DO UPDATE SET kind = EXCLUDED.kind, started_at = EXCLUDED.started_at,
               git_commit = EXCLUDED.git_commit, git_branch = EXCLUDED.git_branch,
               git_dirty = EXCLUDED.git_dirty, interrupted = EXCLUDED.interrupted,
               document = EXCLUDED.document, started_unix_ms = EXCLUDED.started_unix_ms,
               benchmarks = EXCLUDED.benchmarks, command = EXCLUDED.command"
        };
        let written = tx
            .execute(
                &format!(
                    "INSERT INTO runs (id, kind, started_at, git_commit, git_branch, git_dirty,
                     interrupted, document, started_unix_ms, benchmarks, command)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (id) {on_conflict}"
                ),
                &[
                    &r.id,
                    &r.kind,
                    &r.started_at,
                    &r.commit,
                    &r.branch,
                    &r.dirty,
                    &r.interrupted,
                    &r.document,
                    &r.started_unix_ms,
                    &r.benchmarks,
                    &r.command,
                ],
            )
            .map_err(|e| self.fail(e))?;
        if written == 0 {
            let stored: String = tx
                .query_one("SELECT document FROM runs WHERE id = $1", &[&r.id])
                .map_err(|e| self.fail(e))?
                .get(0);
            return rows::same_or_conflict(run, &stored);
        }
        insert_points(&mut tx, run).map_err(|e| self.fail(e))?;
        tx.execute("UPDATE generation SET n = n + 1", &[])
            .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(Inserted::New)
    }

    /// The connection, opened again first when the last call found it gone. When the server
    /// is still away the old one stays, and the call fails with the database's error.
    fn lock(&self) -> MutexGuard<'_, Client> {
        let mut client = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if self.broken.load(Ordering::Relaxed) || client.is_closed() {
            if let Ok(fresh) = open_client(&self.url, self.schema.as_deref()) {
                *client = fresh;
                self.broken.store(false, Ordering::Relaxed);
            }
        }
        client
    }

    /// A database error; one that means the connection is gone marks it for reopening.
    fn fail(&self, e: postgres::Error) -> StoreError {
        let gone = e.is_closed()
            || e.code()
                .is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"));
        if gone {
            self.broken.store(true, Ordering::Relaxed);
        }
        db(e)
    }
}

/// The projects' schemas in the database at `url`.
///
/// # Errors
/// Connection and database errors.
pub(crate) fn project_schemas(url: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut client = Client::connect(url, NoTls).map_err(db)?;
    let rows = client
        .query(
            "SELECT schema_name FROM information_schema.schemata ORDER BY schema_name",
            &[],
        )
        .map_err(db)?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            r.get::<_, String>(0)
                .strip_prefix(prefix)
                .map(str::to_string)
        })
        .collect())
}

/// A point from a row of `SELECT run_id, benchmark, metric, unit, better, n, median, ci_low,
/// ci_high, time_unix_ms, git_commit, git_branch, testbed FROM points`.
fn point_row(r: &postgres::Row) -> Point {
    Point {
        run_id: r.get(0),
        benchmark: r.get(1),
        metric: r.get(2),
        unit: r.get(3),
        better: r.get(4),
        n: r.get::<_, i64>(5) as usize,
        median: r.get(6),
        ci_low: r.get(7),
        ci_high: r.get(8),
        time_unix_ms: r.get(9),
        commit: r.get(10),
        branch: r.get(11),
        testbed: r.get(12),
    }
}

fn insert_points(tx: &mut Transaction<'_>, run: &Run) -> Result<(), postgres::Error> {
    tx.execute("DELETE FROM points WHERE run_id = $1", &[&run.id])?;
    let stmt = tx.prepare(
        "INSERT INTO points (run_id, benchmark, metric, unit, better, n, median, ci_low,
             ci_high, time_unix_ms, git_commit, git_branch, testbed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (run_id, benchmark, metric, unit) DO UPDATE SET median = EXCLUDED.median",
    )?;
    for p in points_of(run) {
        tx.execute(
            &stmt,
            &[
                &p.run_id,
                &p.benchmark,
                &p.metric,
                &p.unit,
                &p.better,
                &(p.n as i64),
                &p.median,
                &p.ci_low,
                &p.ci_high,
                &p.time_unix_ms,
                &p.commit,
                &p.branch,
                &p.testbed,
            ],
        )?;
    }
    Ok(())
}

impl Store for PostgresStore {
    fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.write_run(run, false).map(|_| ())
    }

    fn insert_run(&self, run: &Run) -> Result<Inserted, StoreError> {
        self.write_run(run, true)
    }

    fn generation(&self) -> Result<i64, StoreError> {
        self.lock()
            .query_one("SELECT n FROM generation", &[])
            .map(|r| r.get(0))
            .map_err(|e| self.fail(e))
    }

    fn run(&self, id_or_prefix: &str) -> Result<Option<Run>, StoreError> {
        let pattern = rows::prefix_pattern(id_or_prefix);
        let found = self
            .lock()
            .query(
                "SELECT id, document FROM runs WHERE id = $1 OR id LIKE $2 ESCAPE '\\' LIMIT 3",
                &[&id_or_prefix, &pattern],
            )
            .map_err(|e| self.fail(e))?;
        let found: Vec<(String, String)> = found.iter().map(|r| (r.get(0), r.get(1))).collect();
        rows::pick(id_or_prefix, &found)
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let mut client = self.lock();
        let before: Option<(i64, String)> = match &filter.before {
            Some(id) => client
                .query_opt("SELECT started_unix_ms, id FROM runs WHERE id = $1", &[id])
                .map_err(|e| self.fail(e))?
                .map(|r| (r.get(0), r.get(1))),
            None => None,
        };
        let limit: Option<i64> = (filter.limit > 0).then_some(filter.limit as i64);
        let rows = client
            .query(
                "SELECT id, kind, started_at, started_unix_ms, git_commit, git_branch, git_dirty,
                        interrupted, benchmarks, command
                 FROM runs
                 WHERE ($1::TEXT IS NULL OR git_branch = $1)
                   AND ($2::TEXT IS NULL OR kind = $2)
                   AND ($3::BIGINT IS NULL OR started_unix_ms < $3
                        OR (started_unix_ms = $3 AND id < $4))
                   AND ($6::BIGINT IS NULL OR started_unix_ms >= $6)
                   AND ($7::BIGINT IS NULL OR started_unix_ms < $7)
                 ORDER BY started_unix_ms DESC, id DESC
                 LIMIT $5",
                &[
                    &filter.branch,
                    &filter.kind,
                    &before.as_ref().map(|b| b.0),
                    &before.as_ref().map(|b| b.1.clone()),
                    &limit,
                    &filter.since_unix_ms,
                    &filter.until_unix_ms,
                ],
            )
            .map_err(|e| self.fail(e))?;
        let mut out: Vec<RunSummary> = rows
            .iter()
            .map(|r| RunSummary {
                id: r.get(0),
                kind: r.get(1),
                started_at: r.get(2),
                started_unix_ms: r.get(3),
                commit: r.get(4),
                branch: r.get(5),
                dirty: r.get(6),
                interrupted: r.get(7),
                benchmarks: r.get::<_, i64>(8) as usize,
                command: r.get(9),
                baselines: Vec::new(),
            })
            .collect();
        drop(client);
        rows::attach_baselines(&mut out, &self.baselines()?);
        Ok(out)
    }

    fn series(
        &self,
        benchmark: &str,
        metric: &str,
        branch: Option<&str>,
    ) -> Result<Vec<Point>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT run_id, benchmark, metric, unit, better, n, median, ci_low, ci_high,
                        time_unix_ms, git_commit, git_branch, testbed
                 FROM points
                 WHERE benchmark = $1 AND metric = $2 AND ($3::TEXT IS NULL OR git_branch = $3)
                 ORDER BY time_unix_ms, run_id",
                &[&benchmark, &metric, &branch],
            )
            .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(point_row).collect())
    }

    fn points_since(&self, time_unix_ms: i64) -> Result<Vec<Point>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT run_id, benchmark, metric, unit, better, n, median, ci_low, ci_high,
                        time_unix_ms, git_commit, git_branch, testbed
                 FROM points WHERE time_unix_ms >= $1",
                &[&time_unix_ms],
            )
            .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(point_row).collect())
    }

    fn all_series(&self, branch: Option<&str>) -> Result<Vec<crate::Series>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT run_id, benchmark, metric, unit, better, n, median, ci_low, ci_high,
                        time_unix_ms, git_commit, git_branch, testbed
                 FROM points WHERE ($1::TEXT IS NULL OR git_branch = $1)",
                &[&branch],
            )
            .map_err(|e| self.fail(e))?;
        Ok(crate::group_series(rows.iter().map(point_row).collect()))
    }

    fn latest_medians(&self) -> Result<Vec<(String, String, String, f64)>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT p.benchmark, p.metric, p.unit, p.median FROM points p
                 JOIN (SELECT benchmark, metric, MAX(time_unix_ms) AS t FROM points
                       GROUP BY benchmark, metric) l
                   ON p.benchmark = l.benchmark AND p.metric = l.metric AND p.time_unix_ms = l.t
                 ORDER BY p.benchmark, p.metric",
                &[],
            )
            .map_err(|e| self.fail(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    fn series_keys(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT benchmark, metric, MIN(better) FROM points
                 GROUP BY benchmark, metric ORDER BY benchmark, metric",
                &[],
            )
            .map_err(|e| self.fail(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn save_token(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        let n = self
            .lock()
            .execute(
                "INSERT INTO tokens (name, hash, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &hash, &perflab_model::now_rfc3339()],
            )
            .map_err(|e| self.fail(e))?;
        if n == 0 {
            return Err(StoreError::TokenExists(name.into()));
        }
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .lock()
            .query("SELECT name, created_at FROM tokens ORDER BY name", &[])
            .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM tokens WHERE name = $1", &[&name])
            .map_err(|e| self.fail(e))?
            > 0)
    }

    fn token_name(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_opt("SELECT name FROM tokens WHERE hash = $1", &[&hash])
            .map_err(|e| self.fail(e))?
            .map(|r| r.get(0)))
    }

    fn acknowledge(&self, alert_id: &str, by: &str) -> Result<(), StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT INTO acks (alert_id, by_name, at) VALUES ($1, $2, $3)
             ON CONFLICT (alert_id) DO NOTHING",
            &[&alert_id, &by, &perflab_model::now_rfc3339()],
        )
        .map_err(|e| self.fail(e))?;
        tx.execute("UPDATE generation SET n = n + 1", &[])
            .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))
    }

    fn acknowledged(&self) -> Result<Vec<Acknowledgement>, StoreError> {
        let rows = self
            .lock()
            .query("SELECT alert_id, by_name, at FROM acks", &[])
            .map_err(|e| self.fail(e))?;
        Ok(rows
            .iter()
            .map(|r| Acknowledgement {
                alert_id: r.get(0),
                by: r.get(1),
                at: r.get(2),
            })
            .collect())
    }

    fn unacknowledge(&self, alert_id: &str) -> Result<bool, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(|e| self.fail(e))?;
        let n = tx
            .execute("DELETE FROM acks WHERE alert_id = $1", &[&alert_id])
            .map_err(|e| self.fail(e))?;
        tx.execute("UPDATE generation SET n = n + 1", &[])
            .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(n > 0)
    }

    fn save_session(&self, hash: &str, session: &Session) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO sessions (hash, name, can_write, expires_unix_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (hash) DO UPDATE SET name = EXCLUDED.name,
                   can_write = EXCLUDED.can_write, expires_unix_ms = EXCLUDED.expires_unix_ms",
                &[
                    &hash,
                    &session.name,
                    &session.can_write,
                    &session.expires_unix_ms,
                ],
            )
            .map_err(|e| self.fail(e))
            .map(|_| ())
    }

    fn session(&self, hash: &str, now_unix_ms: i64) -> Result<Option<Session>, StoreError> {
        let mut client = self.lock();
        client
            .execute(
                "DELETE FROM sessions WHERE expires_unix_ms <= $1",
                &[&now_unix_ms],
            )
            .map_err(|e| self.fail(e))?;
        Ok(client
            .query_opt(
                "SELECT name, can_write, expires_unix_ms FROM sessions WHERE hash = $1",
                &[&hash],
            )
            .map_err(|e| self.fail(e))?
            .map(|r| Session {
                name: r.get(0),
                can_write: r.get(1),
                expires_unix_ms: r.get(2),
            }))
    }

    fn delete_session(&self, hash: &str) -> Result<bool, StoreError> {
        self.lock()
            .execute("DELETE FROM sessions WHERE hash = $1", &[&hash])
            .map_err(|e| self.fail(e))
            .map(|n| n > 0)
    }

    fn delete_run(&self, id: &str) -> Result<(), StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(|e| self.fail(e))?;
        let baseline: Option<String> = tx
            .query_opt(
                "SELECT name FROM baselines WHERE run_id = $1 ORDER BY name LIMIT 1",
                &[&id],
            )
            .map_err(|e| self.fail(e))?
            .map(|r| r.get(0));
        if let Some(baseline) = baseline {
            return Err(StoreError::Baselined {
                id: id.into(),
                baseline,
            });
        }
        let n = tx
            .execute("DELETE FROM runs WHERE id = $1", &[&id])
            .map_err(|e| self.fail(e))?;
        if n == 0 {
            return Err(StoreError::NotFound(id.into()));
        }
        tx.execute("UPDATE generation SET n = n + 1", &[])
            .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))
    }

    fn save_baseline(&self, name: &str, run_id: &str) -> Result<Option<String>, StoreError> {
        let run = self
            .run(run_id)?
            .ok_or_else(|| StoreError::NotFound(run_id.into()))?;
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(|e| self.fail(e))?;
        let before: Option<String> = tx
            .query_opt("SELECT run_id FROM baselines WHERE name = $1", &[&name])
            .map_err(|e| self.fail(e))?
            .map(|r| r.get(0));
        tx.execute(
            "INSERT INTO baselines (name, run_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET run_id = EXCLUDED.run_id, created_at = EXCLUDED.created_at",
            &[&name, &run.id, &perflab_model::now_rfc3339()],
        )
        .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(before.filter(|b| *b != run.id))
    }

    fn baseline(&self, name: &str) -> Result<Option<Run>, StoreError> {
        let id: Option<String> = self
            .lock()
            .query_opt("SELECT run_id FROM baselines WHERE name = $1", &[&name])
            .map_err(|e| self.fail(e))?
            .map(|r| r.get(0));
        match id {
            Some(id) => self.run(&id),
            None => Ok(None),
        }
    }

    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .lock()
            .query("SELECT name, run_id FROM baselines ORDER BY name", &[])
            .map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn delete_baseline(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM baselines WHERE name = $1", &[&name])
            .map_err(|e| self.fail(e))?
            > 0)
    }
}
