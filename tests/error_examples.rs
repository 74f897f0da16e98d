//! Errors come with examples: against a real loopback server, a step whose
//! status is not the expected one, a JSON expectation that does not hold
//! and a timeout each leave their first distinct examples (at
//! most five per step and class) in `summary.json`, the terminal summary
//! and the report, saying what was wrong; secrets from the environment and
//! secret data columns never appear, in the request or in the body.

mod common;

use common::{named, read_summary, scenario_file, server};

#[test]
fn each_error_class_keeps_its_first_distinct_examples_with_secrets_masked() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("codes.csv"), "otp\nS3CR3T-OTP\n").unwrap();
    let file = scenario_file(
        dir.path(),
        "examples",
        &format!(
            r#"
version: 1
name: examples
target:
  base_url: {url}
load:
  phases: [{{ name: p, duration: 2s, rate: 20/s }}]
data:
  codes: {{ file: codes.csv, secret_columns: [otp] }}
journeys:
  buyer:
    channel: storefront
    feed: codes
    headers: {{ Authorization: "Bearer ${{TOKEN}}" }}
    steps:
      - name: echo
        method: POST
        path: /echo?otp={{codes.otp}}&key=${{KEY}}
        json: {{ token: "${{TOKEN}}", otp: "{{codes.otp}}", n: "{{arrival}}" }}
        expect: {{ status: 404 }}
  poller:
    channel: storefront
    steps:
      - name: ready
        path: /poll/{{arrival}}
        expect: {{ json: [{{ path: $.ready, equals: true }}] }}
  slow:
    channel: stamping
    steps:
      - {{ name: upload, path: /delay/2000, timeout: 100ms }}
"#,
            url = server.url
        ),
    );
    let out = dir.path().join("out");
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .env("TOKEN", "tok-abc-123")
        .env("KEY", "key-xyz-789")
        .output()
        .unwrap();
    let terminal = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "no objectives: {terminal}");
    let summary = read_summary(&out);
    let errors = &summary["errors"];

    let expectation = named_class(errors, "expectation");
    let of = |step: &str| -> Vec<serde_json::Value> {
        let all = expectation["examples"].as_array().unwrap();
        all.iter().filter(|e| e["step"] == step).cloned().collect()
    };
    // Every failure of the step reads alike but for the arrival echoed in
    // the body: distinct, so five are kept, no more.
    assert!(expectation["count"].as_u64().unwrap() > 12);
    let examples = of("buyer.echo");
    assert_eq!(examples.len(), 5, "{examples:?}");
    let first = &examples[0];
    assert_eq!(first["step"], "buyer.echo");
    assert_eq!(first["what"], "expected status 404, got 200");
    assert_eq!(
        first["request"], "POST /echo?otp={codes.otp}&key=${KEY}",
        "secrets shown as their placeholders"
    );
    let body = first["body"].as_str().unwrap();
    assert!(body.contains("\"token\":\"***\""), "{body}");
    assert!(body.contains("\"otp\":\"***\""), "{body}");

    let polls = of("poller.ready");
    assert_eq!(polls[0]["what"], "`$.ready` was `false`, expected `true`");
    assert_eq!(polls.len(), 1, "every poll read alike: one distinct");

    let timeouts = &named_class(errors, "timeout")["examples"];
    let what = timeouts[0]["what"].as_str().unwrap();
    assert!(what.contains("timed out"), "{what}");
    assert_eq!(timeouts[0]["request"], "GET /delay/2000");

    // The terminal and the report show them; no secret anywhere.
    assert!(
        terminal.contains("e.g. expectation: buyer.echo at "),
        "{terminal}"
    );
    assert!(
        terminal.contains("expected status 404, got 200"),
        "{terminal}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("`$.ready` was `false`, expected `true`"));
    for (name, text) in [
        ("terminal", terminal.clone()),
        ("report.html", report),
        (
            "summary.json",
            std::fs::read_to_string(out.join("summary.json")).unwrap(),
        ),
        (
            "errors.jsonl",
            std::fs::read_to_string(out.join("errors.jsonl")).unwrap(),
        ),
    ] {
        for secret in ["tok-abc-123", "key-xyz-789", "S3CR3T-OTP"] {
            assert!(!text.contains(secret), "{name} shows {secret}");
        }
    }
    let _ = named(&summary["journeys"], "buyer");
}

fn named_class<'a>(errors: &'a serde_json::Value, class: &str) -> &'a serde_json::Value {
    errors
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["class"] == class)
        .unwrap_or_else(|| panic!("no {class} in {errors}"))
}
