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

    /// Fill `all.baseline_delta` against `base` (functions, not targets, on both sides);
    /// returns the differential flamegraph when the baseline's profile exists.
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
        match &base.profile {
            Some(bp) => {
                let bi = bp.type_index("cpu").unwrap_or(summary::main_column(bp));
                all.baseline_delta = perflab_analysis::scan::deltas(
                    &flat_shares(bp, bi),
                    &flat_shares(&cur, 0),
                    top,
                );
                let title = format!("cpu: now against {}", base.label);
                Ok(Some(flame::render_diff(bp, bi, &cur, 0, &title)?))
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
