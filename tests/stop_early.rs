//! Stopping a doomed run early, and error budgets judged by burn rate, on
//! the real binary against the tests' own HTTP server, which decides each
//! applicant's fate by its arrival number (so the boundaries are exact):
//! a target failing everything stops at `not_before`; failures exactly at
//! each bound, and a run that recovers in time, are never stopped; one
//! failure more is; a 10% burst for 2 of 10 (compressed) minutes misses a
//! burn-rate objective and stops the run, a steady 0.3% does not.

mod common;

use std::time::{Duration, Instant};

use common::{interrupt_within_10s, objective, read_summary, run_scenario, scenario_file, server};

/// A scenario of one journey of one request to `/arrival/{arrival}/RULES`
/// at `rate` for `length`, no retries, with `objectives`.
fn scenario(url: &str, rules: &str, phases: &str, objectives: &str) -> String {
    format!(
        r#"version: 1
name: stop-early
target: {{ base_url: "{url}" }}
load:
  arrivals: uniform
  max_in_flight: 100
  drain: 5s
  phases:
{phases}
journeys:
  apply:
    channel: storefront
    patience: {{ attempts: 1 }}
    steps:
      - {{ name: get, path: "/arrival/{{arrival}}/{rules}" }}
objectives:
{objectives}
"#
    )
}

#[test]
fn a_target_that_fails_everything_stops_at_not_before_with_the_reason() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "all-fail",
        &scenario(
            &server.url,
            "fail:0-1000000:1",
            "    - { name: steady, duration: 60s, rate: 20/s }",
            "  - error_rate: { name: errors, at_most: 1%, stop_early: true }\n  \
             - latency: { name: fast, step: apply.get, p: 99, at_most: 1s }",
        ),
    );
    let out = dir.path().join("run");
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = run_scenario(&path, &out, &[]);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let s = read_summary(&out);
    assert_eq!(s["version"], 3);
    assert_eq!(s["status"], "stopped_early");
    let e = &s["stopped_early"];
    assert_eq!(e["objective"], "errors");
    assert_eq!(e["kind"], "error_rate");
    // not_before defaults to 10% of the 60 s schedule; every failure is
    // known at once, so the decision waits for it and no longer.
    let at = e["at_s"].as_f64().unwrap();
    assert!((6.0..=8.0).contains(&at), "decided at {at}s");
    assert!(wall < 20.0, "the run took {wall:.1}s");
    assert!(
        s["run"]["elapsed_s"].as_f64().unwrap() <= 9.0,
        "{}",
        s["run"]
    );
    assert_eq!(s["gate"]["verdict"], "fail");
    assert_eq!(objective(&s, "errors")["judgement"], "missed");
    assert!(
        e["detail"].as_str().unwrap().contains("failed of at most"),
        "{e}"
    );
    // The terminal, the report and junit say which objective, when.
    assert!(stderr.contains("stopping early at"), "{stderr}");
    assert!(
        stdout.contains("stopped early at") && stdout.contains("`errors`"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("the run ran its schedule") && junit.contains("stopped early at"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("stopped early at") && html.contains("status stopped_early"));
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("stopped early at"));

    // The same run with --no-stop-early runs its whole schedule.
    let out = dir.path().join("whole");
    let (code, _, _) = run_scenario(&path, &out, &["--no-stop-early", "--duration", "10s"]);
    assert_eq!(code, 1);
    let s = read_summary(&out);
    assert_eq!(s["status"], "completed");
    assert!(s["stopped_early"].is_null());
}

/// Every bound met exactly, though the first seconds fail everything: 54
/// of 600 arrivals fail (9%), 54 more are slow (the p90 may have 10%).
const BOUNDARY: &str = "  - error_rate: { name: errors, at_most: 9%, stop_early: true }\n  \
     - goodput: { name: goodput, at_least: 90%, stop_early: true }\n  \
     - latency: { name: p90, step: apply.get, p: 90, at_most: 100ms, stop_early: true }";

#[test]
fn failures_at_the_bound_and_a_run_that_recovers_are_never_stopped_and_one_more_is() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let phases = "    - { name: steady, duration: 20s, rate: 30/s }";
    let at_bound = scenario_file(
        dir.path(),
        "at-bound",
        &scenario(&server.url, "fail:0-54:1,slow:54-108:200", phases, BOUNDARY),
    );
    let one_more = scenario_file(
        dir.path(),
        "one-more",
        &scenario(&server.url, "fail:0-55:1,slow:55-108:200", phases, BOUNDARY),
    );
    let (a, b) = (dir.path().join("at-bound"), dir.path().join("one-more"));
    let first = {
        let (path, out) = (at_bound.clone(), a.clone());
        std::thread::spawn(move || run_scenario(&path, &out, &[]))
    };
    let (code, stdout, stderr) = run_scenario(&one_more, &b, &[]);
    let (code_a, stdout_a, stderr_a) = first.join().unwrap();

    let s = read_summary(&a);
    assert_eq!(s["load"]["scheduled"], 600, "{}", s["load"]);
    assert_eq!(code_a, 0, "{stdout_a}\n{stderr_a}");
    assert_eq!(s["status"], "completed");
    for (name, measured) in [("errors", 0.09), ("goodput", 0.91)] {
        let o = objective(&s, name);
        assert_eq!(o["judgement"], "met", "{o}");
        assert!(
            (o["measured"].as_f64().unwrap() - measured).abs() < 1e-9,
            "{o}"
        );
    }
    assert_eq!(objective(&s, "p90")["judgement"], "met");

    // 55 failures of 600 are over 9% whatever follows: known by the
    // time the 55th fails (under 2 s), acted on at not_before (2 s).
    let s = read_summary(&b);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(s["status"], "stopped_early");
    assert_eq!(s["stopped_early"]["objective"], "errors");
    let at = s["stopped_early"]["at_s"].as_f64().unwrap();
    assert!((2.0..=4.0).contains(&at), "decided at {at}s");
}

#[test]
fn ctrl_c_in_a_run_that_may_stop_early_is_an_interruption_as_before() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "ctrl-c",
        &scenario(
            &server.url,
            "fail:0-54:1,slow:54-108:200",
            "    - { name: steady, duration: 60s, rate: 30/s }",
            BOUNDARY,
        ),
    );
    let out = dir.path().join("run");
    let mut child = common::spawn_run(&path, &out, &[]);
    // Under way: three seconds recorded (a header and three rows).
    let started = Instant::now();
    while std::fs::read_to_string(out.join("timeline.csv")).map_or(0, |t| t.lines().count()) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = interrupt_within_10s(&mut child, "the run must end within 10 s of Ctrl-C");
    assert_eq!(status.code(), Some(3));
    let s = read_summary(&out);
    assert_eq!(s["status"], "interrupted");
    assert!(s["stopped_early"].is_null(), "{}", s["stopped_early"]);
    assert_eq!(s["gate"]["verdict"], "invalid");
}

/// SLO 99.5%, the SRE workbook's two pairs; `EXTRA` adds `stop_early`.
fn budget(extra: &str) -> String {
    format!(
        "  - error_budget: {{ name: budget, slo: 99.5%, of: {{ channel: storefront }}, windows: \
         [{{ long: 1h, short: 5m, burn: 14.4 }}, {{ long: 6h, short: 30m, burn: 6 }}]{extra} }}"
    )
}

#[test]
fn a_ten_percent_burst_burns_the_budget_and_a_steady_trickle_does_not() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    // Ten minutes at 20/s compressed to one: windows scale by 0.1 (1h to
    // 6m, 5m to 30s). The burst is minutes 4 to 6: arrivals 480 to 720,
    // one in ten failing.
    let phases = "    - { name: steady, duration: 10m, rate: 20/s }";
    let burst = scenario_file(
        dir.path(),
        "burst",
        &scenario(
            &server.url,
            "fail:480-720:10",
            phases,
            &budget(", stop_early: true"),
        ),
    );
    let trickle = scenario_file(
        dir.path(),
        "trickle",
        &scenario(&server.url, "fail:0-1000000:333", phases, &budget("")),
    );
    let (a, b) = (dir.path().join("burst"), dir.path().join("trickle"));
    let first = {
        let (path, out) = (burst.clone(), a.clone());
        std::thread::spawn(move || run_scenario(&path, &out, &["--duration", "60s"]))
    };
    let (code, stdout, stderr) = run_scenario(&trickle, &b, &["--duration", "60s"]);
    let (code_a, stdout_a, stderr_a) = first.join().unwrap();

    let s = read_summary(&b);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let o = objective(&s, "budget");
    assert_eq!(o["judgement"], "met", "{o}");
    assert!(o["measured"].as_f64().unwrap() < 1.0, "{o}");
    assert!(
        o["detail"].as_str().unwrap().contains("scaled by 0.100"),
        "{o}"
    );

    // The 6h/30m pair covers the whole compressed run: by the burst's
    // end 24 of 720 failed, 3.3%, a 6.7x burn in both windows.
    let s = read_summary(&a);
    assert_eq!(code_a, 1, "{stdout_a}\n{stderr_a}");
    assert_eq!(s["status"], "stopped_early");
    assert_eq!(s["stopped_early"]["kind"], "error_budget");
    let at = s["stopped_early"]["at_s"].as_f64().unwrap();
    assert!((26.0..=37.0).contains(&at), "decided at {at}s");
    let o = objective(&s, "budget");
    assert_eq!(o["judgement"], "missed", "{o}");
    assert!(o["detail"].as_str().unwrap().contains("36m/3m"), "{o}");
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(
        html.contains("Error budgets") && html.contains("36m/3m"),
        "no burn chart"
    );
}
