//! `perflab scan`'s overall view: every target's profile on one clock (the process's own CPU
//! time) and one column, each under a root frame named by its command, so one table and one
//! flamegraph rank functions across targets; and with a baseline, what got hotter.

use std::collections::{BTreeMap, BTreeSet};

use perflab_model::profile::ProfileSummary;

use crate::session::{flat_shares, on_process_clock, overall_outputs, strip_roots, OutputFile};
use crate::summary::{self, RunFacts};
use crate::{flame, Profile, ProfileError, ValueType};

/// The targets profiled so far, together.
#[derive(Debug, Clone)]
pub struct Overall {
    profile: Profile,
    cpu_total: f64,
    backends: BTreeSet<String>,
    targets: Vec<String>,
}

impl Default for Overall {
    fn default() -> Self {
        Overall {
            profile: Profile::new(vec![ValueType::new("cpu", "nanoseconds")]),
            cpu_total: 0.0,
            backends: BTreeSet::new(),
            targets: Vec::new(),
        }
    }
}

/// What to compare the overall profile with.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// How output names it.
    pub label: String,
    /// Its profile (target roots stripped), when the file still exists.
    pub profile: Option<Profile>,
    /// Its stored flat shares, used when the profile is gone.
    pub top: BTreeMap<String, f64>,
    /// Its targets (root frames) when it is a scan's overall profile; empty otherwise.
    pub targets: Vec<String>,
}

impl Baseline {
    /// A profile file (any format perflab reads), or None when `path` is not one.
    pub fn from_file(path: &std::path::Path) -> Option<Baseline> {
        let data = std::fs::read(path).ok()?;
        let label = path.display().to_string();
        let p = crate::read_any(&data, &label).ok()?;
        Some(Baseline {
            label,
            profile: Some(p),
            top: BTreeMap::new(),
            targets: Vec::new(),
        })
    }

    /// A stored run's profile: a scan's overall one (its targets as root frames), else its
    /// first; the profile is read from the pprof file the run names, when it is still there.
    /// None when the run has no profile.
    pub fn from_run(label: String, run: &perflab_model::Run) -> Option<Baseline> {
        let s = (run.profiles.iter().find(|s| s.target == "all")).or(run.profiles.first())?;
        let top = s
            .top
            .iter()
            .map(|r| (r.function.clone(), r.flat_share))
            .collect();
        let profile = (s.files.get("pprof"))
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|d| crate::read_any(&d, &label).ok());
        let targets = if s.target == "all" {
            run.command.clone()
        } else {
            Vec::new()
        };
        Some(Baseline {
            label,
            profile,
            top,
            targets,
        })
    }
}

impl Overall {
    /// Add one target's CPU profile and summary under the root frame `target`. Returns a note
    /// when the profile has no CPU-time column (it is then left out).
    pub fn add(&mut self, cpu: &Profile, s: &ProfileSummary, target: &str) -> Option<String> {
        let shown = on_process_clock(cpu, s.cpu_time_s);
        let note = shown.type_index("cpu").is_none().then(|| {
            format!(
                "{target}: {} has no CPU-time column; it is left out of the overall table",
                s.backend
            )
        });
        self.profile.merge_from(&shown, Some(target));
        self.cpu_total += s.cpu_time_s.unwrap_or(0.0);
        self.backends.insert(s.backend.clone());
        self.targets.push(target.to_string());
        note
    }

    /// The overall summary (functions only: the target roots are not rows) and its files.
    ///
    /// # Errors
    /// The files cannot be rendered.
    pub fn summary(&self, top: usize) -> Result<(ProfileSummary, Vec<OutputFile>), ProfileError> {
        let facts = RunFacts {
            target: "all".into(),
            backend: self.backends.iter().cloned().collect::<Vec<_>>().join("+"),
            cpu_time_s: (self.cpu_total > 0.0).then_some(self.cpu_total),
            ..RunFacts::default()
        };
        let mut all = summary::summarize(&self.profile, &facts, top);
        all.top.retain(|r| !self.targets.contains(&r.function));
        Ok((all, overall_outputs(&self.profile)?))
    }

    /// Fill `all.baseline_delta` against `base`; returns the differential flamegraph when the
    /// baseline's profile exists. When the baseline scanned the same targets, shares are per
    /// target (`function (target)`) and the flamegraph keeps the target level; otherwise
    /// functions are compared over the whole, targets stripped on both sides.
    ///
    /// # Errors
    /// The flamegraph cannot be rendered.
    pub fn against(
        &self,
        all: &mut ProfileSummary,
        base: &Baseline,
        top: usize,
    ) -> Result<Option<Vec<u8>>, ProfileError> {
        let cur = strip_roots(&self.profile, &self.targets);
        let same_targets =
            !base.targets.is_empty() && self.targets.iter().any(|t| base.targets.contains(t));
        match &base.profile {
            Some(bp) if same_targets => {
                let bi = bp.type_index("cpu").unwrap_or(summary::main_column(bp));
                all.baseline_delta = perflab_analysis::scan::deltas(
                    &crate::session::per_target_shares(bp, bi, &base.targets),
                    &crate::session::per_target_shares(&self.profile, 0, &self.targets),
                    top,
                );
                let title = format!("cpu per target: now against {}", base.label);
                Ok(Some(flame::render_diff(bp, bi, &self.profile, 0, &title)?))
            }
            Some(bp) => {
                let bp = strip_roots(bp, &base.targets);
                let bi = bp.type_index("cpu").unwrap_or(summary::main_column(&bp));
                all.baseline_delta = perflab_analysis::scan::deltas(
                    &flat_shares(&bp, bi),
                    &flat_shares(&cur, 0),
                    top,
                );
                let title = format!("cpu: now against {}", base.label);
                Ok(Some(flame::render_diff(&bp, bi, &cur, 0, &title)?))
            }
            None => {
                all.baseline_delta =
                    perflab_analysis::scan::deltas(&base.top, &flat_shares(&cur, 0), top);
                all.warnings.push(format!(
                    "{} has no profile file left: the delta uses its stored top table only, and no differential flamegraph was drawn",
                    base.label
                ));
                Ok(None)
            }
        }
    }
}
