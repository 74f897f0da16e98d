//! Builds `summary.json` from what the recorder totalled: first a skeleton
//! when the clock starts (so even a killed run says what it was), then the
//! whole summary at the end, written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::RunOptions;
use crate::recorder::{Flusher, Outcome, histogram};
use crate::scenario::Scenario;
use crate::scenario::model::ErrorClass;
use crate::summary::*;
use crate::twin::core::hex;
use crate::twin::ledger::Snapshot;

/// What the summary needs besides the measurements.
pub struct Context<'a> {
    pub scenario: &'a Scenario,
    pub opts: &'a RunOptions,
    pub time_factor: f64,
    pub target_kind: &'static str,
    pub target_shown: String,
    pub users: Vec<usize>,
    pub expected: f64,
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The summary written when the clock starts: `status: running`, nothing
/// measured yet.
pub fn initial(ctx: &Context, started: SystemTime) -> Summary {
    let s = ctx.scenario;
    let file = &s.file;
    let sha = std::fs::read(&ctx.opts.scenario_path)
        .map(|b| hex(&Sha256::digest(b)))
        .unwrap_or_default();
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
        },
        target: TargetInfo {
            kind: ctx.target_kind.into(),
            base_url: ctx.target_shown.clone(),
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
            max_in_flight: file.load.max_in_flight,
            lag: Latency::default(),
        },
        journeys: Vec::new(),
        steps: Vec::new(),
        channels: Vec::new(),
        errors: Vec::new(),
        ledger: None,
        gate: None,
    }
}

/// The whole summary, from the recorder's totals.
pub fn summary(
    ctx: &Context,
    flusher: &Flusher,
    started: SystemTime,
    t0: Option<Instant>,
    interrupted: bool,
    ledger: Option<Snapshot>,
) -> Summary {
    let mut summary = initial(ctx, started);
    let totals = flusher.totals();
    let names = flusher.names();
    summary.status = if interrupted {
        Status::Interrupted
    } else {
        Status::Completed
    };
    summary.run.ended_at = Some(rfc3339(SystemTime::now()));
    summary.run.elapsed_s = t0.map_or(0.0, |t| round(t.elapsed().as_secs_f64(), 3));
    summary.run.generator.cpu_max_pct = totals.cpu_max_pct.map(|p| round(p, 1));
    summary.run.generator.cpu_mean_pct = totals.cpu_mean_pct().map(|p| round(p, 1));
    let planned = summary.run.planned_s.max(1e-9);

    let mut lag = histogram();
    for (j, (jt, name)) in totals.journeys.iter().zip(&names.journeys).enumerate() {
        if ctx.users.get(j).copied().unwrap_or(0) == 0 {
            continue;
        }
        let _ = lag.add(&jt.lag);
        let requests: u64 = names
            .steps
            .iter()
            .zip(&totals.steps)
            .filter(|(s, _)| s.journey == j)
            .map(|(_, t)| t.requests)
            .sum();
        let o = &jt.outcomes;
        summary.journeys.push(JourneySummary {
            name: name.name.clone(),
            channel: name.channel.clone(),
            users: ctx.users[j],
            scheduled: jt.scheduled,
            started: jt.started,
            late: jt.late,
            dropped: jt.dropped,
            outcomes: Outcomes {
                completed_in_time: o[Outcome::CompletedInTime.index()],
                completed_late: o[Outcome::CompletedLate.index()],
                abandoned: o[Outcome::Abandoned.index()],
                failed: o[Outcome::Failed.index()],
                unfinished: o[Outcome::Unfinished.index()],
            },
            goodput: ratio(o[Outcome::CompletedInTime.index()], jt.scheduled),
            requests,
            retries: jt.retries,
            retry_amplification: ratio(requests, jt.started),
            time: Latency::of(&jt.time),
            lag: Latency::of(&jt.lag),
        });
        summary.load.scheduled += jt.scheduled;
        summary.load.started += jt.started;
        summary.load.late += jt.late;
        summary.load.dropped += jt.dropped;
    }
    summary.load.lag = Latency::of(&lag);

    let mut channels: BTreeMap<&str, (u64, u64, hdrhistogram::Histogram<u64>)> = BTreeMap::new();
    for (st, name) in totals.steps.iter().zip(&names.steps) {
        if ctx.users.get(name.journey).copied().unwrap_or(0) == 0 {
            continue;
        }
        let failed: u64 = st.failures.iter().sum();
        let errors = ErrorClass::ALL
            .iter()
            .filter(|c| st.failures[c.index()] > 0)
            .map(|c| (c.name().to_string(), st.failures[c.index()]))
            .collect();
        summary.steps.push(StepSummary {
            name: name.label.clone(),
            journey: names.journeys[name.journey].name.clone(),
            step: name.step.clone(),
            channel: name.channel.clone(),
            requests: st.requests,
            ok: st.ok,
            errors,
            error_rate: ratio(st.requests - st.ok.min(st.requests), st.requests),
            throughput_per_s: round(st.ok as f64 / planned, 3),
            latency: Latency::of(&st.latency),
        });
        let _ = failed;
        let entry = channels
            .entry(name.channel.as_str())
            .or_insert_with(|| (0, 0, histogram()));
        entry.0 += st.requests;
        entry.1 += st.ok;
        let _ = entry.2.add(&st.latency);
    }
    summary.channels = channels
        .into_iter()
        .map(|(name, (requests, ok, h))| ChannelSummary::of(name.to_string(), requests, ok, &h))
        .collect();
    let mut errors: Vec<ErrorSummary> = ErrorClass::ALL
        .iter()
        .filter(|c| totals.errors[c.index()].count > 0)
        .map(|c| {
            let t = totals.errors[c.index()];
            ErrorSummary {
                class: c.name().into(),
                count: t.count,
                first_s: t.first_s,
                last_s: t.last_s,
            }
        })
        .collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.count));
    summary.errors = errors;
    summary.ledger = ledger;
    summary
}

/// Writes `summary.json` atomically (a reader never sees half of it).
pub fn write(dir: &Path, summary: &Summary) -> std::io::Result<()> {
    let tmp = dir.join("summary.json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    serde_json::to_writer_pretty(&mut file, summary)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(tmp, dir.join("summary.json"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
