//! Stopping a doomed run: the gate's decider (`gate::early`) fed with
//! each recorded second, and the run stopped at its first decision. Here
//! only what the decider needs from the plan and the schedule (each
//! step's most requests per applicant, this process's arrivals per
//! second) and the observer that hands it each second.

use std::sync::Arc;

use super::control::Control;
use super::plan::Plan;
use crate::gate::early::{Decider, Plan as EarlyPlan, PlannedStep, Policy, Tick};
use crate::recorder::observe::{Observer, Second};
use crate::scenario::Scenario;
use crate::schedule::{Schedule, Shard};

/// The observer that stops the run when an objective is decided missed,
/// when `policy` lets one.
pub fn observer(
    scenario: &Scenario,
    plan: &Plan,
    shard: Shard,
    time_factor: f64,
    policy: Policy,
    control: &Arc<Control>,
    announce: bool,
) -> Option<Box<dyn Observer>> {
    let objectives = &scenario.file.objectives;
    if !objectives.iter().any(|o| Decider::watches(o, policy)) {
        return None;
    }
    let decider = Decider::new(
        objectives,
        policy,
        early_plan(scenario, plan, shard, time_factor),
    )?;
    Some(Box::new(EarlyStop {
        decider,
        control: control.clone(),
        told: false,
        announce,
    }))
}

/// What the decider knows before the run.
fn early_plan(scenario: &Scenario, plan: &Plan, shard: Shard, time_factor: f64) -> EarlyPlan {
    let timeline = &scenario.timeline;
    let total_s = timeline.total.as_secs_f64();
    let mut arrivals = vec![vec![0u64; total_s.ceil() as usize + 1]; plan.journeys.len()];
    for a in Schedule::new(scenario, shard) {
        let second = a.at.as_secs() as usize;
        if let Some(slot) = arrivals.get_mut(a.journey) {
            if slot.len() <= second {
                slot.resize(second + 1, 0);
            }
            slot[second] += 1;
        }
    }
    EarlyPlan {
        steps: plan
            .steps
            .iter()
            .map(|s| {
                let attempts = u64::from(plan.journeys[s.journey].attempts.max(1));
                let polls = s
                    .poll
                    .as_ref()
                    .filter(|_| s.until.is_some())
                    .map_or(1, |p| {
                        let every = p.every.0.as_secs_f64().max(1e-3);
                        (p.timeout.0.as_secs_f64() / every).floor() as u64 + 1
                    });
                PlannedStep {
                    label: s.label.clone(),
                    channel: s.channel.clone(),
                    journey: s.journey,
                    max_requests: attempts.saturating_mul(polls),
                }
            })
            .collect(),
        journeys: plan.journeys.iter().map(|j| j.name.to_string()).collect(),
        arrivals,
        phases: timeline
            .phases
            .iter()
            .map(|p| (p.name.clone(), p.start.as_secs_f64(), p.end.as_secs_f64()))
            .collect(),
        faults: timeline
            .faults
            .iter()
            .map(|f| (f.name.clone(), f.start.as_secs_f64(), f.end.as_secs_f64()))
            .collect(),
        total_s,
        time_factor,
    }
}

struct EarlyStop {
    decider: Decider,
    control: Arc<Control>,
    told: bool,
    /// Say so on the terminal (not for a capacity trial, whose line
    /// says it).
    announce: bool,
}

impl Observer for EarlyStop {
    fn second(&mut self, s: &Second<'_>) {
        if self.told {
            return;
        }
        let tick = Tick {
            second: s.second,
            steps: s.steps,
            latency: s.latency,
            journeys: s.journeys,
            journey_time: s.journey_time,
            faults: s.faults,
        };
        let Some(d) = self.decider.second(&tick) else {
            return;
        };
        self.told = true;
        let why = crate::summary::StoppedEarly {
            objective: d.name,
            kind: d.kind.to_string(),
            index: d.index,
            at_s: d.at_s,
            detail: d.detail,
        };
        let line = format!(
            "\nsurge: stopping early at {}s: objective `{}` is missed whatever the rest of the run does: {}",
            why.at_s, why.objective, why.detail
        );
        if self.control.stop_early(why) && self.announce {
            eprintln!("{line}");
        }
    }
}
