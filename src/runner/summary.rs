//! What the runner says of its run in `summary.json`: a skeleton when the
//! clock starts (so even a killed run says what it was), and at the end
//! what only the runner knows (status, timing, CPU, ledger, users). The
//! measured totals are not built here but from the run's files, by
//! [`crate::finish`].

use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::RunOptions;
use crate::human::hex;
use crate::recorder::{Cpu, Names};
use crate::scenario::Scenario;
use crate::summary::*;

/// What the summary needs besides the measurements.
pub struct Context<'a> {
    pub scenario: &'a Scenario,
    pub opts: &'a RunOptions,
    pub time_factor: f64,
    pub target_kind: &'static str,
    pub target_shown: String,
    pub tls_unverified: Vec<String>,
    pub users: Vec<usize>,
    pub names: Names,
    pub expected: f64,
}

/// SHA-256 of a file's bytes (empty when it cannot be read): what names
/// "the same scenario" across runs.
pub fn file_sha256(path: &std::path::Path) -> String {
    std::fs::read(path)
        .map(|b| hex(&Sha256::digest(b)))
        .unwrap_or_default()
}

/// SHA-256 of the scenario as run: its resolved document when `--set` or a
/// variant changed `file`, else the file's bytes; the same bytes the run
/// folder's `scenario.yaml` holds.
pub fn as_run_sha256(scenario: &crate::scenario::Scenario, file: &std::path::Path) -> String {
    match &scenario.as_run {
        Some(doc) => hex(&Sha256::digest(doc.as_bytes())),
        None => file_sha256(file),
    }
}

pub use crate::human::rfc3339;

/// The summary written when the clock starts: `status: running`, nothing
/// measured yet. (Long: it is one struct literal, every field of the
/// contract's header in the order `summary.json` shows it.)
pub fn initial(ctx: &Context, started: SystemTime) -> Summary {
    let s = ctx.scenario;
    let file = &s.file;
    let sha = as_run_sha256(s, &ctx.opts.scenario_path);
    Summary {
        format: FORMAT.into(),
        version: VERSION,
        surge_version: env!("CARGO_PKG_VERSION").into(),
        status: Status::Running,
        scenario: ScenarioInfo {
            name: file.name.to_string(),
            description: file.description.trim().to_string(),
            file: ctx.opts.scenario_path.display().to_string(),
            sha256: sha,
            variant: ctx.opts.resolve.variant.clone(),
            overrides: ctx.opts.resolve.sets.clone(),
            seed: file.seed,
            scale: file.load.scale,
            time_factor: ctx.time_factor,
        },
        run: RunInfo {
            started_at: rfc3339(started),
            ended_at: None,
            planned_s: s.timeline.total.as_secs_f64(),
            drain_s: file.load.drain.as_secs_f64(),
            elapsed_s: 0.0,
            shards: Vec::new(),
            shard: (ctx.opts.shard.count > 1).then(|| ShardInfo {
                index: ctx.opts.shard.index + 1,
                count: ctx.opts.shard.count,
            }),
            generator: GeneratorInfo {
                hostname: hostname(),
                cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
                os: std::env::consts::OS.into(),
                users: ctx.users.iter().sum(),
                cpu_max_pct: None,
                cpu_mean_pct: None,
            },
            provenance: crate::provenance::here(),
        },
        target: TargetInfo {
            kind: ctx.target_kind.into(),
            base_url: ctx.target_shown.clone(),
            tls_unverified: ctx.tls_unverified.clone(),
        },
        timeline: TimelineInfo {
            phases: s
                .timeline
                .phases
                .iter()
                .map(|p| PhaseInfo {
                    name: p.name.clone(),
                    start_s: p.start.as_secs_f64(),
                    end_s: p.end.as_secs_f64(),
                    from_per_s: p.from * file.load.scale,
                    to_per_s: p.to * file.load.scale,
                })
                .collect(),
            deadline_s: s.timeline.deadline.as_secs_f64(),
            faults: s
                .timeline
                .faults
                .iter()
                .map(|w| {
                    let f = &file.faults[w.index];
                    FaultInfo {
                        name: w.name.clone(),
                        on: f.on.to_string(),
                        kind: f.fault.name().into(),
                        start_s: w.start.as_secs_f64(),
                        end_s: w.end.as_secs_f64(),
                        applied_s: None,
                        removed_s: None,
                        error: None,
                    }
                })
                .collect(),
        },
        load: LoadInfo {
            expected: round(ctx.expected, 1),
            scheduled: 0,
            started: 0,
            late: 0,
            dropped: 0,
            data_exhausted: 0,
            data_must_last: file
                .data
                .values()
                .any(|d| d.on_exhausted == Some(crate::scenario::model::OnExhausted::Fail)),
            max_in_flight: file.load.max_in_flight,
            lag: Latency::default(),
        },
        journeys: Vec::new(),
        steps: Vec::new(),
        channels: Vec::new(),
        errors: Vec::new(),
        ledger: None,
        books: None,
        gate: None,
        stopped_early: None,
    }
}

/// The summary at the end of the run: what the runner knows besides the
/// per-second files (status, timing, the generator's CPU, the twin's
/// ledger, and the journeys and steps it served, with their users and
/// channels, in the plan's order). The totals are left to
/// [`crate::finish`], which builds them from the files.
pub fn ended(ctx: &Context, end: End) -> Summary {
    let mut summary = initial(ctx, end.started);
    summary.status = if end.stopped_early.is_some() {
        Status::StoppedEarly
    } else if end.interrupted {
        Status::Interrupted
    } else {
        Status::Completed
    };
    summary.stopped_early = end.stopped_early;
    summary.run.ended_at = Some(rfc3339(SystemTime::now()));
    summary.run.elapsed_s = end.t0.map_or(0.0, |t| round(t.elapsed().as_secs_f64(), 3));
    summary.run.generator.cpu_max_pct = end.cpu.max_pct.map(|p| round(p, 1));
    summary.run.generator.cpu_mean_pct = end.cpu.mean_pct().map(|p| round(p, 1));
    let served = |j: usize| ctx.users.get(j).copied().unwrap_or(0) > 0;
    for (j, name) in ctx
        .names
        .journeys
        .iter()
        .enumerate()
        .filter(|(j, _)| served(*j))
    {
        summary.journeys.push(JourneySummary {
            name: name.name.clone(),
            channel: name.channel.clone(),
            users: ctx.users[j],
            ..JourneySummary::default()
        });
    }
    for step in ctx.names.steps.iter().filter(|s| served(s.journey)) {
        summary.steps.push(StepSummary {
            name: step.label.clone(),
            journey: ctx.names.journeys[step.journey].name.clone(),
            step: step.step.clone(),
            channel: step.channel.clone(),
            ..StepSummary::default()
        });
    }
    summary.ledger = end.ledger;
    summary
}

/// How the run ended.
pub struct End {
    /// Wall-clock start of the run.
    pub started: SystemTime,
    /// The schedule's start, if it started.
    pub t0: Option<Instant>,
    pub interrupted: bool,
    /// The objective that stopped the run, when one did (before any
    /// Ctrl-C).
    pub stopped_early: Option<crate::summary::StoppedEarly>,
    pub cpu: Cpu,
    pub ledger: Option<Snapshot>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
