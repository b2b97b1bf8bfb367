//! Bad input is a behaviour: each malformed fixture fails with one exact line naming the file
//! and, where there is one, the line.

use std::path::Path;

use perflab_ingest::{parse_path, Format};

fn error(file: &str, format: Option<Format>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed")
        .join(file);
    let err = parse_path(&path, format).expect_err("must fail");
    let text = err.to_string();
    let prefix = format!("{}", path.display());
    assert!(text.starts_with(&prefix), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
    text[prefix.len()..].to_string()
}

#[test]
fn truncated_go_log_names_the_line() {
    assert_eq!(
        error("gotest-truncated.txt", None),
        ":3: value \"17\" has no unit (is the file truncated?)"
    );
}

#[test]
fn bad_number_names_the_line() {
    assert_eq!(
        error("gotest-bad-number.txt", Some(Format::GoTest)),
        ":1: \"abc\" is not a number (before unit \"ns/op\")"
    );
}

#[test]
fn truncated_json_names_line_and_column() {
    let e = error("hyperfine-truncated.json", Some(Format::Hyperfine));
    assert!(e.starts_with(":"), "{e}");
    assert!(
        e.contains("invalid hyperfine JSON: EOF while parsing"),
        "{e}"
    );
}

#[test]
fn missing_field_names_the_field() {
    assert_eq!(
        error("hyperfine-no-command.json", None),
        ": results[0].command: missing"
    );
    assert_eq!(
        error("pytest-no-median.json", None),
        ": benchmarks[0].stats.median: missing or not a number"
    );
}

#[test]
fn unknown_format_suggests_the_flag() {
    let e = error("unknown.txt", None);
    assert!(
        e.starts_with(": unknown result format (name one with --format: gotest, libtest"),
        "{e}"
    );
}

#[test]
fn bad_unit_is_named() {
    assert_eq!(
        error("libtest-bad-unit.txt", None),
        ":1: \"12\" has no unit"
    );
}

#[test]
fn files_without_results_say_so() {
    assert_eq!(
        error("libtest-zero.txt", Some(Format::Libtest)),
        ": no benchmark results found (read as libtest)"
    );
    assert_eq!(
        error("gbench-no-times.json", None),
        ": no benchmark results found (read as gbench)"
    );
    assert_eq!(
        error("gbench-only-unknown-aggregate.json", None),
        ": no benchmark results found (read as gbench)"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let e = error("does-not-exist.txt", None);
    assert!(e.contains("No such file"), "{e}");
}
