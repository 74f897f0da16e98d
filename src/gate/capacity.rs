//! What capacity trials need and what one says: the samples each latency
//! objective needs from a trial of a given length and scale, and how a
//! trial's judgement bears on the capacity (passed, failed, or too little
//! data to say). Pure: the search that runs trials is the driver
//! [`crate::capacity`].

use std::time::Duration;

use crate::scenario::Scenario;
use crate::scenario::model::Objective;
use crate::scenario::refs::Channel;
use crate::summary::{Gate, Judgement, Verdict};

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
pub fn safe_expected(min: u64) -> f64 {
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bearing {
    Passed,
    /// Failed on judged objectives, or the run was invalid.
    Failed,
    /// Nothing missed, but something could not be judged: run it longer,
    /// by this factor.
    Unjudged(f64),
}

pub fn bearing(gate: Option<&Gate>) -> Bearing {
    let Some(g) = gate else {
        return Bearing::Failed;
    };
    match g.verdict {
        Verdict::Pass => return Bearing::Passed,
        Verdict::Invalid => return Bearing::Failed,
        Verdict::Fail => {}
    }
    if g.objectives
        .iter()
        .any(|o| o.judgement == Judgement::Missed)
    {
        return Bearing::Failed;
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
    Bearing::Unjudged(factor)
}
