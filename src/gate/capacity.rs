//! `surge capacity SCENARIO`: the highest `scale` at which every objective
//! holds, found by a bounded search of short runs. It doubles (or halves)
//! the scale until one trial passes and one fails, then bisects until the
//! bracket is narrower than the resolution or the trials run out. Every
//! trial is a full run folder. The capacity is the last passing scale
//! times the scenario's mean arrival rate; the bracket up to the first
//! failing scale is its confidence. This is the number a CI gate guards.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::finish::FinishError;
use crate::rundata::DataError;
use crate::runner::RunOptions;
use crate::scenario::Scenario;
use crate::summary::{Judgement, Verdict};

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
}

/// What `surge capacity` found (`capacity.json`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityReport {
    /// Always `surge-capacity`.
    pub format: String,
    pub version: u32,
    pub scenario: String,
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

    /// The capacity as a sentence.
    pub fn describe(&self) -> String {
        match self.upper_per_s {
            Some(up) if self.scale > 0.0 => format!(
                "{:.1} arrivals/s (scale {:.3}): every objective holds there and one fails at \
                 {up:.1}/s, so the capacity lies in [{:.1}, {up:.1}) arrivals/s (bracket {:.1}% wide)",
                self.capacity_per_s,
                self.scale,
                self.capacity_per_s,
                (up / self.capacity_per_s - 1.0) * 100.0
            ),
            Some(up) => format!("below {up:.1} arrivals/s: even the smallest scale tried failed"),
            None => format!(
                "at least {:.1} arrivals/s: the largest scale tried passed",
                self.capacity_per_s
            ),
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

/// Searches the capacity of `scenario`; `opts` carries the trials' run
/// options (duration, threads...). `report` hears of each trial as it ends.
pub fn search(
    scenario: &Scenario,
    search: &Search,
    opts: &RunOptions,
    mut report: impl FnMut(&Trial),
) -> Result<CapacityReport, FinishError> {
    let total = scenario.timeline.total.as_secs_f64().max(1e-9);
    let base_rate = scenario.timeline.expected_arrivals() / total;
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut trials = Vec::new();
    let mut scale = search.start;
    for n in 1..=search.max_trials {
        let mut trial_scenario = scenario.clone();
        trial_scenario.file.load.scale = scale;
        let mut trial_opts = opts.clone();
        trial_opts.scale = Some(scale);
        trial_opts.out = Some(search.dir.join(format!("trial-{n:02}-scale-{scale:.3}")));
        let result = crate::finish::run(trial_scenario, &trial_opts, None)?;
        let gate = result.data.summary.gate.clone();
        let verdict = gate.as_ref().map_or(Verdict::Fail, |g| g.verdict);
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
        };
        report(&trial);
        trials.push(trial);
        if verdict == Verdict::Pass {
            lo = Some(lo.map_or(scale, |l: f64| l.max(scale)));
        } else {
            hi = Some(hi.map_or(scale, |h: f64| h.min(scale)));
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
