//! `surge run` as users run it: the real binary against real servers on
//! loopback. Latency is checked against a server of known speed, a stall
//! must show in journey times measured from the intended start (where a
//! closed loop would hide it), patience must retry what it should and
//! nothing else, and the run folder must survive Ctrl-C and SIGKILL.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    named, read_summary, repo, run_scenario as run, scenario_file, server, spawn_run, surge,
};
use serde_json::Value;

fn external(url: &str, load: &str, journeys: &str) -> String {
    format!("version: 1\nname: t\nseed: 3\ntarget: {{ base_url: \"{url}\" }}\n{load}\n{journeys}\n")
}

/// Journeys completed, before or after the deadline (which defaults to
/// the end of the schedule, so the last arrivals finish after it).
fn completed(journey: &Value) -> u64 {
    let o = &journey["outcomes"];
    o["completed_in_time"].as_u64().unwrap() + o["completed_late"].as_u64().unwrap()
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap() / 1000.0
}

#[test]
fn latency_of_a_20ms_server_is_reported_as_20ms() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let text = external(
        &server.url,
        "load: { arrivals: uniform, max_in_flight: 50, phases: [{ name: p, duration: 4s, rate: 25/s }] }",
        "journeys:\n  get: { channel: storefront, steps: [{ name: fixed, path: /fixed }] }",
    );
    let file = scenario_file(dir.path(), "fixed", &text);
    let out = dir.path().join("run");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let s = read_summary(&out);
    assert_eq!(s["status"], "completed");
    assert_eq!(
        s["load"]["scheduled"], 100,
        "uniform arrivals: exactly rate x duration"
    );
    let step = named(&s["steps"], "get.fixed");
    assert_eq!(step["requests"], 100);
    let p50 = ms(&step["latency"]["p50_us"]);
    assert!(
        (20.0..=26.0).contains(&p50),
        "p50 {p50} ms for a 20 ms server"
    );
    let journey = named(&s["journeys"], "get");
    let from_intended = ms(&journey["time"]["p50_us"]);
    assert!(
        (20.0..=27.0).contains(&from_intended),
        "journey p50 {from_intended} ms"
    );
    // The generator is on time: its median start lag is well under a
    // millisecond. The tail is bounded loosely (half the 40 ms between
    // arrivals): the other tests of this file load the same 2 cores, and
    // one late wake-up is the whole p99 of 100 samples.
    assert!(
        ms(&s["load"]["lag"]["p50_us"]) < 1.0 && ms(&s["load"]["lag"]["p99_us"]) < 20.0,
        "start lag {}",
        s["load"]["lag"]
    );
    assert!(stdout.contains("get.fixed"), "{stdout}");
}

/// `--goose-metrics` keeps goose's own bookkeeping as a cross-check: goose's
/// report must count exactly the requests surge counted, step by step
/// (without the flag requests skip goose's bookkeeping, so this is the one
/// place the two are compared).
#[test]
fn goose_metrics_count_the_requests_surge_counts() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let text = external(
        &server.url,
        "load: { arrivals: uniform, max_in_flight: 20, phases: [{ name: p, duration: 2s, rate: 30/s }] }",
        "journeys:\n  get: { channel: storefront, steps: [{ name: fixed, path: /fixed }, { name: fast, path: /fast }] }",
    );
    let file = scenario_file(dir.path(), "goose", &text);
    let out = dir.path().join("run");
    let (code, stdout, stderr) = run(&file, &out, &["--goose-metrics"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let s = read_summary(&out);
    let html = std::fs::read_to_string(out.join("goose-report.html")).expect("goose's report");
    for step in ["get.fixed", "get.fast"] {
        let ours = named(&s["steps"], step)["requests"].as_u64().unwrap();
        assert_eq!(ours, 60, "{step}: every arrival sends it once");
        assert_eq!(
            goose_count(&html, step),
            Some(ours),
            "{step} in goose's report"
        );
    }
}

/// The request count of `step` in goose's HTML report: the first table
/// row naming it reads "GET step COUNT FAILS ...".
fn goose_count(html: &str, step: &str) -> Option<u64> {
    html.split("<tr>").find_map(|row| {
        let text: String = row
            .split('<')
            .map(|part| part.split_once('>').map_or(part, |(_, t)| t))
            .collect::<Vec<_>>()
            .join(" ");
        let words: Vec<&str> = text.split_whitespace().collect();
        let at = words.iter().position(|w| *w == step)?;
        words.get(at + 1)?.parse().ok()
    })
}

#[test]
fn a_stall_shows_in_journey_time_from_the_intended_start() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    // Four users at 20 arrivals/s: while the server stalls for 2 s, the
    // users are stuck and arrivals wait. Request latency (what a closed
    // loop sees) has four slow samples; journey time from the intended
    // start shows every applicant who waited.
    let text = external(
        &server.url,
        "load: { arrivals: uniform, max_in_flight: 4, phases: [{ name: p, duration: 8s, rate: 20/s }] }",
        "journeys:\n  get: { channel: storefront, steps: [{ name: fast, path: /fast }] }",
    );
    let file = scenario_file(dir.path(), "stall", &text);
    let out = dir.path().join("run");
    let started = Instant::now();
    let state = server.state.clone();
    std::thread::spawn(move || {
        // The run's clock starts within about a second of launch.
        std::thread::sleep(Duration::from_secs(3));
        let from = Instant::now();
        *state.stall.lock().unwrap() = Some((from, from + Duration::from_secs(2)));
    });
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let s = read_summary(&out);
    let journey = named(&s["journeys"], "get");
    let step = named(&s["steps"], "get.fast");
    let journey_p99 = ms(&journey["time"]["p99_us"]);
    let request_p90 = ms(&step["latency"]["p90_us"]);
    assert!(
        journey_p99 >= 1500.0,
        "journey p99 {journey_p99} ms should show the 2 s stall"
    );
    assert!(
        request_p90 < 100.0,
        "request p90 {request_p90} ms: per-request timing hides the stall"
    );
    assert!(
        s["load"]["late"].as_u64().unwrap() >= 20,
        "arrivals waited for a free user: {}",
        s["load"]
    );
    assert_eq!(completed(journey), 160);
}

#[test]
fn patience_retries_what_it_should_and_nothing_else() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let journeys = "journeys:
  flaky:
    channel: storefront
    patience: { attempts: 3, backoff: { initial: 20ms, max: 50ms, jitter: 0% } }
    steps: [{ name: get, path: \"/flaky/{arrival}/2\" }]
  impatient:
    channel: storefront
    patience: { attempts: 2, backoff: { initial: 20ms, max: 50ms } }
    steps: [{ name: get, path: \"/flaky/x{arrival}/5\" }]
  bad:
    channel: storefront
    steps: [{ name: get, path: /bad }]";
    let text = external(
        &server.url,
        "load: { arrivals: uniform, max_in_flight: 30, phases: [{ name: p, duration: 2s, rate: 15/s }] }",
        journeys,
    );
    let file = scenario_file(dir.path(), "patience", &text);
    let out = dir.path().join("run");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let s = read_summary(&out);
    let flaky = named(&s["journeys"], "flaky");
    let n = flaky["scheduled"].as_u64().unwrap();
    assert_eq!(
        flaky["outcomes"]["completed_in_time"], n,
        "two 503s, then success: {flaky}"
    );
    assert_eq!(flaky["retries"], 2 * n);
    assert_eq!(flaky["retry_amplification"], 3.0);
    let impatient = named(&s["journeys"], "impatient");
    assert_eq!(
        impatient["outcomes"]["abandoned"], impatient["scheduled"],
        "out of tries: {impatient}"
    );
    let bad = named(&s["journeys"], "bad");
    assert_eq!(
        bad["outcomes"]["failed"], bad["scheduled"],
        "a 400 is not retried: {bad}"
    );
    assert_eq!(bad["retries"], 0);
    assert_eq!(
        named(&s["steps"], "bad.get")["errors"]["http_4xx"],
        bad["scheduled"]
    );
    let classes: Vec<&str> = s["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["unavailable", "http_4xx"]);
}

/// 429 and 503 say different things (the client is too fast; the platform
/// cannot serve): each is its own class, and both are retried by default.
/// The old name `queue_full` still reads in `retry_on`, as both, with a
/// warning naming the new classes.
#[test]
fn a_429_counts_rate_limited_and_a_503_unavailable() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let journeys = "journeys:
  limited:
    channel: storefront
    patience: { attempts: 2, backoff: { initial: 10ms, max: 10ms, jitter: 0% } }
    steps: [{ name: get, path: /status/429 }]
  down:
    channel: storefront
    patience: { attempts: 2, backoff: { initial: 10ms, max: 10ms, jitter: 0% }, retry_on: [queue_full] }
    steps: [{ name: get, path: /status/503 }]";
    let text = external(
        &server.url,
        "load: { arrivals: uniform, max_in_flight: 10, phases: [{ name: p, duration: 1s, rate: 10/s }] }",
        journeys,
    );
    let file = scenario_file(dir.path(), "statuses", &text);
    let out = dir.path().join("run");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("statuses.yaml:13:") && stderr.contains("`queue_full` is now two classes"),
        "{stderr}"
    );
    let s = read_summary(&out);
    for (journey, class, other) in [
        ("limited", "rate_limited", "unavailable"),
        ("down", "unavailable", "rate_limited"),
    ] {
        let j = named(&s["journeys"], journey);
        let n = j["scheduled"].as_u64().unwrap();
        assert_eq!(j["outcomes"]["abandoned"], n, "{j}");
        assert_eq!(j["retries"], n, "retried once each: {j}");
        let step = named(&s["steps"], &format!("{journey}.get"));
        assert_eq!(step["errors"][class], 2 * n, "{step}");
        assert!(step["errors"].get(other).is_none(), "{step}");
    }
    assert!(
        stdout.contains("rate_limited") && stdout.contains("unavailable"),
        "{stdout}"
    );
    assert!(!stdout.contains("queue_full"), "{stdout}");
}

#[test]
fn templates_captures_and_polls_reach_the_server() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let journeys = "journeys:
  echo:
    channel: storefront
    vars: { who: \"applicant-{arrival}\" }
    headers: { X-Session: \"{token}\" }
    steps:
      - name: send
        method: POST
        path: /echo
        json: { id: \"{arrival}\", who: \"{who}\", secret: \"${SURGE_TEST_SECRET}\", n: 3 }
        expect: { status: 200, json: [{ path: $.body.n, equals: 3 }] }
        capture: { token: $.body.who, id: $.body.id }
      - name: wait
        path: \"/poll/{id}\"
        until: { path: $.ready, equals: true }
        poll: { every: 30ms, timeout: 2s }
        expect: { json: [{ path: $.calls, at_least: 3 }] }";
    let text = external(
        &server.url,
        "load: { arrivals: uniform, phases: [{ name: p, duration: 1s, rate: 10/s }] }",
        journeys,
    );
    let file = scenario_file(dir.path(), "echo", &text);
    let out = dir.path().join("run");
    let output = surge()
        .args(["run", "-q", "--out"])
        .arg(&out)
        .arg(&file)
        .env("SURGE_TEST_SECRET", "s3cret-value")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let s = read_summary(&out);
    let echo = named(&s["journeys"], "echo");
    assert_eq!(completed(echo), 10, "{echo}");
    assert_eq!(
        named(&s["steps"], "echo.wait")["requests"],
        30,
        "three polls each"
    );
    let seen = server.state.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 10);
    for body in &seen {
        let id = body["id"]
            .as_u64()
            .expect("a sole `{arrival}` keeps its number type");
        assert_eq!(body["who"], format!("applicant-{id}"));
        assert_eq!(body["secret"], "s3cret-value");
        assert_eq!(body["n"], 3);
    }
    let everything = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        !everything.contains("s3cret-value"),
        "a secret leaked into the run folder"
    );
}

#[test]
fn targets_off_loopback_are_refused_and_dead_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    let load = "load: { phases: [{ name: p, duration: 1s, rate: 1/s }] }";
    let journeys = "journeys:\n  j: { channel: storefront, steps: [{ name: s, path: / }] }";
    let remote = scenario_file(
        dir.path(),
        "remote",
        &external("http://10.255.255.1:9", load, journeys),
    );
    let (code, _, stderr) = run(&remote, &dir.path().join("a"), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("refusing to load `10.255.255.1`")
            && stderr.contains("--allow-remote-target"),
        "{stderr}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dead = scenario_file(
        dir.path(),
        "dead",
        &external(&format!("http://{closed}"), load, journeys),
    );
    let (code, _, stderr) = run(&dead, &dir.path().join("b"), &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("does not accept connections"), "{stderr}");
}

fn signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{sig} {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the run folder has `rows` seconds in timeline.csv.
fn wait_rows(out: &std::path::Path, rows: usize) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let n = std::fs::read_to_string(out.join("timeline.csv"))
            .map_or(0, |t| t.lines().count().saturating_sub(1));
        if n >= rows {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the run never wrote {rows} seconds");
}

#[test]
fn ctrl_c_stops_arrivals_and_writes_everything() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let text = external(
        &server.url,
        "load: { phases: [{ name: long, duration: 60s, rate: 20/s }] }",
        "journeys:\n  get: { channel: storefront, steps: [{ name: fixed, path: /fixed }] }",
    );
    let file = scenario_file(dir.path(), "long", &text);
    let out = dir.path().join("run");
    let mut child = spawn_run(&file, &out, &[]);
    wait_rows(&out, 2);
    let interrupted = Instant::now();
    signal(&child, "INT");
    let status = child.wait().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "stopped within the grace"
    );
    assert_eq!(status.code(), Some(3));
    let s = read_summary(&out);
    assert_eq!(s["status"], "interrupted");
    let scheduled = s["load"]["scheduled"].as_u64().unwrap();
    assert!(
        (20..400).contains(&scheduled),
        "arrivals stopped early: {scheduled}"
    );
    assert_eq!(
        s["load"]["started"], scheduled,
        "journeys in flight got their grace"
    );
}

#[test]
fn a_killed_run_leaves_what_it_measured() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let text = external(
        &server.url,
        "load: { phases: [{ name: long, duration: 60s, rate: 20/s }] }",
        "journeys:\n  get: { channel: storefront, steps: [{ name: fixed, path: /fixed }] }",
    );
    let file = scenario_file(dir.path(), "long", &text);
    let out = dir.path().join("run");
    let mut child = spawn_run(&file, &out, &[]);
    wait_rows(&out, 3);
    signal(&child, "KILL");
    child.wait().unwrap();
    let s = read_summary(&out);
    assert_eq!(
        s["status"], "running",
        "the skeleton written at the start remains"
    );
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let requests: u64 = timeline
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(12).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(requests >= 40, "{timeline}");
    let hlog = std::fs::read_to_string(out.join("latency.hlog")).unwrap();
    assert!(
        hlog.lines()
            .filter(|l| l.starts_with("Tag=step:get.fixed,"))
            .count()
            >= 3,
        "{hlog}"
    );
}

#[test]
fn the_smoke_scenario_is_a_clean_rehearsal_against_the_twin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = run(&repo("scenarios/smoke.yaml"), &out, &["--duration", "10s"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let s = read_summary(&out);
    assert_eq!(s["target"]["kind"], "twin");
    for journey in s["journeys"].as_array().unwrap() {
        assert_eq!(
            completed(journey),
            journey["scheduled"].as_u64().unwrap(),
            "{journey}"
        );
    }
    assert!(
        s["errors"].as_array().unwrap().is_empty(),
        "{}",
        s["errors"]
    );
    let ledger = &s["ledger"];
    assert!(
        ledger["invariants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["holds"] == true),
        "{ledger}"
    );
    assert_eq!(
        ledger["counters"]["payments_captured"],
        named(&s["journeys"], "buyer")["scheduled"]
    );
    for file in [
        "latency.hlog",
        "timeline.csv",
        "scenario.yaml",
        "summary.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
}
