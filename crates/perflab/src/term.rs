//! The terminal, owned in one place: colour (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, whether
//! the stream is a terminal: anstream decides), verbosity (`-q`, `-v`) and the one progress
//! component (indicatif on a terminal, a plain line every 5 s in a CI log, nothing with `-q`).
//! Commands print their messages through the macros here, never with `eprintln!` directly.

use std::io::IsTerminal as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anstream::ColorChoice;
use perflab_report::{Style, Tone};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ColorWhen {
    /// Colour on a terminal unless `NO_COLOR` is set (`CLICOLOR_FORCE` forces it).
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Debug, Clone, Copy, Default)]
struct Settings {
    quiet: bool,
    verbose: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or_default()
}

/// Set the choices once, before anything prints.
pub(crate) fn init(color: ColorWhen, quiet: bool, verbose: bool) {
    match color {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    }
    .write_global();
    let _ = SETTINGS.set(Settings { quiet, verbose });
}

fn style_of(choice: ColorChoice) -> Style {
    match choice {
        ColorChoice::Never => Style::Plain,
        _ => Style::Ansi,
    }
}

/// How text printed on stdout is styled.
pub(crate) fn stdout_style() -> Style {
    style_of(anstream::AutoStream::choice(&std::io::stdout()))
}

/// How messages on stderr are styled.
pub(crate) fn stderr_style() -> Style {
    style_of(anstream::AutoStream::choice(&std::io::stderr()))
}

/// `-q`: only results, warnings and errors.
pub(crate) fn quiet() -> bool {
    settings().quiet
}

/// `-v`: the commands perflab runs and the files it writes, too.
pub(crate) fn verbose() -> bool {
    settings().verbose && !settings().quiet
}

/// A progress or status message on stderr (hidden by `-q`).
pub(crate) fn info_args(args: std::fmt::Arguments<'_>) {
    if !quiet() {
        eprintln!("{args}");
    }
}

/// A detail shown with `-v` only.
pub(crate) fn detail_args(args: std::fmt::Arguments<'_>) {
    if verbose() {
        eprintln!("{}", stderr_style().paint(Tone::Plain, &args.to_string()));
    }
}

/// A warning on stderr, shown even with `-q`; `warning:` in yellow on a colour terminal.
pub(crate) fn warn_args(args: std::fmt::Arguments<'_>) {
    eprintln!("{} {args}", stderr_style().paint(Tone::Warn, "warning:"));
}

/// The one-line error `main` prints; `error:` in red on a colour terminal.
pub(crate) fn error_prefix() -> String {
    stderr_style().paint(Tone::Bad, "error:")
}

/// `info!("recorded run {id}")`: see [`info_args`].
macro_rules! info {
    ($($t:tt)*) => { $crate::term::info_args(format_args!($($t)*)) };
}
/// `warning!("…")`: see [`warn_args`].
macro_rules! warning {
    ($($t:tt)*) => { $crate::term::warn_args(format_args!($($t)*)) };
}
/// `detail!("…")`: see [`detail_args`].
macro_rules! detail {
    ($($t:tt)*) => { $crate::term::detail_args(format_args!($($t)*)) };
}
#[allow(unused_imports)]
pub(crate) use {detail, info, warning};

/// How often a progress line is written when stderr is not a terminal (a CI log).
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The progress of one long step: a bar with its position, total, message and ETA on a
/// terminal; a line every 5 s (`perflab LABEL: MESSAGE`; every step with `-v`) in a log;
/// nothing with `-q`.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    log: bool,
    next_log: Instant,
}

impl Progress {
    /// A progress for `label` over `total` steps (`None`: a spinner, no ETA).
    pub(crate) fn new(label: &str, total: Option<u64>) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = (tty && !quiet()).then(|| {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = match total {
                Some(_) => "{prefix} [{bar:24}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
                None => "{spinner} {prefix} {msg} ({elapsed})",
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            label: label.to_string(),
            log: !tty && !quiet(),
            next_log: Instant::now() + LOG_EVERY,
        }
    }

    /// Now at `pos` of the total, with `message` beside it.
    pub(crate) fn update(&mut self, pos: u64, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            bar.set_message(message.to_string());
        } else if self.log && (verbose() || Instant::now() >= self.next_log) {
            // In a log: a line every 5 s, or every step with -v.
            eprintln!("perflab {}: {message}", self.label);
            while self.next_log <= Instant::now() {
                self.next_log += LOG_EVERY;
            }
        }
    }

    /// The total, when it becomes known or changes.
    pub(crate) fn set_total(&mut self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// A line printed above the bar (or as it is, in a log); hidden by `-q`.
    pub(crate) fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !quiet() => eprintln!("{line}"),
            None => {}
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
