//! Values beyond what one process can carry are refused before any load,
//! each at its line with the limit and what to do instead (exit 2): a typo
//! of three zeros must not abort the process or hammer a system. Each limit
//! is tried at the limit (accepted) and just beyond (refused).

mod common;

use std::path::Path;

use common::{repo, scenario_file, surge};

/// A valid scenario with `load` and one step written as given.
fn scenario(load: &str, step: &str) -> String {
    format!(
        "version: 1\nname: limits\ntarget: {{ base_url: \"http://127.0.0.1:9\" }}\n{load}\n\
         journeys:\n  get:\n    channel: storefront\n    steps:\n      - {{ name: s, method: POST, path: /x{step} }}\n"
    )
}

const LOAD: &str = "load: { phases: [{ name: p, duration: 1s, rate: 1/s }] }";

/// `surge validate` on `text`: (exit code, stdout and stderr).
fn validate(dir: &Path, name: &str, text: &str, extra: &[&str]) -> (i32, String) {
    let file = scenario_file(dir, name, text);
    let out = surge()
        .arg("validate")
        .args(extra)
        .arg(&file)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

#[test]
fn every_limit_accepts_its_value_and_refuses_one_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let headers = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("h{i}: v")).collect();
        format!(", headers: {{ {} }}", list.join(", "))
    };
    let journey = |extra: &str, steps: usize| {
        let list: Vec<String> = (0..steps)
            .map(|i| format!("      - {{ name: s{i}, path: /x }}"))
            .collect();
        format!(
            "version: 1\nname: limits\ntarget: {{ base_url: \"http://127.0.0.1:9\" }}\n{LOAD}\n\
             journeys:\n  get:\n    channel: storefront\n    {extra}\n    steps:\n{}\n",
            list.join("\n")
        )
    };
    let vars = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("v{i}: x")).collect();
        format!("vars: {{ {} }}", list.join(", "))
    };
    let phases = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| format!("{{ name: p{i}, duration: 1s, rate: 1/s }}"))
            .collect();
        scenario(&format!("load: {{ phases: [{}] }}", list.join(", ")), "")
    };
    let journeys = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| format!("  j{i}: {{ channel: storefront, steps: [{{ name: s, path: /x }}] }}"))
            .collect();
        format!(
            "version: 1\nname: limits\ntarget: {{ base_url: \"http://127.0.0.1:9\" }}\n{LOAD}\njourneys:\n{}\n",
            list.join("\n")
        )
    };
    let faults = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "  - {{ name: f{i}, at: {i}s, for: 1s, on: hook, fault: {{ hook: {{ start: {{ url: \"http://127.0.0.1:9/x\" }} }} }} }}"
                )
            })
            .collect();
        format!(
            "{}faults:\n{}\n",
            scenario(
                "load: { phases: [{ name: p, duration: 2000s, rate: 1/m }] }",
                ""
            ),
            list.join("\n")
        )
    };
    let phase = |duration: &str, rate: &str| {
        format!("load: {{ phases: [{{ name: p, duration: {duration}, rate: {rate} }}] }}")
    };
    // (limit, at the limit, beyond it, words the refusal says)
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "pdf",
            scenario(LOAD, ", pdf: 64MiB"),
            scenario(LOAD, ", pdf: 67108865B"),
            "larger than the 65536KiB",
        ),
        (
            "max_in_flight",
            scenario(
                "load: { max_in_flight: 20000, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
                "",
            ),
            scenario(
                "load: { max_in_flight: 20001, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
                "",
            ),
            "more than the 20000 one process may hold",
        ),
        (
            "peak rate",
            scenario(&phase("1s", "1000000/s"), ""),
            scenario(&phase("1s", "1000001/s"), ""),
            "more than the 1000000/s",
        ),
        (
            "arrivals",
            scenario(&phase("100s", "1000000/s"), ""),
            scenario(&phase("101s", "1000000/s"), ""),
            "more than the 100000000",
        ),
        (
            "phase duration",
            scenario(&phase("48h", "1/m"), ""),
            scenario(&phase("172801s", "1/m"), ""),
            "longer than the 48h",
        ),
        (
            "think",
            scenario(LOAD, ", think: 48h"),
            scenario(LOAD, ", think: 172801s"),
            "longer than the 48h",
        ),
        (
            "step timeout",
            scenario(LOAD, ", timeout: 48h"),
            scenario(LOAD, ", timeout: 172801s"),
            "longer than the 48h",
        ),
        (
            "drain",
            scenario(
                "load: { drain: 48h, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
                "",
            ),
            scenario(
                "load: { drain: 172801s, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
                "",
            ),
            "longer than the 48h",
        ),
        (
            "headers",
            scenario(LOAD, &headers(100)),
            scenario(LOAD, &headers(101)),
            "101 headers, more than the 100",
        ),
        (
            "max_lateness",
            scenario(
                "load: { max_lateness: 48h, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
                "",
            ),
            scenario(
                "load: { max_lateness: 172801s, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
                "",
            ),
            "longer than the 48h",
        ),
        (
            "give_up",
            journey("patience: { give_up: 48h }", 1),
            journey("patience: { give_up: 172801s }", 1),
            "longer than the 48h",
        ),
        (
            "backoff",
            journey("patience: { backoff: { max: 48h } }", 1),
            journey("patience: { backoff: { max: 172801s } }", 1),
            "longer than the 48h",
        ),
        (
            "steps",
            journey("", 1000),
            journey("", 1001),
            "1001 steps, more than the 1000",
        ),
        (
            "vars",
            journey(&vars(100), 1),
            journey(&vars(101), 1),
            "101 vars, more than the 100",
        ),
        (
            "phases",
            phases(1000),
            phases(1001),
            "1001 phases, more than the 1000",
        ),
        (
            "journeys",
            journeys(1000),
            journeys(1001),
            "1001 journeys, more than the 1000",
        ),
        (
            "faults",
            faults(1000),
            faults(1001),
            "1001 faults, more than the 1000",
        ),
    ];
    for (i, (what, at, beyond, words)) in cases.iter().enumerate() {
        let (code, text) = validate(dir.path(), &format!("at-{i}"), at, &[]);
        assert_eq!(code, 0, "{what} at its limit is accepted: {text}");
        let (code, text) = validate(dir.path(), &format!("beyond-{i}"), beyond, &[]);
        assert_eq!(code, 2, "{what} beyond its limit is refused: {text}");
        assert!(text.contains(words), "{what}: {text}");
        assert!(text.contains("hint:"), "{what}: says what to do: {text}");
        // Located: file:line:column.
        let located = text
            .lines()
            .any(|l| l.contains(&format!("beyond-{i}.yaml:")) && l.contains(": error: "));
        assert!(located, "{what}: {text}");
    }
}

#[test]
fn the_three_typos_of_the_smoke_scenario_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(repo("scenarios/smoke.yaml")).unwrap();
    let typos = [
        ("pdf: 100KB", "pdf: 100GB", "larger than the"),
        (
            "max_in_flight: 64",
            "max_in_flight: 1000000000",
            "one process may hold",
        ),
        ("rate: 6/s", "rate: 1000000000/s", "it may be offered"),
    ];
    for (i, (from, to, words)) in typos.iter().enumerate() {
        assert!(smoke.contains(from));
        let line = smoke[..smoke.find(from).unwrap()].lines().count();
        let (code, text) = validate(
            dir.path(),
            &format!("typo-{i}"),
            &smoke.replacen(from, to, 1),
            &[],
        );
        assert_eq!(code, 2, "{text}");
        assert!(text.contains(words), "{text}");
        assert!(
            text.contains(&format!("typo-{i}.yaml:{line}:")),
            "at line {line}: {text}"
        );
    }
    // Split over enough shards, the rate is one each can be offered.
    let rate = smoke.replacen("rate: 6/s", "rate: 100000000/s", 1);
    let (code, text) = validate(dir.path(), "split", &rate, &["--shards", "100"]);
    assert_eq!(code, 0, "{text}");
    let (code, _) = validate(dir.path(), "split", &rate, &[]);
    assert_eq!(code, 2);
}

#[test]
fn a_body_file_beyond_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (len, code) in [(64 << 20, 0), ((64 << 20) + 1, 2)] {
        let body = dir.path().join("body.bin");
        std::fs::File::create(&body).unwrap().set_len(len).unwrap();
        let (got, text) = validate(dir.path(), "file", &scenario(LOAD, ", file: body.bin"), &[]);
        assert_eq!(got, code, "{len} bytes: {text}");
        if code == 2 {
            assert!(
                text.contains("larger than the 65536KiB") && text.contains("file.yaml:"),
                "{text}"
            );
        }
    }
}

#[test]
fn a_body_file_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for file in [
        "/dev/zero",
        fifo.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ] {
        let (code, text) = validate(
            dir.path(),
            "file",
            &scenario(LOAD, &format!(", file: \"{file}\"")),
            &[],
        );
        assert_eq!(code, 2, "{file}: {text}");
        assert!(text.contains("is not a regular file"), "{file}: {text}");
    }
}

#[test]
fn a_run_the_machine_cannot_carry_is_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    // Each value within its limit, together far beyond memory: 5,000
    // users each sending a 64 MiB document.
    let text = scenario(
        "load: { max_in_flight: 5000, phases: [{ name: p, duration: 1s, rate: 1/s }] }",
        ", pdf: 64MiB",
    );
    let file = scenario_file(dir.path(), "huge", &text);
    let out = dir.path().join("run");
    let output = surge()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("would hold about") && err.contains("MB this machine has available"),
        "{err}"
    );
    assert!(!out.exists(), "no run folder for a run that never started");
}

#[test]
fn a_sharded_run_is_refused_an_in_process_twin_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = surge()
        .args(["run", "--shard", "2/2", "--out"])
        .arg(&out)
        .arg(repo("scenarios/cpns-2024-deadline-eve.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("surge twin --config SCENARIO"),
        "the way that works: {err}"
    );
    assert!(err.contains("base_url") && err.contains("admin"), "{err}");
    assert!(!out.exists());
}
