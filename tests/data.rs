//! Test data from files, against a real loopback server that logs the rows
//! it is sent: `pick: unique` over three shard processes uses each row at
//! most once and exactly the rows the schedule asked for; unique rows that
//! run out drop later arrivals as `data_exhausted` and the run stays
//! valid; `random` with one seed picks the same rows twice; every data
//! mistake is found by `surge validate` at its line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{read_summary, run_scenario, scenario_file, server, surge};
use serde_json::Value;

/// A CSV of `rows` accounts: `phone` is `0812` and the row number, `otp`
/// a code made from it; a quoted cell with a comma checks quoting.
fn accounts(dir: &Path, rows: usize) {
    let mut text = String::from("phone,otp,name\n");
    for i in 0..rows {
        text.push_str(&format!(
            "0812{i:07},{:06},\"Applicant, {i}\"\n",
            i * 7 % 1_000_000
        ));
    }
    std::fs::write(dir.join("accounts.csv"), text).unwrap();
}

fn scenario(base_url: &str, pick: &str, rate: u32, extra: &str) -> String {
    format!(
        r#"
version: 1
name: data
seed: 5
target:
  base_url: {base_url}
load:
  max_in_flight: 50
  phases:
    - {{ name: surge, duration: 4s, rate: {rate}/s }}
data:
  accounts: {{ file: accounts.csv, pick: {pick}{extra} }}
journeys:
  buyer:
    channel: storefront
    feed: accounts
    vars: {{ phone: "{{accounts.phone}}" }}
    steps:
      - name: login
        method: POST
        path: /echo
        json: {{ phone: "{{phone}}", otp: "{{accounts.otp}}", name: "{{accounts.name}}", arrival: "{{arrival}}" }}
"#
    )
}

/// The row number of every body the server saw, by arrival id.
fn rows_seen(seen: &[Value]) -> BTreeMap<u64, usize> {
    seen.iter()
        .map(|body| {
            let phone = body["phone"].as_str().unwrap();
            let row: usize = phone[4..].parse().unwrap();
            assert_eq!(body["otp"], format!("{:06}", row * 7 % 1_000_000));
            assert_eq!(body["name"], format!("Applicant, {row}"));
            (body["arrival"].as_u64().expect("arrival is a number"), row)
        })
        .collect()
}

#[test]
fn unique_rows_over_three_shards_are_used_once_and_are_the_rows_asked_for() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    accounts(dir.path(), 5_000);
    let file = scenario_file(
        dir.path(),
        "unique",
        &scenario(&server.url, "unique", 300, ""),
    );
    let children: Vec<_> = (1..=3)
        .map(|k| {
            let out = dir.path().join(format!("shard{k}"));
            let shard = format!("{k}/3");
            (
                out.clone(),
                common::spawn_run(&file, &out, &["--shard", &shard]),
            )
        })
        .collect();
    let mut scheduled = 0;
    let mut started = 0;
    for (out, mut child) in children {
        assert_eq!(child.wait().unwrap().code(), Some(0), "shard in {out:?}");
        let summary = read_summary(&out);
        scheduled += summary["load"]["scheduled"].as_u64().unwrap();
        started += summary["load"]["started"].as_u64().unwrap();
        assert_eq!(summary["load"]["data_exhausted"], 0);
    }
    let seen = server.state.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len() as u64,
        started,
        "one request per started arrival"
    );
    let rows = rows_seen(&seen);
    let distinct: BTreeSet<usize> = rows.values().copied().collect();
    assert_eq!(distinct.len(), seen.len(), "a row was used twice");
    // Arrival k of the journey (all shards counted) takes row k: the rows
    // used are exactly the first `scheduled`.
    assert!(scheduled > 900, "{scheduled} arrivals");
    assert_eq!(started, scheduled);
    assert_eq!(distinct, (0..scheduled as usize).collect::<BTreeSet<_>>());
}

#[test]
fn unique_rows_that_run_out_drop_later_arrivals_and_the_run_stays_valid() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    accounts(dir.path(), 100);
    let file = scenario_file(
        dir.path(),
        "exhausted",
        &scenario(&server.url, "unique", 100, ", on_exhausted: stop"),
    );
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run_scenario(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let summary = read_summary(&out);
    let load = &summary["load"];
    let scheduled = load["scheduled"].as_u64().unwrap();
    assert!(scheduled > 300, "{scheduled}");
    assert_eq!(load["data_exhausted"].as_u64().unwrap(), scheduled - 100);
    assert_eq!(load["dropped"], load["data_exhausted"]);
    assert_eq!(load["started"], 100);
    assert_eq!(summary["gate"]["validity"]["valid"], true);
    assert_eq!(summary["journeys"][0]["goodput"], 1.0);
    let rows = rows_seen(&server.state.seen.lock().unwrap());
    let distinct: BTreeSet<usize> = rows.values().copied().collect();
    assert_eq!(distinct, (0..100).collect());
    let report = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        report.contains("ran out of test data"),
        "the report says why arrivals were dropped"
    );
}

#[test]
fn random_rows_repeat_with_the_seed() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    accounts(dir.path(), 1_000);
    let file = scenario_file(
        dir.path(),
        "random",
        &scenario(&server.url, "random", 50, ""),
    );
    let mut runs = Vec::new();
    for k in 0..2 {
        server.state.seen.lock().unwrap().clear();
        let out = dir.path().join(format!("out{k}"));
        let (code, stdout, stderr) = run_scenario(&file, &out, &[]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        runs.push(rows_seen(&server.state.seen.lock().unwrap()));
    }
    assert!(runs[0].len() > 100);
    assert_eq!(runs[0], runs[1], "the same arrivals took the same rows");
    let distinct: BTreeSet<usize> = runs[0].values().copied().collect();
    assert!(
        distinct.len() > runs[0].len() / 2,
        "rows are spread, not repeated"
    );
    let in_order: Vec<usize> = runs[0].values().copied().collect();
    assert!(
        in_order.windows(2).any(|w| w[1] != w[0] + 1),
        "not sequential"
    );
}

fn validate(dir: &Path, body: &str) -> (i32, String) {
    let file = scenario_file(dir, "check", body);
    let out = surge().arg("validate").arg(&file).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn validate_finds_every_data_mistake_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    accounts(dir.path(), 10);
    let ok = scenario("http://127.0.0.1:9", "sequential", 10, "");
    assert_eq!(
        validate(dir.path(), &ok).0,
        0,
        "{}",
        validate(dir.path(), &ok).1
    );

    // A column that is not in the header, with a near miss.
    let (code, text) = validate(dir.path(), &ok.replace("{accounts.otp}", "{accounts.opt}"));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("`accounts` has no column `opt`"), "{text}");
    assert!(
        text.contains("its columns are `phone`, `otp` or `name`"),
        "{text}"
    );
    assert!(
        text.contains("check.yaml:22:"),
        "located at the json line: {text}"
    );
    let (code, text) = validate(
        dir.path(),
        &ok.replace("{accounts.phone}", "{accounts.phon}"),
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("check.yaml:17:") && text.contains("did you mean `phone`?"),
        "{text}"
    );

    // Data the journey does not feed on.
    let (code, text) = validate(dir.path(), &ok.replace("    feed: accounts\n", ""));
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("which this journey does not feed on"),
        "{text}"
    );
    assert!(text.contains("add `feed: accounts`"), "{text}");

    // A feed of data never declared.
    let (code, text) = validate(dir.path(), &ok.replace("feed: accounts", "feed: acounts"));
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("no data named `acounts`") && text.contains("did you mean `accounts`?"),
        "{text}"
    );

    // A malformed row, by file and line.
    std::fs::write(
        dir.path().join("accounts.csv"),
        "phone,otp,name\n1,2,3\n4,5\n",
    )
    .unwrap();
    let (code, text) = validate(dir.path(), &ok);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("accounts.csv:3: 2 fields where the header has 3"),
        "{text}"
    );

    // `on_exhausted: fail` with fewer rows than the schedule expects.
    accounts(dir.path(), 10);
    let (code, text) = validate(
        dir.path(),
        &scenario("http://127.0.0.1:9", "unique", 10, ", on_exhausted: fail"),
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("expects about 40 arrivals to take a row of `accounts`, which has 10 rows"),
        "{text}"
    );
    // `on_exhausted` with a pick that never runs out; a secret column
    // that does not exist; a missing file.
    let (code, text) = validate(
        dir.path(),
        &scenario(
            "http://127.0.0.1:9",
            "random",
            10,
            ", on_exhausted: stop, secret_columns: [pin]",
        ),
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("`on_exhausted` applies to `pick: unique` only"),
        "{text}"
    );
    assert!(text.contains("`accounts` has no column `pin`"), "{text}");
    let (code, text) = validate(dir.path(), &ok.replace("accounts.csv", "nope.csv"));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no file at"), "{text}");
}
