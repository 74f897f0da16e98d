//! `surge validate` as users run it: the real binary on real files. The
//! malformed corpus under `tests/malformed/` states, in each file's header,
//! the line and the words surge must report; edge cases that cannot be
//! written as a text file (binary, huge, bombs) are generated here.

mod common;

use std::path::Path;

use common::{repo, shipped_scenarios, surge};

/// A problem as printed: its first line and any hint lines under it.
fn problems(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        match out.last_mut() {
            Some(last) if line.starts_with("    ") => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// `(line, fragment)` pairs from a corpus file's `# expect: L: words`.
fn expectations(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|rest| {
            let (line, fragment) = rest.split_once(": ").expect("`# expect: LINE: words`");
            (line.parse().expect("a line number"), fragment.to_string())
        })
        .collect()
}

fn validate(file: &Path) -> (i32, String, String) {
    let out = surge()
        .arg("validate")
        .arg(file)
        .output()
        .expect("surge runs");
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_malformed_scenario_is_refused_at_the_stated_line() {
    let mut files: Vec<_> = std::fs::read_dir(repo("tests/malformed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus holds {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected = expectations(&text);
        assert!(
            !expected.is_empty(),
            "{} states no expectation",
            file.display()
        );
        let (code, stdout, stderr) = validate(file);
        if code != 2 {
            failures.push(format!(
                "{}: exit {code}, expected 2\n{stdout}{stderr}",
                file.display()
            ));
            continue;
        }
        let found = problems(&stderr);
        let prefix = |line: usize| format!("{}:{line}:", file.display());
        for (line, fragment) in expected {
            if !found
                .iter()
                .any(|p| p.starts_with(&prefix(line)) && p.contains(&fragment))
            {
                failures.push(format!(
                    "{}: no problem at line {line} saying {fragment:?}; got:\n{stderr}",
                    file.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shipped_scenarios_are_valid() {
    let files = shipped_scenarios();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in [
        "capacity-gate.yaml",
        "cpns-2024-deadline-eve.yaml",
        "smoke.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "scenarios/{required} is missing"
        );
    }
    for file in files {
        let (code, stdout, stderr) = validate(&file);
        assert_eq!(code, 0, "{}:\n{stderr}", file.display());
        assert!(stdout.contains(": ok: "), "{stdout}");
        assert!(!stderr.contains("error"), "{stderr}");
    }
}

#[test]
fn reports_every_file_and_fails_if_any_is_bad() {
    let good = repo("scenarios/smoke.yaml");
    let bad = repo("tests/malformed/06-unknown-top-key.yaml");
    let out = surge()
        .arg("validate")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("smoke.yaml: ok"), "{stdout}");
    assert!(
        stderr.contains("06-unknown-top-key.yaml: 1 error"),
        "{stderr}"
    );
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs validate on generated content and returns the problems, checking
/// that the refusal is an exit 2, not a crash.
fn refused(name: &str, bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, name, bytes);
    let (code, _, stderr) = validate(&path);
    assert_eq!(code, 2, "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    problems(&stderr)
}

#[test]
fn refuses_inputs_no_one_writes_by_hand() {
    let found = refused("empty.yaml", b"");
    assert!(
        found[0].contains(":1:1: error: the file is empty"),
        "{found:?}"
    );

    let found = refused(
        "binary.yaml",
        &[0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0, 1, 2],
    );
    assert!(found[0].contains("not UTF-8"), "{found:?}");

    let found = refused("nul.yaml", b"version: 1\nname: \0\n");
    assert!(found[0].contains("error"), "{found:?}");

    let huge = "# padding\n".repeat(200_000);
    let found = refused("huge.yaml", huge.as_bytes());
    assert!(found[0].contains("larger than 1024 KiB"), "{found:?}");
}

#[test]
fn refuses_alias_bombs_without_expanding_them() {
    let mut doc =
        String::from("version: 1\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        doc += &format!("a{i}: &a{i} [{refs}]\n");
    }
    let started = std::time::Instant::now();
    let found = refused("bomb.yaml", doc.as_bytes());
    assert!(
        found
            .iter()
            .any(|p| p.contains("aliases expand this document")),
        "{found:?}"
    );
    // Expanding 10^12 nodes would not finish at all; refusing takes no time.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn refuses_deep_nesting() {
    let block: String = (0..300)
        .map(|i| format!("{}k:\n", "  ".repeat(i)))
        .collect();
    let found = refused("deep-block.yaml", block.as_bytes());
    assert!(
        found.iter().any(|p| p.contains("recursion limit")),
        "{found:?}"
    );

    let flow = "x: ".to_string() + &"[".repeat(10_000) + &"]".repeat(10_000);
    let found = refused("deep-flow.yaml", flow.as_bytes());
    assert!(
        found.iter().any(|p| p.contains("recursion limit")),
        "{found:?}"
    );
}

#[test]
fn a_missing_file_is_reported_not_panicked() {
    let (code, _, stderr) = validate(Path::new("/nonexistent/scenario.yaml"));
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the file"), "{stderr}");
}

#[test]
fn secrets_from_the_environment_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo("tests/malformed/22-both-targets.yaml"))
        .unwrap()
        .replace(
            "  twin: {}\n  base_url: http://127.0.0.1:9",
            "  base_url: \"${SURGE_TEST_URL}\"",
        )
        .replace(
            "{ name: home, path: / }",
            "{ name: home, path: /, headers: { Authorization: \"Bearer ${SURGE_TEST_TOKEN}\" } }",
        );
    let path = write(&dir, "secret.yaml", text.as_bytes());
    let out = surge()
        .arg("validate")
        .arg(&path)
        .env("SURGE_TEST_URL", "http://10.9.8.7:8080")
        .env("SURGE_TEST_TOKEN", "hunter2-very-secret")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    // The off-loopback warning names the URL's origin, not its value.
    assert!(
        all.contains("the URL (from the environment) is not on loopback"),
        "{all}"
    );
    assert!(
        !all.contains("10.9.8.7") && !all.contains("hunter2"),
        "{all}"
    );
}

#[test]
fn help_teaches_the_exit_codes() {
    let out = surge().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "0  every objective met",
        "2  the scenario or the command line is wrong",
        "3  the run could not",
    ] {
        assert!(help.contains(line), "{help}");
    }
    let out = surge().arg("validate").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing argument is a command-line error"
    );
    let out = surge().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `--set PATH=VALUE` changes a field before checking; what it breaks is
/// shown at the flag (exit 2), what it sets correctly validates (exit 0).
#[test]
fn overrides_are_checked_as_if_written_and_located_at_their_flag() {
    let smoke = repo("scenarios/smoke.yaml");
    let check = |sets: &[&str]| {
        let mut cmd = surge();
        cmd.arg("validate").arg(&smoke);
        for s in sets {
            cmd.arg("--set").arg(s);
        }
        let o = cmd.output().unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Numbers, durations, rates, percentages, list entries by index,
    // whole mappings and lists.
    let (code, err) = check(&[
        "load.phases[1].rate=40/s",
        "target.twin.core.signing.workers=16",
        "journeys.buyer.steps[0].expect={ status: 202 }",
        "load.drain=30s",
        "journeys.buyer.patience.backoff.jitter=50%",
        "target.twin.payments.callback_retries={ attempts: 2, every: 5s }",
        "journeys.buyer.patience.retry_on=[timeout, http_5xx]",
    ]);
    assert_eq!(code, 0, "{err}");
    for (flag, says) in [
        ("load.drain=soon", "load.drain"),
        ("journeys.buyer.patience.attempts=many", "attempts"),
        ("load.phases[1].rate=-1/s", "rate must not be negative"),
        (
            "target.twin.core.signing.workerz=16",
            "did you mean `workers`?",
        ),
        (
            "load.phases[7].rate=1/s",
            "has 2 entries ([0] to [1]); there is no [7]",
        ),
        ("journeys.buyr.channel=stamping", "did you mean `buyer`?"),
        ("load.max_in_flight=64000000000000", "load.max_in_flight"),
        ("load.scale", "is not PATH=VALUE"),
    ] {
        let (code, err) = check(&[flag]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(
            err.starts_with(&format!("--set {flag}: error: ")),
            "{flag}: {err}"
        );
        assert!(err.contains(says), "{flag}: {err}");
        for line in err.lines().filter(|l| l.contains(": error: ")) {
            assert!(
                line.starts_with("--set "),
                "shown at the flag, not the file: {err}"
            );
        }
    }
}

/// A scenario's `variants:` are checked with it: each variant's scenario
/// must validate, and a problem is shown at the line of the `set:` entry
/// that causes it, naming the variant.
#[test]
fn every_variant_is_checked_and_its_problems_located_at_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(repo("scenarios/smoke.yaml")).unwrap();
    let body = smoke.replace(
        "\nobjectives:",
        "\nvariants:\n  - name: faster\n    set:\n      target.twin.core.signing.workers: 16\n  - name: typo\n    set:\n      load.phases[1].rate: 9/s\n      target.twin.core.signing.wrokers: 3\n  - name: beyond\n    set:\n      load.phases[4].rate: 3/s\n  - name: baseline\n    set:\n      seed: 3\n\nobjectives:",
    );
    let path = dir.path().join("variants.yaml");
    std::fs::write(&path, &body).unwrap();
    let line_of = |needle: &str| body.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let o = surge().arg("validate").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let shown = path.display().to_string();
    let typo = format!("{shown}:{}:", line_of("signing.wrokers"));
    let beyond = format!("{shown}:{}:", line_of("phases[4]"));
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[2].starts_with(&format!("{shown}:{}:", line_of("name: baseline")))
            && lines[2].contains("the variant name `baseline` is taken"),
        "{err}"
    );
    assert!(
        lines[0].starts_with(&typo) && lines[0].contains("variant `typo`: unknown key `wrokers`"),
        "{err}"
    );
    assert!(err.contains("did you mean `workers`?"), "{err}");
    assert!(
        lines[1].starts_with(&beyond)
            && lines[1].contains("variant `beyond`")
            && lines[1].contains("there is no [4]"),
        "{err}"
    );
    // Without the broken variants, the file and `faster` validate.
    let start = body.find("  - name: typo").unwrap();
    let end = body.find("\nobjectives:").unwrap();
    let fixed = format!("{}{}", &body[..start], &body[end..]);
    std::fs::write(&path, fixed).unwrap();
    let o = surge().arg("validate").arg(&path).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
