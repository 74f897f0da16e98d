//! The fault timeline, carried out by `surge run` (the real binary): a core
//! outage of the in-process twin lands on time, concentrates errors in its
//! window and lifts; an HTTP 503 fault on 30% of requests through the
//! built-in proxy fails 30% of requests.

mod common;

use common::{read_summary, run_printed, run_scenario, scenario_file, server};
use serde_json::Value;

/// Runs the scenario to its end (met or not); everything it printed.
fn run(scenario: &std::path::Path, out: &std::path::Path) -> String {
    let (code, text) = run_printed(scenario, out);
    assert!(matches!(code, 0 | 1), "the run did not complete: {text}");
    text
}

/// (second, requests, failures) of one step, from steps.csv.
fn step_seconds(dir: &std::path::Path, step: &str) -> Vec<(u64, u64, u64)> {
    let text = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let err_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("err_"))
        .map(|(i, _)| i)
        .collect();
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[1] == step)
        .map(|c| {
            let failures = err_cols.iter().map(|i| c[*i].parse::<u64>().unwrap()).sum();
            (c[0].parse().unwrap(), c[2].parse().unwrap(), failures)
        })
        .collect()
}

fn fault<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["timeline"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("fault {name} not in the summary"))
}

#[test]
fn a_core_outage_lands_on_time_and_its_errors_stay_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "outage",
        r#"
version: 1
name: outage
seed: 5
target:
  twin: {}
load:
  max_in_flight: 64
  drain: 3s
  phases:
    - { name: before, duration: 4s, rate: 40/s }
    - { name: during, duration: 3s, rate: 40/s }
    - { name: after, duration: 4s, rate: 40/s }
journeys:
  counter:
    channel: partner/pos
    patience: { attempts: 1 }
    steps:
      - { name: login, method: POST, path: "/partners/{partner}/login",
          json: { client_id: "{partner}" }, capture: { token: $.token } }
      - name: stamp
        method: POST
        path: /partners/{partner}/stamp
        headers: { Authorization: "Bearer {token}" }
        pdf: 5KB
        expect:
          json: [{ path: $.serial, exists: true }]
faults:
  - name: core-down
    at: during
    for: 3s
    on: twin/core
    fault: { outage: {} }
"#,
    );
    let out = dir.path().join("run");
    run(&path, &out);
    let summary = read_summary(&out);

    // On time: within 100 ms of the schedule, both ways.
    let f = fault(&summary, "core-down");
    let applied = f["applied_s"].as_f64().expect("applied");
    let removed = f["removed_s"].as_f64().expect("removed");
    assert!((applied - 4.0).abs() < 0.1, "applied at {applied}s");
    assert!((removed - 7.0).abs() < 0.1, "removed at {removed}s");
    assert!(f["error"].is_null());

    // Errors inside the window, none outside it (the seconds at its edges
    // are mixed and left out).
    let rows = step_seconds(&out, "counter.stamp");
    let sum = |range: std::ops::Range<u64>| {
        rows.iter()
            .filter(|r| range.contains(&r.0))
            .fold((0, 0), |(n, f), r| (n + r.1, f + r.2))
    };
    let (inside, inside_failed) = sum(4..7);
    let (before, before_failed) = sum(0..4);
    let (after, after_failed) = sum(8..11);
    assert!(inside > 50 && before > 50 && after > 50, "{rows:?}");
    assert!(
        inside_failed as f64 >= 0.9 * inside as f64,
        "{inside_failed} of {inside} failed inside the outage"
    );
    assert_eq!(before_failed, 0, "failures before the outage");
    assert!(
        (after_failed as f64) <= 0.02 * after as f64,
        "{after_failed} of {after} failed after the outage: no recovery"
    );

    // timeline.csv names the fault in exactly its seconds.
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let mut lines = timeline.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "faults").unwrap();
    for line in lines {
        let cols: Vec<&str> = line.split(',').collect();
        let second: u64 = cols[0].parse().unwrap();
        let named = cols[col].contains("core-down");
        match second {
            4..=6 => assert!(named, "second {second} does not name the fault"),
            0..=3 | 8.. => assert!(!named, "second {second} names the fault"),
            _ => {}
        }
    }
}

#[test]
fn an_http_503_on_30_percent_through_the_proxy_fails_30_percent() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "proxied",
        &format!(
            r#"
version: 1
name: proxied
seed: 9
target:
  base_url: {}
load:
  max_in_flight: 32
  drain: 2s
  phases:
    - {{ name: steady, duration: 5s, rate: 300/s }}
journeys:
  hit:
    channel: storefront
    patience: {{ attempts: 1 }}
    steps:
      - {{ name: fast, path: /fast }}
faults:
  - name: flaky-balancer
    at: 0s
    for: 5s
    on: proxy/storefront
    fault: {{ error_rate: {{ rate: 30%, status: 503 }} }}
"#,
            server.url
        ),
    );
    let out = dir.path().join("run");
    run(&path, &out);
    let summary = read_summary(&out);
    let step = &summary["steps"][0];
    let requests = step["requests"].as_u64().unwrap();
    let failed = requests - step["ok"].as_u64().unwrap();
    assert!(requests >= 1200, "{requests} requests");
    let rate = failed as f64 / requests as f64;
    // Binomial(1500, 0.3): ±4 points is more than 3 standard deviations.
    assert!((rate - 0.30).abs() < 0.04, "error rate {rate:.3}");
    // 503: the platform cannot serve.
    assert_eq!(step["errors"]["unavailable"].as_u64(), Some(failed));
    // The proxy answered in the server's place: the server saw only the rest.
    let hits = server.state.hits.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(hits, requests - failed);
    let f = fault(&summary, "flaky-balancer");
    assert!(f["applied_s"].as_f64().unwrap() < 0.1);
}

#[test]
fn an_unreachable_hook_stops_the_run_before_load() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = scenario_file(
        dir.path(),
        "hooked",
        &format!(
            r#"
version: 1
name: hooked
target:
  twin: {{}}
load:
  phases:
    - {{ name: steady, duration: 3s, rate: 5/s }}
journeys:
  look:
    channel: storefront
    steps:
      - {{ name: home, path: /storefront/ }}
faults:
  - name: chaos
    at: 1s
    for: 1s
    on: hook
    fault:
      hook:
        start: {{ url: "http://127.0.0.1:{port}/start" }}
"#
        ),
    );
    let out = dir.path().join("run");
    let (code, _, err) = run_scenario(&path, &out, &[]);
    assert_eq!(code, 3);
    assert!(
        err.contains("chaos") && err.contains("cannot be reached"),
        "{err}"
    );
    assert!(!out.join("timeline.csv").exists(), "load started");
}
