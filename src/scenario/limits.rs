//! What one surge process can carry, checked before any load: body sizes,
//! the concurrency cap, arrivals and peak rate per process, durations and
//! counts. A value beyond a limit is a typo far more often than a plan
//! (`100GB` for `100KB`, three extra zeros), and the alternative to
//! refusing it is an abort, a machine out of memory, or a generator that
//! cannot be stopped while it hammers a staging system. Each limit is
//! generous for a real deadline eve (hours, hundreds of thousands of
//! applicants per shard) and far below what breaks; README lists them with
//! the measurements they came from. The load limits are per process, so
//! they take the number of shards the load is split over.

use std::path::Path as FsPath;
use std::time::Duration as StdDuration;

use super::diagnostic::{Path, Problem};
use super::model::ScenarioFile;
use super::semantic::Timeline;

/// Largest request body (`pdf`, `file`; a `text` body is bounded by the
/// scenario file's own 1 MiB): documents of the domain are under 1 MB.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;
/// Most users (journeys in flight) per process: each holds a task, a
/// connection and its file descriptor.
pub const MAX_IN_FLIGHT: u64 = 20_000;
/// Most arrivals one process is scheduled: an hour at about 28,000 a
/// second.
pub const MAX_ARRIVALS: f64 = 100_000_000.0;
/// Highest arrival rate one process is offered, at any instant (far above
/// what one generator sends, so overload can be rehearsed on purpose).
pub const MAX_RATE: f64 = 1_000_000.0;
/// Longest duration of any kind, and longest timeline: two days.
pub const MAX_DURATION: StdDuration = StdDuration::from_secs(48 * 3600);
/// Most journeys, steps per journey, phases and faults.
pub const MAX_ITEMS: usize = 1_000;
/// Most headers of a step or journey, and variables of a journey.
pub const MAX_ENTRIES: usize = 100;

fn too_many(path: Path, what: &str, n: usize, max: usize) -> Problem {
    Problem::error(
        path,
        format!("{n} {what}, more than the {max} one scenario may have"),
    )
    .with_hint("split the scenario into several".to_string())
}

/// The limits that do not depend on how the load is split: bodies,
/// durations and counts.
pub fn check(file: &ScenarioFile, timeline: &Timeline, base_dir: &FsPath) -> Vec<Problem> {
    let mut out = Vec::new();
    durations(file, timeline, &mut out);
    counts(file, &mut out);
    for (name, journey) in &file.journeys {
        let jp = Path::at(&["journeys"]).key(name);
        for (i, step) in journey.steps.iter().enumerate() {
            body(step, &jp.key("steps").index(i), base_dir, &mut out);
        }
    }
    out
}

/// The load one process of `processes` carries: arrivals, peak rate and
/// users, after `scale`. `surge validate` checks one process (or
/// `--shards N`); `surge run` checks its own shard, after the command
/// line's overrides.
pub fn load(file: &ScenarioFile, timeline: &Timeline, processes: u64) -> Vec<Problem> {
    let mut out = Vec::new();
    let n = processes.max(1) as f64;
    let scale = file.load.scale;
    let split = |needed: f64| -> String {
        format!(
            "split the load over shards (--shard K/N with N of at least {}), or lower it",
            needed.ceil().max(2.0) as u64
        )
    };
    let arrivals = timeline.expected_arrivals() * scale / n;
    if arrivals > MAX_ARRIVALS {
        out.push(
            Problem::error(
                Path::at(&["load", "phases"]),
                format!(
                    "about {arrivals:.0} arrivals for one process, more than the {MAX_ARRIVALS:.0} it may be given"
                ),
            )
            .with_hint(split(arrivals * n / MAX_ARRIVALS)),
        );
    }
    for (i, phase) in timeline.phases.iter().enumerate() {
        let peak = phase.peak() * scale / n;
        if peak > MAX_RATE {
            out.push(
                Problem::error(
                    Path::at(&["load", "phases"]).index(i),
                    format!(
                        "a peak of {peak:.0} arrivals/s for one process, more than the {MAX_RATE:.0}/s it may be offered"
                    ),
                )
                .with_hint(split(peak * n / MAX_RATE)),
            );
        }
    }
    let users = file.load.max_in_flight as f64 / n;
    if users > MAX_IN_FLIGHT as f64 {
        out.push(
            Problem::error(
                Path::at(&["load", "max_in_flight"]),
                format!(
                    "{} journeys in flight per process, more than the {MAX_IN_FLIGHT} one process may hold",
                    users.ceil() as u64
                ),
            )
            .with_hint(split(file.load.max_in_flight as f64 / MAX_IN_FLIGHT as f64)),
        );
    }
    out
}

fn durations(file: &ScenarioFile, timeline: &Timeline, out: &mut Vec<Problem>) {
    let mut check = |path: Path, d: StdDuration| {
        if d > MAX_DURATION {
            out.push(
                Problem::error(
                    path,
                    format!(
                        "{} is longer than the {} any duration may be",
                        super::units::Duration(d),
                        super::units::Duration(MAX_DURATION)
                    ),
                )
                .with_hint("a rehearsal covers hours; check the unit (ms, s, m, h)".to_string()),
            );
        }
    };
    let load = Path::at(&["load"]);
    check(load.key("drain"), file.load.drain.0);
    check(load.key("max_lateness"), file.load.max_lateness.0);
    for (i, p) in file.load.phases.iter().enumerate() {
        if let Some(d) = p.duration {
            check(load.key("phases").index(i).key("duration"), d.0);
        }
    }
    for (name, j) in &file.journeys {
        let jp = Path::at(&["journeys"]).key(name);
        let patience = jp.key("patience");
        if let Some(g) = j.patience.give_up {
            check(patience.key("give_up"), g.0);
        }
        check(
            patience.key("backoff").key("initial"),
            j.patience.backoff.initial.0,
        );
        check(patience.key("backoff").key("max"), j.patience.backoff.max.0);
        for (i, step) in j.steps.iter().enumerate() {
            let sp = jp.key("steps").index(i);
            check(sp.key("timeout"), step.timeout.0);
            if let Some(t) = step.think {
                check(sp.key("think"), t.0);
            }
            if let Some(p) = &step.poll {
                check(sp.key("poll").key("every"), p.every.0);
                check(sp.key("poll").key("timeout"), p.timeout.0);
            }
        }
    }
    if timeline.total > MAX_DURATION {
        out.push(
            Problem::error(
                load.key("phases"),
                format!(
                    "the phases last {}, longer than the {} a run may",
                    super::units::Duration(timeline.total),
                    super::units::Duration(MAX_DURATION)
                ),
            )
            .with_hint("rehearse the peak hours, or run the days as separate runs".to_string()),
        );
    }
}

fn counts(file: &ScenarioFile, out: &mut Vec<Problem>) {
    let lists = [
        (Path::at(&["journeys"]), "journeys", file.journeys.len()),
        (
            Path::at(&["load", "phases"]),
            "phases",
            file.load.phases.len(),
        ),
        (Path::at(&["faults"]), "faults", file.faults.len()),
    ];
    for (path, what, n) in lists {
        if n > MAX_ITEMS {
            out.push(too_many(path, what, n, MAX_ITEMS));
        }
    }
    for (name, j) in &file.journeys {
        let jp = Path::at(&["journeys"]).key(name);
        if j.steps.len() > MAX_ITEMS {
            out.push(too_many(jp.key("steps"), "steps", j.steps.len(), MAX_ITEMS));
        }
        for (key, n) in [("vars", j.vars.len()), ("headers", j.headers.len())] {
            if n > MAX_ENTRIES {
                out.push(too_many(jp.key(key), key, n, MAX_ENTRIES));
            }
        }
        for (i, step) in j.steps.iter().enumerate() {
            if step.headers.len() > MAX_ENTRIES {
                let p = jp.key("steps").index(i).key("headers");
                out.push(too_many(p, "headers", step.headers.len(), MAX_ENTRIES));
            }
        }
    }
}

/// A body within [`MAX_BODY`] (a `file:` body is known to be a regular
/// file by now).
fn body(step: &super::model::Step, path: &Path, base_dir: &FsPath, out: &mut Vec<Problem>) {
    let big = |path: Path, size: u64| {
        Problem::error(
            path,
            format!(
                "a body of {} is larger than the {} a request may carry",
                super::units::Size(size),
                super::units::Size(MAX_BODY)
            ),
        )
        .with_hint("check the unit (KB, MB); documents of the domain are under 1 MB".to_string())
    };
    if let Some(size) = step.pdf
        && size.0 > MAX_BODY
    {
        out.push(big(path.key("pdf"), size.0));
    }
    if let Some(file) = &step.file {
        let full = base_dir.join(file);
        if let Ok(m) = std::fs::metadata(&full)
            && m.len() > MAX_BODY
        {
            out.push(big(path.key("file"), m.len()));
        }
    }
}
