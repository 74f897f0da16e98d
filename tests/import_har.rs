//! `surge import har`: a browser's recording becomes a journey whose
//! dynamic values are captured and sent back, not replayed. Headless
//! Chromium (the Debian package, driven by playwright-core from
//! tests/browser/) walks the twin's own page, a page of the test's own on
//! the same API, and the twin's page behind its waiting room; each import
//! then runs against a fresh twin (other ids, other tokens) with no error
//! and every payment credited. Fixture HARs in the shapes Firefox,
//! Chromium's DevTools and a proxy write cover each rule on its own.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{http_get, named, read_summary, repo, run_scenario, surge, twin_with};
use serde_json::Value;

/// The twin as the recordings and the replays see it: a one-time password
/// and a credit slow enough that the page polls for them.
const TWIN: &str = "accounts:\n  otp_delay: { median: 300ms, p99: 600ms }\npayments:\n  callback_delay: { median: 800ms, p99: 1200ms }\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn fixture(name: &str) -> PathBuf {
    repo(&format!("tests/fixtures/har/{name}"))
}

/// `surge import har ARGS` → (exit code, stdout, stderr).
fn import(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = surge();
    cmd.args(["import", "har"]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn yaml(path: &Path) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The steps of journey `name` in a written scenario.
fn steps<'a>(doc: &'a serde_yaml::Value, name: &str) -> &'a Vec<serde_yaml::Value> {
    doc["journeys"][name]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no journey {name}"))
}

/// Variable → the path of the step that captures it.
fn captures(doc: &serde_yaml::Value, journey: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in steps(doc, journey) {
        if let Some(m) = s["capture"].as_mapping() {
            for k in m.keys() {
                out.push((
                    k.as_str().unwrap().to_string(),
                    s["path"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// Whether a recorded value is an id or a token (what must never be
/// written back literally): letters with digits, a code of 4 digits or
/// more, or anything long.
fn id_like(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let letters = s.chars().filter(char::is_ascii_alphabetic).count();
    s.len() >= 2
        && (digits == s.len() && s.len() >= 4 || digits > 0 && letters > 0 || s.len() >= 16)
}

/// The ids and tokens the platform returned in a HAR's JSON responses.
fn returned_ids(har: &Path) -> HashSet<String> {
    fn walk(v: &Value, out: &mut HashSet<String>) {
        match v {
            Value::String(s) if id_like(s) => {
                out.insert(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(m) => m.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(har).unwrap()).unwrap();
    let mut out = HashSet::new();
    for e in doc["log"]["entries"].as_array().unwrap() {
        if let Some(t) = e["response"]["content"]["text"].as_str()
            && let Ok(v) = serde_json::from_str::<Value>(t)
        {
            walk(&v, &mut out);
        }
    }
    out
}

/// The words of a text, split at anything not a letter or a digit.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Runs an imported scenario against `base` at 1/s for 5s (evenly spaced:
/// five applicants) and returns the run's summary.
fn replay(scenario: &Path, base: &str, out: &Path) -> Value {
    let (code, stdout, stderr) = run_scenario(
        scenario,
        out,
        &[
            "--set",
            &format!("target.base_url={base}"),
            "--set",
            "load.arrivals=uniform",
            "--set",
            "load.phases=[{name: try, duration: 5s, rate: 1/s}]",
        ],
    );
    let written = std::fs::read_to_string(scenario).unwrap_or_default();
    assert_eq!(
        code, 0,
        "{stdout}{stderr}\nthe imported scenario:\n{written}"
    );
    read_summary(out)
}

#[test]
fn browser_recordings_replay_against_fresh_twins_with_every_value_correlated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = write(d, "twin-config.yaml", TWIN);
    let room = write(
        d,
        "room-config.yaml",
        &format!("{TWIN}waiting_room: {{ enabled: true, admit: 4/s }}\n"),
    );
    let pdf = write(
        d,
        "doc.pdf",
        "%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    );
    let recorder = twin_with(&["--config", plain.to_str().unwrap()]);
    let recorder_room = twin_with(&["--config", room.to_str().unwrap()]);
    let har = |n: &str| d.join(n).to_str().unwrap().to_string();
    let status = Command::new("node")
        .arg(repo("tests/browser/record-har.mjs"))
        .arg(&pdf)
        .arg(format!("twin-page,{},{}", recorder.url, har("page.har")))
        .arg(format!("kiosk-page,{},{}", recorder.url, har("kiosk.har")))
        // Twenty tickets ahead at 4/s: the page's own ticket waits and polls.
        .arg(format!(
            "twin-page,{},{},queue=20",
            recorder_room.url,
            har("room.har")
        ))
        .status()
        .expect("node runs (tests/setup.sh installs nodejs and playwright-core)");
    assert!(status.success(), "recording in chromium failed");

    for (name, config) in [("page", &plain), ("kiosk", &plain), ("room", &room)] {
        let recorded = d.join(format!("{name}.har"));
        let out = d.join(format!("{name}.yaml"));
        let (code, stdout, stderr) = import(
            &[
                recorded.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--journey",
                name,
            ],
            &[],
        );
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        assert!(stdout.contains("to do: nothing"), "{name}: {stdout}");
        assert!(stdout.contains("left out: 1 pages"), "{name}: {stdout}");
        assert!(
            !stdout.contains(" on "),
            "{name}: the pages fetch nothing from elsewhere: {stdout}"
        );
        if name != "kiosk" {
            assert!(stdout.contains("1 scripts, 1 styles"), "{name}: {stdout}");
        }
        let doc = yaml(&out);
        let caught = captures(&doc, name);
        for var in [
            "challenge",
            "code",
            "session",
            "admission",
            "order",
            "document",
            "job",
        ] {
            assert!(
                caught.iter().any(|(v, _)| v == var),
                "{name}: {var} not captured in {caught:?}"
            );
        }
        // The kiosk adds `?lang=id` to every request.
        let admitted_at = caught
            .iter()
            .find(|(v, _)| v == "admission")
            .unwrap()
            .1
            .split('?')
            .next()
            .unwrap();
        if name == "room" {
            assert_eq!(admitted_at, "/storefront/queue/{ticket}", "{caught:?}");
        } else {
            assert_eq!(admitted_at, "/storefront/queue", "{caught:?}");
        }
        let text = std::fs::read_to_string(&out).unwrap();
        let written = words(&text);
        let leaked: Vec<String> = returned_ids(&recorded)
            .into_iter()
            .filter(|id| written.contains(id))
            .collect();
        assert!(leaked.is_empty(), "{name}: {leaked:?} written literally");

        let fresh = twin_with(&["--config", config.to_str().unwrap()]);
        let s = replay(&out, &fresh.url, &d.join(format!("{name}-run")));
        let j = named(&s["journeys"], name);
        let done = j["outcomes"]["completed_in_time"].as_u64().unwrap()
            + j["outcomes"]["completed_late"].as_u64().unwrap();
        assert_eq!(j["scheduled"], 5, "{j}");
        assert_eq!(done, 5, "{name}: {j}");
        assert!(
            s["errors"].as_array().unwrap().is_empty(),
            "{}",
            s["errors"]
        );
        let ledger: Value =
            serde_json::from_str(&http_get(&format!("{}/admin/ledger", fresh.url)).unwrap())
                .unwrap();
        let c = &ledger["counters"];
        assert_eq!(c["payments_captured"], 5, "{ledger}");
        assert_eq!(c["payments_credited"], 5, "{ledger}");
        assert_eq!(c["quota_stamps_completed"], 5, "{ledger}");
    }
}

#[test]
fn firefox_multipart_location_typed_secret_and_unsaved_body() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ff.yaml");
    let (code, stdout, stderr) = import(
        &[
            fixture("firefox.har").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("left out: 1 images, 1 pages, 1 scripts"),
        "{stdout}"
    );
    assert!(
        stdout.contains("${PASSWORD}") && stdout.contains("[NOT SET]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 response without a body in the recording"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("hunter2"),
        "the password was written:\n{text}"
    );
    let doc = yaml(&out);
    let j = &doc["journeys"]["firefox"];
    assert_eq!(j["vars"]["email"], "ani{arrival}@example.com");
    assert_eq!(j["headers"]["Authorization"], "Bearer {token}");
    let s = steps(&doc, "firefox");
    let session = &s[0];
    assert_eq!(session["json"]["password"], "${PASSWORD}");
    assert_eq!(
        session["json"]["client"], "web-v2",
        "a constant of the page's script stays as it is"
    );
    assert_eq!(session["capture"]["id"], "$.user.id");
    assert_eq!(session["capture"]["x_csrf_token"], "header:x-csrf-token");
    assert_eq!(s[1]["path"], "/api/users/{id}/profile");
    // The upload: multipart rebuilt from Firefox's params, into a file.
    let upload = &s[2];
    assert_eq!(upload["headers"]["X-CSRF-Token"], "{x_csrf_token}");
    assert_eq!(upload["capture"]["location"], "header:location");
    let ct = upload["content_type"].as_str().unwrap();
    let boundary = ct.split("boundary=").nth(1).expect("a boundary");
    let body = std::fs::read_to_string(dir.path().join(upload["file"].as_str().unwrap())).unwrap();
    assert!(body.starts_with(&format!("--{boundary}\r\n")), "{body}");
    assert!(
        body.contains("filename=\"scan.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n"),
        "{body}"
    );
    // The Location it answered is polled until the scan is clean.
    let poll = &s[3];
    assert_eq!(poll["path"], "{location}");
    assert_eq!(poll["until"]["path"], "$.status");
    assert_eq!(poll["until"]["equals"], "clean");
    assert_eq!(poll["poll"]["every"], "500ms");
    // What it could not do is said, in the output and beside the step.
    assert!(stdout.contains("to do (3):"), "{stdout}");
    // The page set a cookie the API wants; the page is left out.
    assert!(
        stdout.contains("cookie `sid` (sent from step `profile` on) was set by entry 1"),
        "{stdout}"
    );
    assert!(
        !text.contains("s9KQ2vX81mPz") && !text.contains("theme=dark"),
        "{text}"
    );
    assert!(
        stdout.contains("step `orders`, query `ref`: `ZQ8KX2M4P7…` is sent as recorded"),
        "{stdout}"
    );
    assert!(
        text.contains("# TO DO: step `orders`, body field `upload`"),
        "{text}"
    );
    assert_eq!(s[4]["json"]["note"], "{{not a var}}", "braces are escaped");
    // Answered `paid` at the first look, `pending` when made: a replay
    // polls until it is paid (at the pace of the journey's other poll).
    assert_eq!(s[5]["path"], "/api/orders/{order}");
    assert_eq!(s[5]["until"]["path"], "$.state");
    assert_eq!(s[5]["until"]["equals"], "paid");
    assert_eq!(s[5]["poll"]["every"], "500ms");
    // With the secret set, the file is what `surge validate` accepts.
    let mut v = surge();
    v.args(["validate", out.to_str().unwrap()])
        .env("PASSWORD", "x")
        .assert()
        .success();
    let mut v = surge();
    v.args(["validate", out.to_str().unwrap()])
        .env_remove("PASSWORD")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "environment variable `PASSWORD` is not set",
        ));
}

#[test]
fn chromium_devtools_http2_base64_other_hosts_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.yaml");
    let (code, stdout, stderr) = import(
        &[
            fixture("chromium.har").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("left out: 1 on analytics.example.net, 1 pages"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    for noise in [":authority", "sec-ch-ua", "user-agent", "_initiator"] {
        assert!(!text.contains(noise), "{noise} written:\n{text}");
    }
    let doc = yaml(&out);
    assert_eq!(doc["target"]["base_url"], "https://127.0.0.1:8443");
    let s = steps(&doc, "chromium");
    // Entries out of order in the file: the poll is in time order, and
    // waits on the field that changed at its end.
    assert_eq!(s[1]["path"], "/storefront/otp/{challenge}");
    assert_eq!(s[1]["until"]["equals"], true);
    assert_eq!(s[1]["capture"]["code"], "$.code");
    assert_eq!(s[2]["json"]["code"], "{code}");
    assert_eq!(s[2]["think"], "3.3s");
    assert_eq!(s[3]["headers"]["authorization"], "Bearer {session}");
    // A UUID sent that no response returned: a to-do, in place.
    assert!(
        stdout.contains("step `verify`, header `x-device-id`: `9b1e6c2a-4…`")
            && stdout.contains("looks generated"),
        "{stdout}"
    );
    // --keep-assets keeps the page as a step of its own.
    let (code, _, _) = import(
        &[
            fixture("chromium.har").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--keep-assets",
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(steps(&yaml(&out), "chromium")[0]["path"], "/storefront/app");
    // --no-think leaves the pauses out.
    let (code, _, _) = import(
        &[
            fixture("chromium.har").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-think",
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert!(!std::fs::read_to_string(&out).unwrap().contains("think:"));
}

#[test]
fn proxy_session_cookie_partner_channel_and_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.yaml");
    let har = fixture("proxy.har");
    let (code, stdout, stderr) = import(
        &[har.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("a81f0c9e2b7d4f11"), "{text}");
    let doc = yaml(&out);
    assert_eq!(doc["journeys"]["proxy"]["channel"], "partner/pos");
    let s = steps(&doc, "proxy");
    assert_eq!(
        s[0]["headers"]["Cookie"],
        "SESSIONID=${COOKIE_SESSIONID}; lang=id"
    );
    assert_eq!(s[0]["capture"]["token"], "$.token");
    // Two identical requests with nothing that changed: a repeated step.
    assert_eq!(s[1]["name"], "status");
    assert_eq!(s[2]["name"], "status-2");
    assert!(s[1]["until"].is_null());
    assert_eq!(s[3]["pdf"], "50KiB");
    // A channel named by path prefix.
    let (code, _, stderr) = import(
        &[
            har.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--channel-of",
            "/partners/pos/stamp=stamping",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let doc = yaml(&out);
    assert_eq!(steps(&doc, "proxy")[3]["channel"], "stamping");
}

#[test]
fn into_a_base_scenario_with_a_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = d.join("base.yaml");
    std::fs::copy(repo("scenarios/smoke.yaml"), &base).unwrap();
    let out = d.join("merged.yaml");
    let data = d.join("people.csv");
    let har = fixture("chromium.har");
    let args = |journey: &str| {
        vec![
            har.to_str().unwrap().to_string(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--scenario".into(),
            base.to_str().unwrap().into(),
            "--journey".into(),
            journey.into(),
            "--data".into(),
            data.to_str().unwrap().into(),
        ]
    };
    let a = args("recorded");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = import(&a, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_to_string(&data).unwrap(),
        "phone\n081299887766\n"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let base_text = std::fs::read_to_string(&base).unwrap();
    // BASE's comments are all still there.
    for line in base_text
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
    {
        assert!(text.contains(line), "lost: {line}");
    }
    let doc = yaml(&out);
    assert_eq!(doc["mix"]["recorded"], 1);
    assert_eq!(doc["mix"]["buyer"], 1);
    assert_eq!(doc["data"]["people"]["pick"], "unique");
    assert_eq!(doc["journeys"]["recorded"]["feed"], "people");
    assert_eq!(
        doc["journeys"]["recorded"]["vars"]["phone"],
        "{people.phone}"
    );
    assert!(doc["journeys"]["stamper"].is_mapping());
    surge()
        .args(["validate", out.to_str().unwrap()])
        .assert()
        .success();
    // A journey of that name already: exit 2, naming the option.
    let a = args("buyer");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, _, stderr) = import(&a, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already has a journey `buyer`; name the new one with --journey"));
    // An existing data file must have the typed columns.
    std::fs::write(&data, "msisdn\n0811\n").unwrap();
    let a = args("recorded");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, _, stderr) = import(&a, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("it has no column phone"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&data).unwrap(),
        "msisdn\n0811\n",
        "the user's file is untouched"
    );
}

#[test]
fn what_is_not_a_har_or_a_bad_option_is_exit_2_with_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("x.yaml");
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (
            write(d, "text.har", "GET / HTTP/1.1\n"),
            vec![],
            "is not a HAR: it is not JSON (line 1, column 1",
        ),
        (
            write(d, "obj.har", "{\"entries\": []}"),
            vec![],
            "has no `log.entries` list",
        ),
        (
            write(d, "empty.har", "{\"log\": {\"entries\": []}}"),
            vec![],
            "records no request",
        ),
        (
            write(
                d,
                "entry.har",
                "{\"log\": {\"entries\": [{\"request\": {}}]}}",
            ),
            vec![],
            "each needs `request.method`, `request.url` and `response.status`",
        ),
        (d.join("missing.har"), vec![], "cannot read"),
        (
            fixture("proxy.har"),
            vec!["--journey", "a b"],
            "--journey: `a b` is not a valid name",
        ),
        (
            fixture("proxy.har"),
            vec!["--channel-of", "nowhere"],
            "write HOST_OR_PATH_PREFIX=CHANNEL",
        ),
        (
            fixture("proxy.har"),
            vec!["--target", "not a url"],
            "--target `not a url` is not an origin",
        ),
        (
            fixture("proxy.har"),
            vec!["--target", "http://127.0.0.1:9"],
            "no request to http://127.0.0.1:9 is left",
        ),
    ];
    for (file, extra, says) in cases {
        let mut args = vec![file.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend(extra);
        let (code, stdout, stderr) = import(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} wrote a file");
    }
}
