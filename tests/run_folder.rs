//! The run folder is a contract: `summary.json` matches its committed JSON
//! Schema, and `latency.hlog` is a standard HdrHistogram interval log that
//! HdrHistogram's own (Python) implementation reads to the same figures.

mod common;

use common::{repo, surge};

/// A short rehearsal against the twin, shared by the tests here.
fn run_smoke(out: &std::path::Path) {
    // Eight seconds: the seeded schedule then holds a dozen counter stamps,
    // enough to judge the scenario's p90 objective (at six it holds nine,
    // and an unjudged objective fails the run).
    let output = surge()
        .args(["run", "-q", "--duration", "8s", "--out"])
        .arg(out)
        .arg(repo("scenarios/smoke.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_committed_summary_schema_matches_the_binary() {
    let out = surge().args(["schema", "--summary"]).output().unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("docs/summary.schema.json")).unwrap())
            .unwrap();
    assert!(
        printed == committed,
        "docs/summary.schema.json is stale; regenerate it with `cargo run -- schema --summary > docs/summary.schema.json`"
    );
}

#[test]
fn summary_and_interval_log_are_what_they_claim() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run_smoke(&out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();

    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("docs/summary.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(summary["format"], "surge-summary");
    assert_eq!(summary["version"], surge::summary::VERSION);

    let python = std::process::Command::new("python3")
        .arg(repo("tests/tools/hlog_totals.py"))
        .arg(out.join("latency.hlog"))
        .output()
        .expect("python3 runs");
    assert!(
        python.status.success(),
        "HdrHistogram's Python package could not read the log (install it: pip install -r tests/requirements.txt): {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let totals: serde_json::Value = serde_json::from_slice(&python.stdout).unwrap();
    let steps = summary["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    for step in steps {
        let tag = format!("step:{}", step["name"].as_str().unwrap());
        let theirs = &totals[&tag];
        let ours = &step["latency"];
        same(&tag, theirs, ours);
    }
    for journey in summary["journeys"].as_array().unwrap() {
        let tag = format!("journey:{}", journey["name"].as_str().unwrap());
        same(&tag, &totals[&tag], &journey["time"]);
    }
}

/// The same distribution: equal count, min and max, and the same mean
/// (surge rounds its mean to 0.1 µs).
fn same(tag: &str, theirs: &serde_json::Value, ours: &serde_json::Value) {
    assert_eq!(theirs["count"], ours["count"], "{tag}");
    assert_eq!(theirs["min"], ours["min_us"], "{tag}");
    assert_eq!(theirs["max"], ours["max_us"], "{tag}");
    let (a, b) = (
        theirs["mean"].as_f64().unwrap(),
        ours["mean_us"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 0.05 + 1e-9 * a, "{tag}: mean {a} vs {b}");
}
