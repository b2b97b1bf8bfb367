//! The pre-merge checklist: text for a terminal, Markdown for a pull request (the seeds'
//! `- [x]` list with each item's evidence), JSON for scripts.

use perflab_analysis::checklist::{Checklist, ItemStatus};

use crate::escape;

fn commit_line(c: &Checklist) -> String {
    let commit: String = c
        .commit
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .take(12)
        .collect();
    format!("commit {commit}, {} run(s) recorded for it", c.runs)
}

/// For a terminal: one line per item, then the command for each missing piece of evidence.
pub fn checklist_text(c: &Checklist) -> String {
    checklist_text_styled(c, crate::Style::Plain)
}

/// [`checklist_text`] with each item's title coloured by its status.
pub fn checklist_text_styled(c: &Checklist, style: crate::Style) -> String {
    use crate::Tone;
    let mut out = format!(
        "{}\n\n",
        style.paint(
            Tone::Strong,
            &format!("Checklist before merging ({})", commit_line(c))
        )
    );
    for i in &c.items {
        let tone = match i.status {
            ItemStatus::Pass => Tone::Good,
            ItemStatus::Fail => Tone::Bad,
            _ => Tone::Warn,
        };
        out.push_str(&format!(
            "  {} {}\n      {}\n",
            i.status.emoji(),
            style.paint(tone, &escape::terminal(&i.title)),
            escape::terminal(&i.evidence)
        ));
        if let Some(n) = &i.next {
            if i.status != ItemStatus::Pass {
                out.push_str(&format!("      → {}\n", escape::terminal(n)));
            }
        }
    }
    let count = |s: ItemStatus| c.items.iter().filter(|i| i.status == s).count();
    out.push_str(&format!(
        "\n{} passed, {} failed, {} without evidence\n",
        count(ItemStatus::Pass),
        count(ItemStatus::Fail),
        count(ItemStatus::Missing)
    ));
    out
}

/// For a pull request: a task list (checked only where the evidence passed).
pub fn checklist_markdown(c: &Checklist) -> String {
    let mut out = format!(
        "## ✅ Performance checklist\n\n{}\n\n",
        escape::markdown(&commit_line(c))
    );
    for i in &c.items {
        let mark = if i.status == ItemStatus::Pass {
            "x"
        } else {
            " "
        };
        out.push_str(&format!(
            "- [{mark}] {} {} — {}",
            i.status.emoji(),
            escape::markdown(&i.title),
            escape::markdown(&i.evidence)
        ));
        if let Some(n) = i.next.as_ref().filter(|_| i.status != ItemStatus::Pass) {
            out.push_str(&format!(" (`{}`)", n.replace('`', "'")));
        }
        out.push('\n');
    }
    out
}

/// `perflab.checklist.v1`.
pub fn checklist_json(c: &Checklist) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "schema": "perflab.checklist.v1",
        "commit": c.commit,
        "runs": c.runs,
        "failed": c.failed(),
        "items": c.items,
    }))
    .unwrap_or_default();
    s.push('\n');
    s
}
