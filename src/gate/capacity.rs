//! `surge capacity SCENARIO`: the highest `scale` at which every objective
//! holds, found by a bounded search of short runs. It doubles (or halves)
//! the scale until one trial passes and one fails on judged objectives,
//! then bisects until the bracket is narrower than the resolution or the
//! trials run out. Every trial is a full run folder. The capacity is the
//! last passing scale times the scenario's mean arrival rate; the bracket
//! up to the first failing scale is its confidence. This is the number a
//! CI gate guards.
//!
//! A trial whose objectives could not be judged (too few samples) is not
//! evidence of too much load: lowering the scale would only make it less
//! judgeable. So the search first checks that a trial of the asked length
//! gives every latency objective its samples at the starting scale, and an
//! unjudged trial is run again longer, or the scale moves up; never down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::finish::FinishError;
use crate::rundata::DataError;
use crate::runner::RunOptions;
use crate::scenario::Scenario;
use crate::scenario::model::Objective;
use crate::scenario::refs::Channel;
use crate::summary::{Gate, Judgement, Provenance, Verdict};

/// Names this document's format.
pub const FORMAT: &str = "surge-capacity";

/// One trial of the search.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    pub scale: f64,
    /// Mean arrivals per second at this scale.
    pub rate_per_s: f64,
    pub verdict: Verdict,
    /// The run folder.
    pub dir: String,
    /// Why it did not pass: objectives missed or unjudged, or invalidity.
    pub reasons: Vec<String>,
    /// The trial's length, seconds (trials are lengthened when too short
    /// to judge).
    #[serde(default)]
    pub duration_s: f64,
    /// Whether every objective had enough data: a trial that was not
    /// judged bounds the capacity neither way.
    #[serde(default = "judged_by_default")]
    pub judged: bool,
}

/// Reports written before trials were told apart by judgement judged all.
fn judged_by_default() -> bool {
    true
}

/// What `surge capacity` found (`capacity.json`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityReport {
    /// Always `surge-capacity`.
    pub format: String,
    pub version: u32,
    pub scenario: String,
    /// SHA-256 of the scenario file's bytes.
    #[serde(default)]
    pub scenario_sha256: String,
    /// When the search started (UTC, RFC 3339).
    #[serde(default)]
    pub started_at: String,
    /// Which code was searched (git, CI).
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
    /// Mean arrivals per second at scale 1.
    pub base_rate_per_s: f64,
    /// The highest scale that passed (0 when none did).
    pub scale: f64,
    /// `scale` times `base_rate_per_s`.
    pub capacity_per_s: f64,
    /// The lowest scale that failed, if one did: the capacity lies below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_per_s: Option<f64>,
    /// The search stops once the bracket is narrower than this share.
    pub resolution: f64,
    pub trials: Vec<Trial>,
}

impl CapacityReport {
    pub fn read(path: &Path) -> Result<CapacityReport, DataError> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| DataError::Summary {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Whether any trial was judged: without one, the search found nothing.
    pub fn judged(&self) -> bool {
        self.trials.iter().any(|t| t.judged)
    }

    /// Whether some scale passed.
    pub fn found(&self) -> bool {
        self.scale > 0.0
    }

    /// The capacity as a sentence.
    pub fn describe(&self) -> String {
        if !self.judged() {
            return "none found: no trial had enough samples to judge its objectives; \
                    give longer trials (--trial-duration)"
                .into();
        }
        match self.upper_per_s {
            Some(up) if self.found() => format!(
                "{:.1} arrivals/s (scale {:.3}): every objective holds there and one fails at \
                 {up:.1}/s, so the capacity lies in [{:.1}, {up:.1}) arrivals/s (bracket {:.1}% wide)",
                self.capacity_per_s,
                self.scale,
                self.capacity_per_s,
                (up / self.capacity_per_s - 1.0) * 100.0
            ),
            Some(up) => format!(
                "none found: objectives failed even at the smallest scale tried ({up:.1} arrivals/s)"
            ),
            None if self.found() => format!(
                "at least {:.1} arrivals/s: the largest scale tried passed",
                self.capacity_per_s
            ),
            None => "none found: no trial passed".into(),
        }
    }
}

/// How to search.
#[derive(Clone, Debug)]
pub struct Search {
    /// The first scale tried.
    pub start: f64,
    /// Stop when the bracket is narrower than this share of its lower end.
    pub resolution: f64,
    pub max_trials: usize,
    /// Where trials and `capacity.json` go.
    pub dir: PathBuf,
}

/// Scales beyond which the search gives up.
const MIN_SCALE: f64 = 1.0 / 64.0;
const MAX_SCALE: f64 = 64.0;

/// Trials are lengthened to at most this multiple of the asked length.
const MAX_STRETCH: f64 = 4.0;

/// What a latency objective needs from one trial.
#[derive(Clone, Debug)]
pub struct Need {
    /// The objective, as reports name it.
    pub objective: String,
    /// Samples the objective needs to be judged.
    pub min_samples: u64,
    /// Samples expected on average in the trial.
    pub expected: f64,
    /// The shortest trial whose expected count clears `min_samples` by
    /// three standard deviations of counting noise.
    pub shortest: Duration,
}

/// The expected count at which a Poisson count falls short of `min` only
/// beyond three standard deviations: the least x with x − 3√x ≥ min.
fn safe_expected(min: u64) -> f64 {
    let root = (3.0 + (9.0 + 4.0 * min as f64).sqrt()) / 2.0;
    root * root
}

/// For each latency objective of `scenario`, what a trial of `trial` at
/// `scale` gives it (requests counted as one per arrival and step, the
/// least a journey that gets through sends).
pub fn needs(scenario: &Scenario, scale: f64, trial: Duration) -> Vec<Need> {
    let t = &scenario.timeline;
    let total = t.total.as_secs_f64().max(1e-9);
    let mut out = Vec::new();
    for o in &scenario.file.objectives {
        let Objective::Latency(l) = o else { continue };
        let (mut a, mut b) = (0.0, total);
        if let Some(during) = &l.during {
            if let Some(p) = t.phase(during) {
                (a, b) = (p.start.as_secs_f64(), p.end.as_secs_f64());
            } else if let Some(f) = t.fault(during) {
                (a, b) = (f.start.as_secs_f64(), f.end.as_secs_f64());
            }
        }
        let mut arrivals = t.arrivals_between(a, b);
        if l.outside_faults {
            for f in &t.faults {
                arrivals -=
                    t.arrivals_between(f.start.as_secs_f64().max(a), f.end.as_secs_f64().min(b));
            }
        }
        // Requests (or journeys) of the objective per arrival.
        let per_arrival: f64 = scenario
            .file
            .journeys
            .iter()
            .map(|(name, j)| {
                let share = scenario.share(name);
                let on = |c: &Channel| {
                    j.steps
                        .iter()
                        .filter(|s| s.channel.as_ref().unwrap_or(&j.channel) == c)
                        .count()
                };
                share
                    * match (&l.step, &l.journey, &l.channel) {
                        (Some(s), _, _) => f64::from(s.journey == *name),
                        (_, Some(jn), _) => f64::from(jn == name),
                        (_, _, Some(c)) => on(c) as f64,
                        _ => j.steps.len() as f64,
                    }
            })
            .sum();
        let full = arrivals.max(0.0) * scale * per_arrival;
        let expected = full * trial.as_secs_f64() / total;
        let min_samples = super::min_samples(l);
        let safe = safe_expected(min_samples);
        let shortest = if full > 0.0 {
            Duration::from_secs_f64((total * safe / full).ceil().min(1e9))
        } else {
            Duration::MAX
        };
        let measured = super::latency_what(l);
        let what = l
            .name
            .as_ref()
            .map_or_else(|| measured.clone(), |n| format!("{n} ({measured})"));
        out.push(Need {
            objective: what,
            min_samples,
            expected,
            shortest,
        });
    }
    out
}

/// How a trial bears on the capacity.
enum Outcome {
    Passed,
    /// Failed on judged objectives, or the run was invalid.
    Failed,
    /// Nothing missed, but something could not be judged: run it longer,
    /// by this factor.
    Unjudged(f64),
}

fn outcome(gate: Option<&Gate>) -> Outcome {
    let Some(g) = gate else {
        return Outcome::Failed;
    };
    match g.verdict {
        Verdict::Pass => return Outcome::Passed,
        Verdict::Invalid => return Outcome::Failed,
        Verdict::Fail => {}
    }
    if g.objectives
        .iter()
        .any(|o| o.judgement == Judgement::Missed)
    {
        return Outcome::Failed;
    }
    // The most any unjudged latency objective lacks, with headroom.
    let factor = g
        .objectives
        .iter()
        .filter(|o| o.judgement == Judgement::Unjudged)
        .map(|o| match &o.spec {
            Objective::Latency(l) => {
                safe_expected(super::min_samples(l)) / o.samples.unwrap_or(0).max(1) as f64
            }
            _ => 2.0,
        })
        .fold(1.5, f64::max);
    Outcome::Unjudged(factor)
}

/// Searches the capacity of `scenario`; `opts` carries the trials' run
/// options (duration, threads...). `report` hears of each trial as it ends.
pub fn search(
    scenario: &Scenario,
    search: &Search,
    opts: &RunOptions,
    mut report: impl FnMut(&Trial),
) -> Result<CapacityReport, FinishError> {
    let started_at = crate::runner::summary::rfc3339(std::time::SystemTime::now());
    let provenance = crate::provenance::here();
    let total = scenario.timeline.total.as_secs_f64().max(1e-9);
    let base_rate = scenario.timeline.expected_arrivals() / total;
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut trials = Vec::new();
    let mut scale = search.start;
    let asked = opts.duration.unwrap_or(scenario.timeline.total);
    let mut length = asked;
    for n in 1..=search.max_trials {
        let mut trial_scenario = scenario.clone();
        trial_scenario.file.load.scale = scale;
        let mut trial_opts = opts.clone();
        trial_opts.scale = Some(scale);
        trial_opts.duration = Some(length);
        trial_opts.out = Some(search.dir.join(format!("trial-{n:02}-scale-{scale:.3}")));
        trial_opts.trial_of = Some(search.dir.clone());
        let result = crate::finish::run(trial_scenario, &trial_opts, None)?;
        let gate = result.data.summary.gate.clone();
        let verdict = gate.as_ref().map_or(Verdict::Fail, |g| g.verdict);
        let found = outcome(gate.as_ref());
        let reasons = gate.map_or_else(Vec::new, |g| {
            let mut r = g.validity.reasons;
            r.extend(
                g.objectives
                    .iter()
                    .filter(|o| o.judgement != Judgement::Met)
                    .map(|o| o.detail.clone()),
            );
            r
        });
        let trial = Trial {
            scale,
            rate_per_s: base_rate * scale,
            verdict,
            dir: result.dir.display().to_string(),
            reasons,
            duration_s: length.as_secs_f64(),
            judged: !matches!(found, Outcome::Unjudged(_)),
        };
        report(&trial);
        trials.push(trial);
        match found {
            Outcome::Passed => lo = Some(lo.map_or(scale, |l: f64| l.max(scale))),
            Outcome::Failed => hi = Some(hi.map_or(scale, |h: f64| h.min(scale))),
            Outcome::Unjudged(factor) => {
                // More data at the same scale, while trials stay bounded;
                // later trials keep the longer length (they are at lower or
                // nearby scales, which need it as much).
                let longer = Duration::from_secs_f64((length.as_secs_f64() * factor).ceil());
                if longer.as_secs_f64() <= asked.as_secs_f64() * MAX_STRETCH {
                    length = longer;
                    continue;
                }
                // Too long to judge here: more load gives more samples.
                scale = match hi {
                    Some(h) if h > scale => (scale + h) / 2.0,
                    None if scale * 2.0 <= MAX_SCALE => scale * 2.0,
                    _ => break,
                };
                continue;
            }
        }
        scale = match (lo, hi) {
            (Some(l), Some(h)) if (h - l) / l <= search.resolution => break,
            (Some(l), Some(h)) => (l + h) / 2.0,
            (Some(l), None) if l * 2.0 <= MAX_SCALE => l * 2.0,
            (None, Some(h)) if h / 2.0 >= MIN_SCALE => h / 2.0,
            _ => break,
        };
    }
    let passed = lo.unwrap_or(0.0);
    let report = CapacityReport {
        format: FORMAT.into(),
        version: 1,
        scenario: scenario.file.name.to_string(),
        scenario_sha256: crate::runner::summary::as_run_sha256(scenario, &opts.scenario_path),
        started_at,
        provenance,
        base_rate_per_s: base_rate,
        scale: passed,
        capacity_per_s: passed * base_rate,
        upper_scale: hi,
        upper_per_s: hi.map(|h| h * base_rate),
        resolution: search.resolution,
        trials,
    };
    let path = search.dir.join("capacity.json");
    let text = serde_json::to_string_pretty(&report).expect("plain data serializes");
    std::fs::write(&path, text + "\n").map_err(|source| FinishError::Write {
        dir: search.dir.clone(),
        source,
    })?;
    Ok(report)
}
