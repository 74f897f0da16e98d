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
//! judgeable. So an unjudged trial is run again longer, or the scale moves
//! up; never down. The search itself ([`bracket`]) takes the trial as a
//! function of scale and length, so it is tested on synthetic targets; the
//! driver ([`search`]) makes each trial a run through [`crate::finish`].

use std::path::PathBuf;
use std::time::Duration;

use crate::finish::FinishError;
use crate::gate::capacity::{Bearing, bearing};
use crate::runner::RunOptions;
use crate::scenario::Scenario;
use crate::summary::capacity::{CapacityReport, FORMAT, Trial};
use crate::summary::{Judgement, Verdict};

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

/// What the search found: the highest scale that passed and the lowest
/// that failed, each if any did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bracket {
    pub passed: Option<f64>,
    pub failed: Option<f64>,
}

/// The search: calls `trial(scale, length)` at most `max_trials` times,
/// starting at `start` with trials of `asked`, and brackets the capacity.
/// An error of a trial ends the search with it.
pub fn bracket<E>(
    start: f64,
    resolution: f64,
    max_trials: usize,
    asked: Duration,
    mut trial: impl FnMut(f64, Duration) -> Result<Bearing, E>,
) -> Result<Bracket, E> {
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut scale = start;
    let mut length = asked;
    for _ in 0..max_trials {
        match trial(scale, length)? {
            Bearing::Passed => lo = Some(lo.map_or(scale, |l: f64| l.max(scale))),
            Bearing::Failed => hi = Some(hi.map_or(scale, |h: f64| h.min(scale))),
            Bearing::Unjudged(factor) => {
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
            (Some(l), Some(h)) if (h - l) / l <= resolution => break,
            (Some(l), Some(h)) => (l + h) / 2.0,
            (Some(l), None) if l * 2.0 <= MAX_SCALE => l * 2.0,
            (None, Some(h)) if h / 2.0 >= MIN_SCALE => h / 2.0,
            _ => break,
        };
    }
    Ok(Bracket {
        passed: lo,
        failed: hi,
    })
}

/// Searches the capacity of `scenario`; `opts` carries the trials' run
/// options (duration, threads...). `report` hears of each trial as it
/// ends. Writes `capacity.json` in `search.dir`.
pub fn search(
    scenario: &Scenario,
    search: &Search,
    opts: &RunOptions,
    mut report: impl FnMut(&Trial),
) -> Result<CapacityReport, FinishError> {
    let started_at = crate::human::rfc3339(std::time::SystemTime::now());
    let provenance = crate::provenance::here();
    let total = scenario.timeline.total.as_secs_f64().max(1e-9);
    let base_rate = scenario.timeline.expected_arrivals() / total;
    let asked = opts.duration.unwrap_or(scenario.timeline.total);
    let mut trials = Vec::new();
    let found = bracket(
        search.start,
        search.resolution,
        search.max_trials,
        asked,
        |scale, length| {
            let n = trials.len() + 1;
            let dir = search.dir.join(format!("trial-{n:02}-scale-{scale:.3}"));
            let t = run_trial(scenario, opts, search, (scale, base_rate), length, dir)?;
            report(&t.0);
            trials.push(t.0);
            Ok::<_, FinishError>(t.1)
        },
    )?;
    let passed = found.passed.unwrap_or(0.0);
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
        upper_scale: found.failed,
        upper_per_s: found.failed.map(|h| h * base_rate),
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

/// One trial: the scenario at `scale` (`base_rate` arrivals/s at scale 1)
/// for `length`, run and finished in `dir`; what it says of the capacity.
fn run_trial(
    scenario: &Scenario,
    opts: &RunOptions,
    search: &Search,
    (scale, base_rate): (f64, f64),
    length: Duration,
    dir: PathBuf,
) -> Result<(Trial, Bearing), FinishError> {
    let mut trial_scenario = scenario.clone();
    trial_scenario.file.load.scale = scale;
    let mut trial_opts = opts.clone();
    trial_opts.scale = Some(scale);
    trial_opts.duration = Some(length);
    trial_opts.out = Some(dir);
    trial_opts.trial_of = Some(search.dir.clone());
    let result = crate::finish::run(trial_scenario, &trial_opts, None)?;
    let gate = result.data.summary.gate.clone();
    let verdict = gate.as_ref().map_or(Verdict::Fail, |g| g.verdict);
    let found = bearing(gate.as_ref());
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
        judged: !matches!(found, Bearing::Unjudged(_)),
    };
    Ok((trial, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// Runs the search against a synthetic target; returns what it found
    /// and every (scale, length) it tried.
    fn against(
        start: f64,
        max_trials: usize,
        mut target: impl FnMut(f64, Duration) -> Bearing,
    ) -> (Bracket, Vec<(f64, Duration)>) {
        let mut tried = Vec::new();
        let found = bracket(start, 0.1, max_trials, 30 * SECOND, |s, l| {
            tried.push((s, l));
            Ok::<_, ()>(target(s, l))
        })
        .unwrap();
        (found, tried)
    }

    fn capacity_at(limit: f64) -> impl FnMut(f64, Duration) -> Bearing {
        move |s, _| {
            if s <= limit {
                Bearing::Passed
            } else {
                Bearing::Failed
            }
        }
    }

    #[test]
    fn a_monotone_capacity_is_bracketed_within_the_resolution() {
        for limit in [0.3, 1.0, 2.7, 9.9] {
            let (found, _) = against(1.0, 20, capacity_at(limit));
            let (lo, hi) = (found.passed.unwrap(), found.failed.unwrap());
            assert!(lo <= limit && limit < hi, "{limit}: [{lo}, {hi})");
            assert!(
                (hi - lo) / lo <= 0.1,
                "{limit}: [{lo}, {hi}) wider than 10%"
            );
        }
    }

    #[test]
    fn an_unjudged_trial_is_run_again_longer_at_the_same_scale_never_lower() {
        // Judgeable only from 60 s: the first trial is too short.
        let (found, tried) = against(1.0, 20, |s, l| {
            if l < 60 * SECOND {
                Bearing::Unjudged(2.0)
            } else if s <= 3.0 {
                Bearing::Passed
            } else {
                Bearing::Failed
            }
        });
        assert_eq!(tried[0], (1.0, 30 * SECOND));
        assert_eq!(tried[1], (1.0, 60 * SECOND));
        assert!(tried[1..].iter().all(|(_, l)| *l == 60 * SECOND));
        let lo = found.passed.unwrap();
        assert!(lo <= 3.0 && found.failed.unwrap() > 3.0);
    }

    #[test]
    fn a_trial_too_long_to_judge_moves_the_scale_up_not_down() {
        // Samples come only with load: unjudged below scale 4.
        let (found, tried) = against(1.0, 20, |s, _| {
            if s < 4.0 {
                Bearing::Unjudged(10.0)
            } else if s <= 6.0 {
                Bearing::Passed
            } else {
                Bearing::Failed
            }
        });
        assert_eq!(tried[1].0, 2.0, "{tried:?}");
        assert!(tried.windows(2).take(2).all(|w| w[1].0 >= w[0].0));
        assert!(found.passed.unwrap() >= 4.0);
    }

    #[test]
    fn a_noisy_boundary_still_ends_with_a_pass_below_a_fail() {
        // Near the boundary the same scale can go either way.
        let mut flip = false;
        let (found, tried) = against(1.0, 12, |s, _| {
            flip = !flip;
            if s < 1.9 || (s < 2.1 && flip) {
                Bearing::Passed
            } else {
                Bearing::Failed
            }
        });
        let (lo, hi) = (found.passed.unwrap(), found.failed.unwrap());
        assert!(
            lo < hi && (1.0..2.1).contains(&lo) && hi >= 1.9,
            "[{lo}, {hi})"
        );
        assert!(tried.len() <= 12);
    }

    #[test]
    fn all_failing_halves_down_to_the_floor_and_finds_none() {
        let (found, tried) = against(1.0, 30, |_, _| Bearing::Failed);
        assert_eq!(found.passed, None);
        assert_eq!(found.failed, Some(MIN_SCALE));
        assert_eq!(tried.len(), 7, "1, 1/2 ... 1/64");
    }

    #[test]
    fn all_passing_doubles_up_to_the_ceiling_and_reports_a_lower_bound() {
        let (found, tried) = against(1.0, 30, |_, _| Bearing::Passed);
        assert_eq!(found.passed, Some(MAX_SCALE));
        assert_eq!(found.failed, None);
        assert_eq!(tried.len(), 7, "1, 2 ... 64");
    }

    #[test]
    fn the_trial_budget_bounds_the_search_and_an_error_ends_it() {
        let (_, tried) = against(1.0, 3, capacity_at(5.0));
        assert_eq!(tried.len(), 3);
        let mut n = 0;
        let r = bracket(1.0, 0.1, 10, SECOND, |_, _| {
            n += 1;
            if n == 2 {
                Err("target gone")
            } else {
                Ok(Bearing::Passed)
            }
        });
        assert_eq!(r, Err("target gone"));
        assert_eq!(n, 2);
    }
}
