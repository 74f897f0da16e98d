//! The gate on real runs: every objective kind met and missed, windows
//! (phase, fault, outside faults), recovery after a stall, too few
//! samples, invalid runs (exit 3), and `surge compare` on pure noise and
//! on an injected regression, and on unchanged runs of smoke.yaml (an A/A
//! run must pass) against a slower signing service.

mod common;

use std::time::Duration;

use common::{
    objective, read_summary, repo, run_printed as run, run_scenario, scenario_file, server, surge,
};

#[test]
fn every_objective_kind_is_met_or_missed_on_what_was_measured() {
    let server = server::start();
    // /staged stalls requests from 2 s to 3 s after the first request;
    // the fault window in the scenario covers it (and requests finishing
    // just after it).
    *server.state.staged.lock().unwrap() = Some((Duration::from_secs(2), Duration::from_secs(3)));
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"version: 1
name: gate
target: {{ base_url: "{url}" }}
load:
  arrivals: uniform
  max_in_flight: 200
  phases:
    - {{ name: before, duration: 2s, rate: 40/s }}
    - {{ name: around, duration: 2s, rate: 40/s }}
    - {{ name: after, duration: 3s, rate: 40/s }}
mix: {{ staged: 2, fixed: 2, bad: 1 }}
journeys:
  staged: {{ channel: storefront, steps: [{{ name: get, path: /staged }}] }}
  fixed: {{ channel: stamping, steps: [{{ name: get, path: /delay/20 }}] }}
  bad: {{ channel: partner/pos, steps: [{{ name: get, path: /bad }}] }}
faults:
  - name: stall
    at: 1500ms
    for: 2500ms
    on: hook
    fault: {{ hook: {{ start: {{ url: "{url}/fast" }} }} }}
deadline: after.end
objectives:
  - latency: {{ name: calm-outside-faults, step: staged.get, p: 95, at_most: 50ms, outside_faults: true }}
  - latency: {{ name: stalled-during-fault, step: staged.get, p: 95, at_most: 50ms, during: stall }}
  - latency: {{ name: before-phase-fast, step: staged.get, p: 90, at_most: 50ms, during: before }}
  - recovery: {{ name: recovers, fault: stall, step: staged.get, p: 95, at_most: 50ms, within: 2s }}
  - latency: {{ name: fixed-20ms-under-30, step: fixed.get, p: 50, at_most: 30ms }}
  - latency: {{ name: fixed-20ms-under-10, step: fixed.get, p: 50, at_most: 10ms }}
  - latency: {{ name: needs-more-samples, step: fixed.get, p: 50, at_most: 1s, min_samples: 100000 }}
  - latency: {{ name: journey-time, journey: fixed, p: 90, at_most: 40ms }}
  - latency: {{ name: channel-latency, channel: stamping, p: 90, at_most: 40ms }}
  - error_rate: {{ name: bad-fails, step: bad.get, at_most: 1% }}
  - error_rate: {{ name: bad-has-no-5xx, step: bad.get, at_most: 1%, classes: [http_5xx] }}
  - error_rate: {{ name: fixed-clean, channel: stamping, at_most: 1% }}
  - error_rate: {{ name: bad-journeys-fail, journey: bad, at_most: 10% }}
  - goodput: {{ name: fixed-goodput, journey: fixed, at_least: 90% }}
  - goodput: {{ name: overall-goodput, at_least: 90% }}
  - throughput: {{ name: fixed-throughput, step: fixed.get, at_least: 12/s }}
  - throughput: {{ name: too-much-asked, step: fixed.get, at_least: 1000/s }}
  - throughput: {{ name: journeys-per-second, journey: fixed, at_least: 12/s, during: after }}
"#,
        url = server.url
    );
    let file = scenario_file(dir.path(), "gate", &text);
    let out = dir.path().join("run");
    let (code, output) = run(&file, &out);
    assert_eq!(code, 1, "some objectives are meant to fail:\n{output}");
    let s = read_summary(&out);
    assert_eq!(s["gate"]["verdict"], "fail");
    assert_eq!(
        s["gate"]["validity"]["valid"], true,
        "{}",
        s["gate"]["validity"]
    );
    let expect = [
        ("calm-outside-faults", "met"),
        ("stalled-during-fault", "missed"),
        ("before-phase-fast", "met"),
        ("recovers", "met"),
        ("fixed-20ms-under-30", "met"),
        ("fixed-20ms-under-10", "missed"),
        ("needs-more-samples", "unjudged"),
        ("journey-time", "met"),
        ("channel-latency", "met"),
        ("bad-fails", "missed"),
        ("bad-has-no-5xx", "met"),
        ("fixed-clean", "met"),
        ("bad-journeys-fail", "missed"),
        ("fixed-goodput", "met"),
        ("overall-goodput", "missed"),
        ("fixed-throughput", "met"),
        ("too-much-asked", "missed"),
        ("journeys-per-second", "met"),
    ];
    let mut wrong = Vec::new();
    for (name, judgement) in expect {
        let o = objective(&s, name);
        if o["judgement"] != judgement {
            wrong.push(format!(
                "{name}: expected {judgement}, got {} ({})",
                o["judgement"], o["detail"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Verdicts carry the figures behind them.
    let o = objective(&s, "fixed-20ms-under-10");
    let measured = o["measured"].as_f64().unwrap();
    assert!((20_000.0..=26_000.0).contains(&measured), "{o}");
    assert_eq!(o["bound"], 10_000.0);
    assert!(o["samples"].as_u64().unwrap() >= 80);
    assert_eq!(objective(&s, "needs-more-samples")["samples"], o["samples"]);
    // The CI files say the same.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"tests="19" failures="6" errors="1""#),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"fixed-20ms-under-10\"") && junit.contains("against a bound of 10ms"),
        "{junit}"
    );
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("❌ fail") && md.contains("| fixed-20ms-under-10 | ❌ missed |"),
        "{md}"
    );
}

#[test]
fn a_run_that_dropped_arrivals_is_invalid_not_failed() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "version: 1\nname: starved\ntarget: {{ base_url: \"{}\" }}\n\
         load: {{ max_in_flight: 1, max_lateness: 50ms, phases: [{{ name: p, duration: 2s, rate: 100/s }}] }}\n\
         journeys:\n  j: {{ channel: storefront, steps: [{{ name: s, path: /delay/30 }}] }}\n\
         objectives:\n  - error_rate: {{ at_most: 100% }}\n",
        server.url
    );
    let file = scenario_file(dir.path(), "starved", &text);
    let out = dir.path().join("run");
    let (code, output) = run(&file, &out);
    assert_eq!(code, 3, "{output}");
    let s = read_summary(&out);
    assert_eq!(s["gate"]["verdict"], "invalid");
    let reasons = s["gate"]["validity"]["reasons"].to_string();
    assert!(
        reasons.contains("arrivals were dropped") && reasons.contains("max_in_flight"),
        "{reasons}"
    );
    assert!(output.contains("INVALID"), "{output}");
}

#[test]
fn compare_ignores_noise_and_catches_a_regression() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, delay: u64| {
        let text = format!(
            "version: 1\nname: cmp\nseed: 5\ntarget: {{ base_url: \"{}\" }}\n\
             load: {{ arrivals: uniform, phases: [{{ name: p, duration: 4s, rate: 100/s }}] }}\n\
             journeys:\n  j: {{ channel: storefront, steps: [{{ name: s, path: /delay/{delay} }}] }}\n",
            server.url
        );
        scenario_file(dir.path(), name, &text)
    };
    let (base, same, slow) = (
        dir.path().join("base"),
        dir.path().join("same"),
        dir.path().join("slow"),
    );
    assert_eq!(run(&scenario("a", 20), &base).0, 0);
    assert_eq!(run(&scenario("b", 20), &same).0, 0);
    assert_eq!(run(&scenario("c", 35), &slow).0, 0);

    let noise = surge()
        .arg("compare")
        .arg(&base)
        .arg(&same)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&noise.stdout);
    assert_eq!(
        noise.status.code(),
        Some(0),
        "the same system twice is not a regression:\n{table}"
    );
    assert!(
        table.contains("no regression") && table.contains("| j.s | p99 |"),
        "{table}"
    );

    let md = dir.path().join("pr.md");
    let regression = surge()
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&regression.stdout);
    assert_eq!(regression.status.code(), Some(1), "{table}");
    let p50 = table
        .lines()
        .find(|l| l.starts_with("| j.s | p50 |"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        p50.contains("**worse**") && p50.contains("quantile difference, p "),
        "{table}"
    );
    assert_eq!(std::fs::read_to_string(&md).unwrap(), table);

    // Summaries alone have no distributions: latency is shown, not judged.
    let by_summary = surge()
        .arg("compare")
        .arg(base.join("summary.json"))
        .arg(slow.join("summary.json"))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&by_summary.stdout);
    assert_eq!(by_summary.status.code(), Some(0), "{table}");
    assert!(
        table.contains("| j.s | p50 |") && table.contains("values only"),
        "{table}"
    );
    // Nonsense is refused.
    let bad = surge()
        .arg("compare")
        .arg(&base)
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn ledger_objectives_and_validity_rules_read_the_summary() {
    use surge::gate::{judge, validity};
    use surge::rundata::RunData;
    use surge::scenario::model::{Invariant, LedgerCounter, LedgerObjective, Objective};
    use surge::summary::Judgement;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // A short smoke run: whether its own objectives pass does not matter
    // here, only its ledger.
    let o = surge()
        .args(["run", "-q", "--duration", "4s", "--out"])
        .arg(&out)
        .arg(repo("scenarios/smoke.yaml"))
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let mut data = RunData::load(&out).unwrap();
    let objectives = vec![
        Objective::Ledger(LedgerObjective {
            name: None,
            counter: LedgerCounter::PaidNotCredited,
            at_most: 0,
        }),
        Objective::Invariant(Invariant::PaymentsCredited),
    ];
    let gate = judge(&objectives, &data, 0.01);
    assert!(
        gate.objectives
            .iter()
            .all(|o| o.judgement == Judgement::Met),
        "{:?}",
        gate.objectives
    );
    // Three callbacks lost: the books no longer balance.
    let ledger = data.summary.ledger.as_mut().unwrap();
    ledger.counters.credits_lost = 3;
    ledger.counters.payments_captured += 3;
    let gate = judge(&objectives, &data, 0.01);
    assert_eq!(gate.objectives[0].judgement, Judgement::Missed);
    assert_eq!(gate.objectives[0].measured, Some(3.0));
    assert_eq!(gate.objectives[1].judgement, Judgement::Missed);
    // A generator that used every core is not trusted.
    data.summary.run.generator.cpu_max_pct = Some(100.0 * data.summary.run.generator.cpus as f64);
    assert!(!validity(&data.summary, 0.01).valid);
    data.summary.run.generator.cpu_max_pct = Some(10.0);
    data.summary.load.started = data.summary.load.scheduled * 9 / 10;
    let v = validity(&data.summary, 0.01);
    assert!(
        !v.valid && v.reasons[0].contains("scheduled arrivals started"),
        "{v:?}"
    );
    assert!(validity(&data.summary, 0.2).valid, "within a 20% tolerance");
}

/// `surge compare` with `extra` arguments: (exit code, the table).
fn compare(args: &[&std::path::Path], extra: &[&str]) -> (i32, String) {
    let o = surge()
        .arg("compare")
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().expect("exited"), text)
}

#[test]
fn unchanged_smoke_runs_pass_every_pair_and_three_times_slower_signing_fails() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo("scenarios/smoke.yaml");
    // The same scenario with the twin's signing three times slower than its
    // default (median 40 ms, p99 400 ms).
    let text = std::fs::read_to_string(&smoke).unwrap().replacen(
        "\n  twin:\n",
        "\n  twin:\n    core: { signing: { service_time: { median: 120ms, p99: 1200ms } } }\n",
        1,
    );
    assert!(text.contains("median: 120ms"));
    let slow = scenario_file(dir.path(), "slow-signing", &text);
    // Six times smoke's rate over its twenty seconds: ~640 journeys a run.
    // At three times (~320), a CI machine once judged every row of a 3x
    // slower signer "same" against three unchanged bases (the new run must
    // be worse than each, and post-office stamps numbered 68); twice the
    // journeys make the stamp's p90 judgeable too and the p50s sharper,
    // while unchanged pairs stayed far from an alarm (no p below 0.1).
    let short = ["--scale", "6"];
    let runs: Vec<_> = (0..4)
        .map(|i| dir.path().join(format!("same-{i}")))
        .collect();
    for out in &runs {
        let (code, stdout, stderr) = run_scenario(&smoke, out, &short);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            let (code, table) = compare(&[&runs[i], &runs[j]], &[]);
            assert_eq!(
                code, 0,
                "an unchanged system is no regression ({i} vs {j}):\n{table}"
            );
            assert!(table.contains("Same schedule"), "{table}");
        }
    }
    let slower = dir.path().join("slow");
    run_scenario(&slow, &slower, &short);
    assert!(slower.join("summary.json").is_file());
    let (code, table) = compare(&[&runs[0], &slower], &[]);
    assert_eq!(code, 1, "three times slower signing must fail:\n{table}");
    let worse: Vec<&str> = table.lines().filter(|l| l.contains("**worse**")).collect();
    assert!(!worse.is_empty(), "{table}");
    for row in &worse {
        assert!(
            row.contains("quantile difference, p ")
                || row.contains("Poisson rates, p ")
                || row.contains("two proportions, p "),
            "a worse row names its test: {row}"
        );
    }
    // Another scenario file is another schedule: throughput is not judged.
    assert!(table.contains("not comparable"), "{table}");
    // Against every unchanged run at once, it is still worse.
    let (code, table) = compare(
        &[&runs[0], &slower],
        &[
            "--base",
            runs[1].to_str().unwrap(),
            "--base",
            runs[2].to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{table}");
}
