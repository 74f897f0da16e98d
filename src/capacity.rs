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

/// The share of its length a failing trial is taken to run before one
/// has (trials stop once decided failed).
const ASSUMED_FAIL_COST: f64 = 0.3;

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
                if let Some(longer) = lengthened(length, factor, asked) {
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

/// The scales [`bracket`] can try from `start`: the doublings and
/// halvings of `start` within the bounds, and within each octave the
/// midpoints its bisection reaches before a bracket is narrower than
/// `resolution` (computed as the bisection computes them, so the values
/// are the same), in order.
pub fn grid(start: f64, resolution: f64) -> Vec<f64> {
    let mut octaves = vec![start];
    let mut x = start;
    while x * 2.0 <= MAX_SCALE {
        x *= 2.0;
        octaves.push(x);
    }
    let mut x = start;
    while x / 2.0 >= MIN_SCALE {
        x /= 2.0;
        octaves.push(x);
    }
    octaves.sort_by(f64::total_cmp);
    let mut out = octaves.clone();
    fn split(l: f64, h: f64, resolution: f64, out: &mut Vec<f64>) {
        if (h - l) / l <= resolution {
            return;
        }
        let m = (l + h) / 2.0;
        out.push(m);
        split(l, m, resolution, out);
        split(m, h, resolution, out);
    }
    for w in octaves.windows(2) {
        split(w[0], w[1], resolution, &mut out);
    }
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

/// The search when failing trials stop early, so a failure costs only a
/// share of a pass: the same grid as [`bracket`] (so, on a target whose
/// trials pass below its capacity and fail above, the same bracket), but
/// each trial after the first (at `start`) is the grid point that makes
/// the expected cost of the rest of the search least, a passing trial
/// costing 1 and a failing one `fail_cost` (the share of its length the
/// failing trials so far ran, `assumed_fail_cost` until one has). The
/// capacity is taken as equally likely in every octave of the grid, and
/// likelier near what the failing trials served (see [`Ran`]). Scales
/// under `judgeable` are not tried.
pub fn bracket_cheap_failures<E>(
    (start, resolution, max_trials): (f64, f64, usize),
    asked: Duration,
    (assumed_fail_cost, judgeable): (f64, f64),
    mut trial: impl FnMut(f64, Duration) -> Result<Ran, E>,
) -> Result<Bracket, E> {
    let grid = grid(start, resolution);
    let n = grid.len();
    // Positions: 0 passes and n + 1 fails by definition; grid[i] is i + 1.
    let (mut lo, mut hi) = (0usize, n + 1);
    // Scales below `judgeable` give too few samples even in the longest
    // trial: never tried (nor by the bisection, which never goes down
    // for want of samples).
    let mut floor = grid.iter().take_while(|g| **g < judgeable).count();
    let mut length = asked;
    let mut fails: Vec<f64> = Vec::new();
    let mut served: Vec<f64> = Vec::new();
    let mut next = grid.iter().position(|g| *g == start).map(|i| i + 1);
    for done in 0..max_trials {
        let Some(k) = next else { break };
        let ran = trial(grid[k - 1], length)?;
        match ran.bearing {
            Bearing::Passed => lo = lo.max(k),
            Bearing::Failed => {
                hi = hi.min(k);
                fails.push(ran.share.clamp(0.0, 1.0));
                served.extend(
                    ran.served
                        .filter(|s| *s > 0.0)
                        .map(|s| (s * SERVED_SHARE).log2()),
                );
            }
            Bearing::Unjudged(factor) => {
                if let Some(longer) = lengthened(length, factor, asked) {
                    length = longer;
                    continue;
                }
                // Too long to judge here: more load gives more samples.
                floor = floor.max(k);
            }
        }
        if hi <= lo + 1 {
            break;
        }
        let cost = if fails.is_empty() {
            assumed_fail_cost
        } else {
            fails.iter().sum::<f64>() / fails.len() as f64
        };
        // A trial barely over capacity serves less than a saturated one:
        // the most any served is the platform's.
        let near = served.iter().copied().reduce(f64::max);
        // With fewer trials left than bisecting down to the resolution
        // takes, bisect: the bracket matters more than the time.
        let left = max_trials - done - 1;
        let between = hi.saturating_sub(lo.max(floor) + 1);
        next = if (between as f64 + 1.0).log2().ceil() as usize > left {
            let from = lo.max(floor);
            (between > 0).then(|| from + between.div_ceil(2))
        } else {
            cheapest_probe(&grid, (lo, hi, floor), cost + TRIAL_OVERHEAD, near)
        };
    }
    Ok(Bracket {
        passed: (lo > 0).then(|| grid[lo - 1]),
        failed: (hi <= n).then(|| grid[hi - 1]),
    })
}

/// A trial `factor` times longer than `length`, while trials stay within
/// [`MAX_STRETCH`] of the asked length.
fn lengthened(length: Duration, factor: f64, asked: Duration) -> Option<Duration> {
    let longer = Duration::from_secs_f64((length.as_secs_f64() * factor).ceil());
    (longer.as_secs_f64() <= asked.as_secs_f64() * MAX_STRETCH).then_some(longer)
}

/// The lowest scale at which a trial of at most [`MAX_STRETCH`] times
/// `asked` gives every latency objective its samples.
fn judgeable(scenario: &Scenario, asked: Duration) -> f64 {
    let longest = asked.as_secs_f64() * MAX_STRETCH;
    crate::gate::capacity::needs(scenario, 1.0, asked)
        .iter()
        // An objective no trial can feed is left to the trials to say.
        .filter(|n| n.shortest < Duration::MAX)
        .map(|n| n.shortest.as_secs_f64() / longest.max(1e-9))
        .fold(0.0, f64::max)
}

/// What a trial of the cheap-failure search tells it.
#[derive(Clone, Copy, Debug)]
pub struct Ran {
    pub bearing: Bearing,
    /// The share of its length the trial ran (a failure may stop early).
    pub share: f64,
    /// For a trial over capacity: the scale it served, its scale times
    /// its busiest second of journeys completed in time over its busiest
    /// second of arrivals. An overloaded platform serves about its
    /// capacity, so the search looks there first.
    pub served: Option<f64>,
}

/// What every trial costs besides its length (starting, finishing and
/// reporting a run), in trials: it keeps a search from spending many
/// cheap failures where one bisection would do.
const TRIAL_OVERHEAD: f64 = 0.1;

/// Where the capacity is taken to lie, as a share of what an overloaded
/// trial served: the objectives need headroom below saturation (a 99%
/// goodput is lost before the platform serves no more).
const SERVED_SHARE: f64 = 0.9;

/// How much likelier the capacity is taken to be near what an overloaded
/// trial served than elsewhere, and how near (octaves, one deviation).
const SERVED_WEIGHT: f64 = 200.0;
const SERVED_SPREAD: f64 = 0.1;
/// Up to how far above what was served (octaves) a failing trial is
/// taken to run its whole length.
const NEAR_SERVED: f64 = 0.5;

/// The position in `(lo, hi)` (above `floor`) to try next: the root of
/// the search tree over the positions between that costs least on
/// average (a dynamic programme over sub-brackets). `near`: the log2 of
/// the scale overloaded trials served.
fn cheapest_probe(
    grid: &[f64],
    (lo, hi, floor): (usize, usize, usize),
    fail_cost: f64,
    near: Option<f64>,
) -> Option<usize> {
    let n = grid.len();
    // Weight of the gap above position p: its width in octaves (an octave
    // beyond each end of the grid), more near what was served.
    let gap = |p: usize| -> f64 {
        let (width, mid) = if p == 0 {
            (1.0, grid[0].log2() - 0.5)
        } else if p >= n {
            (1.0, grid[n - 1].log2() + 0.5)
        } else {
            let (a, b) = (grid[p - 1].log2(), grid[p].log2());
            (b - a, (a + b) / 2.0)
        };
        let bump = near.map_or(0.0, |c| {
            let z = (mid - c) / SERVED_SPREAD;
            SERVED_WEIGHT * (-z * z / 2.0).exp()
        });
        width * (1.0 + bump)
    };
    let m = hi - lo;
    let mut prefix = vec![0.0; m + 1];
    for i in 0..m {
        prefix[i + 1] = prefix[i] + gap(lo + i);
    }
    let w = |a: usize, b: usize| prefix[b - lo] - prefix[a - lo];
    // Failing well above what overloaded trials served stops soon; near
    // it a failure may take the whole length.
    let fails_at = |p: usize| -> f64 {
        match near {
            Some(c) if grid[p - 1].log2() < c + NEAR_SERVED => 1.0 + TRIAL_OVERHEAD,
            _ => fail_cost,
        }
    };
    // cost[a][b], relative positions, for every sub-bracket.
    let mut cost = vec![vec![0.0f64; m + 1]; m + 1];
    for len in 2..=m {
        for a in 0..=(m - len) {
            let b = a + len;
            let total = w(lo + a, lo + b);
            cost[a][b] = ((a + 1)..b)
                .map(|k| {
                    (w(lo + a, lo + k) * (fails_at(lo + k) + cost[a][k])
                        + w(lo + k, lo + b) * (1.0 + TRIAL_OVERHEAD + cost[k][b]))
                        / total
                })
                .fold(f64::INFINITY, f64::min);
        }
    }
    let total = w(lo, hi);
    ((lo + 1)..hi)
        .filter(|k| *k > floor)
        .map(|k| {
            let (a, b) = (k - lo, m);
            let c = (w(lo, k) * (fails_at(k) + cost[0][a])
                + w(k, hi) * (1.0 + TRIAL_OVERHEAD + cost[a][b]))
                / total;
            (k, c)
        })
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(k, _)| k)
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
    let mut trial = |scale: f64, length: Duration| {
        let n = trials.len() + 1;
        let dir = search.dir.join(format!("trial-{n:02}-scale-{scale:.3}"));
        let t = run_trial(scenario, opts, search, (scale, base_rate), length, dir)?;
        report(&t.0);
        trials.push(t.0);
        Ok::<_, FinishError>(t.1)
    };
    // Trials that stop once decided failed make a failure cheap, and the
    // search spends them first.
    let found = if opts.stop_early == crate::gate::early::Policy::All {
        bracket_cheap_failures(
            (search.start, search.resolution, search.max_trials),
            asked,
            (ASSUMED_FAIL_COST, judgeable(scenario, asked)),
            &mut trial,
        )?
    } else {
        bracket(
            search.start,
            search.resolution,
            search.max_trials,
            asked,
            |scale, length| trial(scale, length).map(|r| r.bearing),
        )?
    };
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
) -> Result<(Trial, Ran), FinishError> {
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
    let stopped = result.data.summary.stopped_early.clone();
    let reasons = gate.map_or_else(Vec::new, |g| {
        let mut r: Vec<String> = stopped
            .iter()
            .map(|e| format!("stopped at {}s: {}", e.at_s, e.detail))
            .collect();
        r.extend(g.validity.reasons);
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
    let ran = Ran {
        bearing: found,
        share: result.data.summary.run.elapsed_s / length.as_secs_f64().max(1e-9),
        served: (found == Bearing::Failed)
            .then(|| served(&result.data, scale))
            .flatten(),
    };
    Ok((trial, ran))
}

/// The scale a trial served: `scale` times its busiest second of journeys
/// completed in time over its busiest second of arrivals.
fn served(data: &crate::rundata::RunData, scale: f64) -> Option<f64> {
    let mut per_second: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for (second, _, c) in &data.journeys {
        let e = per_second.entry(*second).or_default();
        e.0 += c.finished[crate::folder::Outcome::CompletedInTime.index()];
        e.1 += c.scheduled;
    }
    let done = per_second.values().map(|v| v.0).max()?;
    let offered = per_second.values().map(|v| v.1).max()?;
    (offered > 0 && done > 0).then(|| scale * done as f64 / offered as f64)
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

    /// The cheap-failure search against a target of capacity `limit`
    /// whose failing trials stop at `fail_cost` of their length; what it
    /// found, the scales tried and the cost in whole trials.
    /// `served`: failing trials serve this share of the capacity.
    fn cheaply(
        limit: f64,
        fail_cost: f64,
        served: Option<f64>,
        max_trials: usize,
    ) -> (Bracket, Vec<f64>, f64) {
        let mut tried = Vec::new();
        let mut cost = 0.0;
        let found =
            bracket_cheap_failures((1.0, 0.1, max_trials), 30 * SECOND, (0.5, 0.0), |s, _| {
                tried.push(s);
                Ok::<_, ()>(if s <= limit {
                    cost += 1.0;
                    Ran {
                        bearing: Bearing::Passed,
                        share: 1.0,
                        served: None,
                    }
                } else {
                    cost += fail_cost;
                    Ran {
                        bearing: Bearing::Failed,
                        share: fail_cost,
                        served: served.map(|f: f64| limit * f),
                    }
                })
            })
            .unwrap();
        (found, tried, cost)
    }

    #[test]
    fn cheap_failures_find_the_same_bracket_as_the_bisection_on_the_same_grid() {
        for limit in [
            0.01, 0.02, 0.3, 0.99, 1.0, 1.04, 2.7, 4.2, 7.7, 9.9, 33.0, 64.0, 100.0,
        ] {
            let (old, old_tried) = against(1.0, 40, capacity_at(limit));
            let grid = grid(1.0, 0.1);
            assert!(
                old_tried.iter().all(|(s, _)| grid.contains(s)),
                "{limit}: {old_tried:?}"
            );
            for fail_cost in [0.1, 0.5, 1.0] {
                // What overloaded trials served may mislead the order,
                // never the result.
                for served in [None, Some(0.3), Some(1.05), Some(3.0)] {
                    let (new, tried, _) = cheaply(limit, fail_cost, served, 40);
                    assert_eq!(
                        new, old,
                        "{limit} at fail cost {fail_cost}, served {served:?}: tried {tried:?}"
                    );
                    assert_eq!(tried[0], 1.0);
                }
            }
        }
    }

    #[test]
    fn cheap_failures_cost_about_half_the_bisection_near_the_capacity_gate() {
        // capacity-gate.yaml's twin: capacity between 7.5 and 8; a failing
        // trial stops at about a sixth of its length.
        let (_, old_tried) = against(1.0, 8, capacity_at(7.7));
        let (found, tried, cost) = cheaply(7.7, 0.15, Some(1.13), 8);
        assert_eq!(
            (found.passed, found.failed),
            (Some(7.5), Some(8.0)),
            "{tried:?}"
        );
        let old = old_tried.len() as f64;
        assert!(cost <= 0.55 * old, "cost {cost} of {old} trials: {tried:?}");
        // Without cheap failures it costs no more trials than bisection
        // on this target, and finds the same.
        let (same, tried, _) = cheaply(7.7, 1.0, None, 8);
        assert_eq!(same, found, "{tried:?}");
    }

    #[test]
    fn a_short_trial_budget_still_reaches_the_resolution_the_bisection_reaches() {
        // Overloaded trials serve a little more than the capacity (the
        // twin: 1.13x). A guess far below it may cost trials (the search
        // climbs to it in passes), never the bracket: above.
        for limit in [0.3, 1.3, 1.6, 3.1, 7.7, 20.0] {
            for served in [None, Some(1.13)] {
                let (new, tried, _) = cheaply(limit, 0.3, served, 8);
                let (lo, hi) = (new.passed.unwrap(), new.failed.unwrap());
                assert!(
                    lo <= limit && limit < hi && (hi - lo) / lo <= 0.1,
                    "{limit}, served {served:?}: [{lo}, {hi}) after {tried:?}"
                );
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
