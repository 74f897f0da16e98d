//! Sharded runs and `surge merge`: three real shard processes against one
//! twin merge into the whole surge; a run split into 4 shards merges back
//! to exactly the counts and percentiles recorded in one process; shards
//! that do not belong together are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use common::{read_summary, repo, scenario_file, surge, twin};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use serde_json::Value;

/// `surge merge DIRS... --out OUT` on the real binary.
fn merge<P: AsRef<std::ffi::OsStr>>(dirs: &[P], out: &Path) -> std::process::Output {
    surge()
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn three_shard_processes_merge_into_the_whole_surge() {
    let twin = twin();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "sharded",
        &format!(
            r#"
version: 1
name: sharded
seed: 3
target:
  base_url: {}
load:
  max_in_flight: 60
  drain: 3s
  phases:
    - {{ name: ramp, duration: 2s, from: 10/s, to: 60/s }}
    - {{ name: steady, duration: 3s, rate: 60/s }}
journeys:
  counter:
    channel: partner/pos
    steps:
      - {{ name: login, method: POST, path: "/partners/{{partner}}/login",
          json: {{ client_id: "{{partner}}" }}, capture: {{ token: $.token }} }}
      - {{ name: stamp, method: POST, path: "/partners/{{partner}}/stamp",
          headers: {{ Authorization: "Bearer {{token}}" }}, pdf: 5KB }}
objectives:
  - error_rate: {{ name: errors, at_most: 1% }}
"#,
            twin.url
        ),
    );
    let start_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 2.0;
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| dir.path().join(format!("shard-{k}")))
        .collect();
    let children: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(i, out)| {
            Command::new(assert_cmd::cargo::cargo_bin!("surge"))
                .args(["run", "-q", "--shard", &format!("{}/3", i + 1)])
                .args(["--start-at", &format!("{start_at:.3}")])
                .arg("--out")
                .arg(out)
                .arg(&scenario)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    let each: Vec<Value> = shards.iter().map(|s| read_summary(s)).collect();
    for (i, s) in each.iter().enumerate() {
        assert_eq!(s["run"]["shard"]["index"], i as u64 + 1);
        assert_eq!(s["run"]["shard"]["count"], 3);
    }

    let merged = dir.path().join("merged");
    let o = merge(&shards, &merged);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = read_summary(&merged);
    let sum = |f: &dyn Fn(&Value) -> u64| each.iter().map(f).sum::<u64>();
    // Together the shards ran the whole schedule: every count adds up.
    assert_eq!(
        m["load"]["scheduled"].as_u64().unwrap(),
        sum(&|s| s["load"]["scheduled"].as_u64().unwrap())
    );
    assert!(m["load"]["scheduled"].as_u64().unwrap() > 150);
    for (k, step) in m["steps"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            step["requests"].as_u64().unwrap(),
            sum(&|s| s["steps"][k]["requests"].as_u64().unwrap())
        );
        // The merged p99 lies within the shards' p99s' range or beyond
        // none of them: it comes from added histograms.
        let p99s: Vec<u64> = each
            .iter()
            .map(|s| s["steps"][k]["latency"]["p99_us"].as_u64().unwrap())
            .collect();
        let p = step["latency"]["p99_us"].as_u64().unwrap();
        assert!(p >= *p99s.iter().min().unwrap() && p <= *p99s.iter().max().unwrap());
    }
    // The shards started together (--start-at), and the merge says so.
    let offsets: Vec<f64> = m["run"]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["offset_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(offsets.len(), 3);
    assert!(offsets.iter().all(|o| *o < 100.0), "{offsets:?}");
    // A normal run folder: the report shows the whole surge.
    let html = std::fs::read_to_string(merged.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Every objective met"));
    assert_eq!(m["gate"]["verdict"], "pass");
}

/// Reads an interval log into (tag, start seconds, histogram).
fn read_hlog(path: &Path) -> (f64, Vec<(String, f64, Histogram<u64>)>) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let start: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#[StartTime: "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let mut out = Vec::new();
    let mut d = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        if let Ok(LogEntry::Interval(i)) = entry {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(i.encoded_histogram())
                .unwrap();
            let h: Histogram<u64> = d.deserialize(&mut raw.as_slice()).unwrap();
            out.push((
                i.tag().unwrap().as_str().to_string(),
                i.start_timestamp().as_secs_f64(),
                h,
            ));
        }
    }
    (start, out)
}

fn write_hlog(path: &Path, start: f64, series: &[(String, f64, Histogram<u64>)]) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut ser = V2DeflateSerializer::new();
    let base = std::time::UNIX_EPOCH + Duration::from_secs_f64(start);
    let mut b = IntervalLogWriterBuilder::new();
    b.with_start_time(base).with_base_time(base);
    let mut log = b.begin_log_with(&mut file, &mut ser).unwrap();
    for (tag, at, h) in series {
        log.write_histogram(
            h,
            Duration::from_secs_f64(*at),
            Duration::from_secs(1),
            Some(Tag::new(tag).unwrap()),
        )
        .unwrap();
    }
}

/// Splits the rows of a per-second CSV round-robin over `n` files.
fn split_csv(from: &Path, to: &[PathBuf], name: &str) {
    let text = std::fs::read_to_string(from.join(name)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut parts: Vec<String> = to.iter().map(|_| format!("{header}\n")).collect();
    for (i, line) in lines.enumerate() {
        parts[i % to.len()] += &format!("{line}\n");
    }
    for (dir, part) in to.iter().zip(parts) {
        std::fs::write(dir.join(name), part).unwrap();
    }
}

#[test]
fn a_run_split_into_four_shards_merges_back_exactly() {
    // The fixture run, recorded in one process, cut into 4 shards: every
    // per-second histogram's counts dealt out value by value, every
    // per-second row given to one shard.
    let whole = repo("tests/fixtures/run");
    let dir = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (1..=4).map(|k| dir.path().join(format!("s{k}"))).collect();
    let (start, series) = read_hlog(&whole.join("latency.hlog"));
    let mut parts: Vec<Vec<(String, f64, Histogram<u64>)>> = vec![Vec::new(); 4];
    let mut turn = 0usize;
    for (tag, at, h) in &series {
        let mut split: Vec<Histogram<u64>> = (0..4).map(|_| Histogram::new(3).unwrap()).collect();
        for v in h.iter_recorded() {
            for _ in 0..v.count_at_value() {
                split[turn % 4].record(v.value_iterated_to()).unwrap();
                turn += 1;
            }
        }
        for (k, s) in split.into_iter().enumerate() {
            if !s.is_empty() {
                parts[k].push((tag.clone(), *at, s));
            }
        }
    }
    let summary: Value = read_summary(&whole);
    for (k, dir) in shards.iter().enumerate() {
        std::fs::create_dir_all(dir).unwrap();
        write_hlog(&dir.join("latency.hlog"), start, &parts[k]);
        let mut s = summary.clone();
        s["run"]["shard"] = serde_json::json!({ "index": k + 1, "count": 4 });
        std::fs::write(
            dir.join("summary.json"),
            serde_json::to_vec_pretty(&s).unwrap(),
        )
        .unwrap();
        std::fs::copy(whole.join("timeline.csv"), dir.join("timeline.csv")).unwrap();
        std::fs::copy(whole.join("scenario.yaml"), dir.join("scenario.yaml")).unwrap();
    }
    split_csv(&whole, &shards, "steps.csv");
    split_csv(&whole, &shards, "journeys.csv");

    let merged = dir.path().join("merged");
    let o = merge(&shards, &merged);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = read_summary(&merged);
    // The fixture was recorded before `queue_full` became `unavailable`: its
    // summary as surge reads it, under today's names.
    let summary =
        serde_json::to_value(surge::rundata::read_summary(&whole.join("summary.json")).unwrap())
            .unwrap();
    // Counts, outcomes and every percentile as recorded in one process.
    for key in ["steps", "journeys", "channels", "errors"] {
        let mut got = m[key].clone();
        let mut want = summary[key].clone();
        for v in got
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .chain(want.as_array_mut().unwrap())
        {
            if let Some(o) = v.as_object_mut() {
                o.remove("users");
            }
        }
        assert_eq!(got, want, "{key} differ after the merge");
    }
    for key in ["scheduled", "started", "late", "dropped"] {
        assert_eq!(m["load"][key], summary["load"][key], "load.{key}");
    }
    assert_eq!(m["load"]["lag"], summary["load"]["lag"]);
    assert_eq!(m["gate"]["verdict"], summary["gate"]["verdict"]);
}

#[test]
fn shards_that_do_not_belong_together_are_refused() {
    let whole = repo("tests/fixtures/run");
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, index: u64, count: u64, seed: u64| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in [
            "latency.hlog",
            "steps.csv",
            "journeys.csv",
            "timeline.csv",
            "scenario.yaml",
        ] {
            std::fs::copy(whole.join(f), d.join(f)).unwrap();
        }
        let mut s = read_summary(&whole);
        s["run"]["shard"] = serde_json::json!({ "index": index, "count": count });
        s["scenario"]["seed"] = seed.into();
        std::fs::write(d.join("summary.json"), serde_json::to_vec(&s).unwrap()).unwrap();
        d
    };
    let a = make("a", 1, 2, 11);
    let b = make("b", 2, 2, 11);
    let other_seed = make("c", 2, 2, 12);
    let refused = |dirs: &[&PathBuf], words: &[&str]| {
        let o = merge(dirs, &dir.path().join("m"));
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        for w in words {
            assert!(err.contains(w), "{err}");
        }
    };
    refused(&[&a], &["missing", "[2]"]);
    refused(&[&a, &a, &b], &["twice"]);
    refused(&[&a, &other_seed], &["seeds differ"]);
    refused(&[&whole], &["not a shard"]);
    // A shard written by another surge (its error columns under other
    // names) is refused, not added column by column.
    let newer = make("d", 2, 2, 11);
    let timeline = std::fs::read_to_string(newer.join("timeline.csv")).unwrap();
    let renamed = timeline.replacen("err_queue_full", "err_rate_limited,err_unavailable", 1);
    let renamed: String = renamed
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{l},0")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(newer.join("timeline.csv"), renamed + "\n").unwrap();
    refused(
        &[&a, &newer],
        &[
            "timeline.csv columns",
            "err_queue_full",
            "err_rate_limited err_unavailable",
        ],
    );
    // The right pair merges.
    let o = merge(&[&a, &b], &dir.path().join("ok"));
    assert!(matches!(o.status.code(), Some(0 | 1)));
}
