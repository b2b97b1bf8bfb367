//! The docs are tested: the README's compare example is real output, the config example loads,
//! and documents perflab writes validate against the JSON Schemas in `docs/`.

mod common;

use std::path::{Path, PathBuf};

use common::{data, json, Lab};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap()
}

/// The fenced blocks of `lang` in a Markdown text.
fn blocks(md: &str, lang: &str) -> Vec<String> {
    // Every fence opens or closes a block, whatever its language: only the blocks of `lang`
    // are kept (`""` is a fence without a language).
    let mut out = Vec::new();
    let mut cur: Option<(bool, String)> = None;
    for line in md.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut cur, fence) {
            (None, Some(l)) => cur = Some((l.trim() == lang, String::new())),
            (Some(_), Some(_)) => {
                if let Some((true, b)) = cur.take() {
                    out.push(b);
                }
            }
            (Some((_, b)), None) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// A small JSON Schema checker: type, required, properties, items, enum, const, $ref into
/// `$defs`, additionalProperties. Enough for the schemas perflab ships.
fn validate(schema: &Value, root: &Value, v: &Value, path: &str) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(&root["$defs"][name], root, v, path);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_u64() || v.is_i64(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        assert!(ok, "{path}: {v} is not {types:?}");
    }
    if let Some(c) = schema.get("const") {
        assert_eq!(v, c, "{path}");
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        assert!(e.contains(v), "{path}: {v} not in {e:?}");
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = r.as_str().unwrap();
            assert!(obj.contains_key(k), "{path}: missing required {k}");
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, x, &format!("{path}.{k}")),
                None => {
                    if let Some(ap) = schema.get("additionalProperties") {
                        validate(ap, root, x, &format!("{path}.{k}"));
                    }
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(items, root, x, &format!("{path}[{i}]"));
        }
    }
}

fn schema(name: &str) -> Value {
    serde_json::from_str(&read(&format!("docs/{name}"))).unwrap()
}

#[test]
fn result_documents_match_the_schema() {
    let s = schema("result.schema.json");
    let lab = Lab::new();
    for args in [
        vec![
            "run",
            "--runs",
            "2",
            "--no-store",
            "--json",
            "-L",
            "n",
            "1,2",
            "sleep 0.00{n}",
        ],
        vec!["import", "--no-store", "--json", &data("old.txt")],
    ] {
        let out = lab.cmd().args(&args).output().unwrap();
        assert!(out.status.success());
        validate(&s, &s, &json(&out.stdout), "$");
    }
}

#[test]
fn compare_documents_match_the_schema() {
    let s = schema("compare.schema.json");
    let lab = Lab::new();
    for (a, b) in [("old.txt", "new.txt"), ("codec-base.txt", "codec-slow.txt")] {
        let out = lab
            .cmd()
            .args(["compare", "--format", "json", &data(a), &data(b)])
            .output()
            .unwrap();
        validate(&s, &s, &json(&out.stdout), "$");
    }
}

#[test]
fn compare_example_in_docs_matches_the_schema() {
    let s = schema("compare.schema.json");
    let doc: Value =
        serde_json::from_str(&blocks(&read("docs/compare-format.md"), "json")[0]).unwrap();
    validate(&s, &s, &doc, "$");
}

#[test]
fn readme_compare_example_is_real_output() {
    let readme = read("README.md");
    let want = blocks(&readme, "")
        .into_iter()
        .find(|b| b.starts_with("time (s, lower is better)"))
        .expect("README has the compare example");
    let lab = Lab::new();
    std::fs::copy(data("old.txt"), lab.path("old.txt")).unwrap();
    std::fs::copy(data("new.txt"), lab.path("new.txt")).unwrap();
    let out = lab
        .cmd()
        .args(["compare", "old.txt", "new.txt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

#[test]
fn config_examples_load() {
    let lab = Lab::new();
    let mut n = 0;
    for doc in ["docs/config.md", "README.md", "docs/profile.md"] {
        for (i, block) in blocks(&read(doc), "toml").into_iter().enumerate() {
            let cfg = lab.write(&format!("c{i}.toml"), &block);
            // compare loads the config; it must not be rejected.
            lab.cmd()
                .args([
                    "--config",
                    cfg.to_str().unwrap(),
                    "compare",
                    &data("old.txt"),
                    &data("new.txt"),
                ])
                .assert()
                .success();
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn schema_validator_catches_errors() {
    let s = schema("result.schema.json");
    let bad = serde_json::json!({"schema": "perflab.result.v1", "id": "x", "kind": "nope",
        "started_at": "t", "benchmarks": []});
    let r = std::panic::catch_unwind(|| validate(&s, &s, &bad, "$"));
    assert!(r.is_err(), "an unknown kind must fail validation");
}

#[test]
fn openapi_validates_and_lists_every_route_the_server_has() {
    let spec = read("docs/openapi.yaml");
    // Every `.route("…"` of the web crate is a path of the description.
    let mut routes = Vec::new();
    for file in std::fs::read_dir(repo().join("crates/web/src")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for piece in text.split(".route(\"").skip(1) {
            routes.push(piece.split('"').next().unwrap().to_string());
        }
    }
    assert!(routes.len() >= 15, "{routes:?}");
    for route in &routes {
        // The catch-all forwards are described by their first route.
        let described = match route.as_str() {
            "/api/v1/projects/{project}/{*rest}" => "/api/v1/projects/{project}/runs",
            "/p/{project}/{*rest}" | "/p/{project}" => "/p/{project}/",
            r => r,
        };
        assert!(
            spec.contains(&format!("\n  {described}:\n")),
            "{route} is not in docs/openapi.yaml"
        );
    }
    if !common::have("openapi-spec-validator") {
        common::skip(
            "openapi-spec-validator",
            "pip install openapi-spec-validator",
        );
        return;
    }
    let out = std::process::Command::new("openapi-spec-validator")
        .arg(repo().join("docs/openapi.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
