//! `surge fit` and `surge predict` on the real binary: a service of the
//! tests' own (not the twin) with a known pool of workers is fitted, the
//! fitted pool's capacity is checked against the service's, the fitted
//! twin serves the journeys unchanged, and `predict` reads it. Bad input
//! exits 2 with a message that says what to do.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use common::{read_summary, scenario_file, surge};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The tests that run fits take turns: two at once on a small machine
/// make each other's generator fall behind.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Workers of the service and the time each request holds one.
const WORKERS: usize = 4;
const SERVICE: Duration = Duration::from_millis(25);

/// The tests' service: `POST /sessions` answers at once, `GET
/// /reports/{id}` holds one of [`WORKERS`] workers for [`SERVICE`]. Its
/// capacity is WORKERS / SERVICE = 160 reports per second.
fn service() -> String {
    let pool = Arc::new(Semaphore::new(WORKERS));
    let app = Router::new()
        .route(
            "/sessions",
            post(|| async { (axum::http::StatusCode::CREATED, Json(json!({ "id": "s1" }))) }),
        )
        .route(
            "/reports/{id}",
            get(
                |State(pool): State<Arc<Semaphore>>, Path(id): Path<String>| async move {
                    let _worker = pool.acquire().await.unwrap();
                    tokio::time::sleep(SERVICE).await;
                    Json(json!({ "id": id, "ready": true }))
                },
            ),
        )
        .with_state(pool);
    common::serve(app)
}

fn scenario(dir: &std::path::Path, base_url: &str) -> std::path::PathBuf {
    scenario_file(
        dir,
        "reports",
        &format!(
            r#"
version: 1
name: reports
seed: 7
target: {{ base_url: "{base_url}" }}
load:
  phases: [{{ name: steady, duration: 20s, rate: 20/s }}]
  drain: 5s
journeys:
  report:
    channel: storefront
    steps:
      - {{ name: session, method: POST, path: /sessions, expect: {{ status: 201 }}, capture: {{ id: $.id }} }}
      - {{ name: read, path: "/reports/{{id}}", expect: {{ json: [{{ path: $.ready, equals: true }}] }} }}
objectives:
  - latency: {{ name: read-p99, step: report.read, p: 99, at_most: 150ms }}
  - error_rate: {{ name: errors, at_most: 1% }}
"#
        ),
    )
}

#[test]
fn a_fit_of_a_pool_of_workers_recovers_its_capacity_and_serves_the_journeys() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let url = service();
    let file = scenario(dir.path(), &url);
    let fitted = dir.path().join("fitted.yaml");
    let stages = dir.path().join("stages");
    let out = surge()
        .arg("fit")
        .arg(&file)
        .arg("--out")
        .arg(&fitted)
        .arg("--dir")
        .arg(&stages)
        .args(["--budget", "60s", "--max-rate", "400/s", "--threads", "1"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("will send to http://127.0.0.1:") && stderr.contains("never above 400.0"),
        "the plan is said before any load: {stderr}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(stages.join("fit.json")).unwrap()).unwrap();
    let pools = report["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 1, "one pool, behind the reports: {report:#}");
    let pool = &pools[0];
    let workers = pool["workers"].as_f64().unwrap();
    let service_ms = pool["mean_service_ms"].as_f64().unwrap();
    let capacity = workers / (service_ms / 1e3);
    let truth = WORKERS as f64 / SERVICE.as_secs_f64();
    assert!(
        (capacity - truth).abs() / truth <= 0.20,
        "fitted {workers} workers of {service_ms:.1} ms = {capacity:.0}/s, the service's is {truth:.0}/s: {report:#}"
    );
    // Never above the rate allowed, and stopped at the first bend.
    let stages_run = report["stages"].as_array().unwrap();
    assert!(
        stages_run
            .iter()
            .all(|s| s["rate"].as_f64().unwrap() <= 400.0)
    );
    // The ramp stopped at the first sign: a channel bent, or the
    // generator fell behind (a busy machine), and no ramp step came after.
    let signs = |s: &Value| {
        !s["bent"].as_array().unwrap().is_empty()
            || report["notes"].as_array().unwrap().iter().any(|n| {
                n.as_str().unwrap().contains(&format!(
                    "at {:.1} arrivals/s the generator",
                    s["rate"].as_f64().unwrap()
                ))
            })
    };
    let ramp: Vec<&Value> = stages_run
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("ramp-"))
        .collect();
    let first = ramp.iter().position(|s| signs(s));
    assert_eq!(first, Some(ramp.len() - 1), "{report:#}");

    // The fitted twin runs the journeys unchanged: every check passes.
    let run_dir = dir.path().join("run");
    let (code, o, e) =
        common::run_scenario(&fitted, &run_dir, &["--duration", "4s", "--scale", "3"]);
    assert_eq!(code, 0, "{o}\n{e}");
    let summary = read_summary(&run_dir);
    let read = common::named(&summary["steps"], "report.read");
    assert_eq!(read["errors"], json!({}), "{read:#}");
    assert!(read["requests"].as_u64().unwrap() > 50);
    // The fitted service time shows: not the twin's 0.1 ms answers.
    assert!(
        read["latency"]["p50_us"].as_f64().unwrap() > 0.6 * service_ms * 1e3,
        "{read:#}"
    );

    // `predict` reads the fitted platform: its pool is the bottleneck and
    // its capacity is near the service's (the objective is p99 <= 150 ms
    // at 20/s times the scale).
    let out = surge()
        .arg("predict")
        .arg(&fitted)
        .arg("--json")
        .arg("--out")
        .arg(dir.path().join("predict.json"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["capacity"]["bottleneck"], "pool-1", "{p:#}");
    let rate = p["capacity"]["peak_arrivals_per_s"].as_f64().unwrap();
    assert!(
        rate > 0.7 * truth && rate < truth * 1.05,
        "{rate} vs {truth}: {p:#}"
    );
}

#[test]
fn fit_refuses_the_twin_a_short_budget_and_a_bad_rate_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.yaml");
    // `surge fit FILE --out OUT ARGS...`: its stderr, after exit 2.
    let refused = |file: &std::path::Path, args: &[&str]| -> String {
        let o = surge()
            .arg("fit")
            .arg(file)
            .arg("--out")
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let twin = common::repo("scenarios/capacity-gate.yaml");
    assert!(refused(&twin, &[]).contains("surge predict"));
    let file = scenario(dir.path(), "http://127.0.0.1:9");
    assert!(refused(&file, &["--budget", "10s"]).contains("at least 30s"));
    assert!(refused(&file, &["--max-rate", "0/s"]).contains("above 0"));
    assert!(refused(&file, &["--max-rate", "1e400/s"]).contains("is not a rate"));
    assert!(!out.exists(), "nothing written on bad input");
}

#[test]
fn predict_tells_capacity_and_bottleneck_without_load_and_refuses_a_platform() {
    let dir = tempfile::tempdir().unwrap();
    let gate = common::repo("scenarios/capacity-gate.yaml");
    let predict = |extra: &[&str]| -> Value {
        let out = surge()
            .arg("predict")
            .arg(&gate)
            .args(["--duration", "20s", "--json", "--out"])
            .arg(dir.path().join("p.json"))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let base = predict(&[]);
    let half = predict(&["--set", "target.twin.core.signing.workers=4"]);
    let (b, h) = (
        base["capacity"]["scale"].as_f64().unwrap(),
        half["capacity"]["scale"].as_f64().unwrap(),
    );
    assert_eq!(base["capacity"]["bottleneck"], "signing");
    // Half the workers: about half the capacity (a little less: fewer
    // servers pool less).
    assert!(h < b * 0.55 && h > b * 0.4, "{b} vs {h}");
    // Written where asked, the same as printed.
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(written["capacity"], half["capacity"]);
    // A waiting room slower than the signing pool moves the bottleneck.
    let room = surge()
        .arg("predict")
        .arg(common::repo("bench/predict/waiting-room.yaml"))
        .args(["--duration", "20s", "--json", "--out"])
        .arg(dir.path().join("room.json"))
        .output()
        .unwrap();
    let room: Value = serde_json::from_slice(&room.stdout).unwrap();
    assert_eq!(room["capacity"]["bottleneck"], "waiting_room", "{room:#}");
    // A platform of its own: fit it first.
    let file = scenario(dir.path(), "http://127.0.0.1:9");
    let o = surge().arg("predict").arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("surge fit"));
    // A scale no machine carries.
    let o = surge()
        .arg("predict")
        .arg(&gate)
        .args(["--scale", "1e400"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn ctrl_c_during_a_stage_ends_the_fit_with_nothing_fitted() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), &service());
    let fitted = dir.path().join("fitted.yaml");
    let stages = dir.path().join("stages");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .arg("fit")
        .arg(&file)
        .arg("--out")
        .arg(&fitted)
        .arg("--dir")
        .arg(&stages)
        .args(["--budget", "60s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the probe's run folder exists: the stage is under way.
    let began = std::time::Instant::now();
    while !stages.join("probe").join("scenario.yaml").exists() {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "the probe never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let status = common::interrupt_within_10s(&mut child, "fit did not stop on Ctrl-C");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("interrupted during stage probe"), "{err}");
    assert!(!fitted.exists(), "nothing fitted from a cut measurement");
    assert!(
        !stages.join("ramp-01").exists(),
        "no stage after the interrupted one"
    );
}
