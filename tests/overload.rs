//! A run always ends: offered far more than the generator can send, the
//! run ends on schedule (schedule + drain, plus a bounded settling time)
//! with every arrival accounted for, and Ctrl-C ends it within 10 seconds
//! whatever it is doing. The real binary against a real loopback server.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use common::{read_summary, scenario_file, server, spawn_run};
use serde_json::Value;

/// One journey of one GET against the test server.
fn scenario(dir: &Path, name: &str, url: &str, load: &str, extra: &str) -> PathBuf {
    let text = format!(
        "version: 1\nname: {name}\nseed: 5\ntarget: {{ base_url: \"{url}\" }}\n{load}\n\
         journeys:\n  get:\n    channel: storefront\n    steps: [{{ name: hit, path: /fast, timeout: 120s }}]\n{extra}"
    );
    scenario_file(dir, name, &text)
}

/// The seconds of timeline.csv, in order.
fn seconds(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out.join("timeline.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

/// Every arrival the dispatcher handed out either started or was dropped,
/// and every started journey ended in one outcome (unfinished included).
fn accounted(s: &Value) {
    let load = &s["load"];
    assert_eq!(
        count(&load["scheduled"]),
        count(&load["started"]) + count(&load["dropped"]),
        "{load}"
    );
    for j in s["journeys"].as_array().unwrap() {
        let ended: u64 = j["outcomes"].as_object().unwrap().values().map(count).sum();
        assert_eq!(ended, count(&j["started"]), "{j}");
    }
}

/// Far above what one generator core sends (tens of thousands a second on
/// machines of this project's kind): the schedule is 2,000,000 arrivals in
/// 5 s for 64 users.
const FLOOD: &str = "load: { arrivals: uniform, max_in_flight: 64, max_lateness: 2s, drain: 2s, \
                     phases: [{ name: flood, duration: 5s, rate: 400000/s }] }";

#[test]
fn offered_far_more_than_it_can_send_the_run_ends_on_schedule() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "flood", &server.url, FLOOD, "");
    let out = dir.path().join("run");
    // schedule 5 s + max_lateness 2 s + drain 2 s + 5 s.
    let mut child = spawn_run(&file, &out, &["--threads", "1"]);
    let status = wait_within(&mut child, Duration::from_secs(14), "the flood");
    assert_eq!(status.code(), Some(3), "invalid: arrivals were dropped");

    let secs = seconds(&out);
    let want: Vec<u64> = (0..secs.len() as u64).collect();
    assert_eq!(secs, want, "one row per second, in order");
    assert!(
        secs.len() <= 8,
        "no row for a second that did not happen: {secs:?}"
    );

    let s = read_summary(&out);
    assert_eq!(s["status"], "completed");
    assert_eq!(s["gate"]["verdict"], "invalid");
    assert!(count(&s["load"]["dropped"]) > 0);
    assert!(
        count(&s["load"]["started"]) < count(&s["load"]["scheduled"]),
        "the generator was offered more than it could start"
    );
    accounted(&s);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let last = timeline.lines().last().unwrap();
    assert_eq!(
        last.split(',').nth(11),
        Some("0"),
        "in flight at the end: {last}"
    );
}

/// Waits for the run to end, killing it (and failing) if it takes longer
/// than `limit`: a run that never ends must fail the test, not hang it.
fn wait_within(child: &mut std::process::Child, limit: Duration, what: &str) -> ExitStatus {
    let began = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a run, waits until it has recorded `rows` seconds, sends SIGINT
/// and checks it ends within 10 s with an interrupted, complete folder.
fn interrupt(name: &str, scenario: &Path, out: &Path, rows: usize) {
    let mut child = spawn_run(scenario, out, &[]);
    let until = Instant::now() + Duration::from_secs(30);
    while seconds(out).len() < rows {
        assert!(
            Instant::now() < until,
            "{name}: the run never wrote {rows} seconds"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    let kill = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_within(&mut child, Duration::from_secs(10) - sent.elapsed(), name);
    assert_eq!(status.code(), Some(3), "{name}");
    let s = read_summary(out);
    assert_eq!(s["status"], "interrupted", "{name}");
    assert_eq!(s["gate"]["verdict"], "invalid", "{name}");
    accounted(&s);
    for file in [
        "report.html",
        "summary.md",
        "junit.xml",
        "latency.hlog",
        "steps.csv",
    ] {
        assert!(out.join(file).exists(), "{name}: {file} written");
    }
}

#[test]
fn ctrl_c_ends_a_run_within_10_seconds_in_every_state() {
    let server = server::start();
    let stalled = server::start();
    // Every request to this one hangs for the whole test.
    *stalled.state.stall.lock().unwrap() =
        Some((Instant::now(), Instant::now() + Duration::from_secs(600)));
    let dir = tempfile::tempdir().unwrap();
    let long = "load: { max_in_flight: 20, phases: [{ name: long, duration: 120s, rate: 20/s }] }";
    let flood = FLOOD.replace("5s, rate", "120s, rate");
    let hook = format!(
        "faults:\n  - name: chaos\n    at: 0s\n    for: 100s\n    on: hook\n    fault:\n      hook:\n        \
         start: {{ method: GET, url: \"{}/delay/100000\", timeout: 120s }}\n",
        server.url
    );
    let proxy = "faults:\n  - name: slow\n    at: 0s\n    for: 100s\n    on: proxy/storefront\n    \
                 fault: { latency: { delay: 50ms } }\n";
    let drain = "load: { max_in_flight: 20, drain: 120s, phases: [{ name: short, duration: 2s, rate: 5/s }] }";
    let cases: Vec<(&str, PathBuf, usize)> = vec![
        (
            "dispatching a flood",
            scenario(dir.path(), "flood", &server.url, &flood, ""),
            2,
        ),
        (
            "users on a stalled target",
            scenario(dir.path(), "stalled", &stalled.url, long, ""),
            2,
        ),
        (
            "the fault driver waiting on a hook",
            scenario(dir.path(), "hook", &server.url, long, &hook),
            2,
        ),
        (
            "a proxy fault on",
            scenario(dir.path(), "proxy", &server.url, long, proxy),
            2,
        ),
        (
            "the drain",
            scenario(dir.path(), "drain", &stalled.url, drain, ""),
            4,
        ),
    ];
    std::thread::scope(|scope| {
        for (name, file, rows) in &cases {
            let out = dir.path().join(format!("run-{}", name.replace(' ', "-")));
            scope.spawn(move || interrupt(name, file, &out, *rows));
        }
    });
}
