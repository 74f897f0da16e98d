//! The run history (SQLite): real runs indexed with their provenance, the
//! `last-pass` baseline, a trend that names the commit where capacity
//! dropped, the README's query answered by the `sqlite3` command-line
//! client, concurrent writers losing no row, and a locked, damaged,
//! read-only or full database costing one warning and never an exit code.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{repo, scenario_file};
use rusqlite::Connection;

/// A small scenario: 20 logins/s for 3 s against the twin at `url` (shards
/// share one), or a twin of its own. It passes at scale 1 (a shard of two
/// too) and fails its throughput objective at scale 0.1.
fn tiny(dir: &Path, url: Option<&str>) -> PathBuf {
    let target = match url {
        Some(u) => format!("  base_url: {u}\n  admin: {u}"),
        None => "  twin: {}".into(),
    };
    scenario_file(dir, "tiny", &TINY.replace("TARGET", &target))
}

const TINY: &str = r#"
version: 1
name: history-tiny
seed: 3
target:
TARGET
load:
  arrivals: poisson
  max_in_flight: 32
  drain: 5s
  phases:
    - { name: steady, duration: 3s, rate: 20/s }
mix:
  login: 1
journeys:
  login:
    channel: storefront
    vars:
      phone: "0812{arrival}"
    steps:
      - { name: login, method: POST, path: /storefront/login, json: { phone: "{phone}" }, expect: { status: 202 } }
objectives:
  - error_rate: { name: few-errors, at_most: 5% }
  - throughput: { name: enough, step: login.login, at_least: 6/s }
"#;

/// The real binary, run in `cwd` with the CI environment `ci` (pairs set,
/// every other CI variable cleared, so the machine's own CI does not leak
/// in).
fn surge_in(cwd: &Path, ci: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("surge"));
    cmd.current_dir(cwd);
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_REF",
        "GITHUB_REF_NAME",
        "GITHUB_HEAD_REF",
        "GITHUB_SHA",
        "GITLAB_CI",
        "SURGE_HISTORY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in ci {
        cmd.env(k, v);
    }
    cmd
}

/// GitHub Actions' variables for a job on `branch` at `commit`.
fn github<'a>(branch: &'a str, commit: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_NAME", branch),
        ("GITHUB_SHA", commit),
        ("GITHUB_SERVER_URL", "https://ci.invalid"),
        ("GITHUB_REPOSITORY", "org/platform"),
        ("GITHUB_RUN_ID", "77"),
    ]
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `surge run` of `scenario` into `out`, indexed in `history`.
fn run(
    dir: &Path,
    scenario: &Path,
    out: &str,
    history: &Path,
    ci: &[(&str, &str)],
    extra: &[&str],
) -> Output {
    surge_in(dir, ci)
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(dir.join(out))
        .arg("--history")
        .arg(history)
        .arg("-q")
        .args(extra)
        .output()
        .unwrap()
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn runs_are_indexed_with_their_provenance_and_last_pass_picks_the_right_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let twin = common::twin();
    let scenario = tiny(dir, Some(&twin.url));
    let db = dir.join("h.sqlite");
    let main_a = github("main", "aaaaaaaaaa11");
    // The baseline to find: main, passing, whole.
    let o = run(dir, &scenario, "pass-main", &db, &main_a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Newer, but each not eligible: another branch; a shard; a failing run.
    let o = run(
        dir,
        &scenario,
        "pass-feature",
        &db,
        &github("feature", "ffff"),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let main_b = github("main", "bbbbbbbbbb22");
    let o = run(dir, &scenario, "shard", &db, &main_b, &["--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(
        dir,
        &scenario,
        "fail-main",
        &db,
        &main_b,
        &["--scale", "0.1"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the throughput objective fails: {}",
        text(&o)
    );
    // The run to judge.
    let main_c = github("main", "cccccccccc33");
    let o = run(dir, &scenario, "new", &db, &main_c, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stderr.is_empty(), "no warning: {}", text(&o));

    // Every run is a row, with what it measured and where it came from.
    assert_eq!(count(&db, "SELECT count(*) FROM runs"), 5);
    let conn = Connection::open(&db).unwrap();
    let (commit, branch, ci, url, verdict): (String, String, String, String, String) = conn
        .query_row(
            "SELECT git_commit, git_branch, ci, ci_run_url, verdict FROM runs WHERE folder LIKE '%pass-main'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (
            commit.as_str(),
            branch.as_str(),
            ci.as_str(),
            verdict.as_str()
        ),
        ("aaaaaaaaaa11", "main", "github", "pass")
    );
    assert_eq!(url, "https://ci.invalid/org/platform/actions/runs/77");
    let summary = common::read_summary(&dir.join("pass-main"));
    let requests: i64 = conn
        .query_row(
            "SELECT s.requests FROM steps s JOIN runs r ON r.id = s.run_id
             WHERE r.folder LIKE '%pass-main' AND s.name = 'login.login'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        requests as u64,
        summary["steps"][0]["requests"].as_u64().unwrap()
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM objectives o JOIN runs r ON r.id = o.run_id
             WHERE r.folder LIKE '%fail-main' AND o.name = 'enough' AND o.judgement = 'missed'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM runs WHERE shard_index = 1 AND shard_count = 2"
        ),
        1
    );

    // last-pass: the main branch's passing whole run, not the newer ones.
    let o = surge_in(dir, &main_c)
        .args(["compare", "--baseline", "last-pass"])
        .arg(dir.join("new"))
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(&format!(
            "baseline (last pass): {}",
            dir.join("pass-main").canonicalize().unwrap().display()
        )),
        "{said}"
    );
    assert!(said.contains("Same schedule"), "{said}");

    // A branch with no passing run says so, and where passes exist.
    let o = surge_in(dir, &[])
        .args(["compare", "--baseline", "last-pass"])
        .arg(dir.join("pass-feature"))
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("on branch `feature`"), "{}", text(&o));
    assert!(text(&o).contains("passing runs exist on: "), "{}", text(&o));

    // The list, newest first, and as JSON lines.
    let o = surge_in(dir, &[])
        .args(["history", "history-tiny", "--history"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(lines.len(), 5, "{listed}");
    assert!(
        lines[0].contains("cccccccccc") && lines[0].contains("pass"),
        "{listed}"
    );
    assert!(
        lines[1].contains("fail") && lines[2].contains("shard 1/2"),
        "{listed}"
    );
    let o = surge_in(dir, &[])
        .args(["history", "--json", "--last", "2", "--history"])
        .arg(&db)
        .output()
        .unwrap();
    let json: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json.len(), 2);
    assert_eq!(json[0]["git_commit"], "cccccccccc33");

    // Deleted, then rebuilt from the folders: the same rows.
    std::fs::remove_file(&db).unwrap();
    let o = surge_in(dir, &[])
        .args(["history", "rebuild"])
        .arg(dir)
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("indexed 5 runs"), "{}", text(&o));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM runs WHERE git_branch = 'main' AND verdict = 'pass' AND shard_count IS NULL"
        ),
        2
    );
}

/// A capacity search's folder as `surge capacity` writes it, with the
/// capacity in `[lower, upper)`: `started` orders them.
fn search_folder(root: &Path, n: usize, commit: &str, lower: f64, upper: f64) -> PathBuf {
    let dir = root
        .join("reports/cpns-2024-deadline-eve")
        .join(format!("capacity-{n:02}"));
    std::fs::create_dir_all(&dir).unwrap();
    let report = serde_json::json!({
        "format": "surge-capacity",
        "version": 1,
        "scenario": "cpns-2024-deadline-eve",
        "scenario_sha256": "5ca1ab1e",
        "started_at": format!("2026-11-{:02}T10:00:00.000Z", n),
        "provenance": { "git_commit": commit, "git_branch": "main" },
        "base_rate_per_s": 10.0,
        "scale": lower / 10.0,
        "capacity_per_s": lower,
        "upper_scale": upper / 10.0,
        "upper_per_s": upper,
        "resolution": 0.1,
        "trials": [
            { "scale": lower / 10.0, "rate_per_s": lower, "verdict": "pass", "dir": "gone", "reasons": [], "duration_s": 30.0, "judged": true },
            { "scale": upper / 10.0, "rate_per_s": upper, "verdict": "fail", "dir": "gone", "reasons": ["p99"], "duration_s": 30.0, "judged": true }
        ]
    });
    std::fs::write(dir.join("capacity.json"), report.to_string()).unwrap();
    dir
}

/// The capacity search `n` found: about 100 arrivals/s, with its usual
/// wobble, until the 14th; about 70 from it on.
fn lower_of(n: usize) -> f64 {
    let wobble = [0.0, 4.0, -3.0, 2.0][n % 4];
    if n < 14 {
        100.0 + wobble
    } else {
        70.0 + wobble
    }
}

fn commit_of(n: usize) -> String {
    format!("{n:02}{}", "c0ffee".repeat(6))
        .chars()
        .take(40)
        .collect()
}

#[test]
fn trend_names_the_commit_after_which_capacity_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for n in 1..=20 {
        search_folder(dir, n, &commit_of(n), lower_of(n), lower_of(n) * 1.08);
    }
    let o = surge_in(dir, &[])
        .args(["history", "rebuild"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("20 capacity searches"), "{}", text(&o));

    let o = surge_in(dir, &[])
        .args([
            "history",
            "trend",
            "cpns-2024-deadline-eve",
            "--metric",
            "capacity",
            "--svg",
            "trend.svg",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    let moved: Vec<&str> = said.lines().filter(|l| l.contains(" moved ")).collect();
    assert_eq!(moved.len(), 1, "one move, no false alarm: {said}");
    assert!(
        moved[0].contains("moved worse at run 14") && moved[0].contains(&commit_of(14)),
        "{said}"
    );
    let svg = std::fs::read_to_string(dir.join("trend.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.matches("<circle").count() >= 20,
        "{svg}"
    );

    // JSON says the same.
    let o = surge_in(dir, &[])
        .args([
            "history",
            "trend",
            "cpns-2024-deadline-eve",
            "--metric",
            "capacity",
            "--json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 20);
    let moved: Vec<usize> = (0..20).filter(|&i| !points[i]["moved"].is_null()).collect();
    assert_eq!(moved, vec![13]);
    assert_eq!(points[13]["moved"], "worse");

    // README's query, run exactly as written with the sqlite3 client.
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let query = readme
        .lines()
        .find(|l| l.starts_with("sqlite3 reports/history.sqlite"))
        .expect("README shows a sqlite3 query on the history");
    let o = Command::new("sh")
        .arg("-c")
        .arg(query)
        .current_dir(dir)
        .stderr(Stdio::piped())
        .output()
        .expect("the sqlite3 client is installed (tests/setup.sh)");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = String::from_utf8_lossy(&o.stdout).to_string();
    let line14 = rows
        .lines()
        .find(|l| l.starts_with(&commit_of(14)[..10]))
        .unwrap_or_else(|| panic!("capacity by commit lists run 14's commit: {rows}"));
    assert!(line14.contains(&format!("{:.1}", lower_of(14))), "{rows}");
    assert_eq!(
        rows.lines().filter(|l| l.contains("2026-11-")).count(),
        20,
        "{rows}"
    );

    // A metric that does not exist, and a step that does not, are located.
    let o = surge_in(dir, &[])
        .args([
            "history",
            "trend",
            "cpns-2024-deadline-eve",
            "--metric",
            "p98:x",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("p50|p90|p99:STEP|CHANNEL"),
        "{}",
        text(&o)
    );
}

/// Whether this process may mount a tmpfs (root with the capability):
/// the read-only and full cases need a file system of their own.
fn tmpfs(at: &Path, options: &str) -> bool {
    std::fs::create_dir_all(at).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(at)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn unmount(at: &Path) {
    let _ = Command::new("umount").arg(at).status();
}

/// A run whose history cannot be written: exit 0 as without one, exactly
/// one warning naming the history, and a complete run folder.
fn warns_once(dir: &Path, scenario: &Path, out: &str, db: &Path, why: &str) {
    let o = run(dir, scenario, out, db, &[], &[]);
    assert_eq!(o.status.code(), Some(0), "{why}: {}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{why}: {stderr}");
    assert!(
        warnings[0].contains("run history") && warnings[0].contains(why),
        "{stderr}"
    );
    assert!(dir.join(out).join("report.html").is_file(), "{why}");
}

#[test]
fn a_broken_history_costs_one_warning_never_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scenario = tiny(dir, None);

    // Locked: another writer holds it past the busy timeout.
    let locked = dir.join("locked.sqlite");
    let o = run(dir, &scenario, "first", &locked, &[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let holder = Connection::open(&locked).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    warns_once(dir, &scenario, "while-locked", &locked, "locked");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    // Damaged: not a database at all; rebuild moves it aside and makes it
    // again from the folders.
    let damaged = dir.join("damaged.sqlite");
    std::fs::write(&damaged, "not a database ".repeat(400)).unwrap();
    warns_once(dir, &scenario, "while-damaged", &damaged, "damaged");
    let o = surge_in(dir, &[])
        .args(["history", "rebuild", "."])
        .arg("--history")
        .arg(&damaged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("moved to"), "{}", text(&o));
    assert_eq!(count(&damaged, "SELECT count(*) FROM runs"), 3);

    // Read-only and full need a file system of their own.
    let ro = dir.join("ro");
    if tmpfs(&ro, "size=4m") {
        let db = ro.join("h.sqlite");
        let o = run(dir, &scenario, "before-ro", &db, &[], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let remount = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&ro)
            .status()
            .is_ok_and(|s| s.success());
        if remount {
            warns_once(dir, &scenario, "while-read-only", &db, "read-only");
        } else {
            eprintln!("read-only case not run: this process may not remount read-only");
        }
        unmount(&ro);
    } else {
        eprintln!("read-only case not run: this process may not mount a tmpfs");
    }
    let full = dir.join("full");
    if tmpfs(&full, "size=512k") {
        let db = full.join("h.sqlite");
        let o = run(dir, &scenario, "before-full", &db, &[], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        // Fill what is left.
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", full.join("filler").display()))
            .stderr(Stdio::null())
            .status();
        warns_once(dir, &scenario, "while-full", &db, "full");
        unmount(&full);
    } else {
        eprintln!("full-disk case not run: this process may not mount a tmpfs");
    }
}

#[test]
fn shards_a_merge_and_a_capacity_search_writing_at_once_lose_no_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let twin = common::twin();
    let scenario = tiny(dir, Some(&twin.url));
    let db = dir.join("h.sqlite");
    // Two shards made first, to be merged while the others run.
    for k in 1..=2 {
        let o = run(
            dir,
            &scenario,
            &format!("early-{k}"),
            &db,
            &[],
            &["--shard", &format!("{k}/2")],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let spawn = |args: Vec<String>| {
        surge_in(dir, &[])
            .args(args)
            .arg("--history")
            .arg(&db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let s = scenario.display().to_string();
    let mut children = Vec::new();
    for k in 1..=3 {
        children.push(spawn(vec![
            "run".into(),
            s.clone(),
            "-q".into(),
            "--shard".into(),
            format!("{k}/3"),
            "--out".into(),
            dir.join(format!("late-{k}")).display().to_string(),
        ]));
    }
    children.push(spawn(vec![
        "merge".into(),
        dir.join("early-1").display().to_string(),
        dir.join("early-2").display().to_string(),
        "--out".into(),
        dir.join("merged").display().to_string(),
    ]));
    children.push(spawn(vec![
        "capacity".into(),
        s.clone(),
        "--trial-duration".into(),
        "3s".into(),
        "--max-trials".into(),
        "2".into(),
        "--out".into(),
        dir.join("search").display().to_string(),
    ]));
    for child in children {
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("search/capacity.json")).unwrap())
            .unwrap();
    let trials = report["trials"].as_array().unwrap().len() as i64;
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE kind = 'run'"),
        2 + 3
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE kind = 'merge'"),
        1
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE kind = 'trial'"),
        trials
    );
    assert_eq!(count(&db, "SELECT count(*) FROM capacities"), 1);
    // Each run's children came with it.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id)"
        ),
        0
    );
}

#[test]
fn capacity_against_last_pass_finds_the_branch_s_latest_search() {
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let twin = common::twin();
    let scenario = tiny(dir, Some(&twin.url));
    let sha: String = sha2::Sha256::digest(std::fs::read(&scenario).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Two earlier searches of this very file on main: the older found far
    // more than the twin carries, the newer about what it carries; and one
    // on another branch, newest of all.
    let earlier = |name: &str, branch: &str, day: u32, lower: f64| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let report = serde_json::json!({
            "format": "surge-capacity", "version": 1, "scenario": "history-tiny",
            "scenario_sha256": sha, "started_at": format!("2026-11-{day:02}T10:00:00.000Z"),
            "provenance": { "git_commit": "e4e4", "git_branch": branch },
            "base_rate_per_s": 20.0, "scale": lower / 20.0, "capacity_per_s": lower,
            "resolution": 0.1,
            "trials": [{ "scale": lower / 20.0, "rate_per_s": lower, "verdict": "pass", "dir": "gone", "reasons": [], "duration_s": 3.0, "judged": true }]
        });
        std::fs::write(d.join("capacity.json"), report.to_string()).unwrap();
    };
    earlier("old-main", "main", 1, 100_000.0);
    earlier("new-main", "main", 2, 20.0);
    earlier("other", "feature", 3, 100_000.0);
    let db = dir.join("h.sqlite");
    let o = surge_in(dir, &[])
        .args(["history", "rebuild", "."])
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = surge_in(dir, &github("main", "f00d"))
        .arg("capacity")
        .arg(&scenario)
        .args([
            "--trial-duration",
            "3s",
            "--max-trials",
            "2",
            "--baseline",
            "last-pass",
            "--out",
        ])
        .arg(dir.join("search"))
        .arg("--history")
        .arg(&db)
        .output()
        .unwrap();
    let said = text(&o);
    let picked = dir.join("new-main/capacity.json").canonicalize().unwrap();
    assert!(
        said.contains(&format!("baseline (last pass): {}", picked.display())),
        "{said}"
    );
    // At least 20/s or more passes its two trials: no regression against it.
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM capacities WHERE git_commit = 'f00d'"
        ),
        1
    );
}
