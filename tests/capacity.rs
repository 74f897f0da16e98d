//! `surge capacity` on the twin, in short: the capacity follows the
//! signing pool, an unchanged twin passes against its baseline, and a twin
//! with half the signing workers is caught as a regression. (The full
//! demonstration on scenarios/capacity-gate.yaml is bench/capacity-gate.sh.)

mod common;

use common::{scenario_file, surge};

fn scenario(workers: u32) -> String {
    with_objectives(
        workers,
        "  - error_rate: { at_most: 1% }\n  - latency: { step: counter.stamp, p: 90, at_most: 100ms }\n",
    )
}

/// The twin with `workers` signing workers of 20 ms each, offered 40/s for
/// ten seconds, judged by `objectives` (YAML list items).
fn with_objectives(workers: u32, objectives: &str) -> String {
    format!(
        r#"version: 1
name: cap
target:
  twin:
    core:
      signing: {{ workers: {workers}, service_time: {{ median: 20ms, p99: 20ms }}, queue: 4, timeout: 500ms }}
load: {{ arrivals: uniform, max_in_flight: 300, phases: [{{ name: steady, duration: 10s, rate: 40/s }}] }}
journeys:
  counter:
    channel: partner/pos
    patience: {{ attempts: 1 }}
    steps:
      - {{ name: login, method: POST, path: "/partners/{{partner}}/login", json: {{ client_id: "{{partner}}" }}, capture: {{ token: $.token }} }}
      - {{ name: stamp, method: POST, path: "/partners/{{partner}}/stamp", headers: {{ Authorization: "Bearer {{token}}" }}, pdf: 2KB }}
objectives:
{objectives}"#
    )
}

fn capacity(
    file: &std::path::Path,
    out: &std::path::Path,
    baseline: Option<&std::path::Path>,
) -> (i32, String, serde_json::Value) {
    capacity_with(file, out, baseline, &["--trial-duration", "2s"])
}

fn capacity_with(
    file: &std::path::Path,
    out: &std::path::Path,
    baseline: Option<&std::path::Path>,
    extra: &[&str],
) -> (i32, String, serde_json::Value) {
    let mut cmd = surge();
    cmd.args(["capacity", "--resolution", "25%", "--out"])
        .arg(out)
        .args(extra)
        .arg(file);
    if !extra.contains(&"--max-trials") {
        cmd.args(["--max-trials", "6"]);
    }
    if let Some(b) = baseline {
        cmd.arg("--baseline").arg(b);
    }
    let o = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report = std::fs::read_to_string(out.join("capacity.json"))
        .map(|t| serde_json::from_str(&t).unwrap());
    (
        o.status.code().expect("exited"),
        text,
        report.unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn halving_the_signing_workers_is_caught_and_an_unchanged_twin_passes() {
    let dir = tempfile::tempdir().unwrap();
    let full = scenario_file(dir.path(), "full", &scenario(2));
    let half = scenario_file(dir.path(), "half", &scenario(1));

    let (code, text, base) = capacity(&full, &dir.path().join("base"), None);
    assert_eq!(code, 0, "{text}");
    let cap = base["capacity_per_s"].as_f64().unwrap();
    // Two workers of 20 ms sign 100 stamps/s; the search brackets it.
    assert!((60.0..=100.0).contains(&cap), "capacity {cap}/s\n{text}");
    assert!(base["upper_per_s"].as_f64().unwrap() > cap);
    assert!(base["trials"].as_array().unwrap().len() >= 3);
    for trial in base["trials"].as_array().unwrap() {
        assert!(
            std::path::Path::new(trial["dir"].as_str().unwrap())
                .join("summary.json")
                .is_file()
        );
    }

    let baseline = dir.path().join("base/capacity.json");
    let (code, text, _) = capacity(&full, &dir.path().join("again"), Some(&baseline));
    assert_eq!(code, 0, "an unchanged twin must not fail the gate:\n{text}");

    let (code, text, halved) = capacity(&half, &dir.path().join("half"), Some(&baseline));
    assert_eq!(code, 1, "half the workers must fail the gate:\n{text}");
    assert!(
        halved["capacity_per_s"].as_f64().unwrap() < cap * 0.75,
        "{halved}"
    );
    assert!(text.contains("**worse**"), "{text}");

    let o = surge()
        .arg("compare")
        .arg(&baseline)
        .arg(dir.path().join("half/capacity.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_trial_too_short_to_judge_is_refused_with_the_length_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let p99 = "  - latency: { step: counter.stamp, p: 99, at_most: 400ms }\n";
    let file = scenario_file(dir.path(), "p99", &with_objectives(2, p99));
    // 40/s over the ten-second timeline is 400 stamps; a p99 needs 100
    // samples, 135 with room for counting noise: 10 s × 135 / 400 → 4 s.
    let (code, text, report) = capacity_with(
        &file,
        &dir.path().join("short"),
        None,
        &["--trial-duration", "2s"],
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("about 80 samples expected in a trial, 100 needed")
            && text.contains("--trial-duration 4s or longer"),
        "{text}"
    );
    assert!(report.is_null(), "nothing is run: {report}");
    assert!(!dir.path().join("short").exists());
}

#[test]
fn an_unjudged_trial_is_run_longer_never_at_a_lower_scale() {
    let dir = tempfile::tempdir().unwrap();
    let objectives = "  - error_rate: { at_most: 1% }\n  \
                      - latency: { step: counter.stamp, p: 99, at_most: 400ms }\n";
    let file = scenario_file(dir.path(), "p99", &with_objectives(2, objectives));
    // Scale 4 (160/s) in 1 s trials gives the p99 its samples and overloads
    // two 20 ms workers; scale 2 (80/s) gives 80 samples: too few to judge.
    let (code, text, report) = capacity_with(
        &file,
        &dir.path().join("search"),
        None,
        &["--trial-duration", "1s", "--start", "4"],
    );
    assert_eq!(code, 0, "{text}");
    let trials = report["trials"].as_array().unwrap();
    let first = &trials[0];
    assert_eq!(first["verdict"], "fail", "{text}");
    assert_eq!(first["judged"], true);
    let unjudged = trials
        .iter()
        .position(|t| t["judged"] == false)
        .unwrap_or_else(|| panic!("no trial lacked data:\n{text}"));
    let (short, next) = (&trials[unjudged], &trials[unjudged + 1]);
    assert_eq!(
        short["scale"], next["scale"],
        "re-run at the same scale\n{text}"
    );
    assert!(
        next["duration_s"].as_f64().unwrap() > short["duration_s"].as_f64().unwrap(),
        "{text}"
    );
    assert!(text.contains("trials lengthened to"), "{text}");
    let cap = report["capacity_per_s"].as_f64().unwrap();
    assert!((60.0..=100.0).contains(&cap), "capacity {cap}/s\n{text}");
}

#[test]
fn no_passing_scale_is_no_capacity_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // Every request fails (no such route), at any scale: each trial fails
    // on a judged objective, so the answer is "none found", exit 1.
    let file = scenario_file(
        dir.path(),
        "broken",
        "version: 1\nname: broken\ntarget: { twin: {} }\n\
         load: { arrivals: uniform, phases: [{ name: steady, duration: 10s, rate: 20/s }] }\n\
         journeys:\n  j: { channel: storefront, steps: [{ name: nope, path: /no/such/route }] }\n\
         objectives:\n  - error_rate: { at_most: 1% }\n",
    );
    let (code, text, report) = capacity_with(
        &file,
        &dir.path().join("none"),
        None,
        &["--trial-duration", "1s", "--max-trials", "3"],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("none found: objectives failed"), "{text}");
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 3, "{text}");
    assert!(
        trials
            .iter()
            .all(|t| t["judged"] == true && t["verdict"] == "fail")
    );
    assert_eq!(report["capacity_per_s"], 0.0);
}
