//! Colour for terminal text, decided by the caller: the renderers stay pure functions and the
//! binary passes [`Style::Ansi`] only when its stream takes colour (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`, a terminal). Codes are added after the layout, so widths never count them.

use anstyle::{AnsiColor, Effects};

/// Whether text carries ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// No escape codes (files, pipes, goldens).
    #[default]
    Plain,
    /// ANSI SGR codes.
    Ansi,
}

/// What a piece of text means, which picks its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    /// As it is.
    #[default]
    Plain,
    /// A regression, a failure: red.
    Bad,
    /// An improvement, a pass: green.
    Good,
    /// A warning, a change within its allowance: yellow.
    Warn,
    /// A header: bold.
    Strong,
}

impl Style {
    /// `text` in `tone`'s colour (unchanged when plain, or for [`Tone::Plain`]).
    pub fn paint(self, tone: Tone, text: &str) -> String {
        let style = match (self, tone) {
            (Style::Plain, _) | (_, Tone::Plain) => return text.to_string(),
            (Style::Ansi, Tone::Bad) => AnsiColor::Red.on_default().effects(Effects::BOLD),
            (Style::Ansi, Tone::Good) => AnsiColor::Green.on_default(),
            (Style::Ansi, Tone::Warn) => AnsiColor::Yellow.on_default(),
            (Style::Ansi, Tone::Strong) => anstyle::Style::new().effects(Effects::BOLD),
        };
        if text.is_empty() {
            return String::new();
        }
        format!("{}{text}{}", style.render(), style.render_reset())
    }
}

/// The tone of a comparison verdict.
pub fn verdict_tone(v: perflab_analysis::Verdict) -> Tone {
    use perflab_analysis::Verdict;
    match v {
        Verdict::Same => Tone::Plain,
        Verdict::Improvement => Tone::Good,
        Verdict::Worse | Verdict::Inconclusive => Tone::Warn,
        Verdict::Regression | Verdict::Error => Tone::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_untouched_and_ansi_wraps() {
        assert_eq!(Style::Plain.paint(Tone::Bad, "regression"), "regression");
        assert_eq!(Style::Ansi.paint(Tone::Plain, "same"), "same");
        let red = Style::Ansi.paint(Tone::Bad, "regression");
        assert!(
            red.starts_with("\x1b[") && red.ends_with("\x1b[0m"),
            "{red:?}"
        );
        assert!(red.contains("regression"));
        assert_eq!(Style::Ansi.paint(Tone::Good, ""), "");
    }
}
