//! Stopping a doomed run early: while a run goes, decides, second by
//! second, whether an objective with `stop_early` is missed whatever the
//! rest of the run does. Never "failing so far": each rule compares what
//! has already gone wrong with the most the plan could still bring.
//!
//! - latency: the samples over the bound already exceed what the
//!   percentile allows of every sample the window could still hold (those
//!   so far, plus each unfinished or still-scheduled applicant's most
//!   requests: every try of every step, every poll up to its timeout);
//! - error rate: the failures exceed the bound's share of that most;
//! - goodput: more planned arrivals already failed, came late or were
//!   dropped than the bound leaves room for;
//! - error budget: a pair of windows breached (a breach is for good);
//! - an objective of a phase or fault window is judged exactly once its
//!   window is over, as the most to come is then zero.
//!
//! Each rule implies the gate's own verdict on the run folder, so a run
//! stopped for an objective is judged missing it. The runner feeds
//! [`Decider::second`] from the recorder's flush; this module only
//! counts and decides.

use hdrhistogram::Histogram;

use crate::folder::{JourneyCounts, Outcome, StepCounts};
use crate::scenario::model::{ErrorClass, Objective};

use super::burn::Burner;
use super::{Selector, journey_ends, pct};

/// What the decider knows of the run before it starts.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    /// Journey names, in the recorder's order.
    pub journeys: Vec<String>,
    /// Per journey, this process's arrivals per second of the schedule.
    pub arrivals: Vec<Vec<u64>>,
    /// Phases: (name, start, end), seconds.
    pub phases: Vec<(String, f64, f64)>,
    /// Fault windows as planned: (name, start, end), seconds.
    pub faults: Vec<(String, f64, f64)>,
    /// The schedule's length, seconds.
    pub total_s: f64,
    /// How `--duration` scaled the timeline.
    pub time_factor: f64,
}

/// A step as the decider needs it.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    /// `JOURNEY.STEP`.
    pub label: String,
    pub channel: String,
    /// Index into `Plan::journeys`.
    pub journey: usize,
    /// The most requests one applicant can send on it: every try, every
    /// poll up to the poll's timeout.
    pub max_requests: u64,
}

/// One recorded second, as the flush hands it out.
pub struct Tick<'a> {
    pub second: u64,
    /// Per step, in `Plan::steps` order.
    pub steps: &'a [StepCounts],
    pub latency: &'a [Histogram<u64>],
    /// Per journey, in `Plan::journeys` order.
    pub journeys: &'a [JourneyCounts],
    /// Times of the journeys completed in the second.
    pub journey_time: &'a [Histogram<u64>],
    /// Faults on during the second.
    pub faults: &'a [&'a str],
}

/// An objective decided missed, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Index into the scenario's objectives.
    pub index: usize,
    pub name: String,
    pub kind: &'static str,
    /// Seconds into the schedule when it was acted on.
    pub at_s: f64,
    pub detail: String,
}

/// Which objectives may stop the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Those with `stop_early: true`.
    AsWritten,
    /// Every objective the rules can decide (capacity trials: a trial
    /// decided failed says all it will).
    All,
    /// None (`--no-stop-early`).
    Never,
}

/// The share of the schedule before which no objective stops a run
/// unless its `not_before` says otherwise.
pub const DEFAULT_NOT_BEFORE: f64 = 0.10;

/// Decides, each second, whether a watched objective is missed for good.
pub struct Decider {
    plan: Plan,
    watches: Vec<Watch>,
    /// Per journey, counts over every second so far.
    totals: Vec<JourneyCounts>,
    decided: Option<Decision>,
}

struct Watch {
    index: usize,
    name: String,
    kind: &'static str,
    not_before_s: f64,
    steps: Vec<bool>,
    journeys: Vec<bool>,
    /// Whether the objective is of journeys (times, ends) rather than
    /// requests.
    of_journeys: bool,
    window: Window,
    rule: Rule,
}

/// The seconds an objective looks at, as the run reports them.
struct Window {
    phase: Option<(f64, f64)>,
    fault: Option<String>,
    outside_faults: bool,
    /// No second after this one is in it (seconds, exclusive).
    end_s: f64,
}

enum Rule {
    Latency {
        p: f64,
        bound_us: f64,
        min_samples: u64,
        samples: u64,
        misses: u64,
    },
    ErrorRate {
        bound: f64,
        classes: Vec<ErrorClass>,
        bad: u64,
        events: u64,
    },
    Goodput {
        bound: f64,
    },
    Budget(
        Box<Burner>,
        Box<crate::scenario::model::ErrorBudgetObjective>,
    ),
}

/// Slack after a fault's planned end before its window counts as over:
/// the fault is lifted by a driver, not by the clock.
const FAULT_SLACK_S: f64 = 2.0;

impl Decider {
    /// A decider of `objectives` under `policy`; `None` when none is
    /// watched.
    pub fn new(objectives: &[Objective], policy: Policy, plan: Plan) -> Option<Decider> {
        let watches: Vec<Watch> = objectives
            .iter()
            .enumerate()
            .filter_map(|(i, o)| watch(i, o, policy, &plan))
            .collect();
        if watches.is_empty() {
            return None;
        }
        Some(Decider {
            totals: vec![JourneyCounts::default(); plan.journeys.len()],
            plan,
            watches,
            decided: None,
        })
    }

    /// Whether `policy` lets objective `o` stop a run and a rule can
    /// decide it.
    pub fn watches(o: &Objective, policy: Policy) -> bool {
        let decidable = matches!(
            o,
            Objective::Latency(_)
                | Objective::ErrorRate(_)
                | Objective::Goodput(_)
                | Objective::ErrorBudget(_)
        );
        decidable
            && match policy {
                Policy::Never => false,
                Policy::All => true,
                Policy::AsWritten => o.stop_early().is_some(),
            }
    }

    /// The objectives it watches, by index.
    pub fn watched(&self) -> Vec<usize> {
        self.watches.iter().map(|w| w.index).collect()
    }

    /// Takes in one second; the first decision once one is due (again at
    /// every later second).
    pub fn second(&mut self, t: &Tick<'_>) -> Option<Decision> {
        if self.decided.is_some() {
            return self.decided.clone();
        }
        for (total, c) in self.totals.iter_mut().zip(t.journeys) {
            total.add(c);
        }
        let now_s = t.second as f64 + 1.0;
        for i in 0..self.watches.len() {
            let future = self.future(&self.watches[i], t.second);
            let w = &mut self.watches[i];
            let verdict = w.take(t, &self.plan, &self.totals, future);
            if let Some(detail) = verdict
                && now_s >= w.not_before_s
            {
                self.decided = Some(Decision {
                    index: w.index,
                    name: w.name.clone(),
                    kind: w.kind,
                    at_s: now_s,
                    detail,
                });
                break;
            }
        }
        self.decided.clone()
    }

    /// The most samples (or events) `w` could still receive after second
    /// `second`: each selected journey's applicants not yet ended (and
    /// still to be scheduled before the window's end), times the most
    /// requests one sends on the selected steps (1 for journeys).
    fn future(&self, w: &Watch, second: u64) -> u64 {
        if second as f64 + 1.0 >= w.window.end_s {
            return 0;
        }
        let mut per_journey = vec![0u64; self.plan.journeys.len()];
        if w.of_journeys {
            for (j, on) in w.journeys.iter().enumerate() {
                per_journey[j] = u64::from(*on);
            }
        } else {
            for (s, on) in w.steps.iter().enumerate() {
                if *on {
                    let step = &self.plan.steps[s];
                    per_journey[step.journey] += step.max_requests;
                }
            }
        }
        per_journey
            .iter()
            .enumerate()
            .filter(|(_, m)| **m > 0)
            .map(|(j, m)| self.remaining(j, w.window.end_s).saturating_mul(*m))
            .fold(0u64, u64::saturating_add)
    }

    /// Applicants of journey `j` not yet ended: in flight, queued, or
    /// scheduled to arrive before `end_s`.
    fn remaining(&self, j: usize, end_s: f64) -> u64 {
        let c = &self.totals[j];
        let planned = planned_before(&self.plan.arrivals[j], end_s).max(c.scheduled);
        let ended: u64 = c.finished.iter().sum::<u64>() + c.dropped;
        planned.saturating_sub(ended)
    }
}

/// Arrivals in seconds that begin before `end_s`.
fn planned_before(per_second: &[u64], end_s: f64) -> u64 {
    let n = if end_s.is_finite() {
        (end_s.max(0.0).ceil() as usize).min(per_second.len())
    } else {
        per_second.len()
    };
    per_second[..n].iter().sum()
}

impl Watch {
    /// Adds second `t` and says, if the objective is now decided missed,
    /// why.
    fn take(
        &mut self,
        t: &Tick<'_>,
        plan: &Plan,
        totals: &[JourneyCounts],
        future: u64,
    ) -> Option<String> {
        let inside = self.window.contains(t.second, t.faults);
        let (of_journeys, journeys, steps) = (self.of_journeys, &self.journeys, &self.steps);
        let counted =
            |classes: &[ErrorClass]| second_events(t, of_journeys, (journeys, steps), classes);
        match &mut self.rule {
            Rule::Latency {
                p,
                bound_us,
                min_samples,
                samples,
                misses,
            } => {
                if inside {
                    let hs: Box<dyn Iterator<Item = &Histogram<u64>>> = if self.of_journeys {
                        Box::new(pick(t.journey_time, &self.journeys))
                    } else {
                        Box::new(pick(t.latency, &self.steps))
                    };
                    for h in hs {
                        *samples += h.len();
                        *misses += over(h, *bound_us);
                    }
                }
                let most = *samples + future;
                let allowed = (1.0 - *p / 100.0) * most as f64;
                (*samples >= *min_samples && *misses as f64 > allowed + 1e-9 * most as f64).then(
                    || {
                        format!(
                            "{}: {} samples over {} of at most {most} it can hold ({} so far, up to {future} to come), more than the {}% the p{} allows",
                            self.name,
                            misses,
                            crate::human::ms_fine(*bound_us),
                            samples,
                            trim(100.0 - *p),
                            p
                        )
                    },
                )
            }
            Rule::ErrorRate {
                bound,
                classes,
                bad,
                events,
            } => {
                if inside {
                    let (b, e) = counted(classes);
                    *bad += b;
                    *events += e;
                }
                let most = *events + future;
                (*bad > 0 && *bad as f64 > *bound * most as f64).then(|| {
                    format!(
                        "{}: {} failed of at most {most} ({} so far, up to {future} to come): {} even if every other succeeds, over {}",
                        self.name,
                        bad,
                        events,
                        pct(*bad as f64 / most.max(1) as f64),
                        pct(*bound)
                    )
                })
            }
            Rule::Goodput { bound } => {
                let mut planned = 0u64;
                let mut bad = 0u64;
                for (j, on) in self.journeys.iter().enumerate() {
                    if !*on {
                        continue;
                    }
                    let c = &totals[j];
                    planned += planned_before(&plan.arrivals[j], f64::INFINITY).max(c.scheduled);
                    let ended: u64 = c.finished.iter().sum();
                    bad += ended - c.finished[Outcome::CompletedInTime.index()];
                    bad += c.dropped.saturating_sub(c.data_exhausted);
                }
                let best = planned.saturating_sub(bad) as f64 / planned.max(1) as f64;
                (planned > 0 && best < *bound).then(|| {
                    format!(
                        "{}: {bad} of the {planned} planned arrivals already failed, gave up, came late or were dropped: at most {} can complete in time, under {}",
                        self.name,
                        pct(best),
                        pct(*bound)
                    )
                })
            }
            Rule::Budget(burner, o) => {
                let (bad, total) = counted(&[]);
                burner.push(t.second, bad, total)?;
                Some(
                    super::burn::verdict(o, burner, plan.time_factor)
                        .detail
                        .replacen(&super::burn::what(o), &self.name, 1),
                )
            }
        }
    }
}

/// A second's (bad, all) events of a selection (`journeys` and `steps`
/// masks): its journeys' ends, or its steps' requests, failed in
/// `classes` (every class when empty).
fn second_events(
    t: &Tick<'_>,
    of_journeys: bool,
    (journeys, steps): (&[bool], &[bool]),
    classes: &[ErrorClass],
) -> (u64, u64) {
    let add = |(a, b): (u64, u64), (c, d): (u64, u64)| (a + c, b + d);
    if of_journeys {
        pick(t.journeys, journeys)
            .map(journey_ends)
            .fold((0, 0), add)
    } else {
        pick(t.steps, steps)
            .map(|c| (crate::rundata::failures(c, classes), c.requests))
            .fold((0, 0), add)
    }
}

/// The items of `all` whose mask is on.
fn pick<'a, T>(all: &'a [T], mask: &'a [bool]) -> impl Iterator<Item = &'a T> + 'a {
    all.iter().zip(mask).filter(|(_, on)| **on).map(|(x, _)| x)
}

/// Samples of `h` reported over `bound_us`: the gate compares each
/// percentile's reported (highest equivalent) value with the bound.
fn over(h: &Histogram<u64>, bound_us: f64) -> u64 {
    h.iter_recorded()
        .filter(|v| v.value_iterated_to() as f64 > bound_us)
        .map(|v| v.count_at_value())
        .sum()
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Window {
    fn contains(&self, second: u64, faults_on: &[&str]) -> bool {
        let (a, b) = (second as f64, second as f64 + 1.0);
        if let Some((start, end)) = self.phase
            && !(a < end && b > start)
        {
            return false;
        }
        if let Some(f) = &self.fault
            && !faults_on.contains(&f.as_str())
        {
            return false;
        }
        !self.outside_faults || faults_on.is_empty()
    }
}

/// The watch of objective `i`, when `policy` lets it stop the run and a
/// rule can decide it.
fn watch(i: usize, o: &Objective, policy: Policy, plan: &Plan) -> Option<Watch> {
    let not_before = match (policy, o.stop_early()) {
        (Policy::Never, _) => return None,
        (_, Some(nb)) => nb,
        (Policy::All, None) => None,
        (Policy::AsWritten, None) => return None,
    };
    let not_before_s = not_before.map_or(plan.total_s * DEFAULT_NOT_BEFORE, |d| d.as_secs_f64());
    let no_window = || Window {
        phase: None,
        fault: None,
        outside_faults: false,
        end_s: f64::INFINITY,
    };
    let (sel, window, rule, name, kind) = match o {
        Objective::Latency(x) => (
            Selector::of(x.step.as_ref(), x.journey.as_deref(), x.channel.as_ref()),
            window(plan, x.during.as_deref(), x.outside_faults),
            Rule::Latency {
                p: x.p,
                bound_us: x.at_most.0.as_micros() as f64,
                min_samples: super::min_samples(x),
                samples: 0,
                misses: 0,
            },
            x.name.as_ref().map_or_else(
                || format!("{} ≤ {}", super::latency_what(x), x.at_most),
                |n| n.to_string(),
            ),
            "latency",
        ),
        Objective::ErrorRate(x) => (
            Selector::of(x.step.as_ref(), x.journey.as_deref(), x.channel.as_ref()),
            window(plan, x.during.as_deref(), x.outside_faults),
            Rule::ErrorRate {
                bound: x.at_most.fraction(),
                classes: x.classes.clone(),
                bad: 0,
                events: 0,
            },
            x.name.as_ref().map_or_else(
                || format!("{} ≤ {}", super::error_rate_what(x), x.at_most),
                |n| n.to_string(),
            ),
            "error_rate",
        ),
        Objective::Goodput(x) => (
            x.journey
                .as_deref()
                .map_or(Selector::All, Selector::Journey),
            no_window(),
            Rule::Goodput {
                bound: x.at_least.fraction(),
            },
            x.name.as_ref().map_or_else(
                || format!("{} ≥ {}", super::goodput_what(x), x.at_least),
                |n| n.to_string(),
            ),
            "goodput",
        ),
        Objective::ErrorBudget(x) => (
            super::burn::selector(x),
            no_window(),
            Rule::Budget(
                Box::new(Burner::new(x, plan.time_factor)),
                Box::new(x.clone()),
            ),
            x.name
                .as_ref()
                .map_or_else(|| super::burn::what(x), |n| n.to_string()),
            "error_budget",
        ),
        _ => return None,
    };
    // A goodput counts journeys of every journey when none is named.
    let of_journeys = matches!(sel, Selector::Journey(_)) || matches!(o, Objective::Goodput(_));
    let journeys = plan
        .journeys
        .iter()
        .map(|j| match &sel {
            Selector::Journey(name) => name == j,
            _ => of_journeys,
        })
        .collect();
    let steps = plan
        .steps
        .iter()
        .map(|s| sel.step_with(&s.label, &s.channel))
        .collect();
    Some(Watch {
        index: i,
        name,
        kind,
        not_before_s,
        steps,
        journeys,
        of_journeys,
        window,
        rule,
    })
}

/// The window of `during` / `outside_faults` in `plan`.
fn window(plan: &Plan, during: Option<&str>, outside_faults: bool) -> Window {
    let mut w = Window {
        phase: None,
        fault: None,
        outside_faults,
        end_s: f64::INFINITY,
    };
    if let Some(name) = during {
        if let Some((_, start, end)) = plan.phases.iter().find(|p| p.0 == name) {
            w.phase = Some((*start, *end));
            w.end_s = *end;
        } else if let Some((_, _, end)) = plan.faults.iter().find(|f| f.0 == name) {
            w.fault = Some(name.to_string());
            w.end_s = end + FAULT_SLACK_S;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::Objective;

    fn objectives(yaml: &str) -> Vec<Objective> {
        let value: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
        serde_json::from_value(value).unwrap()
    }

    /// One journey `a` with one step `a.get` (at most 3 requests an
    /// applicant), 100 arrivals in second 0 of a 10 s schedule.
    fn plan() -> Plan {
        Plan {
            steps: vec![PlannedStep {
                label: "a.get".into(),
                channel: "storefront".into(),
                journey: 0,
                max_requests: 3,
            }],
            journeys: vec!["a".into()],
            arrivals: vec![vec![100]],
            phases: vec![("all".into(), 0.0, 10.0)],
            faults: vec![],
            total_s: 10.0,
            time_factor: 1.0,
        }
    }

    /// Second `second` in which `finished` journeys ended as `outcome`
    /// (all 100 scheduled in second 0), with `requests` of which `failed`
    /// failed, `slow` of them at 2 s and the rest at 10 ms.
    fn feed(
        d: &mut Decider,
        second: u64,
        (finished, outcome): (u64, Outcome),
        (requests, failed, slow): (u64, u64, u64),
    ) -> Option<Decision> {
        let mut j = JourneyCounts {
            scheduled: if second == 0 { 100 } else { 0 },
            started: if second == 0 { 100 } else { 0 },
            ..Default::default()
        };
        j.finished[outcome.index()] = finished;
        let mut st = StepCounts {
            requests,
            ok: requests - failed,
            ..Default::default()
        };
        st.failures[ErrorClass::Http5xx.index()] = failed;
        let mut h = crate::folder::histogram();
        h.record_n(10_000, requests - slow).unwrap();
        h.record_n(2_000_000, slow).unwrap();
        let none = crate::folder::histogram();
        d.second(&Tick {
            second,
            steps: &[st],
            latency: &[h],
            journeys: &[j],
            journey_time: &[none],
            faults: &[],
        })
    }

    #[test]
    fn goodput_is_decided_only_once_the_bound_cannot_be_reached() {
        let o = objectives("- goodput: { at_least: 90%, stop_early: true, not_before: 1s }");
        let mut d = Decider::new(&o, Policy::AsWritten, plan()).unwrap();
        // 10 of 100 failed: 90% is still reachable.
        assert_eq!(feed(&mut d, 0, (10, Outcome::Failed), (10, 10, 0)), None);
        assert_eq!(
            feed(&mut d, 1, (80, Outcome::CompletedInTime), (80, 0, 0)),
            None
        );
        // One more, late: 89% at best.
        let x = feed(&mut d, 2, (1, Outcome::CompletedLate), (1, 0, 0)).unwrap();
        assert_eq!((x.index, x.kind, x.at_s), (0, "goodput", 3.0));
        assert!(x.detail.contains("11 of the 100 planned"), "{}", x.detail);
    }

    #[test]
    fn request_budgets_count_every_try_still_possible_and_wait_for_not_before() {
        // 100 applicants, at most 3 requests each: 300. 1% allows 3.
        let o = objectives("- error_rate: { at_most: 1%, stop_early: true, not_before: 5s }");
        let mut d = Decider::new(&o, Policy::AsWritten, plan()).unwrap();
        // 3 failures in the first 3 requests: within the most it allows.
        assert_eq!(feed(&mut d, 0, (0, Outcome::Failed), (3, 3, 0)), None);
        // A fourth: decided, but not before 5 s.
        assert_eq!(feed(&mut d, 1, (0, Outcome::Failed), (1, 1, 0)), None);
        assert_eq!(feed(&mut d, 3, (0, Outcome::Failed), (0, 0, 0)), None);
        let x = feed(&mut d, 4, (0, Outcome::Failed), (0, 0, 0)).unwrap();
        assert_eq!(x.at_s, 5.0);
        // Under Never nothing is watched; under All even without
        // stop_early.
        assert!(Decider::new(&o, Policy::Never, plan()).is_none());
        let quiet = objectives("- error_rate: { at_most: 1% }");
        assert!(Decider::new(&quiet, Policy::AsWritten, plan()).is_none());
        assert!(Decider::new(&quiet, Policy::All, plan()).is_some());
    }

    #[test]
    fn a_latency_percentile_is_decided_on_the_most_samples_the_window_can_hold() {
        // p90 of a.get during `all`: those so far plus 300 possible
        // (requests of applicants still running count again: it is a
        // bound), so 33 slow of 333 may still pass, 34 of 334 not.
        let o = objectives(
            "- latency: { step: a.get, p: 90, at_most: 1s, during: all, stop_early: true, not_before: 0s }",
        );
        let mut d = Decider::new(&o, Policy::AsWritten, plan()).unwrap();
        assert_eq!(feed(&mut d, 0, (0, Outcome::Failed), (33, 0, 33)), None);
        let x = feed(&mut d, 1, (0, Outcome::Failed), (1, 0, 1)).unwrap();
        assert!(x.detail.contains("34 samples over"), "{}", x.detail);
        // Once the window is over, nothing more can come: 2 slow of 10
        // decide a p90 that 2 of 300 possible could not.
        let mut d = Decider::new(&o, Policy::AsWritten, plan()).unwrap();
        for s in 0..9 {
            assert_eq!(feed(&mut d, s, (0, Outcome::Failed), (0, 0, 0)), None);
        }
        assert!(feed(&mut d, 9, (100, Outcome::CompletedInTime), (10, 0, 2)).is_some());
    }
}
