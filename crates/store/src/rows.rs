//! What both backends do the same way, so that each backend module only speaks its SQL: the
//! values of a run's row, a stored document read back, a run id or prefix resolved from the
//! rows it matched, and baselines attached to listed runs.

use perflab_model::{Run, RunSummary};

use crate::{unix_ms, StoreError};

/// The columns of a run's row in `runs`, in the order both schemas list them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRow {
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) started_at: String,
    pub(crate) commit: Option<String>,
    pub(crate) branch: Option<String>,
    pub(crate) dirty: bool,
    pub(crate) interrupted: bool,
    pub(crate) document: String,
    pub(crate) started_unix_ms: i64,
    pub(crate) benchmarks: i64,
    pub(crate) command: String,
}

impl RunRow {
    pub(crate) fn of(run: &Run) -> RunRow {
        let git = run.git.as_ref();
        RunRow {
            id: run.id.clone(),
            kind: run.kind.as_str(),
            started_at: run.started_at.clone(),
            commit: git.map(|g| g.commit.clone()),
            branch: git.and_then(|g| g.branch.clone()),
            dirty: git.is_some_and(|g| g.dirty),
            interrupted: run.interrupted,
            document: run.to_compact_json(),
            started_unix_ms: unix_ms(&run.started_at),
            benchmarks: run.benchmarks.len() as i64,
            command: run.command.join(" "),
        }
    }
}

/// A stored document read back; one that no longer parses is [`StoreError::Corrupt`].
pub(crate) fn parse(id: &str, doc: &str) -> Result<Run, StoreError> {
    Run::from_json(doc).map_err(|e| StoreError::Corrupt {
        id: id.into(),
        message: e.to_string(),
    })
}

/// The LIKE pattern (with `ESCAPE '\\'`) of an id prefix: `%`, `_` and `\\` in it match
/// themselves, so a prefix never matches more than its own characters would.
pub(crate) fn prefix_pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// An append-only insert met a stored run with the same id: the same run again (content
/// equal once parsed, however it was formatted) or another one, refused.
pub(crate) fn same_or_conflict(run: &Run, stored: &str) -> Result<crate::Inserted, StoreError> {
    match Run::from_json(stored) {
        Ok(s) if s == *run => Ok(crate::Inserted::Same),
        _ => Err(StoreError::Conflict(run.id.clone())),
    }
}

/// The run `id_or_prefix` names among the (id, document) rows it matched (at most 3 fetched):
/// an exact id wins, one match is it, several are [`StoreError::Ambiguous`].
pub(crate) fn pick(
    id_or_prefix: &str,
    rows: &[(String, String)],
) -> Result<Option<Run>, StoreError> {
    if let Some((id, doc)) = rows.iter().find(|(id, _)| id == id_or_prefix) {
        return parse(id, doc).map(Some);
    }
    match rows {
        [] => Ok(None),
        [(id, doc)] => parse(id, doc).map(Some),
        _ => Err(StoreError::Ambiguous {
            prefix: id_or_prefix.into(),
            count: rows.len(),
        }),
    }
}

/// Each listed run gets the names of the baselines that point at it.
pub(crate) fn attach_baselines(runs: &mut [RunSummary], baselines: &[(String, String)]) {
    for s in runs {
        s.baselines = baselines
            .iter()
            .filter(|(_, r)| *r == s.id)
            .map(|(n, _)| n.clone())
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_id_wins_over_prefixes_and_several_matches_are_ambiguous() {
        let doc = |id: &str| {
            let mut r = Run::new(perflab_model::RunKind::Run);
            r.id = id.into();
            (id.to_string(), r.to_json())
        };
        let rows = vec![doc("abcd"), doc("abcdef")];
        assert_eq!(pick("abcd", &rows).unwrap().unwrap().id, "abcd");
        assert!(matches!(
            pick("abc", &rows),
            Err(StoreError::Ambiguous { count: 2, .. })
        ));
        assert_eq!(pick("abcde", &rows[1..]).unwrap().unwrap().id, "abcdef");
        assert!(pick("x", &[]).unwrap().is_none());
        let bad = vec![("bad".to_string(), "{".to_string())];
        assert!(matches!(pick("bad", &bad), Err(StoreError::Corrupt { .. })));
        assert_eq!(prefix_pattern("a_b%"), "a\\_b\\%%");
    }
}
