//! Stage: **keep**. The history of runs, their indexed points, and the named baselines.
//!
//! Callers see the [`Store`] trait only (`Send + Sync`, so a web server can share one);
//! [`SqliteStore`] is the embedded default under `.perflab/`. The trait's contract is plain
//! data, never SQL, so a PostgreSQL store implements it without any caller changing.
//!
//! Each run is kept whole as its `perflab.result.v1` document, with the columns that listings
//! need beside it (time as Unix milliseconds, kind, git, benchmark count), so `log` never parses
//! documents. Saving a run also fills the **points** table: one row per run × benchmark × metric
//! with n, median and its confidence interval, time, commit and branch, which trends and
//! change-point alerts read. Writes are transactions: a run and its points are recorded
//! completely or not at all. The schema carries a version and migrates forward on open.
//!
//! ```
//! use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
//! use perflab_store::{SqliteStore, Store};
//! let store = SqliteStore::open_in_memory().unwrap();
//! let mut run = Run::new(RunKind::Import);
//! let mut b = Benchmark::new("parse");
//! b.metrics.push(Metric::new("time", Unit::seconds(), vec![1.0, 2.0, 3.0]));
//! run.benchmarks.push(b);
//! store.save_run(&run).unwrap();
//! store.save_baseline("main", &run.id).unwrap();
//! assert_eq!(store.baseline("main").unwrap().unwrap().id, run.id);
//! let series = store.series("parse", "time", None).unwrap();
//! assert_eq!(series[0].median, 2.0);
//! ```

mod postgres;
mod rows;
mod sqlite;

use perflab_model::Run;

pub use postgres::PostgresStore;
pub use sqlite::{SqliteStore, SCHEMA_VERSION};

/// Open the history a location names: a `postgres://` or `postgresql://` URL, else a SQLite
/// file path (its directory is created when missing).
///
/// # Errors
/// As [`SqliteStore::open`] and [`PostgresStore::connect`].
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres(location) {
        Ok(Box::new(PostgresStore::connect(location)?))
    } else {
        let path = std::path::Path::new(location);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable {
                backend: "sqlite",
                message: format!("cannot create the history directory {}: {e}", dir.display()),
            })?;
        }
        Ok(Box::new(SqliteStore::open(path)?))
    }
}

/// Whether `name` can name a project: 1 to 64 lowercase letters, digits, `-` and `_`,
/// starting with a letter or digit (it becomes a file or schema name).
pub fn is_project_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The prefix of a project's PostgreSQL schema.
const PROJECT_SCHEMA: &str = "perflab_project_";

/// Where a project's history lives beside the store at `location`: for SQLite, a file in the
/// `NAME.projects/` directory next to the store's file; for PostgreSQL, a schema of the same
/// database. `default` is the store itself.
///
/// # Errors
/// A name that is not [`is_project_name`] ([`StoreError::Database`]); as [`open`].
pub fn open_project(location: &str, project: &str) -> Result<Box<dyn Store>, StoreError> {
    if project == "default" {
        return open(location);
    }
    if !is_project_name(project) {
        return Err(StoreError::Database {
            backend: "store",
            message: format!("{project:?} is not a project name (a-z, 0-9, - and _)"),
        });
    }
    if is_postgres(location) {
        let schema = format!("{PROJECT_SCHEMA}{project}");
        Ok(Box::new(PostgresStore::connect_in(
            location,
            Some(&schema),
        )?))
    } else {
        open(
            &projects_dir(location)
                .join(format!("{project}.db"))
                .to_string_lossy(),
        )
    }
}

/// The projects kept beside the store at `location` (besides `default`), sorted.
///
/// # Errors
/// Database errors.
pub fn projects(location: &str) -> Result<Vec<String>, StoreError> {
    let mut out = if is_postgres(location) {
        postgres::project_schemas(location, PROJECT_SCHEMA)?
    } else {
        match std::fs::read_dir(projects_dir(location)) {
            Ok(dir) => dir
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".db").map(str::to_string)
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    out.retain(|p| is_project_name(p));
    out.sort();
    Ok(out)
}

fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

fn projects_dir(location: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(location);
    let stem = path
        .file_stem()
        .map_or("history".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.projects"))
}

/// Errors of the history store. Backend errors carry the backend's message, not its types.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (a statement refused, a constraint): the detail says why.
    #[error("history database ({backend}): {message}")]
    Database {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the database said.
        message: String,
    },
    /// Another process holds the database (SQLite busy or locked past the timeout, a
    /// PostgreSQL lock or deadlock): trying again later may work.
    #[error("history database ({backend}) is locked by another process: {message} (try again)")]
    Locked {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the database said.
        message: String,
    },
    /// The database file is damaged or not a database: trying again will not help.
    #[error("history database ({backend}) is damaged or not a history: {message}")]
    CorruptDatabase {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the database said.
        message: String,
    },
    /// The database cannot be reached (a connection refused or lost, a file that cannot be
    /// opened).
    #[error("history database ({backend}) is unavailable: {message}")]
    Unavailable {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the database or the OS said.
        message: String,
    },
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
    /// The run named (a baseline's run, a run to delete) is not in the history.
    #[error("no run {0:?} in the history (see `perflab log`)")]
    NotFound(String),
    /// An append-only insert met a stored run with this id and other content.
    #[error(
        "run {0} is stored with other content; history is append-only (give the new run a new id)"
    )]
    Conflict(String),
    /// A run a baseline names cannot be removed.
    #[error("run {id} is baseline {baseline:?} (perflab baseline delete {baseline} first)")]
    Baselined {
        /// The run.
        id: String,
        /// The baseline that names it.
        baseline: String,
    },
    /// A token with this name exists already.
    #[error("a token named {0:?} exists (revoke it first: perflab token revoke NAME)")]
    TokenExists(String),
    /// The database was written by a newer perflab.
    #[error("history schema version {found} is newer than this perflab's ({supported}); upgrade perflab")]
    NewerSchema {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
}

pub use perflab_model::RunSummary;

/// Filters for [`Store::list_runs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs on this branch.
    pub branch: Option<String>,
    /// Only runs of this kind.
    pub kind: Option<String>,
    /// Only runs started before this run (by time, then id).
    pub before: Option<String>,
    /// Only runs started at or after this time (Unix ms).
    pub since_unix_ms: Option<i64>,
    /// Only runs started before this time (Unix ms).
    pub until_unix_ms: Option<i64>,
    /// At most this many, newest first (0: all).
    pub limit: usize,
}

/// An acknowledged alert: who (a token's name) and when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The alert's id.
    pub alert_id: String,
    /// The name of the token (or session) that acknowledged it.
    pub by: String,
    /// When.
    pub at: String,
}

/// A browser's signed-in session, looked up by the hash of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose: the token's name it was opened with (`reader` for the read token).
    pub name: String,
    /// It may acknowledge alerts (opened with a named token, not the shared read token).
    pub can_write: bool,
    /// When it ends, Unix ms.
    pub expires_unix_ms: i64,
}

pub use perflab_model::history::{Point, Series};

/// Points grouped into series by benchmark and metric (sorted), each oldest first.
pub fn group_series(points: Vec<Point>) -> Vec<Series> {
    let mut by: std::collections::BTreeMap<(String, String), Series> = Default::default();
    for p in points {
        by.entry((p.benchmark.clone(), p.metric.clone()))
            .or_insert_with(|| Series {
                benchmark: p.benchmark.clone(),
                metric: p.metric.clone(),
                better: p.better.clone(),
                points: Vec::new(),
            })
            .points
            .push(p);
    }
    let mut out: Vec<Series> = by.into_values().collect();
    for s in &mut out {
        s.points
            .sort_by(|a, b| (a.time_unix_ms, &a.run_id).cmp(&(b.time_unix_ms, &b.run_id)));
    }
    out
}

/// The points of a run: one per benchmark and metric with samples.
pub fn points_of(run: &Run) -> Vec<Point> {
    let time_unix_ms = unix_ms(&run.started_at);
    let mut out = Vec::new();
    for b in &run.benchmarks {
        let key = b.key();
        for m in &b.metrics {
            if m.samples.is_empty() {
                continue;
            }
            let s = perflab_stats::summarize(&m.samples, 0.95);
            if !s.center.is_finite() {
                continue;
            }
            out.push(Point {
                run_id: run.id.clone(),
                benchmark: key.clone(),
                metric: m.name.clone(),
                unit: m.unit.to_string(),
                better: m.better.as_str().into(),
                n: s.n,
                median: s.center,
                ci_low: s.ci_low.is_finite().then_some(s.ci_low),
                ci_high: s.ci_high.is_finite().then_some(s.ci_high),
                time_unix_ms,
                commit: run.git.as_ref().map(|g| g.commit.clone()),
                branch: run.git.as_ref().and_then(|g| g.branch.clone()),
                testbed: run.labels.get("testbed").cloned(),
            });
        }
    }
    out
}

/// An RFC 3339 time as Unix milliseconds (0 when it does not parse).
pub fn unix_ms(rfc3339: &str) -> i64 {
    perflab_model::parse_rfc3339_ms(rfc3339).unwrap_or(0)
}

/// What [`Store::insert_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The run was not stored: it is now, with its points.
    New,
    /// The same run was stored already: nothing changed.
    Same,
}

/// A history of runs, points and baselines.
pub trait Store: Send + Sync {
    /// Record a run and its points (replacing a run with the same id: the local commands
    /// that rewrite their own run, such as an interrupted one kept).
    ///
    /// # Errors
    /// Database errors.
    fn save_run(&self, run: &Run) -> Result<(), StoreError>;

    /// Record a run unless its id is taken: what a shared history accepts from uploads. The
    /// same content again is [`Inserted::Same`] (an upload retried); other content under a
    /// stored id is [`StoreError::Conflict`], and the stored run stays as it was.
    ///
    /// # Errors
    /// [`StoreError::Conflict`]; database errors.
    fn insert_run(&self, run: &Run) -> Result<Inserted, StoreError>;

    /// The run with this id, or the only one whose id starts with it.
    ///
    /// # Errors
    /// [`StoreError::Ambiguous`] for a prefix of several ids; [`StoreError::Corrupt`] when its
    /// document no longer parses; database errors.
    fn run(&self, id_or_prefix: &str) -> Result<Option<Run>, StoreError>;

    /// Runs, newest first.
    ///
    /// # Errors
    /// Database errors.
    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError>;

    /// The points of one benchmark and metric, oldest first, optionally on one branch.
    ///
    /// # Errors
    /// Database errors.
    fn series(
        &self,
        benchmark: &str,
        metric: &str,
        branch: Option<&str>,
    ) -> Result<Vec<Point>, StoreError>;

    /// The newest run matching `filter` whose document still parses; each unreadable one is
    /// skipped with a line in `skipped`, so one damaged row never blocks a command.
    ///
    /// # Errors
    /// Database errors.
    fn newest_readable(
        &self,
        filter: &RunFilter,
        skipped: &mut Vec<String>,
    ) -> Result<Option<Run>, StoreError> {
        for s in self.list_runs(filter)? {
            match self.run(&s.id) {
                Ok(Some(run)) => return Ok(Some(run)),
                Ok(None) => {}
                Err(e @ StoreError::Corrupt { .. }) => skipped.push(format!("{e}; skipped")),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The readable run recorded before `run` on its branch, of its kind (`None` when `run`
    /// is not stored or is the first).
    ///
    /// # Errors
    /// Database errors.
    fn previous_run(
        &self,
        run: &Run,
        skipped: &mut Vec<String>,
    ) -> Result<Option<Run>, StoreError> {
        if self.run(&run.id)?.is_none() {
            return Ok(None);
        }
        let filter = RunFilter {
            branch: run.git.as_ref().and_then(|g| g.branch.clone()),
            kind: Some(run.kind.as_str().into()),
            before: Some(run.id.clone()),
            ..RunFilter::default()
        };
        self.newest_readable(&filter, skipped)
    }

    /// The history of a run's series: for each of its benchmark × metric (at most `limit`),
    /// the points on the run's branch. Empty when the run is not stored.
    ///
    /// # Errors
    /// Database errors.
    fn history_of(&self, run: &Run, limit: usize) -> Result<Vec<Series>, StoreError> {
        if self.run(&run.id)?.is_none() {
            return Ok(Vec::new());
        }
        let branch = run.git.as_ref().and_then(|g| g.branch.as_deref());
        let mut out = Vec::new();
        for b in &run.benchmarks {
            for m in b.metrics.iter().filter(|m| !m.samples.is_empty()) {
                if out.len() == limit {
                    return Ok(out);
                }
                let points = self.series(&b.key(), &m.name, branch)?;
                out.push(Series {
                    benchmark: b.key(),
                    metric: m.name.clone(),
                    better: m.better.as_str().into(),
                    points,
                });
            }
        }
        Ok(out)
    }

    /// Every point of the runs started at or after `time_unix_ms` (the dashboard's recent view).
    ///
    /// # Errors
    /// Database errors.
    fn points_since(&self, time_unix_ms: i64) -> Result<Vec<Point>, StoreError>;

    /// The series over the newest `runs` runs only: a cheap view for trend sparklines.
    ///
    /// # Errors
    /// Database errors.
    fn recent_series(&self, runs: usize) -> Result<Vec<Series>, StoreError> {
        let newest = self.list_runs(&RunFilter {
            limit: runs,
            ..RunFilter::default()
        })?;
        let Some(oldest) = newest.last() else {
            return Ok(Vec::new());
        };
        Ok(group_series(self.points_since(oldest.started_unix_ms)?))
    }

    /// A number that changes whenever a run is saved or an alert acknowledged, by this process
    /// or any other writing the same database: what a cache of derived views is keyed by.
    ///
    /// # Errors
    /// Database errors.
    fn generation(&self) -> Result<i64, StoreError>;

    /// Every benchmark × metric that has points, as (benchmark, metric, better), sorted.
    ///
    /// # Errors
    /// Database errors.
    fn series_keys(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// The newest point's (benchmark, metric, unit, median) of every series.
    ///
    /// # Errors
    /// Database errors.
    fn latest_medians(&self) -> Result<Vec<(String, String, String, f64)>, StoreError>;

    /// Every series with its points, oldest first, optionally on one branch.
    ///
    /// # Errors
    /// Database errors.
    fn all_series(&self, branch: Option<&str>) -> Result<Vec<Series>, StoreError> {
        let mut out = Vec::new();
        for (benchmark, metric, better) in self.series_keys()? {
            let points = self.series(&benchmark, &metric, branch)?;
            if !points.is_empty() {
                out.push(Series {
                    benchmark,
                    metric,
                    better,
                    points,
                });
            }
        }
        Ok(out)
    }

    /// Record an upload token by name; only its hash is given and kept.
    ///
    /// # Errors
    /// [`StoreError::TokenExists`]; database errors.
    fn save_token(&self, name: &str, hash: &str) -> Result<(), StoreError>;

    /// Token names with their creation times.
    ///
    /// # Errors
    /// Database errors.
    fn tokens(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Remove a token; true when it existed.
    ///
    /// # Errors
    /// Database errors.
    fn revoke_token(&self, name: &str) -> Result<bool, StoreError>;

    /// The name of the token with this hash, if one is stored.
    ///
    /// # Errors
    /// Database errors.
    fn token_name(&self, hash: &str) -> Result<Option<String>, StoreError>;

    /// Mark an alert acknowledged (idempotent), by whom.
    ///
    /// # Errors
    /// Database errors.
    fn acknowledge(&self, alert_id: &str, by: &str) -> Result<(), StoreError>;

    /// The acknowledged alerts, with who and when.
    ///
    /// # Errors
    /// Database errors.
    fn acknowledged(&self) -> Result<Vec<Acknowledgement>, StoreError>;

    /// Take an acknowledgement back; true when there was one.
    ///
    /// # Errors
    /// Database errors.
    fn unacknowledge(&self, alert_id: &str) -> Result<bool, StoreError>;

    /// Open a session under the hash of its random id.
    ///
    /// # Errors
    /// Database errors.
    fn save_session(&self, hash: &str, session: &Session) -> Result<(), StoreError>;

    /// The session with this hash, unless it has expired by `now_unix_ms` (expired ones are
    /// removed on the way).
    ///
    /// # Errors
    /// Database errors.
    fn session(&self, hash: &str, now_unix_ms: i64) -> Result<Option<Session>, StoreError>;

    /// End a session (sign out); true when it existed.
    ///
    /// # Errors
    /// Database errors.
    fn delete_session(&self, hash: &str) -> Result<bool, StoreError>;

    /// Remove a run with its points. A run a baseline names is kept:
    /// [`StoreError::Baselined`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Baselined`]; database errors.
    fn delete_run(&self, id: &str) -> Result<(), StoreError>;

    /// Remove old runs: on each branch, all but the newest `keep` (when given) and those
    /// started before `before_unix_ms` (when given). Runs a baseline names are always kept.
    /// Returns the ids removed, oldest first.
    ///
    /// # Errors
    /// Database errors.
    fn prune(
        &self,
        keep: Option<usize>,
        before_unix_ms: Option<i64>,
    ) -> Result<Vec<String>, StoreError> {
        let mut runs = self.list_runs(&RunFilter::default())?;
        runs.reverse();
        let mut newer_on_branch: std::collections::HashMap<Option<String>, usize> =
            Default::default();
        let mut doomed = Vec::new();
        // Newest first, counting each branch's runs.
        for r in runs.iter().rev() {
            let n = newer_on_branch.entry(r.branch.clone()).or_default();
            let too_many = keep.is_some_and(|k| *n >= k);
            let too_old = before_unix_ms.is_some_and(|t| r.started_unix_ms < t);
            *n += 1;
            if (too_many || too_old) && r.baselines.is_empty() {
                doomed.push(r.id.clone());
            }
        }
        doomed.reverse();
        for id in &doomed {
            self.delete_run(id)?;
        }
        Ok(doomed)
    }

    /// Point a baseline name at a run; returns the run it named before, if another.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the run is not stored.
    fn save_baseline(&self, name: &str, run_id: &str) -> Result<Option<String>, StoreError>;

    /// The run a baseline names.
    ///
    /// # Errors
    /// Database errors; [`StoreError::Corrupt`].
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
    fn delete_baseline(&self, name: &str) -> Result<bool, StoreError>;
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
        let s = SqliteStore::open(&dir.path().join("h.db")).unwrap();
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
        let s = SqliteStore::open_in_memory().unwrap();
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
        let s = SqliteStore::open_in_memory().unwrap();
        assert!(matches!(
            s.save_baseline("main", "nope"),
            Err(StoreError::NotFound(_))
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

    #[test]
    fn points_are_filled_on_save_and_form_series() {
        let s = SqliteStore::open_in_memory().unwrap();
        for (t, v) in [
            ("2024-01-01T00:00:00.000Z", 1.0),
            ("2024-01-02T00:00:00.000Z", 2.0),
        ] {
            let mut r = run_at(t, "main");
            let mut b = perflab_model::Benchmark::new("parse").with_param("n", "10");
            b.metrics.push(perflab_model::Metric::new(
                "time",
                perflab_model::Unit::seconds(),
                vec![v, v, v * 1.5],
            ));
            r.benchmarks.push(b);
            s.save_run(&r).unwrap();
        }
        let series = s.series("parse/n=10", "time", Some("main")).unwrap();
        let medians: Vec<f64> = series.iter().map(|p| p.median).collect();
        assert_eq!(medians, vec![1.0, 2.0]);
        assert_eq!(series[0].time_unix_ms, 1_704_067_200_000);
        assert!(s
            .series("parse/n=10", "time", Some("other"))
            .unwrap()
            .is_empty());
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_history_migrates_and_keeps_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut r = run_at("2024-03-01T10:00:00.000Z", "main");
        let mut b = perflab_model::Benchmark::new("old");
        b.metrics.push(perflab_model::Metric::new(
            "time",
            perflab_model::Unit::seconds(),
            vec![3.0],
        ));
        r.benchmarks.push(b);
        {
            // The tables exactly as perflab 0.1 created them, with one good and one corrupt run.
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(sqlite::MIGRATION_1).unwrap();
            c.execute(
                "INSERT INTO runs (id, kind, started_at, document) VALUES (?1, 'run', ?2, ?3)",
                rusqlite::params![r.id, r.started_at, r.to_json()],
            )
            .unwrap();
            c.execute(
                "INSERT INTO runs (id, kind, started_at, document) VALUES ('bad', 'run', '2024-01-01T00:00:00Z', '{\"samples\": [null')",
                [],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let listed = s.list_runs(&RunFilter::default()).unwrap();
        assert_eq!(listed.len(), 2, "a corrupt document is still listed");
        assert_eq!(listed[0].id, r.id);
        assert_eq!(listed[0].benchmarks, 1);
        assert_eq!(s.series("old", "time", None).unwrap()[0].median, 3.0);
        assert!(matches!(s.run("bad"), Err(StoreError::Corrupt { .. })));
        // Opening again does not migrate twice.
        drop(s);
        assert_eq!(
            SqliteStore::open(&path).unwrap().schema_version().unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn a_newer_history_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        drop(SqliteStore::open(&path).unwrap());
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO schema_version (version) VALUES (99)", [])
            .unwrap();
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
    }

    #[test]
    fn moving_a_baseline_says_where_it_pointed() {
        let s = SqliteStore::open_in_memory().unwrap();
        let (a, b) = (Run::new(RunKind::Run), Run::new(RunKind::Run));
        s.save_run(&a).unwrap();
        s.save_run(&b).unwrap();
        assert_eq!(s.save_baseline("main", &a.id).unwrap(), None);
        assert_eq!(s.save_baseline("main", &a.id).unwrap(), None);
        assert_eq!(s.save_baseline("main", &b.id).unwrap(), Some(a.id.clone()));
    }

    #[test]
    fn the_store_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<SqliteStore>();
        shared::<Box<dyn Store>>();
    }
}
