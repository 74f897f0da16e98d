//! The gate: judges a run. First whether it is valid (the generator
//! delivered its schedule: nothing dropped, nearly every arrival started,
//! the generator's CPU not saturated, not interrupted), then each of the
//! scenario's objectives on the recorded histograms and counts, within its
//! window (the whole run, a phase, a fault window, or outside faults).
//! Each verdict carries the measured value, the bound and the samples; an
//! objective with too few samples is `unjudged`, never a pass. The verdict
//! sets the exit code: 0 pass, 1 fail, 3 invalid.

mod books;
pub mod burn;
pub mod capacity;
pub mod compare;
pub mod early;
pub mod noise;

use crate::Exit;
use crate::folder::Outcome;
use crate::rundata::{RunData, Window, failures};
use crate::scenario::model::{Invariant, Objective};
use crate::scenario::refs::{Channel, StepRef};
use crate::summary::{Gate, Judgement, ObjectiveResult, Status, Summary, Validity, Verdict};

pub use crate::summary::DEFAULT_RATE_TOLERANCE;

/// The generator counts as saturated when a second used this share of all
/// its cores.
const CPU_SATURATED: f64 = 0.95;

impl Verdict {
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Pass => Exit::Ok,
            Verdict::Fail => Exit::Failed,
            Verdict::Invalid => Exit::RunError,
        }
    }
}

/// Judges the run in `data` against `objectives`.
pub fn judge(objectives: &[Objective], data: &RunData, rate_tolerance: f64) -> Gate {
    let validity = validity(&data.summary, rate_tolerance);
    let mut objectives: Vec<ObjectiveResult> =
        objectives.iter().map(|o| judge_one(o, data)).collect();
    // The decider's rules imply a miss on the files; should rounding ever
    // disagree, the decision that stopped the run stands.
    if let Some(e) = &data.summary.stopped_early
        && let Some(o) = objectives.get_mut(e.index)
        && o.judgement != Judgement::Missed
    {
        o.judgement = Judgement::Missed;
        o.detail = format!("decided missed at {}s: {}", e.at_s, e.detail);
    }
    // A run stopped early had an objective decided missed: it fails even
    // where the seconds it ran would meet everything.
    let stopped = data.summary.status == Status::StoppedEarly;
    let verdict = if !validity.valid {
        Verdict::Invalid
    } else if !stopped && objectives.iter().all(|o| o.judgement == Judgement::Met) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    Gate {
        verdict,
        validity,
        objectives,
    }
}

/// Whether the generator delivered the schedule.
pub fn validity(s: &Summary, rate_tolerance: f64) -> Validity {
    let mut reasons = Vec::new();
    if s.status == Status::Interrupted {
        reasons.push("the run was interrupted before its schedule ended".to_string());
    }
    if s.status == Status::Running {
        reasons.push("the run did not finish (it was killed, or is still running)".to_string());
    }
    let l = &s.load;
    let waited_out = l.dropped.saturating_sub(l.data_exhausted);
    if waited_out > 0 {
        reasons.push(format!(
            "{waited_out} arrivals were dropped: no free user within max_lateness; raise load.max_in_flight"
        ));
    }
    if l.data_exhausted > 0 && l.data_must_last {
        reasons.push(format!(
            "{} arrivals found no unused row of their test data (`on_exhausted: fail`); add rows or lower the load",
            l.data_exhausted
        ));
    }
    // Arrivals the test data could not serve were never meant to start.
    let servable = l.scheduled.saturating_sub(l.data_exhausted);
    let expected_started = servable as f64 * (1.0 - rate_tolerance);
    // A run stopped early cut the arrivals still queued: not the
    // generator's shortfall.
    if s.status != Status::StoppedEarly && (l.started as f64) < expected_started {
        reasons.push(format!(
            "only {} of {} scheduled arrivals started (more than {:.1}% short)",
            l.started,
            servable,
            rate_tolerance * 100.0
        ));
    }
    let cores = s.run.generator.cpus.max(1) as f64 * 100.0;
    if let Some(max) = s.run.generator.cpu_max_pct
        && max >= CPU_SATURATED * cores
    {
        reasons.push(format!(
            "the generator's CPU was saturated ({max:.0}% of {:.0}% in its busiest second); give it more cores or less load",
            cores
        ));
    }
    Validity {
        valid: reasons.is_empty(),
        reasons,
        rate_tolerance,
    }
}

/// The window an objective looks at.
fn window(s: &Summary, during: Option<&str>, outside_faults: bool) -> Window {
    let faults: Vec<(f64, f64)> = s
        .timeline
        .faults
        .iter()
        .map(|f| {
            (
                f.applied_s.unwrap_or(f.start_s),
                f.removed_s.unwrap_or(f.end_s),
            )
        })
        .collect();
    let mut w = Window::all();
    if let Some(name) = during {
        if let Some(p) = s.timeline.phases.iter().find(|p| p.name == name) {
            w.include.push((p.start_s, p.end_s));
        } else if let Some(f) = s.timeline.faults.iter().find(|f| f.name == name) {
            w.include.push((
                f.applied_s.unwrap_or(f.start_s),
                f.removed_s.unwrap_or(f.end_s),
            ));
        }
    }
    if outside_faults {
        w.exclude = faults;
    }
    w
}

/// What an objective looks at.
pub(crate) enum Selector<'a> {
    Step(&'a StepRef),
    Journey(&'a str),
    Channel(&'a Channel),
    All,
}

impl Selector<'_> {
    pub(crate) fn of<'a>(
        step: Option<&'a StepRef>,
        journey: Option<&'a str>,
        channel: Option<&'a Channel>,
    ) -> Selector<'a> {
        match (step, journey, channel) {
            (Some(s), _, _) => Selector::Step(s),
            (_, Some(j), _) => Selector::Journey(j),
            (_, _, Some(c)) => Selector::Channel(c),
            _ => Selector::All,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Selector::Step(s) => format!("{s}"),
            Selector::Journey(j) => format!("journey {j}"),
            Selector::Channel(c) => format!("channel {c}"),
            Selector::All => "all requests".into(),
        }
    }

    /// Whether a step label (`JOURNEY.STEP`) belongs to the selection.
    fn step(&self, label: &str, s: &Summary) -> bool {
        match self {
            Selector::Channel(c) => s
                .steps
                .iter()
                .any(|st| st.name == label && st.channel == c.to_string()),
            _ => self.step_with(label, ""),
        }
    }

    /// Whether a step (`JOURNEY.STEP` on `channel`) belongs to the
    /// selection.
    pub(crate) fn step_with(&self, label: &str, channel: &str) -> bool {
        match self {
            Selector::Step(r) => label == r.to_string(),
            Selector::Journey(j) => label.split_once('.').is_some_and(|(jn, _)| jn == *j),
            Selector::Channel(c) => channel == c.to_string(),
            Selector::All => true,
        }
    }

    /// Whether a histogram tag carries request latencies of the selection
    /// (or, for a journey, its journeys' times).
    fn latency_tag(&self, tag: &str, s: &Summary) -> bool {
        match self {
            Selector::Journey(j) => tag == format!("journey:{j}"),
            _ => tag
                .strip_prefix("step:")
                .is_some_and(|label| self.step(label, s)),
        }
    }
}

/// The smallest sample that makes a percentile mean something: at least
/// one sample beyond it.
fn default_min_samples(p: f64) -> u64 {
    // The small subtraction keeps 1/(1-0.9) = 10.000000000000002 at 10.
    if p >= 100.0 {
        1
    } else {
        (1.0 / (1.0 - p / 100.0) - 1e-9).ceil() as u64
    }
}

/// A journey's (bad, all) ends: abandoned, failed and unfinished are bad.
pub(crate) fn journey_ends(c: &crate::folder::JourneyCounts) -> (u64, u64) {
    let bad = [Outcome::Abandoned, Outcome::Failed, Outcome::Unfinished]
        .iter()
        .map(|o| c.finished[o.index()])
        .sum();
    (bad, c.finished.iter().sum())
}

fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

fn percentile(h: &hdrhistogram::Histogram<u64>, p: f64) -> f64 {
    if p >= 100.0 {
        h.max() as f64
    } else {
        h.value_at_quantile(p / 100.0) as f64
    }
}

fn window_label(during: Option<&str>, outside_faults: bool) -> String {
    match (during, outside_faults) {
        (Some(d), true) => format!(" during {d}, outside faults"),
        (Some(d), false) => format!(" during {d}"),
        (None, true) => " outside faults".into(),
        (None, false) => String::new(),
    }
}

struct Judged {
    judgement: Judgement,
    measured: Option<f64>,
    bound: f64,
    unit: &'static str,
    samples: Option<u64>,
    detail: String,
    default_name: String,
}

/// An objective on its way to a verdict: what every outcome of it shares.
struct Judging {
    bound: f64,
    unit: &'static str,
    default_name: String,
}

impl Judging {
    fn new(bound: f64, unit: &'static str, default_name: String) -> Judging {
        Judging {
            bound,
            unit,
            default_name,
        }
    }

    /// Met or missed, on what was measured.
    fn verdict(
        self,
        met: bool,
        measured: Option<f64>,
        samples: Option<u64>,
        detail: String,
    ) -> Judged {
        let judgement = if met {
            Judgement::Met
        } else {
            Judgement::Missed
        };
        self.judged(judgement, measured, samples, detail)
    }

    /// Not judged (too few samples, nothing sent, no ledger), and why.
    fn unjudged(self, measured: Option<f64>, samples: Option<u64>, detail: String) -> Judged {
        self.judged(Judgement::Unjudged, measured, samples, detail)
    }

    fn judged(
        self,
        judgement: Judgement,
        measured: Option<f64>,
        samples: Option<u64>,
        detail: String,
    ) -> Judged {
        Judged {
            judgement,
            measured,
            bound: self.bound,
            unit: self.unit,
            samples,
            detail,
            default_name: self.default_name,
        }
    }
}

/// The sign between a measured value and its bound, as the verdict reads.
fn relation(met: bool, at_most: bool) -> &'static str {
    match (met, at_most) {
        (true, true) => "≤",
        (false, true) => ">",
        (true, false) => "≥",
        (false, false) => "<",
    }
}

fn judge_one(objective: &Objective, data: &RunData) -> ObjectiveResult {
    let s = &data.summary;
    let (kind, name, j) = match objective {
        Objective::Latency(o) => ("latency", o.name.as_ref(), latency(o, data)),
        Objective::ErrorRate(o) => ("error_rate", o.name.as_ref(), error_rate(o, data)),
        Objective::Goodput(o) => ("goodput", o.name.as_ref(), goodput(o, data)),
        Objective::Throughput(o) => ("throughput", o.name.as_ref(), throughput(o, data)),
        Objective::Recovery(o) => ("recovery", o.name.as_ref(), recovery(o, data)),
        Objective::Ledger(o) => ("ledger", o.name.as_ref(), ledger(o, s)),
        Objective::Invariant(i) => ("invariant", None, invariant(*i, s)),
        Objective::Reconcile(o) => ("reconcile", None, books::reconcile(o, s)),
        Objective::Books(o) => ("books", o.name.as_ref(), books::counter(o, data)),
        Objective::ErrorBudget(o) => ("error_budget", o.name.as_ref(), burn::judge(o, data)),
    };
    ObjectiveResult {
        name: name.map_or(j.default_name, |n| n.to_string()),
        kind: kind.into(),
        spec: objective.clone(),
        judgement: j.judgement,
        measured: j.measured,
        bound: j.bound,
        unit: j.unit.into(),
        samples: j.samples,
        detail: j.detail,
    }
}

/// What a latency objective measures, as verdicts name it: `p99 of STEP
/// during PHASE`.
pub(crate) fn latency_what(o: &crate::scenario::model::LatencyObjective) -> String {
    let sel = Selector::of(o.step.as_ref(), o.journey.as_deref(), o.channel.as_ref());
    format!(
        "p{} of {}{}",
        o.p,
        sel.describe(),
        window_label(o.during.as_deref(), o.outside_faults)
    )
}

/// The samples a latency objective needs to be judged.
pub(crate) fn min_samples(o: &crate::scenario::model::LatencyObjective) -> u64 {
    o.min_samples.unwrap_or_else(|| default_min_samples(o.p))
}

fn latency(o: &crate::scenario::model::LatencyObjective, data: &RunData) -> Judged {
    let s = &data.summary;
    let sel = Selector::of(o.step.as_ref(), o.journey.as_deref(), o.channel.as_ref());
    let w = window(s, o.during.as_deref(), o.outside_faults);
    let h = data.histogram(|tag| sel.latency_tag(tag, s), &w);
    let bound = o.at_most.0.as_micros() as f64;
    let what = latency_what(o);
    let judging = Judging::new(bound, "us", format!("{what} ≤ {}", o.at_most));
    let n = h.len();
    let min = min_samples(o);
    if n < min {
        return judging.unjudged(
            (n > 0).then(|| percentile(&h, o.p)),
            Some(n),
            format!("{what}: only {n} samples, fewer than the {min} needed to judge it"),
        );
    }
    let measured = percentile(&h, o.p);
    let met = measured <= bound;
    let detail = format!(
        "{what}: {} ({n} samples) {} {}",
        crate::human::ms_fine(measured),
        relation(met, true),
        o.at_most
    );
    judging.verdict(met, Some(measured), Some(n), detail)
}

/// What an error rate objective measures, as verdicts name it.
pub(crate) fn error_rate_what(o: &crate::scenario::model::ErrorRateObjective) -> String {
    let sel = Selector::of(o.step.as_ref(), o.journey.as_deref(), o.channel.as_ref());
    let classes: Vec<&str> = o.classes.iter().map(|c| c.name()).collect();
    format!(
        "{}error rate of {}{}",
        if classes.is_empty() {
            String::new()
        } else {
            format!("{} ", classes.join("+"))
        },
        sel.describe(),
        window_label(o.during.as_deref(), o.outside_faults)
    )
}

/// What a goodput objective measures, as verdicts name it.
pub(crate) fn goodput_what(o: &crate::scenario::model::GoodputObjective) -> String {
    format!(
        "goodput of {}",
        o.journey
            .as_deref()
            .map_or("every journey".to_string(), |j| format!("journey {j}"))
    )
}

fn error_rate(o: &crate::scenario::model::ErrorRateObjective, data: &RunData) -> Judged {
    let s = &data.summary;
    let sel = Selector::of(o.step.as_ref(), o.journey.as_deref(), o.channel.as_ref());
    let w = window(s, o.during.as_deref(), o.outside_faults);
    let bound = o.at_most.fraction();
    let what = error_rate_what(o);
    let judging = Judging::new(bound, "ratio", format!("{what} ≤ {}", o.at_most));
    let (bad, total) = match &sel {
        Selector::Journey(j) => journey_ends(&data.journey_counts(|name| name == *j, &w)),
        _ => {
            let c = data.step_counts(|label| sel.step(label, s), &w);
            (failures(&c, &o.classes), c.requests)
        }
    };
    if total == 0 {
        return judging.unjudged(
            None,
            Some(0),
            format!("{what}: nothing was sent, so nothing to judge"),
        );
    }
    let rate = bad as f64 / total as f64;
    let met = rate <= bound;
    let detail = format!(
        "{what}: {} ({bad} of {total}) {} {}",
        pct(rate),
        relation(met, true),
        o.at_most
    );
    judging.verdict(met, Some(rate), Some(total), detail)
}

fn goodput(o: &crate::scenario::model::GoodputObjective, data: &RunData) -> Judged {
    let pick = |name: &str| o.journey.as_deref().is_none_or(|j| j == name);
    let c = data.journey_counts(pick, &Window::all());
    let bound = o.at_least.fraction();
    let what = goodput_what(o);
    let judging = Judging::new(bound, "ratio", format!("{what} ≥ {}", o.at_least));
    let servable = c.servable();
    if servable == 0 {
        return judging.unjudged(None, Some(0), format!("{what}: no arrivals were scheduled"));
    }
    let done = c.finished[Outcome::CompletedInTime.index()];
    let ratio = done as f64 / servable as f64;
    let met = ratio >= bound;
    let detail = format!(
        "{what}: {} ({done} of {servable} completed before the deadline) {} {}",
        pct(ratio),
        relation(met, false),
        o.at_least
    );
    judging.verdict(met, Some(ratio), Some(servable), detail)
}

fn throughput(o: &crate::scenario::model::ThroughputObjective, data: &RunData) -> Judged {
    let s = &data.summary;
    let sel = Selector::of(o.step.as_ref(), o.journey.as_deref(), o.channel.as_ref());
    let w = window(s, o.during.as_deref(), o.outside_faults);
    let seconds = w.seconds(s.run.planned_s).max(1);
    let count = match &sel {
        Selector::Journey(j) => {
            let c = data.journey_counts(|name| name == *j, &w);
            c.finished[Outcome::CompletedInTime.index()]
                + c.finished[Outcome::CompletedLate.index()]
        }
        _ => data.step_counts(|label| sel.step(label, s), &w).ok,
    };
    let rate = count as f64 / seconds as f64;
    let bound = o.at_least.as_per_second();
    let what = format!(
        "throughput of {}{}",
        sel.describe(),
        window_label(o.during.as_deref(), o.outside_faults)
    );
    let met = rate >= bound;
    let detail = format!(
        "{what}: {rate:.2}/s ({count} in {seconds}s) {} {}",
        relation(met, false),
        o.at_least
    );
    Judging::new(bound, "per_s", format!("{what} ≥ {}", o.at_least)).verdict(
        met,
        Some(rate),
        Some(count),
        detail,
    )
}

/// After the fault's end, the first second from which every second's
/// percentile stays under the bound; met when that comes within `within`.
fn recovery(o: &crate::scenario::model::RecoveryObjective, data: &RunData) -> Judged {
    let s = &data.summary;
    let sel = Selector::of(o.step.as_ref(), o.journey.as_deref(), o.channel.as_ref());
    let bound = o.within.as_secs_f64();
    let what = format!(
        "recovery of p{} of {} after {}",
        o.p,
        sel.describe(),
        o.fault
    );
    let judging = Judging::new(
        bound,
        "s",
        format!("{what} under {} within {}", o.at_most, o.within),
    );
    let Some(fault) = s.timeline.faults.iter().find(|f| f.name == o.fault) else {
        return judging.unjudged(None, None, format!("{what}: the fault is not in this run"));
    };
    let end = fault.removed_s.unwrap_or(fault.end_s);
    let limit = o.at_most.0.as_micros() as f64;
    let seconds: Vec<(u64, f64)> = data
        .per_second(|tag| sel.latency_tag(tag, s))
        .into_iter()
        .filter(|(sec, h)| *sec as f64 >= end.floor() && !h.is_empty())
        .map(|(sec, h)| (sec, percentile(&h, o.p)))
        .collect();
    if seconds.is_empty() {
        return judging.unjudged(
            None,
            Some(0),
            format!("{what}: no requests after the fault ended"),
        );
    }
    // The last second over the bound; recovery comes right after it.
    let last_bad = seconds
        .iter()
        .rev()
        .find(|(_, v)| *v > limit)
        .map(|(sec, _)| *sec);
    let recovered_at = match last_bad {
        None => end,
        Some(sec) if sec == seconds.last().expect("not empty").0 => f64::INFINITY,
        Some(sec) => sec as f64 + 1.0,
    };
    let took = (recovered_at - end).max(0.0);
    let met = took <= bound;
    let detail = if took.is_infinite() {
        format!("{what}: still over {} at the end of the run", o.at_most)
    } else {
        format!(
            "{what}: back under {} {took:.0}s after it ended {} {}",
            o.at_most,
            relation(met, true),
            o.within
        )
    };
    judging.verdict(
        met,
        took.is_finite().then_some(took),
        Some(seconds.len() as u64),
        detail,
    )
}

fn ledger(o: &crate::scenario::model::LedgerObjective, s: &Summary) -> Judged {
    let name = serde_json::to_value(o.counter)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let judging = Judging::new(o.at_most as f64, "count", format!("{name} ≤ {}", o.at_most));
    let Some(snapshot) = &s.ledger else {
        return judging.unjudged(None, None, no_ledger(&name));
    };
    let value = snapshot.counters.get(o.counter);
    let met = value <= o.at_most;
    let detail = format!("{name}: {value} {} {}", relation(met, true), o.at_most);
    judging.verdict(met, Some(value as f64), None, detail)
}

fn no_ledger(name: &str) -> String {
    format!("{name}: the run has no ledger (the target was not the twin)")
}

fn invariant(i: Invariant, s: &Summary) -> Judged {
    let name = serde_json::to_value(i)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let judging = Judging::new(1.0, "bool", format!("invariant {name}"));
    let Some(snapshot) = &s.ledger else {
        return judging.unjudged(None, None, no_ledger(&name));
    };
    let verdict = snapshot.counters.verdict(i);
    let detail = format!(
        "{name}: {} ({})",
        if verdict.holds { "holds" } else { "broken" },
        verdict.detail
    );
    let measured = if verdict.holds { 1.0 } else { 0.0 };
    judging.verdict(verdict.holds, Some(measured), None, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_need_a_sample_beyond_them() {
        assert_eq!(default_min_samples(50.0), 2);
        assert_eq!(default_min_samples(90.0), 10);
        assert_eq!(default_min_samples(99.0), 100);
        assert_eq!(default_min_samples(99.9), 1000);
        assert_eq!(default_min_samples(100.0), 1);
    }
}
