//! `surge report` and the report writers, on a fixed run folder
//! (tests/fixtures/run, made by tests/fixtures/make-run.sh) and on a run
//! killed with SIGKILL. Snapshots live in tests/snapshots/; after an
//! intended change, regenerate them with `UPDATE_SNAPSHOTS=1 cargo test
//! --test report` and review the difference.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{repo, surge};

const FILES: [&str; 3] = ["report.html", "summary.md", "junit.xml"];

/// Renders the fixture's reports into a fresh folder.
fn render() -> (tempfile::TempDir, i32) {
    let out = tempfile::tempdir().unwrap();
    let output = surge()
        .arg("report")
        .arg(repo("tests/fixtures/run"))
        .arg("--out")
        .arg(out.path())
        .arg("--no-history")
        .output()
        .unwrap();
    let code = output.status.code().unwrap();
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (out, code)
}

#[test]
fn snapshots() {
    let (out, code) = render();
    // The fixture overloads its target on purpose: objectives are missed.
    assert_eq!(code, 1);
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for name in FILES {
        let got = std::fs::read_to_string(out.path().join(name)).unwrap();
        let path = repo("tests/snapshots").join(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .map_or(got.lines().count().min(want.lines().count()), |i| i)
                + 1;
            panic!(
                "{name} differs from tests/snapshots/{name} from line {line}; if the change is \
                 intended, run `UPDATE_SNAPSHOTS=1 cargo test --test report` and review it"
            );
        }
    }
}

/// The History section, from a history holding four earlier runs of the
/// fixture's scenario (copies with other commits and goodput) and the
/// fixture itself, newest: a snapshot of the section.
#[test]
fn the_history_section_shows_earlier_runs_and_rings_this_one() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo("tests/fixtures/run");
    for n in 1..=4u64 {
        let copy = tmp.path().join(format!("earlier/run-{n}"));
        std::fs::create_dir_all(&copy).unwrap();
        for entry in std::fs::read_dir(&fixture).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
        let mut s = common::read_summary(&copy);
        s["run"]["started_at"] = format!("2026-11-2{n}T09:00:00.000Z").into();
        s["run"]["provenance"] = serde_json::json!({ "git_commit": format!("{n}{n}{n}{n}abcdef0123"), "git_branch": "main" });
        let done = s["journeys"][0]["outcomes"]["completed_in_time"]
            .as_u64()
            .unwrap();
        s["journeys"][0]["outcomes"]["completed_in_time"] = (done - done * n / 10).into();
        std::fs::write(
            copy.join("summary.json"),
            serde_json::to_string_pretty(&s).unwrap(),
        )
        .unwrap();
    }
    let db = tmp.path().join("history.sqlite");
    let o = surge()
        .args(["history", "rebuild"])
        .arg(tmp.path().join("earlier"))
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = tmp.path().join("out");
    let o = surge()
        .arg("report")
        .arg(&fixture)
        .arg("--out")
        .arg(&out)
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let start = html.find("<h2 id=\"history\">").expect("a History section");
    let end = start + html[start..].find("</table>").unwrap() + "</table>".len();
    let section = &html[start..end];
    assert!(section.contains("5 (this run)"), "{section}");
    assert_eq!(section.matches("<tr><td>").count(), 5);
    let path = repo("tests/snapshots/history.html");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, section).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        section == want,
        "the History section differs from tests/snapshots/history.html; if intended, run \
         `UPDATE_SNAPSHOTS=1 cargo test --test report` and review it"
    );
    // Without earlier runs there is no section.
    let o = surge()
        .arg("report")
        .arg(&fixture)
        .arg("--out")
        .arg(tmp.path().join("alone"))
        .arg("--history")
        .arg(tmp.path().join("empty.sqlite"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let html = std::fs::read_to_string(tmp.path().join("alone/report.html")).unwrap();
    assert!(!html.contains("id=\"history\""));
}

#[test]
fn the_html_report_is_self_contained_and_draws_every_chart() {
    let (out, _) = render();
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    let summary = common::read_summary(&repo("tests/fixtures/run"));
    let steps = summary["steps"].as_array().unwrap().len();

    // Nothing is fetched: no script, stylesheet, image or font from
    // anywhere, and links only within the page.
    for banned in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", " src=",
    ] {
        assert!(!html.contains(banned), "report.html contains {banned}");
    }
    for (i, _) in html.match_indices("href=") {
        assert!(html[i..].starts_with("href=\"#"), "external link at {i}");
    }

    // Load, one latency chart per step, errors, spectrum, late/dropped,
    // start lag and journey time.
    let charts = html.matches("<svg").count();
    assert!(charts >= steps + 6, "{charts} charts for {steps} steps");
    // Phases and the fault window are named on the charts, and the fault
    // and the verdict are in the page.
    for phase in ["ramp", "surge", "calm"] {
        assert!(
            html.contains(&format!(">\n{phase}\n</text>")),
            "phase {phase} not labelled"
        );
    }
    assert!(
        html.contains("slow-core\n</text>"),
        "fault window not labelled"
    );
    assert!(html.contains(">\ndeadline\n</text>"));
    assert!(html.contains("Objectives missed"));
    // Every step is in the table, with its figures.
    for step in summary["steps"].as_array().unwrap() {
        assert!(html.contains(&format!("{}</td>", step["name"].as_str().unwrap())));
    }
    // Error classes are listed with their counts, under today's names (the
    // fixture predates `queue_full` becoming `unavailable`).
    for e in summary["errors"].as_array().unwrap() {
        let row = format!(
            "{}</td><td>{}</td>",
            surge::summary::class_now(e["class"].as_str().unwrap()),
            e["count"]
        );
        assert!(html.contains(&row), "error class row {row} missing");
    }
}

#[test]
fn a_report_is_written_again_with_the_same_verdict_as_the_run() {
    let (out, code) = render();
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let summary = common::read_summary(&repo("tests/fixtures/run"));
    let missed = summary["gate"]["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["judgement"] != "met")
        .count();
    assert!(missed > 0);
    assert_eq!(junit.matches("<failure").count(), missed);
    assert_eq!(summary["gate"]["verdict"], "fail");
    assert_eq!(code, 1);
}

#[test]
fn a_folder_that_is_not_a_run_is_refused_with_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    let output = surge().arg("report").arg(empty.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("summary.json") && err.contains("hint"),
        "{err}"
    );
}

fn rows(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_run_killed_midway_is_reported_from_its_per_second_files() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .args(["run", "-q", "--duration", "60s", "--out"])
        .arg(&run)
        .arg(repo("scenarios/smoke.yaml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until four seconds are on disk, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&run.join("timeline.csv")) < 5 {
        assert!(Instant::now() < deadline, "the run wrote no timeline");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = common::read_summary(&run);
    assert_eq!(before["status"], "running");

    let output = surge().arg("report").arg(&run).output().unwrap();
    // A run that did not finish cannot be trusted: invalid, exit 3.
    assert_eq!(output.status.code(), Some(3));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("rebuilt"), "{err}");

    // The totals come from the per-second files: the scheduled arrivals
    // are those of journeys.csv, and the steps answered requests.
    let scheduled: u64 = std::fs::read_to_string(run.join("journeys.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(scheduled > 0);
    let md = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(
        md.contains(&format!("**Load:** {scheduled} arrivals scheduled")),
        "{md}"
    );
    assert!(md.contains("did not finish"), "{md}");
    let login = md
        .lines()
        .find(|l| l.starts_with("| buyer.login |"))
        .expect("buyer.login in the step table");
    let requests: u64 = login.split('|').nth(2).unwrap().trim().parse().unwrap();
    assert!(requests > 0, "{login}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("Invalid run"));
    // summary.json is an input: left as the run wrote it.
    assert_eq!(common::read_summary(&run), before);
}

/// `surge report --rebuild` builds summary.json again from the per-second
/// files alone; for a finished run of each shipped scenario (compressed),
/// it is the summary the run wrote, field for field, and the same verdict.
#[test]
fn a_finished_run_s_summary_is_rebuilt_field_for_field() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["smoke", "capacity-gate", "cpns-2024-deadline-eve"] {
        let run = dir.path().join(name);
        // The shipped file, with a drain short enough for the suite (the
        // deadline eve's journeys may otherwise wait out a minute of it).
        let text = std::fs::read_to_string(repo(&format!("scenarios/{name}.yaml"))).unwrap();
        let drain = drain_of(&text);
        let scenario =
            common::scenario_file(dir.path(), name, &text.replacen(&drain, "drain: 3s", 1));
        let (code, _, stderr) = common::run_scenario(&scenario, &run, &["--duration", "4s"]);
        assert!(matches!(code, 0 | 1), "{name}: exit {code}: {stderr}");
        let written = common::read_summary(&run);
        assert!(
            written["load"]["started"].as_u64().unwrap() > 0,
            "{name}: {written}"
        );
        assert!(written["steps"].as_array().unwrap().len() > 1, "{name}");
        let before = std::fs::read_to_string(run.join("summary.md")).unwrap();
        std::fs::remove_file(run.join("summary.md")).unwrap();

        let output = surge()
            .args(["report", "--rebuild"])
            .arg(&run)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(code), "{name}: the same verdict");
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(out.contains("summary.json"), "{name}: {out}");
        assert_eq!(common::read_summary(&run), written, "{name}");
        let after = std::fs::read_to_string(run.join("summary.md")).unwrap();
        assert_eq!(after, before, "{name}: the reports are those of the run");
    }
}

/// The scenario's `drain: D` text.
fn drain_of(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("drain:"))
        .expect("every shipped scenario states its drain");
    let value = line.trim_start()["drain:".len()..]
        .split('#')
        .next()
        .unwrap()
        .trim();
    format!("drain: {value}")
}
