//! `surge history`: the list of runs, a metric's trend, and rebuilding the
//! index from run folders. Reads and writes only through [`crate::history`].

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::{HistoryAction, HistoryCmd, RebuildArgs, TrendArgs};
use crate::Exit;
use crate::history::query::Metric;
use crate::history::trend::{self, short_commit, short_time};
use crate::history::{History, Listed};
use crate::report::charts::{self, Line, color};

/// Runs `surge history` and its actions.
pub fn command(a: &HistoryCmd, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    match &a.action {
        None => list(a, out, err),
        Some(HistoryAction::Trend(t)) => trend(t, out, err),
        Some(HistoryAction::Rebuild(r)) => rebuild(r, out, err),
    }
}

fn location(flag: Option<&Path>, reports: &Path) -> PathBuf {
    crate::history::location(flag, false, reports).expect("a history unless --no-history")
}

/// A scenario given by name or by its file: a file that exists is read for
/// its `name:`.
fn scenario_name(arg: &str) -> String {
    let path = Path::new(arg);
    if !path.is_file() {
        return arg.to_string();
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_yaml::from_str::<serde_yaml::Value>(&text).ok())
        .and_then(|v| v.get("name")?.as_str().map(str::to_string))
        .unwrap_or_else(|| arg.to_string())
}

fn open(path: &Path, err: &mut dyn Write) -> std::io::Result<Option<History>> {
    match History::read(path) {
        Ok(h) => Ok(Some(h)),
        Err(e) => {
            writeln!(err, "surge history: {e}")?;
            Ok(None)
        }
    }
}

fn list(a: &HistoryCmd, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let path = location(a.history.as_deref(), Path::new("reports"));
    let Some(h) = open(&path, err)? else {
        return Ok(Exit::BadInput);
    };
    let scenario = a.scenario.as_deref().map(scenario_name);
    let listed = match h.list(scenario.as_deref(), a.last) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "surge history: {e}")?;
            return Ok(Exit::RunError);
        }
    };
    if a.json {
        for l in &listed {
            serde_json::to_writer(&mut *out, l)?;
            writeln!(out)?;
        }
        return Ok(Exit::Ok);
    }
    if listed.is_empty() {
        writeln!(
            err,
            "surge history: no runs{} in {}",
            scenario.map_or(String::new(), |s| format!(" of `{s}`")),
            path.display()
        )?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{:<16}  {:<10}  {:<24}  {:<12}  {:<10}  figures",
        "started (UTC)", "kind", "scenario", "commit", "verdict"
    )?;
    for l in &listed {
        writeln!(
            out,
            "{:<16}  {:<10}  {:<24}  {:<12}  {:<10}  {}",
            short_time(&l.started_at),
            l.kind,
            l.scenario,
            commit_shown(l),
            l.verdict.as_deref().unwrap_or("unfinished"),
            figures(l)
        )?;
    }
    Ok(Exit::Ok)
}

/// The commit, with `+` when the checkout had uncommitted changes.
fn commit_shown(l: &Listed) -> String {
    let dirty = if l.git_dirty == Some(true) { "+" } else { "" };
    format!("{}{dirty}", short_commit(l.git_commit.as_deref()))
}

fn figures(l: &Listed) -> String {
    if let Some(c) = l.capacity_per_s {
        return match l.upper_per_s {
            Some(up) if c > 0.0 => format!("capacity {c:.1}/s (below {up:.1}/s)"),
            Some(up) => format!("no capacity (fails at {up:.1}/s)"),
            None => format!("capacity {c:.1}/s or more"),
        };
    }
    format!(
        "goodput {:.2}%, {} requests, {:.2}% failed",
        l.goodput.unwrap_or(0.0) * 100.0,
        l.requests.unwrap_or(0),
        l.error_rate.unwrap_or(0.0) * 100.0
    )
}

fn trend(t: &TrendArgs, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    let path = location(t.history.as_deref(), Path::new("reports"));
    let Some(h) = open(&path, err)? else {
        return Ok(Exit::BadInput);
    };
    let scenario = scenario_name(&t.scenario);
    let points = match h.series(&scenario, &t.metric, t.last) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "surge history: {e}")?;
            return Ok(Exit::RunError);
        }
    };
    if points.is_empty() {
        let hint = match &t.metric {
            Metric::Quantile(_, name) | Metric::ErrorRate(Some(name)) => {
                let names = h.names(&scenario).unwrap_or_default();
                if names.is_empty() {
                    format!("the history has no runs of `{scenario}`")
                } else if names.iter().any(|n| n == name) {
                    "its runs are all shards, trials or invalid".into()
                } else {
                    format!(
                        "`{name}` is not a step or channel of it; known: {}",
                        names.join(", ")
                    )
                }
            }
            Metric::Capacity => format!("no capacity search of `{scenario}` was judged"),
            _ => format!("the history has no whole, valid run of `{scenario}`"),
        };
        writeln!(
            err,
            "surge history: nothing to follow in {}: {hint}",
            path.display()
        )?;
        return Ok(Exit::BadInput);
    }
    let moves = trend::moves(&points, crate::gate::compare::Tolerance::default());
    if t.json {
        let json = serde_json::json!({
            "scenario": scenario,
            "metric": t.metric.axis(),
            "points": points.iter().zip(&moves).map(|(p, m)| serde_json::json!({
                "started_at": p.started_at,
                "folder": p.folder,
                "git_commit": p.git_commit,
                "value": p.value,
                "moved": m,
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", trend::describe(&t.metric, &points, &moves))?;
    }
    if let Some(file) = &t.svg {
        let scale = |v: f64| match t.metric {
            Metric::Capacity => v,
            Metric::Goodput | Metric::ErrorRate(_) => v * 100.0,
            Metric::Quantile(..) => v / 1000.0,
        };
        let line = Line {
            name: t.metric.axis(),
            color: color(0),
            points: points
                .iter()
                .enumerate()
                .map(|(i, p)| ((i + 1) as f64, scale(p.value)))
                .collect(),
            dashed: false,
        };
        let moved: Vec<usize> = (0..moves.len()).filter(|&i| moves[i].is_some()).collect();
        let scale = match t.metric {
            Metric::Quantile(..) => charts::Scale::Log,
            _ => charts::Scale::Linear,
        };
        let svg = charts::runs(&t.metric.axis(), scale, &[line], &moved, None);
        std::fs::write(file, svg)?;
        writeln!(err, "surge history: chart written to {}", file.display())?;
    }
    Ok(Exit::Ok)
}

fn rebuild(r: &RebuildArgs, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<Exit> {
    if !r.dir.is_dir() {
        writeln!(
            err,
            "surge history: {} is not a folder; give the folder holding the run folders (default: reports)",
            r.dir.display()
        )?;
        return Ok(Exit::BadInput);
    }
    let path = location(r.history.as_deref(), &r.dir);
    let mut seen = 0usize;
    let started = std::time::Instant::now();
    let done = crate::history::rebuild(&path, &r.dir, |_| {
        seen += 1;
        if seen.is_multiple_of(200) {
            eprintln!("surge history: {seen} folders indexed...");
        }
    });
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            writeln!(err, "surge history: {e}")?;
            return Ok(Exit::RunError);
        }
    };
    if let Some(aside) = &done.moved_aside {
        writeln!(
            err,
            "surge history: the damaged database was moved to {}",
            aside.display()
        )?;
    }
    for (dir, why) in &done.skipped {
        writeln!(err, "surge history: skipped {}: {why}", dir.display())?;
    }
    writeln!(
        out,
        "surge history: indexed {} runs and {} capacity searches from {} into {} in {:.2}s",
        done.runs,
        done.capacities,
        r.dir.display(),
        path.display(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(Exit::Ok)
}
