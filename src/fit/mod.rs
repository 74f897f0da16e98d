//! `surge fit`: a twin fitted to the SRE's own platform from a short
//! staged measurement. A probe at a low rate gives each step's service
//! time; a stepped ramp of the scenario's mix (never beyond `--max-rate`)
//! stops at the first rate where a channel's time bends or errors start,
//! then is refined below it; channels that bent at the same rate share one
//! pool of workers, fitted to the waits measured (M/G/c). The result is the
//! scenario with `target.twin.fitted` (routes answered as the platform
//! answers, behind the fitted pools) and `fit.json` (the measurements, the
//! fit and its residuals), so `predict`, `capacity` and `whatif` run
//! against the platform's model. Every stage is a normal run folder.

pub mod pools;
mod routes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::finish::FinishError;
use crate::runner::RunOptions;
use crate::scenario::model::{Distribution, Fitted, FittedPool, FittedRoute};
use crate::scenario::units::Duration as Span;
use crate::scenario::{self, Scenario};
use crate::summary::Summary;

/// A step's time per journey above this (at the probe) is work the
/// platform does, not the network: it gets a service time.
const COSTLY: f64 = 0.002;
/// A channel's time per journey has bent when it exceeds the probe's by
/// this factor and [`BEND_MARGIN`].
const BEND_FACTOR: f64 = 1.5;
const BEND_MARGIN: f64 = 0.002;
/// Errors on a channel above this share are a bend too.
const BEND_ERRORS: f64 = 0.01;
/// Each ramp step's rate over the last.
const RAMP_FACTOR: f64 = 1.5;
/// Refinements between the last rate that held and the first that bent.
const REFINEMENTS: usize = 2;

/// How to fit.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub scenario_path: PathBuf,
    pub sets: Vec<String>,
    /// The whole measurement's length, at most.
    pub budget: Duration,
    /// The highest arrival rate sent (arrivals per second); default ten
    /// times the scenario's peak.
    pub max_rate: Option<f64>,
    /// The fitted scenario to write.
    pub out: PathBuf,
    /// Where the stages' run folders and fit.json go.
    pub dir: PathBuf,
    pub allow_remote_target: bool,
    pub threads: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("{0}")]
    Scenario(String),
    #[error(
        "this scenario's target is the built-in twin already: predict it (`surge predict`) or \
         search its capacity; `surge fit` measures a platform given by `target.base_url`"
    )]
    AlreadyTheTwin,
    #[error("--budget {0:?} is too short: a probe and two ramp steps need at least 30s")]
    Budget(Duration),
    #[error("--max-rate must be a number above 0 arrivals per second")]
    MaxRate,
    #[error("stage {stage}: {source}")]
    Stage {
        stage: String,
        #[source]
        source: FinishError,
    },
    #[error(
        "interrupted during stage {stage}: nothing fitted; the stages measured so far are in {dir}"
    )]
    Interrupted { stage: String, dir: String },
    #[error("the probe completed no journey: {0}")]
    NothingCompleted(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FitError {
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            FitError::Scenario(_)
                | FitError::AlreadyTheTwin
                | FitError::Budget(_)
                | FitError::MaxRate
        ) || matches!(self, FitError::Stage { source: FinishError::Run(e), .. } if e.is_bad_input())
    }
}

/// The stages a fit runs, decided before it starts.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub probe_rate: f64,
    pub probe_s: f64,
    pub step_s: f64,
    pub max_steps: usize,
    pub max_rate: f64,
    pub factor: f64,
}

impl Plan {
    fn new(budget: Duration, peak: f64, max_rate: f64) -> Plan {
        let b = budget.as_secs_f64();
        let probe_s = (b * 0.15).clamp(8.0, 45.0);
        let step_s = (b * 0.08).clamp(6.0, 20.0);
        let max_steps = (((b - probe_s) / step_s).floor() as usize).max(2);
        Plan {
            probe_rate: (peak / 20.0).clamp(1.0, 4.0).min(max_rate),
            probe_s,
            step_s,
            max_steps,
            max_rate,
            factor: RAMP_FACTOR,
        }
    }

    /// What the fit will send, said before it starts.
    pub fn describe(&self, target: &str) -> String {
        format!(
            "will send to {target}: a probe at {:.1} arrivals/s for {:.0}s, then up to {} steps of \
             {:.0}s, each {:.1}x the last, stopping at the first bend and never above {:.1} \
             arrivals/s (the scenario's mix; at most {:.0}s in all)",
            self.probe_rate,
            self.probe_s,
            self.max_steps,
            self.step_s,
            self.factor,
            self.max_rate,
            self.probe_s + self.max_steps as f64 * self.step_s
        )
    }
}

/// One step as a stage measured it.
#[derive(Clone, Debug, Serialize)]
pub struct StepStat {
    pub step: String,
    pub channel: String,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Time a journey spends in this step, polls included, in ms.
    pub per_journey_ms: f64,
}

/// One stage: the probe or a ramp step.
#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    pub name: String,
    pub rate: f64,
    pub seconds: f64,
    pub dir: String,
    pub started: u64,
    pub scheduled: u64,
    /// Journeys started, by journey.
    pub journeys: BTreeMap<String, u64>,
    pub steps: Vec<StepStat>,
    /// Channels whose time bent at this stage, with why.
    pub bent: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolReport {
    pub pool: String,
    pub channels: Vec<String>,
    pub bent_at_rate: f64,
    pub workers: u32,
    pub mean_service_ms: f64,
    pub queue: u32,
    pub timeout_s: f64,
    pub fit: pools::PoolFit,
}

/// `fit.json`.
#[derive(Clone, Debug, Serialize)]
pub struct FitReport {
    pub format: &'static str,
    pub version: u32,
    pub scenario: String,
    pub target: String,
    pub plan: Plan,
    pub stages: Vec<Stage>,
    pub pools: Vec<PoolReport>,
    /// Steps with a service time but no pool: delays that did not bend.
    pub delays: Vec<String>,
    pub notes: Vec<String>,
    pub fitted: String,
}

/// Loads the scenario as the user gave it (with `--set`), plus `extra`.
fn load(opts: &FitOptions, extra: &[String]) -> Result<Scenario, FitError> {
    let mut sets = opts.sets.clone();
    sets.extend_from_slice(extra);
    let how = scenario::Resolve {
        sets,
        variant: None,
    };
    let shown = opts.scenario_path.display().to_string();
    scenario::load_with(&opts.scenario_path, Some(1), &how)
        .map(|(s, _)| s)
        .map_err(|problems| {
            FitError::Scenario(
                problems
                    .iter()
                    .map(|p| p.render(&shown))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })
}

/// The peak arrival rate of the scenario as written (at its scale).
fn peak(s: &Scenario) -> f64 {
    s.timeline
        .phases
        .iter()
        .map(|p| p.peak())
        .fold(0.0, f64::max)
        * s.file.load.scale
}

/// Carries out the fit; `say` hears each stage as it starts and ends.
pub fn carry_out(opts: &FitOptions, say: &mut dyn FnMut(&str)) -> Result<FitReport, FitError> {
    let original = load(opts, &[])?;
    let Some(target) = original
        .file
        .target
        .base_url
        .as_ref()
        .map(|u| u.to_string())
    else {
        return Err(FitError::AlreadyTheTwin);
    };
    if opts.budget < Duration::from_secs(30) {
        return Err(FitError::Budget(opts.budget));
    }
    let max_rate = opts.max_rate.unwrap_or_else(|| peak(&original) * 10.0);
    if !(max_rate.is_finite() && max_rate > 0.0) {
        return Err(FitError::MaxRate);
    }
    let plan = Plan::new(opts.budget, peak(&original), max_rate);
    say(&plan.describe(&target));
    let polls = poll_intervals(&original);
    // Each stage draws its own values (`{random}`, arrivals): a stage
    // repeating the last one's accounts would find their quota spent.
    let mut seed = original.file.seed;
    let mut run = |name: &str, rate: f64, seconds: f64, say: &mut dyn FnMut(&str)| {
        say(&format!("{name}: {rate:.1} arrivals/s for {seconds:.0}s"));
        seed = seed.wrapping_add(1);
        let stage = stage(opts, name, (rate, seconds), seed, &polls)?;
        Ok::<Stage, FitError>(stage)
    };
    let probe = run("probe", plan.probe_rate, plan.probe_s, say)?;
    if probe.started == 0 || probe.steps.iter().all(|s| s.requests == 0) {
        return Err(FitError::NothingCompleted(probe.dir.clone()));
    }
    // Start where one worker of the costly work would be half busy.
    let per_arrival: f64 = probe
        .costly()
        .map(|s| s.per_journey_ms / 1e3 * probe.share(s))
        .sum();
    let mut rate = if per_arrival > 0.0 {
        (0.5 / per_arrival).max(plan.probe_rate * 2.0)
    } else {
        plan.probe_rate * 2.0
    }
    .min(plan.max_rate);
    let mut stages = vec![probe];
    let mut notes = Vec::new();
    let mut held = stages[0].rate;
    let mut bent_at: Option<f64> = None;
    for i in 0..plan.max_steps.saturating_sub(REFINEMENTS) {
        let mut s = run(&format!("ramp-{:02}", i + 1), rate, plan.step_s, say)?;
        s.bent = bends(&stages[0], &s);
        let behind = s.started < s.scheduled * 98 / 100;
        if behind {
            notes.push(format!(
                "at {rate:.1} arrivals/s the generator started {} of {} arrivals: the ramp \
                 stopped there (more threads, or a second machine, go further)",
                s.started, s.scheduled
            ));
        }
        let bent = !s.bent.is_empty();
        for (channel, why) in &s.bent {
            say(&format!("  {channel} bent: {why}"));
        }
        stages.push(s);
        if bent || behind {
            bent_at = Some(rate);
            break;
        }
        held = rate;
        if rate >= plan.max_rate {
            break;
        }
        rate = (rate * plan.factor).min(plan.max_rate);
    }
    match bent_at {
        Some(top) => {
            // Two more points below the bend, where the curve turns.
            let (mut lo, mut hi) = (held, top);
            for r in 0..REFINEMENTS {
                let mid = (lo * hi).sqrt();
                let mut s = run(&format!("refine-{:02}", r + 1), mid, plan.step_s, say)?;
                s.bent = bends(&stages[0], &s);
                if s.bent.is_empty() {
                    lo = mid;
                } else {
                    hi = mid;
                }
                stages.push(s);
            }
        }
        None => notes.push(format!(
            "nothing bent up to {:.1} arrivals/s (--max-rate or the budget): the fitted pools \
             are a lower bound on the platform's capacity",
            stages.last().map_or(0.0, |s| s.rate)
        )),
    }
    let base = baseline(&stages);
    let (pools, delays) = fit_pools(&base, &stages, &mut notes);
    let fitted = fitted(&original, &base, &pools, &polls);
    write_fitted(opts, &fitted)?;
    let report = FitReport {
        format: "surge-fit",
        version: 1,
        scenario: original.file.name.to_string(),
        target,
        plan,
        stages,
        pools,
        delays,
        notes,
        fitted: opts.out.display().to_string(),
    };
    let path = opts.dir.join("fit.json");
    let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other);
    json.and_then(|j| std::fs::write(&path, format!("{j}\n")))
        .map_err(|source| FitError::Write { path, source })?;
    Ok(report)
}

/// Each step's poll interval (seconds), by `JOURNEY.STEP`.
fn poll_intervals(s: &Scenario) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (jn, j) in &s.file.journeys {
        for step in &j.steps {
            if let (Some(p), Some(_)) = (&step.poll, &step.until) {
                out.insert(format!("{jn}.{}", step.name), p.every.0.as_secs_f64());
            }
        }
    }
    out
}

/// Runs one stage: the scenario's journeys and mix at one steady `rate`
/// for `seconds`, no faults, no objectives.
fn stage(
    opts: &FitOptions,
    name: &str,
    (rate, seconds): (f64, f64),
    seed: u64,
    polls: &BTreeMap<String, f64>,
) -> Result<Stage, FitError> {
    let extra = vec![
        format!("seed={seed}"),
        format!(
            "load.phases=[{{ name: {name}, duration: {}ms, rate: {rate:.4}/s }}]",
            (seconds * 1e3).round()
        ),
        "load.curve=null".to_string(),
        "load.scale=1".to_string(),
        // Moments name the scenario's phases, which a stage replaces.
        "deadline=null".to_string(),
        "faults=[]".to_string(),
        "objectives=[]".to_string(),
        "variants=[]".to_string(),
    ];
    let scenario = load(opts, &extra)?;
    let mut run = RunOptions::new(&opts.scenario_path);
    run.quiet_goose = true;
    run.threads = opts.threads;
    run.allow_remote_target = opts.allow_remote_target;
    run.out = Some(opts.dir.join(name));
    run.history = None;
    run.resolve.sets = opts.sets.clone();
    let finished = crate::finish::run(scenario, &run, None).map_err(|source| FitError::Stage {
        stage: name.to_string(),
        source,
    })?;
    // Ctrl-C ends the fit, not only the stage it came in.
    if finished.data.summary.status == crate::summary::Status::Interrupted
        || crate::runner::control::interrupted_since_last_run()
    {
        return Err(FitError::Interrupted {
            stage: name.to_string(),
            dir: opts.dir.display().to_string(),
        });
    }
    Ok(measured(
        name,
        rate,
        seconds,
        &finished.data.summary,
        finished.dir.as_path(),
        polls,
    ))
}

fn measured(
    name: &str,
    rate: f64,
    seconds: f64,
    s: &Summary,
    dir: &Path,
    polls: &BTreeMap<String, f64>,
) -> Stage {
    let started: BTreeMap<&str, u64> = s
        .journeys
        .iter()
        .map(|j| (j.name.as_str(), j.started))
        .collect();
    let steps = s
        .steps
        .iter()
        .map(|st| {
            let journeys = started
                .get(st.journey.as_str())
                .copied()
                .unwrap_or(0)
                .max(1);
            let n = st.requests as f64 / journeys as f64;
            let every = polls.get(&st.name).copied().unwrap_or(0.0);
            // The condition held somewhere in the interval before the poll
            // that saw it: half an interval earlier on average.
            let polled = (n - 1.0).max(0.0);
            let waited = (polled - polled.min(1.0) / 2.0) * every;
            let per_journey = n * st.latency.mean_us / 1e3 + waited * 1e3;
            StepStat {
                step: st.name.clone(),
                channel: st.channel.clone(),
                requests: st.requests,
                errors: st.requests - st.ok,
                p50_ms: st.latency.p50_us as f64 / 1e3,
                p99_ms: st.latency.p99_us as f64 / 1e3,
                per_journey_ms: per_journey,
            }
        })
        .collect();
    Stage {
        name: name.to_string(),
        rate,
        seconds,
        dir: dir.display().to_string(),
        started: s.load.started,
        scheduled: s.load.scheduled,
        journeys: started.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        steps,
        bent: Vec::new(),
    }
}

/// Time per journey and error share of each channel at a stage.
fn by_channel(stage: &Stage) -> BTreeMap<String, (f64, u64, u64)> {
    let mut out: BTreeMap<String, (f64, u64, u64)> = BTreeMap::new();
    for s in &stage.steps {
        let e = out.entry(s.channel.clone()).or_default();
        e.0 += s.per_journey_ms / 1e3;
        e.1 += s.errors;
        e.2 += s.requests;
    }
    out
}

/// The channels whose time bent (or whose errors started) at `stage`,
/// against the probe.
fn bends(probe: &Stage, stage: &Stage) -> Vec<(String, String)> {
    let base = by_channel(probe);
    let mut out = Vec::new();
    for (channel, (time, errors, requests)) in by_channel(stage) {
        let (t0, _, _) = base.get(&channel).copied().unwrap_or_default();
        let share = errors as f64 / requests.max(1) as f64;
        if share > BEND_ERRORS {
            out.push((
                channel,
                format!("{:.1}% of its requests failed", share * 100.0),
            ));
        } else if time > t0 * BEND_FACTOR + BEND_MARGIN {
            out.push((
                channel,
                format!(
                    "{:.1} ms per journey, {:.1} ms at the probe",
                    time * 1e3,
                    t0 * 1e3
                ),
            ));
        }
    }
    out
}

/// A fitted pool before it is written: its channels and its steps.
struct Grouped {
    report: PoolReport,
    steps: Vec<String>,
}

/// Each step's time with nothing in the way: the median over the probe
/// and the ramp's steps at no more than half the rate that first bent
/// (the probe alone is few journeys; its first connections cost too).
fn baseline(stages: &[Stage]) -> Stage {
    let first_bend = stages
        .iter()
        .find(|s| !s.bent.is_empty())
        .map_or(f64::INFINITY, |s| s.rate);
    let quiet: Vec<&Stage> = stages
        .iter()
        .filter(|s| s.bent.is_empty() && s.rate <= first_bend / 2.0)
        .collect();
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let mut base = stages[0].clone();
    base.name = "baseline".into();
    for step in &mut base.steps {
        let seen: Vec<&StepStat> = quiet
            .iter()
            .filter_map(|st| st.steps.iter().find(|x| x.step == step.step))
            .collect();
        step.per_journey_ms = median(seen.iter().map(|x| x.per_journey_ms).collect());
        step.p50_ms = median(seen.iter().map(|x| x.p50_ms).collect());
        step.p99_ms = median(seen.iter().map(|x| x.p99_ms).collect());
    }
    base
}

/// Groups the channels that bent at the same stage into one pool each and
/// fits its workers; the costly steps of channels that never bent are
/// delays.
fn fit_pools(
    base: &Stage,
    stages: &[Stage],
    notes: &mut Vec<String>,
) -> (Vec<PoolReport>, Vec<String>) {
    let costly: Vec<&StepStat> = base.costly().collect();
    // The first stage each channel bent at.
    let mut first_bend: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in stages.iter().enumerate() {
        for (channel, _) in &s.bent {
            first_bend.entry(channel.clone()).or_insert(i);
        }
    }
    let mut groups: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (channel, i) in &first_bend {
        if costly.iter().any(|s| &s.channel == channel) {
            groups.entry(*i).or_default().push(channel.clone());
        }
    }
    // Without a bend, every costly channel is one pool of at least the
    // workers the highest rate needed.
    if groups.is_empty() {
        let channels: Vec<String> = costly.iter().map(|s| s.channel.clone()).collect();
        let mut channels = channels;
        channels.sort();
        channels.dedup();
        if !channels.is_empty() {
            groups.insert(stages.len() - 1, channels);
        }
    }
    let mut reports = Vec::new();
    let mut pooled = Vec::new();
    for (n, (at, channels)) in groups.into_iter().enumerate() {
        let steps: Vec<&StepStat> = costly
            .iter()
            .copied()
            .filter(|s| channels.contains(&s.channel))
            .collect();
        let g = fit_one(n, (base, at), &channels, &steps, stages, notes);
        pooled.extend(g.steps.clone());
        reports.push(g.report);
    }
    let delays = costly
        .iter()
        .filter(|s| !pooled.contains(&s.step))
        .map(|s| s.step.clone())
        .collect();
    (reports, delays)
}

fn fit_one(
    n: usize,
    (base, at): (&Stage, usize),
    channels: &[String],
    steps: &[&StepStat],
    stages: &[Stage],
    notes: &mut Vec<String>,
) -> Grouped {
    // Per visit of a journey to the pool's steps, weighted by how many
    // journeys of each kind started: the mean time, and the visit rate.
    let visits = |st: &Stage| -> (f64, f64) {
        let (mut visits, mut time) = (0.0, 0.0);
        for s in steps {
            let Some(x) = st.steps.iter().find(|x| x.step == s.step) else {
                continue;
            };
            let journeys = st.journeys_of(&s.step) as f64;
            visits += journeys;
            time += journeys * x.per_journey_ms / 1e3;
        }
        (visits / st.seconds.max(1e-9), time / visits.max(1.0))
    };
    let (_, service) = visits(base);
    // Sync steps show their spread; polled ones only their mean.
    let spread = steps
        .iter()
        .map(|s| (s.p99_ms / s.p50_ms.max(1e-3)).max(1.0))
        .fold(1.0, f64::max);
    let cs2 = {
        let sigma = spread.ln() / crate::predict::queue::Z99;
        (sigma * sigma).exp() - 1.0
    };
    let points: Vec<pools::Point> = stages[1..]
        .iter()
        .map(|st| {
            let (rate, time) = visits(st);
            pools::Point {
                rate,
                wait: (time - service).max(0.0),
                held: st.bent.is_empty(),
            }
        })
        .collect();
    let fit = pools::fit(&points, service.max(1e-4), cs2);
    let name = format!("pool-{}", n + 1);
    notes.push(format!(
        "{name} ({}): {} workers of {:.1} ms fitted to {} rates; its queue bound and timeout \
         were not observed unless they were hit, so they are set wide",
        channels.join(", "),
        fit.workers,
        service * 1e3,
        points.len()
    ));
    Grouped {
        report: PoolReport {
            pool: name,
            channels: channels.to_vec(),
            bent_at_rate: stages[at].rate,
            workers: fit.workers,
            mean_service_ms: service * 1e3,
            queue: fit.workers.saturating_mul(16).max(64),
            timeout_s: 10.0,
            fit,
        },
        steps: steps.iter().map(|s| s.step.clone()).collect(),
    }
}

impl Stage {
    /// The steps whose time per journey is work the platform does.
    fn costly(&self) -> impl Iterator<Item = &StepStat> {
        self.steps
            .iter()
            .filter(|s| s.per_journey_ms / 1e3 > COSTLY)
    }

    /// Journeys started of the journey `JOURNEY.STEP` belongs to.
    fn journeys_of(&self, step: &str) -> u64 {
        step.split_once('.')
            .and_then(|(j, _)| self.journeys.get(j))
            .copied()
            .unwrap_or(0)
    }

    /// The share of started journeys that went through `step`'s journey.
    fn share(&self, step: &StepStat) -> f64 {
        self.journeys_of(&step.step) as f64 / self.started.max(1) as f64
    }
}

/// The fitted twin: a route per distinct request, costly ones behind
/// their pool (or as a delay), answered as the step expects.
fn fitted(
    scenario: &Scenario,
    probe: &Stage,
    pools: &[PoolReport],
    polls: &BTreeMap<String, f64>,
) -> Fitted {
    let mut routes: Vec<FittedRoute> = Vec::new();
    for (jn, j) in &scenario.file.journeys {
        for step in &j.steps {
            let label = format!("{jn}.{}", step.name);
            let path = routes::route_path(step);
            if routes
                .iter()
                .any(|r| r.method == step.method && r.path == path)
            {
                continue;
            }
            let costly = probe.costly().find(|s| s.step == label);
            let pool = costly.and_then(|s| {
                pools
                    .iter()
                    .find(|p| p.channels.contains(&s.channel))
                    .map(|p| p.pool.clone())
            });
            let service_time = costly.map(|s| {
                // A polled step's time is known by its mean (polls times
                // the interval); its answer comes once, after that time.
                let (median, p99) = if polls.contains_key(&label) {
                    (s.per_journey_ms, s.per_journey_ms * 2.0)
                } else {
                    (s.p50_ms, s.p99_ms.max(s.p50_ms))
                };
                let ms = |v: f64| Span(Duration::from_micros((v * 1e3).round() as u64));
                Distribution::new(ms(median), ms(p99))
            });
            routes.push(FittedRoute {
                method: step.method,
                path,
                pool,
                service_time,
                status: routes::status(step),
                body: Some(routes::body(step)),
            });
        }
    }
    let pools: IndexMap<String, FittedPool> = pools
        .iter()
        .map(|p| {
            (
                p.pool.clone(),
                FittedPool {
                    workers: p.workers,
                    queue: p.queue,
                    timeout: Span(Duration::from_secs_f64(p.timeout_s)),
                },
            )
        })
        .collect();
    Fitted { pools, routes }
}

/// Writes the scenario file with its target replaced by the fitted twin.
fn write_fitted(opts: &FitOptions, fitted: &Fitted) -> Result<(), FitError> {
    let write_err = |source| FitError::Write {
        path: opts.out.clone(),
        source,
    };
    let text = std::fs::read_to_string(&opts.scenario_path).map_err(write_err)?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| FitError::Scenario(format!("{}: {e}", opts.scenario_path.display())))?;
    let twin = serde_yaml::to_value(fitted).map_err(|e| write_err(std::io::Error::other(e)))?;
    let mut target = serde_yaml::Mapping::new();
    let mut inner = serde_yaml::Mapping::new();
    inner.insert("fitted".into(), twin);
    target.insert("twin".into(), serde_yaml::Value::Mapping(inner));
    if let Some(map) = doc.as_mapping_mut() {
        map.insert("target".into(), serde_yaml::Value::Mapping(target));
    }
    let body = serde_yaml::to_string(&doc).map_err(|e| write_err(std::io::Error::other(e)))?;
    let header = format!(
        "# Fitted by `surge fit` from {} (see fit.json beside the stages): the\n\
         # platform's routes served by the twin, costly ones behind fitted pools.\n",
        opts.scenario_path.display()
    );
    if let Some(parent) = opts.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_err)?;
    }
    std::fs::write(&opts.out, format!("{header}{body}")).map_err(write_err)
}
