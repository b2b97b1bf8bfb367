//! Stage: **keep**. The history of runs and the named baselines.
//!
//! Callers see the [`Store`] trait only; [`SqliteStore`] is the embedded default under
//! `.perflab/`. A PostgreSQL store will implement the same trait (the queries are plain SQL over
//! two tables), so no caller changes when a team moves its history to a server.
//!
//! Each run is kept whole as its `perflab.result.v1` document, with the columns that queries
//! need (time, kind, git) beside it. Writes are transactions: a run is recorded completely or
//! not at all.
//!
//! ```
//! use perflab_model::{Run, RunKind};
//! use perflab_store::{SqliteStore, Store};
//! let mut store = SqliteStore::open_in_memory().unwrap();
//! let run = Run::new(RunKind::Import);
//! store.save_run(&run).unwrap();
//! store.save_baseline("main", &run.id).unwrap();
//! assert_eq!(store.baseline("main").unwrap().unwrap().id, run.id);
//! ```

use std::path::Path;

use perflab_model::Run;
use rusqlite::{params, Connection, OptionalExtension};

/// Errors of the history store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("history database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored document no longer parses.
    #[error("stored run {id} is corrupt: {message}")]
    Corrupt {
        /// Run id.
        id: String,
        /// Parser message.
        message: String,
    },
    /// A run id prefix matched more than one run.
    #[error("run id {prefix:?} is ambiguous ({count} runs start with it; give more characters)")]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// How many matched.
        count: usize,
    },
    /// The run to name as a baseline does not exist.
    #[error("no run {0:?} in the history (see `perflab log`)")]
    NoSuchRun(String),
}

/// One line of `perflab log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Run kind.
    pub kind: String,
    /// Start time.
    pub started_at: String,
    /// Git commit.
    pub commit: Option<String>,
    /// Git branch.
    pub branch: Option<String>,
    /// Uncommitted changes.
    pub dirty: bool,
    /// Interrupted run.
    pub interrupted: bool,
    /// Number of benchmarks.
    pub benchmarks: usize,
    /// The command measured, if any.
    pub command: String,
    /// Baseline names pointing at it.
    pub baselines: Vec<String>,
}

/// Filters for [`Store::list_runs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs on this branch.
    pub branch: Option<String>,
    /// Only runs of this kind.
    pub kind: Option<String>,
    /// Only runs started before this run (by time, then id).
    pub before: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// A history of runs and baselines.
pub trait Store {
    /// Record a run (replacing one with the same id).
    ///
    /// # Errors
    /// Database errors.
    fn save_run(&mut self, run: &Run) -> Result<(), StoreError>;

    /// The run with this id, or the only one whose id starts with it.
    ///
    /// # Errors
    /// [`StoreError::Ambiguous`] for a prefix of several ids; database errors.
    fn run(&self, id_or_prefix: &str) -> Result<Option<Run>, StoreError>;

    /// Runs, newest first.
    ///
    /// # Errors
    /// Database errors.
    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError>;

    /// Point a baseline name at a run.
    ///
    /// # Errors
    /// [`StoreError::NoSuchRun`] when the run is not stored.
    fn save_baseline(&mut self, name: &str, run_id: &str) -> Result<(), StoreError>;

    /// The run a baseline names.
    ///
    /// # Errors
    /// Database errors.
    fn baseline(&self, name: &str) -> Result<Option<Run>, StoreError>;

    /// All baselines as (name, run id), by name.
    ///
    /// # Errors
    /// Database errors.
    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Remove a baseline; true when it existed.
    ///
    /// # Errors
    /// Database errors.
    fn delete_baseline(&mut self, name: &str) -> Result<bool, StoreError>;
}

/// The embedded SQLite history.
pub struct SqliteStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
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
);
";

impl SqliteStore {
    /// Open (creating if needed) the database at `path`; its directory must exist.
    ///
    /// # Errors
    /// Database errors (unwritable path, not a database).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        // A CI job and a developer may write at once: wait for the lock rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }

    /// A store that lives in memory (tests, `--no-store` dry runs).
    ///
    /// # Errors
    /// Database errors.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }

    fn parse(id: &str, doc: &str) -> Result<Run, StoreError> {
        Run::from_json(doc).map_err(|e| StoreError::Corrupt {
            id: id.into(),
            message: e.to_string(),
        })
    }
}

impl Store for SqliteStore {
    fn save_run(&mut self, run: &Run) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO runs (id, kind, started_at, git_commit, git_branch, git_dirty, interrupted, document)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.id,
                run.kind.as_str(),
                run.started_at,
                run.git.as_ref().map(|g| g.commit.clone()),
                run.git.as_ref().and_then(|g| g.branch.clone()),
                run.git.as_ref().is_some_and(|g| g.dirty),
                run.interrupted,
                run.to_json(),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn run(&self, id_or_prefix: &str) -> Result<Option<Run>, StoreError> {
        let pattern = format!("{}%", id_or_prefix.replace(['%', '_'], ""));
        let mut stmt = self
            .conn
            .prepare("SELECT id, document FROM runs WHERE id = ?1 OR id LIKE ?2 LIMIT 3")?;
        let rows: Vec<(String, String)> = stmt
            .query_map(params![id_or_prefix, pattern], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        if let Some((id, doc)) = rows.iter().find(|(id, _)| id == id_or_prefix) {
            return Self::parse(id, doc).map(Some);
        }
        match rows.len() {
            0 => Ok(None),
            1 => Self::parse(&rows[0].0, &rows[0].1).map(Some),
            n => Err(StoreError::Ambiguous {
                prefix: id_or_prefix.into(),
                count: n,
            }),
        }
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let before: Option<(String, String)> = match &filter.before {
            Some(id) => self
                .conn
                .query_row(
                    "SELECT started_at, id FROM runs WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
            None => None,
        };
        let mut stmt = self.conn.prepare(
            "SELECT id, document FROM runs
             WHERE (?1 IS NULL OR git_branch = ?1)
               AND (?2 IS NULL OR kind = ?2)
               AND (?3 IS NULL OR started_at < ?3 OR (started_at = ?3 AND id < ?4))
             ORDER BY started_at DESC, id DESC
             LIMIT ?5",
        )?;
        let limit = if filter.limit == 0 {
            -1
        } else {
            filter.limit as i64
        };
        let rows: Vec<(String, String)> = stmt
            .query_map(
                params![
                    filter.branch,
                    filter.kind,
                    before.as_ref().map(|b| b.0.clone()),
                    before.as_ref().map(|b| b.1.clone()),
                    limit
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<Result<_, _>>()?;
        let baselines = self.baselines()?;
        rows.into_iter()
            .map(|(id, doc)| {
                let run = Self::parse(&id, &doc)?;
                Ok(RunSummary {
                    baselines: baselines
                        .iter()
                        .filter(|(_, r)| *r == id)
                        .map(|(n, _)| n.clone())
                        .collect(),
                    id,
                    kind: run.kind.as_str().into(),
                    started_at: run.started_at,
                    commit: run.git.as_ref().map(|g| g.commit.clone()),
                    branch: run.git.as_ref().and_then(|g| g.branch.clone()),
                    dirty: run.git.as_ref().is_some_and(|g| g.dirty),
                    interrupted: run.interrupted,
                    benchmarks: run.benchmarks.len(),
                    command: run.command.join(" "),
                })
            })
            .collect()
    }

    fn save_baseline(&mut self, name: &str, run_id: &str) -> Result<(), StoreError> {
        let run = self
            .run(run_id)?
            .ok_or_else(|| StoreError::NoSuchRun(run_id.into()))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO baselines (name, run_id, created_at) VALUES (?1, ?2, ?3)",
            params![name, run.id, perflab_model::now_rfc3339()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn baseline(&self, name: &str) -> Result<Option<Run>, StoreError> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT run_id FROM baselines WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => self.run(&id),
            None => Ok(None),
        }
    }

    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, run_id FROM baselines ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn delete_baseline(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM baselines WHERE name = ?1", params![name])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perflab_model::{GitInfo, RunKind};

    fn run_at(t: &str, branch: &str) -> Run {
        let mut r = Run::new(RunKind::Run);
        r.started_at = t.into();
        r.git = Some(GitInfo {
            commit: "abc".into(),
            branch: Some(branch.into()),
            dirty: false,
        });
        r
    }

    #[test]
    fn lists_newest_first_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("h.db")).unwrap();
        let a = run_at("2024-01-01T00:00:00.000Z", "main");
        let b = run_at("2024-01-02T00:00:00.000Z", "feature");
        let c = run_at("2024-01-03T00:00:00.000Z", "main");
        for r in [&a, &b, &c] {
            s.save_run(r).unwrap();
        }
        let all = s.list_runs(&RunFilter::default()).unwrap();
        let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec![c.id.as_str(), b.id.as_str(), a.id.as_str()]);
        let main = s
            .list_runs(&RunFilter {
                branch: Some("main".into()),
                limit: 1,
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(main[0].id, c.id);
        let before = s
            .list_runs(&RunFilter {
                before: Some(c.id.clone()),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(before[0].id, b.id);
    }

    #[test]
    fn prefixes_resolve_or_are_ambiguous() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let mut a = Run::new(RunKind::Run);
        a.id = "aaaa1".into();
        let mut b = Run::new(RunKind::Run);
        b.id = "aaaa2".into();
        s.save_run(&a).unwrap();
        s.save_run(&b).unwrap();
        assert_eq!(s.run("aaaa1").unwrap().unwrap().id, "aaaa1");
        assert!(matches!(s.run("aaaa"), Err(StoreError::Ambiguous { .. })));
        assert!(s.run("zzz").unwrap().is_none());
    }

    #[test]
    fn baselines_point_at_stored_runs() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        assert!(matches!(
            s.save_baseline("main", "nope"),
            Err(StoreError::NoSuchRun(_))
        ));
        let r = Run::new(RunKind::Bench);
        s.save_run(&r).unwrap();
        s.save_baseline("main", &r.id).unwrap();
        assert_eq!(s.baselines().unwrap(), vec![("main".into(), r.id.clone())]);
        assert_eq!(
            s.list_runs(&RunFilter::default()).unwrap()[0].baselines,
            vec!["main"]
        );
        assert!(s.delete_baseline("main").unwrap());
        assert!(s.baseline("main").unwrap().is_none());
    }
}
