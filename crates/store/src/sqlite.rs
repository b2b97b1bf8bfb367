//! The embedded SQLite history (`.perflab/history.db`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use perflab_model::Run;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::rows::{self, RunRow};
use crate::{
    group_series, points_of, unix_ms, Acknowledgement, Inserted, Point, RunFilter, RunSummary,
    Series, Session, Store, StoreError,
};

/// SQLite's error as the kind callers act on: locked (retry), damaged (do not), or other.
fn db(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let backend = "sqlite";
    let message = e.to_string();
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => StoreError::Locked { backend, message },
        Some(C::DatabaseCorrupt | C::NotADatabase) => {
            StoreError::CorruptDatabase { backend, message }
        }
        Some(
            C::CannotOpen | C::PermissionDenied | C::ReadOnly | C::DiskFull | C::SystemIoFailure,
        ) => StoreError::Unavailable { backend, message },
        _ => StoreError::Database { backend, message },
    }
}

/// Schema migrations, in order; the version is the number applied. Version 1 is the history as
/// perflab 0.1 wrote it; each later step only adds.
const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
    MIGRATION_8,
    MIGRATION_9,
];

/// Version 9: the machine class of a point (a run's `testbed` label), a series' fourth key.
const MIGRATION_9: &str = "ALTER TABLE points ADD COLUMN testbed TEXT;";

/// Version 8: browsers' sessions (the hash of a random id, whose, until when).
const MIGRATION_8: &str = "CREATE TABLE IF NOT EXISTS sessions (
    hash            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    can_write       INTEGER NOT NULL,
    expires_unix_ms INTEGER NOT NULL
);";

/// Version 7: points by time, for the dashboard's view of the newest runs.
const MIGRATION_7: &str = "CREATE INDEX IF NOT EXISTS points_time ON points (time_unix_ms);";

/// Version 6: a generation number bumped by every write, so a server's caches can tell
/// cheaply whether anything changed (by any process).
const MIGRATION_6: &str = "CREATE TABLE IF NOT EXISTS generation (n INTEGER NOT NULL);
    INSERT INTO generation (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM generation);";

const BUMP: &str = "UPDATE generation SET n = n + 1";

/// Version 5: acknowledged change-point alerts.
const MIGRATION_5: &str = "CREATE TABLE IF NOT EXISTS acks (
    alert_id TEXT PRIMARY KEY,
    by_name  TEXT NOT NULL,
    at       TEXT NOT NULL
);";

/// Version 4: a series index that also orders by run, so `series` never sorts.
const MIGRATION_4: &str =
    "CREATE INDEX IF NOT EXISTS points_series_run ON points (benchmark, metric, time_unix_ms, run_id);";

/// Version 3: upload tokens (only their SHA-256 is kept).
const MIGRATION_3: &str = "CREATE TABLE IF NOT EXISTS tokens (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);";

/// Version 1: the tables perflab 0.1 created.
pub(crate) const MIGRATION_1: &str = "CREATE TABLE IF NOT EXISTS runs (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        git_commit  TEXT,
        git_branch  TEXT,
        git_dirty   INTEGER NOT NULL DEFAULT 0,
        interrupted INTEGER NOT NULL DEFAULT 0,
        document    TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS runs_branch_time ON runs (git_branch, started_at);
    CREATE TABLE IF NOT EXISTS baselines (
        name       TEXT PRIMARY KEY,
        run_id     TEXT NOT NULL REFERENCES runs (id),
        created_at TEXT NOT NULL
    );";

/// Version 2: listing columns, real timestamps and the points table.
const MIGRATION_2: &str = "ALTER TABLE runs ADD COLUMN started_unix_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN benchmarks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN command TEXT NOT NULL DEFAULT '';
    CREATE INDEX IF NOT EXISTS runs_time ON runs (started_unix_ms, id);
    CREATE TABLE IF NOT EXISTS points (
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        benchmark    TEXT NOT NULL,
        metric       TEXT NOT NULL,
        unit         TEXT NOT NULL,
        better       TEXT NOT NULL,
        n            INTEGER NOT NULL,
        median       DOUBLE PRECISION NOT NULL,
        ci_low       DOUBLE PRECISION,
        ci_high      DOUBLE PRECISION,
        time_unix_ms INTEGER NOT NULL,
        git_commit   TEXT,
        git_branch   TEXT,
        PRIMARY KEY (run_id, benchmark, metric, unit)
    );
    CREATE INDEX IF NOT EXISTS points_series ON points (benchmark, metric, time_unix_ms);";

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The embedded SQLite history: a few connections over one file, so a server's long read
/// (alerts scan the whole history) does not hold up the others. The file is in WAL mode:
/// readers and the one writer do not block each other.
pub struct SqliteStore {
    /// Connections not in use.
    idle: Mutex<Vec<Connection>>,
    /// Signalled when one comes back.
    returned: Condvar,
    /// The file, to open more (`None` in memory: one connection, the database is its own).
    path: Option<PathBuf>,
    /// Connections opened so far.
    opened: AtomicUsize,
}

/// At most this many connections per store.
const MAX_CONNECTIONS: usize = 8;

/// A connection taken from the store, given back on drop.
struct Conn<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("invariant: held until drop")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("invariant: held until drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.store.idle_list().push(c);
            self.store.returned.notify_one();
        }
    }
}

/// Settings every connection gets.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    // Two perflab commands at once (CI steps) wait for each other instead of failing.
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    // Reads map the file instead of copying pages through read(): a scan of the history
    // (alerts, the dashboard) was mostly kernel copies. 64 MiB of page cache.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -65536;",
    )
    .map_err(db)
}

impl SqliteStore {
    /// Record `run` and its points in one transaction; `append_only`: a stored run with this
    /// id is never replaced (the same content is [`Inserted::Same`], other content a
    /// [`StoreError::Conflict`]).
    fn write_run(&self, run: &Run, append_only: bool) -> Result<Inserted, StoreError> {
        let r = RunRow::of(run);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let verb = if append_only {
            "INSERT OR IGNORE"
        } else {
            "INSERT OR REPLACE"
        };
        let written = tx
            .execute(
                &format!(
                    "{verb} INTO runs (id, kind, started_at, git_commit, git_branch, git_dirty,
                     interrupted, document, started_unix_ms, benchmarks, command)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    r.id,
                    r.kind,
                    r.started_at,
                    r.commit,
                    r.branch,
                    r.dirty,
                    r.interrupted,
                    r.document,
                    r.started_unix_ms,
                    r.benchmarks,
                    r.command,
                ],
            )
            .map_err(db)?;
        if written == 0 {
            let stored: String = tx
                .query_row(
                    "SELECT document FROM runs WHERE id = ?1",
                    params![r.id],
                    |row| row.get(0),
                )
                .map_err(db)?;
            return rows::same_or_conflict(run, &stored);
        }
        insert_points(&tx, run)?;
        tx.execute(BUMP, []).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Inserted::New)
    }

    /// Open (creating if needed) the database at `path` and migrate it to this version; its
    /// directory must exist.
    ///
    /// # Errors
    /// Database errors (unwritable path, not a database); [`StoreError::NewerSchema`].
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        configure(&conn)?;
        // WAL: a reader never waits for the writer nor the writer for readers.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        Self::setup(conn, Some(path.to_path_buf()))
    }

    /// A throw-away in-memory store (tests, `demo`).
    ///
    /// # Errors
    /// Database errors.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(db)?;
        configure(&conn)?;
        Self::setup(conn, None)
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>) -> Result<SqliteStore, StoreError> {
        migrate(&mut conn)?;
        Ok(SqliteStore {
            idle: Mutex::new(vec![conn]),
            returned: Condvar::new(),
            path,
            opened: AtomicUsize::new(1),
        })
    }

    fn idle_list(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic while holding a connection leaves SQLite consistent (transactions roll back).
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection: an idle one, a new one while fewer than the maximum are open, or the next
    /// one given back.
    fn lock(&self) -> Conn<'_> {
        let mut idle = self.idle_list();
        loop {
            if let Some(conn) = idle.pop() {
                return Conn {
                    store: self,
                    conn: Some(conn),
                };
            }
            if let Some(path) = &self.path {
                if self.opened.load(Ordering::Relaxed) < MAX_CONNECTIONS {
                    let fresh = Connection::open(path)
                        .map_err(db)
                        .and_then(|c| configure(&c).map(|()| c));
                    if let Ok(conn) = fresh {
                        self.opened.fetch_add(1, Ordering::Relaxed);
                        return Conn {
                            store: self,
                            conn: Some(conn),
                        };
                    }
                }
            }
            idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The schema version of the open database.
    ///
    /// # Errors
    /// Database errors.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        version(&self.lock())
    }
}

fn version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .map(|v| v.unwrap_or(0))
    .map_err(db)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(db)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
        .map_err(db)?;
    let mut current = version(&tx)?;
    if current == 0 {
        // A history written before versions existed has the version 1 tables already.
        let has_runs: bool = tx
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(db)?
            > 0;
        if has_runs {
            let cols: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'started_unix_ms'",
                    [],
                    |r| r.get(0),
                )
                .map_err(db)?;
            current = if cols > 0 { 2 } else { 1 };
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [current],
            )
            .map_err(db)?;
        }
    }
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    let mut backfill = false;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let v = i as i64 + 1;
        if v <= current {
            continue;
        }
        tx.execute_batch(sql).map_err(db)?;
        backfill |= v == 2;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [v])
            .map_err(db)?;
    }
    // The points of a version 1 history, once every table has all its columns.
    if backfill {
        backfill_v2(&tx)?;
    }
    tx.commit().map_err(db)
}

/// Fill the columns and points that version 2 added from the stored documents; a document
/// that no longer parses keeps its row (so `log` lists it) and gets no points.
fn backfill_v2(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let docs: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, document FROM runs").map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)?
    };
    for (id, doc) in docs {
        let Ok(run) = Run::from_json(&doc) else {
            continue;
        };
        tx.execute(
            "UPDATE runs SET started_unix_ms = ?2, benchmarks = ?3, command = ?4 WHERE id = ?1",
            params![
                id,
                unix_ms(&run.started_at),
                run.benchmarks.len() as i64,
                run.command.join(" ")
            ],
        )
        .map_err(db)?;
        insert_points(tx, &run)?;
    }
    Ok(())
}

fn insert_points(tx: &Transaction<'_>, run: &Run) -> Result<(), StoreError> {
    tx.execute("DELETE FROM points WHERE run_id = ?1", params![run.id])
        .map_err(db)?;
    let mut stmt = tx
        .prepare(
            "INSERT OR REPLACE INTO points (run_id, benchmark, metric, unit, better, n, median, ci_low,
             ci_high, time_unix_ms, git_commit, git_branch, testbed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .map_err(db)?;
    for p in points_of(run) {
        stmt.execute(params![
            p.run_id,
            p.benchmark,
            p.metric,
            p.unit,
            p.better,
            p.n as i64,
            p.median,
            p.ci_low,
            p.ci_high,
            p.time_unix_ms,
            p.commit,
            p.branch,
            p.testbed
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// A point from a row of `SELECT run_id, benchmark, metric, unit, better, n, median, ci_low,
/// ci_high, time_unix_ms, git_commit, git_branch, testbed FROM points`.
fn point_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Point> {
    Ok(Point {
        run_id: r.get(0)?,
        benchmark: r.get(1)?,
        metric: r.get(2)?,
        unit: r.get(3)?,
        better: r.get(4)?,
        n: r.get::<_, i64>(5)? as usize,
        median: r.get(6)?,
        ci_low: r.get(7)?,
        ci_high: r.get(8)?,
        time_unix_ms: r.get(9)?,
        commit: r.get(10)?,
        branch: r.get(11)?,
        testbed: r.get(12)?,
    })
}

impl Store for SqliteStore {
    fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.write_run(run, false).map(|_| ())
    }

    fn insert_run(&self, run: &Run) -> Result<Inserted, StoreError> {
        self.write_run(run, true)
    }

    fn generation(&self) -> Result<i64, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT n FROM generation")
            .map_err(db)?;
        stmt.query_row([], |r| r.get(0)).map_err(db)
    }

    fn run(&self, id_or_prefix: &str) -> Result<Option<Run>, StoreError> {
        let pattern = rows::prefix_pattern(id_or_prefix);
        let found: Vec<(String, String)> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, document FROM runs WHERE id = ?1 OR id LIKE ?2 ESCAPE '\\' LIMIT 3",
                )
                .map_err(db)?;
            let found = stmt
                .query_map(params![id_or_prefix, pattern], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db)?;
            found.collect::<Result<_, _>>().map_err(db)?
        };
        rows::pick(id_or_prefix, &found)
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let conn = self.lock();
        let before: Option<(i64, String)> = match &filter.before {
            Some(id) => conn
                .query_row(
                    "SELECT started_unix_ms, id FROM runs WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?,
            None => None,
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, kind, started_at, started_unix_ms, git_commit, git_branch, git_dirty,
                        interrupted, benchmarks, command
                 FROM runs
                 WHERE (?1 IS NULL OR git_branch = ?1)
                   AND (?2 IS NULL OR kind = ?2)
                   AND (?3 IS NULL OR started_unix_ms < ?3 OR (started_unix_ms = ?3 AND id < ?4))
                   AND (?6 IS NULL OR started_unix_ms >= ?6)
                   AND (?7 IS NULL OR started_unix_ms < ?7)
                 ORDER BY started_unix_ms DESC, id DESC
                 LIMIT ?5",
            )
            .map_err(db)?;
        let limit = if filter.limit == 0 {
            -1
        } else {
            filter.limit as i64
        };
        let rows = stmt
            .query_map(
                params![
                    filter.branch,
                    filter.kind,
                    before.as_ref().map(|b| b.0),
                    before.as_ref().map(|b| b.1.clone()),
                    limit,
                    filter.since_unix_ms,
                    filter.until_unix_ms,
                ],
                |r| {
                    Ok(RunSummary {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        started_at: r.get(2)?,
                        started_unix_ms: r.get(3)?,
                        commit: r.get(4)?,
                        branch: r.get(5)?,
                        dirty: r.get(6)?,
                        interrupted: r.get(7)?,
                        benchmarks: r.get::<_, i64>(8)? as usize,
                        command: r.get(9)?,
                        baselines: Vec::new(),
                    })
                },
            )
            .map_err(db)?;
        let mut out: Vec<RunSummary> = rows.collect::<Result<_, _>>().map_err(db)?;
        drop(stmt);
        drop(conn);
        rows::attach_baselines(&mut out, &self.baselines()?);
        Ok(out)
    }

    fn series(
        &self,
        benchmark: &str,
        metric: &str,
        branch: Option<&str>,
    ) -> Result<Vec<Point>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT run_id, benchmark, metric, unit, better, n, median, ci_low, ci_high,
                        time_unix_ms, git_commit, git_branch, testbed
                 FROM points
                 WHERE benchmark = ?1 AND metric = ?2 AND (?3 IS NULL OR git_branch = ?3)
                 ORDER BY time_unix_ms, run_id",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![benchmark, metric, branch], point_row)
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn latest_medians(&self) -> Result<Vec<(String, String, String, f64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT p.benchmark, p.metric, p.unit, p.median FROM points p
                 JOIN (SELECT benchmark, metric, MAX(time_unix_ms) AS t FROM points
                       GROUP BY benchmark, metric) l
                   ON p.benchmark = l.benchmark AND p.metric = l.metric AND p.time_unix_ms = l.t
                 ORDER BY p.benchmark, p.metric",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    /// One scan of the points table, grouped here: a query per series walks the index and
    /// fetches every row at random (most of the time of alerts on a large history).
    fn all_series(&self, branch: Option<&str>) -> Result<Vec<Series>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT run_id, benchmark, metric, unit, better, n, median, ci_low, ci_high,
                        time_unix_ms, git_commit, git_branch, testbed
                 FROM points WHERE (?1 IS NULL OR git_branch = ?1)",
            )
            .map_err(db)?;
        let points = stmt
            .query_map(params![branch], point_row)
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        Ok(group_series(points))
    }

    fn points_since(&self, time_unix_ms: i64) -> Result<Vec<Point>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT run_id, benchmark, metric, unit, better, n, median, ci_low, ci_high,
                        time_unix_ms, git_commit, git_branch, testbed
                 FROM points WHERE time_unix_ms >= ?1",
            )
            .map_err(db)?;
        let rows = stmt.query_map([time_unix_ms], point_row).map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn series_keys(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT benchmark, metric, MIN(better) FROM points
                 GROUP BY benchmark, metric ORDER BY benchmark, metric",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn save_token(&self, name: &str, hash: &str) -> Result<(), StoreError> {
        let conn = self.lock();
        let exists: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM tokens WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .map_err(db)?;
        if exists > 0 {
            return Err(StoreError::TokenExists(name.into()));
        }
        conn.execute(
            "INSERT INTO tokens (name, hash, created_at) VALUES (?1, ?2, ?3)",
            params![name, hash, perflab_model::now_rfc3339()],
        )
        .map_err(db)?;
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT name, created_at FROM tokens ORDER BY name")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM tokens WHERE name = ?1", params![name])
            .map_err(db)?
            > 0)
    }

    fn token_name(&self, hash: &str) -> Result<Option<String>, StoreError> {
        self.lock()
            .query_row(
                "SELECT name FROM tokens WHERE hash = ?1",
                params![hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }

    fn acknowledge(&self, alert_id: &str, by: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT OR IGNORE INTO acks (alert_id, by_name, at) VALUES (?1, ?2, ?3)",
            params![alert_id, by, perflab_model::now_rfc3339()],
        )
        .map_err(db)?;
        tx.execute(BUMP, []).map_err(db)?;
        tx.commit().map_err(db)
    }

    fn acknowledged(&self) -> Result<Vec<Acknowledgement>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT alert_id, by_name, at FROM acks")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Acknowledgement {
                    alert_id: r.get(0)?,
                    by: r.get(1)?,
                    at: r.get(2)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn unacknowledge(&self, alert_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let n = tx
            .execute("DELETE FROM acks WHERE alert_id = ?1", params![alert_id])
            .map_err(db)?;
        tx.execute(BUMP, []).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(n > 0)
    }

    fn save_session(&self, hash: &str, session: &Session) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT OR REPLACE INTO sessions (hash, name, can_write, expires_unix_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    hash,
                    session.name,
                    session.can_write,
                    session.expires_unix_ms
                ],
            )
            .map_err(db)
            .map(|_| ())
    }

    fn session(&self, hash: &str, now_unix_ms: i64) -> Result<Option<Session>, StoreError> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM sessions WHERE expires_unix_ms <= ?1",
            params![now_unix_ms],
        )
        .map_err(db)?;
        conn.query_row(
            "SELECT name, can_write, expires_unix_ms FROM sessions WHERE hash = ?1",
            params![hash],
            |r| {
                Ok(Session {
                    name: r.get(0)?,
                    can_write: r.get(1)?,
                    expires_unix_ms: r.get(2)?,
                })
            },
        )
        .optional()
        .map_err(db)
    }

    fn delete_session(&self, hash: &str) -> Result<bool, StoreError> {
        self.lock()
            .execute("DELETE FROM sessions WHERE hash = ?1", params![hash])
            .map_err(db)
            .map(|n| n > 0)
    }

    fn delete_run(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let baseline: Option<String> = tx
            .query_row(
                "SELECT name FROM baselines WHERE run_id = ?1 ORDER BY name LIMIT 1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if let Some(baseline) = baseline {
            return Err(StoreError::Baselined {
                id: id.into(),
                baseline,
            });
        }
        // Points go with the run (ON DELETE CASCADE).
        let n = tx
            .execute("DELETE FROM runs WHERE id = ?1", params![id])
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::NotFound(id.into()));
        }
        tx.execute(BUMP, []).map_err(db)?;
        tx.commit().map_err(db)
    }

    fn save_baseline(&self, name: &str, run_id: &str) -> Result<Option<String>, StoreError> {
        let run = self
            .run(run_id)?
            .ok_or_else(|| StoreError::NotFound(run_id.into()))?;
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let before: Option<String> = tx
            .query_row(
                "SELECT run_id FROM baselines WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        tx.execute(
            "INSERT OR REPLACE INTO baselines (name, run_id, created_at) VALUES (?1, ?2, ?3)",
            params![name, run.id, perflab_model::now_rfc3339()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(before.filter(|b| *b != run.id))
    }

    fn baseline(&self, name: &str) -> Result<Option<Run>, StoreError> {
        let id: Option<String> = self
            .lock()
            .query_row(
                "SELECT run_id FROM baselines WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        match id {
            Some(id) => self.run(&id),
            None => Ok(None),
        }
    }

    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT name, run_id FROM baselines ORDER BY name")
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)
    }

    fn delete_baseline(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM baselines WHERE name = ?1", params![name])
            .map_err(db)?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_errors_become_the_kind_a_caller_acts_on() {
        use rusqlite::ffi;
        assert!(matches!(
            db(failure(ffi::SQLITE_BUSY)),
            StoreError::Locked { .. }
        ));
        assert!(matches!(
            db(failure(ffi::SQLITE_LOCKED)),
            StoreError::Locked { .. }
        ));
        assert!(matches!(
            db(failure(ffi::SQLITE_CORRUPT)),
            StoreError::CorruptDatabase { .. }
        ));
        assert!(matches!(
            db(failure(ffi::SQLITE_CANTOPEN)),
            StoreError::Unavailable { .. }
        ));
        assert!(matches!(
            db(failure(ffi::SQLITE_CONSTRAINT)),
            StoreError::Database { .. }
        ));
    }

    #[test]
    fn a_file_that_is_not_a_history_is_a_damaged_database_not_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let e = SqliteStore::open(&path)
            .err()
            .expect("a text file is no database");
        assert!(matches!(e, StoreError::CorruptDatabase { .. }), "{e}");
        assert!(e.to_string().contains("damaged or not a history"), "{e}");
    }
}
