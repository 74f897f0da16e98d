//! `surge whatif` on the real binary against the real twin: a variant
//! known by construction to be better comes out ahead with an interval
//! that leaves out zero, every run meets the same arrivals (checked from
//! the run folders), `--set` reaches every run, an invalid run gives exit
//! 3 with the comparison still written, and Ctrl-C stops the sequence.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{read_summary, scenario_file, surge};

/// One signing worker at ~150 ms a signature serves about six counter
/// stamps a second; fifteen a second arrive for twelve seconds, so most
/// cannot be stamped before the deadline (the end of the rush). Sixteen
/// workers serve them all.
const SMALL: &str = r#"
version: 1
name: whatif-small
seed: 11
target:
  twin:
    core:
      signing:
        workers: 1
        service_time: { median: 150ms, p99: 300ms }
        queue: 1000
        timeout: 60s
load:
  arrivals: poisson
  max_in_flight: 400
  drain: 4s
  phases:
    - { name: rush, duration: 12s, rate: 15/s }
journeys:
  counter:
    channel: partner/pos
    steps:
      - name: login
        method: POST
        path: /partners/{partner}/login
        json: { client_id: "{partner}" }
        capture: { token: $.token }
      - name: stamp
        method: POST
        path: /partners/{partner}/stamp
        headers: { Authorization: "Bearer {token}" }
        pdf: 20KB
        timeout: 60s
        expect:
          json: [{ path: $.serial, exists: true }]
variants:
  - name: more-signers
    description: Sixteen signing workers instead of one.
    set:
      target.twin.core.signing.workers: 16
  - name: starved
    description: One journey at a time, each arrival dropped after 10 ms of waiting.
    set:
      load.max_in_flight: 1
      load.max_lateness: 10ms
"#;

/// A run folder's arrivals: per (second, journey) as its schedule offers
/// them (from the folder's scenario as run and the scale it ran at), and
/// per journey as journeys.csv counted them.
fn arrivals(dir: &Path) -> (surge::schedule::PerSecond, BTreeMap<String, u64>) {
    let (scenario, _) = surge::scenario::load(&dir.join("scenario.yaml")).unwrap();
    let mut opts = surge::runner::RunOptions::new(dir.join("scenario.yaml"));
    opts.scale = read_summary(dir)["scenario"]["scale"].as_f64();
    let planned = surge::runner::planned_arrivals(&scenario, &opts);
    let text = std::fs::read_to_string(dir.join("journeys.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (journey, n) = (col("journey"), col("scheduled"));
    let mut counted = BTreeMap::new();
    for cells in lines.map(|l| l.split(',').collect::<Vec<_>>()) {
        *counted.entry(cells[journey].to_string()).or_default() += cells[n].parse::<u64>().unwrap();
    }
    (planned, counted)
}

/// `surge whatif SCENARIO ARGS... --no-history --out OUT`: (exit code,
/// stdout and stderr).
fn whatif(scenario: &Path, args: &[&str], out: &Path) -> (i32, String) {
    let o = surge()
        .arg("whatif")
        .arg(scenario)
        .args(args)
        .args(["--no-history", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code().expect("exited"), printed)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn more_signers_come_out_ahead_on_the_same_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "small", SMALL);
    let out = dir.path().join("whatif");
    let (code, printed) = whatif(
        &scenario,
        &["--variant", "more-signers", "--set", "seed=12"],
        &out,
    );
    assert_eq!(code, 0, "{printed}");

    // Identical arrivals, from the run folders: the same schedule per
    // second and journey, and the same arrivals counted by each run.
    let (base_planned, base_counted) = arrivals(&out.join("baseline"));
    let (more_planned, more_counted) = arrivals(&out.join("more-signers"));
    assert!(base_planned.len() >= 12, "{base_planned:?}");
    assert_eq!(base_planned, more_planned, "the same schedule in every run");
    assert!(base_counted["counter"] > 100, "{base_counted:?}");
    assert_eq!(base_counted, more_counted, "the same arrivals counted");
    let total: u64 = base_planned.iter().map(|(_, _, n)| n).sum();
    assert_eq!(
        total, base_counted["counter"],
        "every planned arrival counted"
    );

    // --set reached both runs; the variant's folder holds the scenario as
    // run, its summary names the variant and the overrides.
    let (sb, sv) = (
        read_summary(&out.join("baseline")),
        read_summary(&out.join("more-signers")),
    );
    assert_eq!(sb["scenario"]["seed"], 12);
    assert_eq!(sv["scenario"]["seed"], 12);
    assert_eq!(sv["scenario"]["variant"], "more-signers");
    assert_eq!(sv["scenario"]["overrides"][0], "seed=12");
    let as_run = std::fs::read_to_string(out.join("more-signers/scenario.yaml")).unwrap();
    assert!(
        as_run.contains("workers: 16") && !as_run.contains("variants:"),
        "{as_run}"
    );

    let c = json(&out.join("whatif.json"));
    assert_eq!(c["format"], "surge-whatif");
    let runs = c["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["name"], "baseline");
    let (b, v) = (&runs[0], &runs[1]);
    assert_eq!(v["same_arrivals"], true);
    let b_done = b["total"]["completed_in_time"].as_u64().unwrap();
    let v_done = v["total"]["completed_in_time"].as_u64().unwrap();
    let arrivals = b["total"]["arrivals"].as_u64().unwrap();
    // By construction: one worker serves well under half in time, sixteen
    // nearly all.
    assert!(b_done * 2 < arrivals, "{b_done} of {arrivals}");
    assert!(v_done * 10 >= arrivals * 9, "{v_done} of {arrivals}");
    let change = &v["versus_baseline"];
    assert_eq!(
        change["count"].as_i64().unwrap(),
        v_done as i64 - b_done as i64
    );
    assert_eq!(change["measurable"], true);
    assert!(change["count_low"].as_f64().unwrap() > 0.0, "{change}");
    assert!(
        change["count_low"].as_f64().unwrap() <= change["count"].as_f64().unwrap()
            && change["count"].as_f64().unwrap() <= change["count_high"].as_f64().unwrap(),
        "{change}"
    );
    let channel = &v["channels"][0];
    assert_eq!(channel["channel"], "partner/pos");
    assert_eq!(channel["versus_baseline"]["measurable"], true);

    // The verdict line, in the Markdown, the HTML and on stdout.
    let line = format!(
        "+{} applicants stamped before the deadline",
        v_done - b_done
    );
    let md = std::fs::read_to_string(out.join("whatif.md")).unwrap();
    assert!(md.contains(&format!("- **more-signers**: {line}")), "{md}");
    assert!(
        printed.contains(&format!("more-signers: {line}")),
        "{printed}"
    );
    let html = std::fs::read_to_string(out.join("whatif.html")).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "goodput and backlog charts"
    );
    assert!(html.contains(&line), "{html}");
}

#[test]
fn an_invalid_run_is_marked_and_exits_3_and_unknown_variants_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "small", SMALL);
    let out = dir.path().join("whatif");
    let (code, printed) = whatif(
        &scenario,
        &["--variant", "starved", "--duration", "4s"],
        &out,
    );
    assert_eq!(code, 3, "{printed}");
    let c = json(&out.join("whatif.json"));
    let starved = &c["runs"][1];
    assert_eq!(starved["name"], "starved");
    assert_eq!(starved["carried_out"], true);
    assert_eq!(starved["valid"], false);
    assert!(
        starved["verdict"]
            .as_str()
            .unwrap()
            .contains("this run is invalid"),
        "{starved}"
    );
    assert_eq!(c["runs"][0]["valid"], true);
    let md = std::fs::read_to_string(out.join("whatif.md")).unwrap();
    assert!(
        md.contains("| starved |") && md.contains("invalid: "),
        "{md}"
    );

    // A variant the file does not have, and a file with none: exit 2,
    // nothing run.
    let never = dir.path().join("never");
    let (code, err) = whatif(&scenario, &["--variant", "more-signer"], &never);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no variant `more-signer`") && err.contains("more-signers, starved"),
        "{err}"
    );
    assert!(!dir.path().join("never").exists());
    let plain = scenario_file(
        dir.path(),
        "plain",
        &SMALL[..SMALL.find("variants:").unwrap()],
    );
    let (code, err) = whatif(&plain, &[], &never);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no variants"), "{err}");
    assert!(!never.exists());
}

#[test]
fn ctrl_c_stops_the_sequence_and_the_comparison_covers_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    let long = SMALL.replace("duration: 12s", "duration: 120s");
    let scenario = scenario_file(dir.path(), "long", &long);
    let out = dir.path().join("whatif");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .arg("whatif")
        .arg(&scenario)
        .args(["--no-history", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the baseline has recorded a few seconds.
    let until = Instant::now() + Duration::from_secs(30);
    let steps = out.join("baseline/steps.csv");
    while std::fs::read_to_string(&steps).map_or(0, |t| t.lines().count()) < 4 {
        assert!(Instant::now() < until, "the baseline never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(kill.success());
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("surge whatif still running 30 s after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3));
    assert_eq!(read_summary(&out.join("baseline"))["status"], "interrupted");
    let c = json(&out.join("whatif.json"));
    let runs = c["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{c}");
    for r in &runs[1..] {
        assert_eq!(r["carried_out"], false, "{r}");
        assert_eq!(r["verdict"], "not compared: not run: interrupted");
        assert!(!out.join(r["name"].as_str().unwrap()).exists());
    }
}
