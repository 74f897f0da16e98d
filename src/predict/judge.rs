//! The scenario's objectives judged on an evaluation instead of a run:
//! latency percentiles of the sampled requests and journeys, error rates
//! and goodput from the expected counts, each over the objective's window
//! (a phase, or the whole timeline). Objectives the model cannot see (the
//! books, invariants, recovery after a fault) are listed as not predicted
//! rather than guessed.

use serde::Serialize;

use crate::gate::Selector;
use crate::scenario::model::{ErrorClass, Objective};

use super::model::Model;
use super::simulate::{Evaluation, StretchResult};

/// One objective, as the model sees it at one scale.
#[derive(Clone, Debug, Serialize)]
pub struct Predicted {
    pub name: String,
    pub kind: &'static str,
    /// `None`: the model does not predict this kind of objective.
    pub met: Option<bool>,
    pub predicted: Option<f64>,
    pub bound: Option<f64>,
    pub unit: &'static str,
    pub detail: String,
}

/// The stretches an objective's `during` covers (all without one).
fn window<'e>(model: &Model, eval: &'e Evaluation, during: Option<&str>) -> Vec<&'e StretchResult> {
    let phase = during.and_then(|d| model.phases.iter().position(|p| p == d));
    eval.stretches
        .iter()
        .filter(|r| phase.is_none_or(|p| model.stretches[r.index].phase == p))
        .collect()
}

/// The `p`-th percentile of weighted samples.
pub fn percentile(samples: &mut [(f32, f64)], p: f64) -> Option<f64> {
    let total: f64 = samples.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let want = total * p / 100.0;
    let mut seen = 0.0;
    for (v, w) in samples.iter() {
        seen += w;
        if seen >= want {
            return Some(*v as f64);
        }
    }
    samples.last().map(|(v, _)| *v as f64)
}

/// Latency samples (seconds, weight) of the picked requests or journeys.
fn latencies(model: &Model, stretches: &[&StretchResult], pick: &Selector) -> Vec<(f32, f64)> {
    let mut out = Vec::new();
    for r in stretches {
        for (ji, j) in model.journeys.iter().enumerate() {
            if let Selector::Journey(name) = pick {
                if j.name == *name {
                    let t = &r.journeys[ji];
                    out.extend(t.durations.iter().map(|d| (*d, t.weight)));
                }
                continue;
            }
            for (si, s) in j.steps.iter().enumerate() {
                if pick.step_with(&s.label, &s.channel) {
                    let t = &r.steps[ji][si];
                    out.extend(t.latencies.iter().map(|l| (*l, t.weight)));
                }
            }
        }
    }
    out
}

/// Every objective of the scenario at this evaluation.
pub fn objectives(model: &Model, objectives: &[Objective], eval: &Evaluation) -> Vec<Predicted> {
    objectives
        .iter()
        .enumerate()
        .map(|(i, o)| one(model, o, eval, i))
        .collect()
}

fn named(name: Option<&crate::scenario::refs::Name>, kind: &str, i: usize) -> String {
    name.map_or_else(|| format!("{kind} #{}", i + 1), |n| n.to_string())
}

fn one(model: &Model, o: &Objective, eval: &Evaluation, i: usize) -> Predicted {
    match o {
        Objective::Latency(l) => {
            let pick = Selector::of(l.step.as_ref(), l.journey.as_deref(), l.channel.as_ref());
            let stretches = window(model, eval, l.during.as_deref());
            let mut samples = latencies(model, &stretches, &pick);
            let value = percentile(&mut samples, l.p);
            let bound = l.at_most.0.as_secs_f64();
            let met = value.map(|v| v <= bound);
            Predicted {
                name: named(l.name.as_ref(), "latency", i),
                kind: "latency",
                met: Some(met.unwrap_or(true)),
                predicted: value.map(|v| v * 1e3),
                bound: Some(bound * 1e3),
                unit: "ms",
                detail: format!(
                    "p{} of {}{}: {}",
                    l.p,
                    pick.describe(),
                    during(l.during.as_deref()),
                    value.map_or("nothing sent".into(), |v| format!("{:.1} ms", v * 1e3))
                ),
            }
        }
        Objective::ErrorRate(e) => {
            let pick = Selector::of(e.step.as_ref(), e.journey.as_deref(), e.channel.as_ref());
            let stretches = window(model, eval, e.during.as_deref());
            let (bad, total) = error_counts(model, &stretches, &pick, &e.classes);
            let value = (total > 0.0).then(|| bad / total);
            let bound = e.at_most.fraction();
            Predicted {
                name: named(e.name.as_ref(), "error_rate", i),
                kind: "error_rate",
                met: Some(value.is_none_or(|v| v <= bound)),
                predicted: value,
                bound: Some(bound),
                unit: "ratio",
                detail: format!(
                    "error rate of {}{}: {}",
                    pick.describe(),
                    during(e.during.as_deref()),
                    value.map_or("nothing sent".into(), |v| format!("{:.3}%", v * 100.0))
                ),
            }
        }
        Objective::Goodput(g) => {
            let (done, all) = eval
                .stretches
                .iter()
                .flat_map(|r| model.journeys.iter().zip(&r.journeys))
                .filter(|(j, _)| g.journey.as_deref().is_none_or(|n| n == j.name))
                .fold((0.0, 0.0), |(d, a), (_, t)| (d + t.in_time, a + t.arrivals));
            let value = (all > 0.0).then(|| done / all);
            let bound = g.at_least.fraction();
            Predicted {
                name: named(g.name.as_ref(), "goodput", i),
                kind: "goodput",
                met: Some(value.is_none_or(|v| v >= bound)),
                predicted: value,
                bound: Some(bound),
                unit: "ratio",
                detail: format!(
                    "goodput of {}: {}",
                    g.journey
                        .as_deref()
                        .map_or("every journey".into(), |j| format!("journey {j}")),
                    value.map_or("no arrivals".into(), |v| format!("{:.2}%", v * 100.0))
                ),
            }
        }
        Objective::Throughput(t) => {
            let pick = Selector::of(t.step.as_ref(), t.journey.as_deref(), t.channel.as_ref());
            let stretches = window(model, eval, t.during.as_deref());
            let seconds: f64 = stretches
                .iter()
                .map(|r| model.stretches[r.index].seconds())
                .sum();
            let count = throughput_count(model, &stretches, &pick);
            let value = (seconds > 0.0).then(|| count / seconds);
            let bound = t.at_least.as_per_second();
            Predicted {
                name: named(t.name.as_ref(), "throughput", i),
                kind: "throughput",
                met: Some(value.is_some_and(|v| v >= bound)),
                predicted: value,
                bound: Some(bound),
                unit: "per_s",
                detail: format!(
                    "throughput of {}{}: {}",
                    pick.describe(),
                    during(t.during.as_deref()),
                    value.map_or("no time".into(), |v| format!("{v:.2}/s"))
                ),
            }
        }
        other => {
            let kind = kind_of(other);
            Predicted {
                name: format!("{kind} #{}", i + 1),
                kind,
                met: None,
                predicted: None,
                bound: None,
                unit: "",
                detail: format!("not predicted: the model does not see {}", unseen(other)),
            }
        }
    }
}

fn during(d: Option<&str>) -> String {
    d.map_or(String::new(), |d| format!(" during {d}"))
}

fn kind_of(o: &Objective) -> &'static str {
    match o {
        Objective::Latency(_) => "latency",
        Objective::ErrorRate(_) => "error_rate",
        Objective::Goodput(_) => "goodput",
        Objective::Throughput(_) => "throughput",
        Objective::Recovery(_) => "recovery",
        Objective::Ledger(_) => "ledger",
        Objective::Invariant(_) => "invariant",
        Objective::Reconcile(_) => "reconcile",
        Objective::Books(_) => "books",
        Objective::ErrorBudget(_) => "error_budget",
    }
}

fn unseen(o: &Objective) -> &'static str {
    match o {
        Objective::Recovery(_) => "faults, so not the recovery after one",
        Objective::ErrorBudget(_) => "burn rates over time windows",
        _ => "the books (ledger, invariants, reconciliation)",
    }
}

fn error_counts(
    model: &Model,
    stretches: &[&StretchResult],
    pick: &Selector,
    classes: &[ErrorClass],
) -> (f64, f64) {
    let mut bad = 0.0;
    let mut total = 0.0;
    for r in stretches {
        for (ji, j) in model.journeys.iter().enumerate() {
            if let Selector::Journey(name) = pick {
                if j.name == *name {
                    let t = &r.journeys[ji];
                    bad += t.failed + t.abandoned + t.dropped;
                    total += t.arrivals;
                }
                continue;
            }
            for (si, s) in j.steps.iter().enumerate() {
                if !pick.step_with(&s.label, &s.channel) {
                    continue;
                }
                let t = &r.steps[ji][si];
                total += t.requests;
                bad += if classes.is_empty() {
                    t.errors
                } else {
                    t.by_class
                        .iter()
                        .filter(|(c, _)| classes.contains(c))
                        .map(|(_, n)| n)
                        .sum()
                };
            }
        }
    }
    (bad, total)
}

fn throughput_count(model: &Model, stretches: &[&StretchResult], pick: &Selector) -> f64 {
    let mut count = 0.0;
    for r in stretches {
        for (ji, j) in model.journeys.iter().enumerate() {
            if let Selector::Journey(name) = pick {
                if j.name == *name {
                    let t = &r.journeys[ji];
                    count += t.in_time + t.late;
                }
                continue;
            }
            for (si, s) in j.steps.iter().enumerate() {
                if pick.step_with(&s.label, &s.channel) {
                    let t = &r.steps[ji][si];
                    count += t.requests - t.errors;
                }
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_percentiles() {
        let mut s = vec![(3.0, 1.0), (1.0, 1.0), (2.0, 2.0)];
        assert_eq!(percentile(&mut s, 50.0), Some(2.0));
        assert_eq!(percentile(&mut s, 25.0), Some(1.0));
        assert_eq!(percentile(&mut s, 99.0), Some(3.0));
        assert_eq!(percentile(&mut [], 99.0), None);
    }
}
