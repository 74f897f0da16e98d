//! `summary.json`: what a run measured, as a versioned contract. The
//! runner writes it (first when the run starts, with `status: running`,
//! then whole at the end), reports are rebuilt from it, the gate and
//! `surge compare` read it, and merges produce it. Every field is
//! documented here; its JSON Schema is derived from these types, committed
//! under `docs/`, and checked in tests. Latencies are in microseconds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::model::{OLD_QUEUE_FULL, Objective};
pub use ledger::{Snapshot, StockOut};

pub mod books;
pub mod capacity;
pub mod ledger;

/// Names this document's format.
pub const FORMAT: &str = "surge-summary";
/// The version of this document's format; bumped on any breaking change.
/// 2: the error class `queue_full` became `rate_limited` (429) and
/// `unavailable` (503). Version 1 summaries still read (their errors keep
/// the name they were counted under). 3: a run may end `stopped_early`
/// (an objective decided missed), said in `stopped_early`.
pub const VERSION: u32 = 3;
/// How far below the schedule started arrivals may fall before a run is
/// invalid, unless the run says otherwise (`--rate-tolerance`).
pub const DEFAULT_RATE_TOLERANCE: f64 = 0.01;

/// An error class's name as this version writes it: `queue_full` of
/// version 1 reads as `unavailable`.
pub fn class_now(name: &str) -> &str {
    if name == OLD_QUEUE_FULL.0 {
        OLD_QUEUE_FULL.1.name()
    } else {
        name
    }
}

/// A run's summary.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "surge run summary")]
pub struct Summary {
    /// Always `surge-summary`.
    pub format: String,
    /// The format's version: 3 (2 before `stopped_early`, 1 before
    /// `queue_full` was split).
    pub version: u32,
    /// The surge that wrote it.
    pub surge_version: String,
    /// Where the run stands.
    pub status: Status,
    /// Why the run stopped before its schedule's end, when an objective
    /// with `stop_early` was decided missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<StoppedEarly>,
    pub scenario: ScenarioInfo,
    pub run: RunInfo,
    pub target: TargetInfo,
    pub timeline: TimelineInfo,
    pub load: LoadInfo,
    /// One entry per journey that had arrivals.
    pub journeys: Vec<JourneySummary>,
    /// One entry per step of those journeys.
    pub steps: Vec<StepSummary>,
    /// One entry per channel that received requests.
    pub channels: Vec<ChannelSummary>,
    /// Failures by class, most frequent first.
    pub errors: Vec<ErrorSummary>,
    /// The twin's ledger at the end, when the target was the twin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Snapshot>,
    /// The platform's books (`books:` in the scenario): counters and
    /// reconciliations, read after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub books: Option<books::BooksSummary>,
    /// The verdict: whether the run was valid and its objectives met.
    /// Absent while the run is under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

/// What the gate decided.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// `pass` (exit 0), `fail` (exit 1) or `invalid` (exit 3).
    pub verdict: Verdict,
    pub validity: Validity,
    pub objectives: Vec<ObjectiveResult>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A valid run, every objective met.
    Pass,
    /// A valid run with an objective missed or not judgeable.
    Fail,
    /// The generator did not deliver the schedule; the objectives say
    /// nothing about the target.
    Invalid,
}

impl Verdict {
    /// Its name as `summary.json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Invalid => "invalid",
        }
    }
}

/// Whether the run measured what it meant to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    pub valid: bool,
    /// Why not, when not.
    pub reasons: Vec<String>,
    /// The shortfall of started arrivals below the schedule that was
    /// tolerated (`--rate-tolerance`), so a report judges again alike.
    #[serde(default = "default_rate_tolerance")]
    pub rate_tolerance: f64,
}

fn default_rate_tolerance() -> f64 {
    DEFAULT_RATE_TOLERANCE
}

/// How an objective fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    Met,
    Missed,
    /// Too few samples (or nothing) to judge; not a pass.
    Unjudged,
}

impl Judgement {
    /// Its name as `summary.json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Judgement::Met => "met",
            Judgement::Missed => "missed",
            Judgement::Unjudged => "unjudged",
        }
    }
}

/// One objective's verdict, with the figures behind it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveResult {
    pub name: String,
    /// `latency`, `error_rate`, `goodput`, `throughput`, `recovery`,
    /// `ledger` or `invariant`.
    pub kind: String,
    /// The objective as the scenario states it.
    pub spec: Objective,
    pub judgement: Judgement,
    /// What was measured, in `unit`; absent when there was nothing to
    /// measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// The bound, in `unit`.
    pub bound: f64,
    /// `us` (microseconds), `ratio` (0 to 1), `per_s`, `s`, `count` or
    /// `bool` (1 holds, 0 not).
    pub unit: String,
    /// Samples the measurement rests on, when that matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// The verdict in a sentence.
    pub detail: String,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Under way (or killed before it could say otherwise).
    Running,
    /// Ran its whole schedule and drain.
    Completed,
    /// Stopped early by Ctrl-C or SIGTERM; what was measured is complete.
    Interrupted,
    /// Stopped as soon as an objective with `stop_early` was decided
    /// missed (see `stopped_early`); judged on what ran, and failed.
    StoppedEarly,
}

/// The objective that stopped a run, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoppedEarly {
    /// The objective's name, as the gate names it.
    pub objective: String,
    /// `latency`, `error_rate`, `goodput` or `error_budget`.
    pub kind: String,
    /// Its index in the scenario's `objectives`.
    pub index: usize,
    /// Seconds into the schedule when it was decided.
    pub at_s: f64,
    /// The figures that decided it.
    pub detail: String,
}

impl Status {
    /// Its name as `summary.json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Interrupted => "interrupted",
            Status::StoppedEarly => "stopped_early",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    /// The scenario file as given on the command line.
    pub file: String,
    /// SHA-256 of the scenario as run: the bytes of the run folder's
    /// `scenario.yaml` (the file itself unless `--set` or a variant
    /// changed it).
    pub sha256: String,
    /// The variant of the scenario that ran (`--variant`, `surge whatif`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The `--set PATH=VALUE` overrides applied before it ran, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    pub seed: u64,
    /// The `scale` in force (the file's, or `--scale`).
    pub scale: f64,
    /// How the timeline was stretched by `--duration` (1 when it was not).
    pub time_factor: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// When the schedule's clock started (UTC, RFC 3339).
    pub started_at: String,
    /// When the run ended (UTC, RFC 3339); absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// The schedule's length: the phases' total, in seconds.
    pub planned_s: f64,
    /// The longest the run waits after the schedule for journeys to end.
    pub drain_s: f64,
    /// Seconds from the schedule's start to the end of the run.
    pub elapsed_s: f64,
    /// Which part of a split run this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// For a run merged from shards: each shard and how much later than
    /// the earliest its schedule started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardStart>,
    /// The machine that generated the load.
    pub generator: GeneratorInfo,
    /// Which code was rehearsed: the git checkout and CI job the run was
    /// started from, when there was one.
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
}

/// Where a run came from, so a history can say which change moved a
/// figure. Every field is absent when unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The commit checked out in the working directory (CI's commit when
    /// the directory is not a git checkout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The branch (CI's branch name when the checkout is detached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// Whether tracked files had uncommitted changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    /// `github` or `gitlab`, when run by their CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// The CI job's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run_url: Option<String>,
    /// The pull (merge) request's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_pr: Option<String>,
    /// The commit CI says it built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_commit: Option<String>,
}

impl Provenance {
    pub fn is_empty(&self) -> bool {
        *self == Provenance::default()
    }
}

/// A shard of a merged run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardStart {
    /// 1-based.
    pub index: u64,
    /// How much later than the earliest shard its schedule started, ms.
    pub offset_ms: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// 1-based, as given to `--shard K/N`.
    pub index: u64,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorInfo {
    pub hostname: String,
    pub cpus: usize,
    pub os: String,
    /// goose users (the concurrency pool), in total.
    pub users: usize,
    /// The generator's own CPU, percent of one core: the busiest second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_max_pct: Option<f64>,
    /// The generator's own CPU, percent of one core, averaged over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_mean_pct: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// `twin` (started in-process) or `external`.
    pub kind: String,
    /// The base URL, or `(from the environment)` when it is a secret.
    pub base_url: String,
    /// Where TLS certificates were not checked (`insecure_skip_verify`):
    /// `target`, or `channel NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_unverified: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineInfo {
    pub phases: Vec<PhaseInfo>,
    /// Seconds from the start.
    pub deadline_s: f64,
    pub faults: Vec<FaultInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseInfo {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Arrivals per second at the phase's start, after `scale`.
    pub from_per_s: f64,
    /// Arrivals per second at the phase's end, after `scale`.
    pub to_per_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultInfo {
    pub name: String,
    /// Where it acts: `twin/...`, `proxy/...` or `hook`.
    pub on: String,
    /// Its kind (`outage`, `latency`, ...).
    pub kind: String,
    /// When it was planned to start and stop, in seconds from the start.
    pub start_s: f64,
    pub end_s: f64,
    /// When it was applied and removed; absent if it never was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_s: Option<f64>,
    /// Why it could not be applied, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether the generator delivered the schedule.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadInfo {
    /// Arrivals the schedule should hold on average.
    pub expected: f64,
    /// Arrivals handed out by the schedule.
    pub scheduled: u64,
    /// Arrivals whose journey started.
    pub started: u64,
    /// Arrivals that found no free user at their instant.
    pub late: u64,
    /// Arrivals dropped: after waiting longer than `max_lateness`, or for
    /// want of test data (`data_exhausted`).
    pub dropped: u64,
    /// Of `dropped`: arrivals that found no unused row of their test data.
    #[serde(default)]
    pub data_exhausted: u64,
    /// Running out of test data invalidates the run (some `data` has
    /// `on_exhausted: fail`).
    #[serde(default)]
    pub data_must_last: bool,
    /// The concurrency cap.
    pub max_in_flight: u32,
    /// Time from each arrival's intended start to its first request going
    /// out: the generator's own lag, and any wait for a free user.
    pub lag: Latency,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl JourneySummary {
    /// Arrivals the run could serve: scheduled, less those its test data
    /// could not (goodput is a share of these).
    pub fn servable(&self) -> u64 {
        self.scheduled.saturating_sub(self.data_exhausted)
    }
}

/// A latency distribution from an HDR histogram (3 significant digits).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            min_us: h.min(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// How journeys ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    pub completed_in_time: u64,
    pub completed_late: u64,
    pub abandoned: u64,
    pub failed: u64,
    /// Still running when the run stopped.
    pub unfinished: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JourneySummary {
    pub name: String,
    pub channel: String,
    /// goose users serving this journey.
    pub users: usize,
    pub scheduled: u64,
    pub started: u64,
    pub late: u64,
    pub dropped: u64,
    /// Of `dropped`: arrivals that found no unused row of their test data
    /// (`pick: unique`); goodput leaves them out. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data_exhausted: u64,
    pub outcomes: Outcomes,
    /// Share of scheduled arrivals completed before the deadline.
    pub goodput: f64,
    /// Requests sent, retries and polls included.
    pub requests: u64,
    /// Steps tried again after a failure.
    pub retries: u64,
    /// Requests per started arrival: how much the platform's failures
    /// multiplied the load.
    pub retry_amplification: f64,
    /// From each arrival's intended start to its journey's end (completed
    /// journeys only).
    pub time: Latency,
    pub lag: Latency,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSummary {
    /// `JOURNEY.STEP`.
    pub name: String,
    pub journey: String,
    pub step: String,
    pub channel: String,
    pub requests: u64,
    /// Requests answered as expected (status, conditions, captures).
    pub ok: u64,
    /// Failed tries, by class.
    pub errors: BTreeMap<String, u64>,
    /// Failed requests over requests.
    pub error_rate: f64,
    /// Successful requests per second of the schedule.
    pub throughput_per_s: f64,
    /// From send to the end of the body, every request.
    pub latency: Latency,
    /// The connections its requests opened (`count` of them), from the
    /// connect to the end of the TLS handshake: under a surge, new
    /// connections are where a slow handshake shows. Absent when every
    /// request found an open one.
    #[serde(default, skip_serializing_if = "Latency::is_empty")]
    pub connect: Latency,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSummary {
    pub name: String,
    pub requests: u64,
    pub ok: u64,
    pub error_rate: f64,
    pub latency: Latency,
}

impl Summary {
    /// Brings a summary of an older version to this one's names, so
    /// reports, comparisons and merges see one set of error classes.
    pub fn upgrade(&mut self) {
        if self.version >= VERSION {
            return;
        }
        for e in &mut self.errors {
            e.class = class_now(&e.class).to_string();
            for x in &mut e.examples {
                x.class = class_now(&x.class).to_string();
            }
        }
        for step in &mut self.steps {
            if let Some(n) = step.errors.remove(OLD_QUEUE_FULL.0) {
                *step
                    .errors
                    .entry(OLD_QUEUE_FULL.1.name().into())
                    .or_default() += n;
            }
        }
    }
}

impl ChannelSummary {
    /// A channel's line from the totals of its steps.
    pub fn of(
        name: String,
        requests: u64,
        ok: u64,
        latency: &hdrhistogram::Histogram<u64>,
    ) -> ChannelSummary {
        ChannelSummary {
            name,
            requests,
            ok,
            error_rate: ratio(requests - ok.min(requests), requests),
            latency: Latency::of(latency),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorSummary {
    /// The class (`unavailable`, `timeout`, ...).
    pub class: String,
    pub count: u64,
    /// Seconds from the start of the first and the last.
    pub first_s: f64,
    pub last_s: f64,
    /// The first few distinct examples of this class, per step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<ErrorExample>,
}

/// One failed request, in words (a line of `errors.jsonl`): secrets are
/// shown as `${NAME}`, secret data columns as `{DATA.COLUMN}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorExample {
    /// `JOURNEY.STEP`.
    pub step: String,
    pub class: String,
    /// The second of the run it was seen in.
    pub second: u64,
    /// Method and path, as `POST /otp/{phone}`.
    pub request: String,
    /// What was wrong: `expected status 200, got 404`.
    pub what: String,
    /// The start of the response body (200 bytes at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Summary {
    /// Writes `summary.json` into `dir` atomically: a reader (a dashboard,
    /// `surge report` after a crash) never sees half of it.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = dir.join("summary.json.tmp");
        // Buffered: serde writes a document in hundreds of small pieces,
        // each a system call on a bare file.
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut file, self)?;
        file.write_all(b"\n")?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(tmp, dir.join("summary.json"))
    }
}

/// Rounds to `places` decimals, as the summary shows figures.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `a / b` to six decimals; 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        round(a as f64 / b as f64, 6)
    }
}

/// The summary's JSON Schema (draft 2020-12).
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Summary).to_value();
    crate::scenario::schema::with_id(&mut schema, "https://surge.invalid/schema/summary-v1.json");
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the history, reports and dashboard show are the ones
    /// summary.json writes.
    #[test]
    fn names_are_the_serialized_ones() {
        let json = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for v in [Verdict::Pass, Verdict::Fail, Verdict::Invalid] {
            assert_eq!(v.as_str(), json(serde_json::to_value(v).unwrap()));
        }
        for j in [Judgement::Met, Judgement::Missed, Judgement::Unjudged] {
            assert_eq!(j.as_str(), json(serde_json::to_value(j).unwrap()));
        }
        for s in [Status::Running, Status::Completed, Status::Interrupted] {
            assert_eq!(s.as_str(), json(serde_json::to_value(s).unwrap()));
        }
    }
}
