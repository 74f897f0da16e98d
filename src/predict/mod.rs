//! `surge predict`: capacity before load. A queueing model of the scenario
//! against the twin's configuration, evaluated without sending a request:
//! each capped resource's utilisation per phase (the signing pool, the
//! waiting room's admissions, the generator's own users), the bottleneck,
//! predicted latency per step and journey, when each finite stock runs
//! out, the scenario's objectives judged on the model, and the predicted
//! capacity: the highest scale at which every objective the model can
//! judge holds. The model's approximations are listed in every output.
//! It reads only the scenario; it runs nothing.

mod judge;
mod model;
pub mod queue;
mod simulate;
mod work;

use serde::Serialize;

use crate::scenario::Scenario;

pub use judge::Predicted;
use model::Model;
pub use model::ModelError;
use simulate::Evaluation;

/// What the model leaves out or simplifies, said with every prediction.
pub const APPROXIMATIONS: &[&str] = &[
    "signing pool: M/G/c (Erlang C with the Allen-Cunneen factor for the log-normal service \
     time's variability), its waiting line bounded as written and its waits exponential in the \
     tail; steady state within each stretch, a fluid backlog across stretches",
    "waiting room: a single deterministic server at the admission rate (M/D/1), the same \
     backlog rule",
    "generator users (max_in_flight, split by the mix as the runner splits it): M/M/c per \
     journey with its mean journey time as service time",
    "HTTP: every uncapped request takes 150 µs plus 2 ns per body byte (loopback, the twin in \
     the same process); the twin's timer adds up to 1 ms to each service time",
    "retries add no load to the queues they retry against; faults on the timeline are not \
     modelled",
];

/// Each capped resource at one stretch of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceUse {
    pub resource: String,
    /// Offered load over capacity, at the phase's busiest stretch.
    pub utilisation: f64,
    /// Mean wait from a backlog (overload), at that stretch, in ms.
    pub backlog_wait_ms: f64,
    /// Share of its requests refused at that stretch.
    pub refused: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PhaseUse {
    pub phase: String,
    pub peak_arrivals_per_s: f64,
    pub resources: Vec<ResourceUse>,
    pub bottleneck: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepPrediction {
    pub step: String,
    pub channel: String,
    /// The resource whose wait this step shows.
    pub resource: String,
    /// A polling step's interval.
    pub poll_every_ms: Option<f64>,
    pub requests: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_rate: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct JourneyPrediction {
    pub journey: String,
    pub arrivals: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub completed_in_time: f64,
    pub completed_late: f64,
    pub failed: f64,
    pub abandoned: f64,
    pub dropped: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct StockPrediction {
    pub stock: String,
    pub size: f64,
    /// Seconds from the start; `None`: lasts the run.
    pub runs_out_at_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CapacityPrediction {
    /// The highest scale at which every predicted objective holds.
    pub scale: f64,
    /// The busiest stretch's arrivals per second at that scale.
    pub peak_arrivals_per_s: f64,
    /// The first objective to fail just above it.
    pub limited_by: String,
    /// The resource with the highest utilisation at that scale.
    pub bottleneck: String,
}

/// `predict.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    pub format: &'static str,
    pub version: u32,
    pub scenario: String,
    pub scale: f64,
    pub duration_s: f64,
    /// Capacity of each capped resource in its own requests per second.
    pub resource_capacity_per_s: Vec<(String, f64)>,
    pub phases: Vec<PhaseUse>,
    pub bottleneck: String,
    pub steps: Vec<StepPrediction>,
    pub journeys: Vec<JourneyPrediction>,
    pub stocks: Vec<StockPrediction>,
    pub objectives: Vec<Predicted>,
    /// `None` when no objective can be predicted or no scale passes.
    pub capacity: Option<CapacityPrediction>,
    pub capacity_note: Option<String>,
    pub approximations: Vec<&'static str>,
}

/// Predicts `scenario` (overrides applied) at its scale, and its capacity.
pub fn predict(scenario: &Scenario) -> Result<Prediction, ModelError> {
    let model = Model::of(scenario)?;
    let seed = scenario.file.seed;
    let objectives = &scenario.file.objectives;
    let scale = scenario.file.load.scale;
    let eval = simulate::evaluate(&model, scale, simulate::SAMPLES, seed);
    let (capacity, capacity_note) = match search(&model, objectives, scale, seed) {
        Ok(c) => (Some(c), None),
        Err(note) => (None, Some(note)),
    };
    Ok(Prediction {
        format: "surge-predict",
        version: 1,
        scenario: scenario.file.name.to_string(),
        scale,
        duration_s: scenario.timeline.total.as_secs_f64(),
        resource_capacity_per_s: capacities(&model),
        phases: phases(&model, &eval),
        bottleneck: peak(&model, &eval).1,
        steps: steps(&model, &eval),
        journeys: journeys(&model, &eval),
        stocks: model
            .stocks
            .iter()
            .zip(&eval.stock_out)
            .map(|(s, out)| StockPrediction {
                stock: s.name.clone(),
                size: s.size,
                runs_out_at_s: *out,
            })
            .collect(),
        objectives: judge::objectives(&model, objectives, &eval),
        capacity,
        capacity_note,
        approximations: APPROXIMATIONS.to_vec(),
    })
}

fn capacities(model: &Model) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = model
        .pools
        .iter()
        .map(|p| (p.name.clone(), p.station.capacity()))
        .collect();
    if let Some(r) = model.room {
        out.push(("waiting_room".into(), r.capacity()));
    }
    out
}

/// The resources of one evaluated stretch.
fn uses(model: &Model, r: &simulate::StretchResult) -> Vec<ResourceUse> {
    let one = |resource: &str, s: &queue::Stretch| ResourceUse {
        resource: resource.to_string(),
        utilisation: s.utilisation,
        backlog_wait_ms: s.backlog_wait * 1e3,
        refused: s.refused,
    };
    let mut out: Vec<ResourceUse> = model
        .pools
        .iter()
        .zip(&r.pools)
        .map(|(p, s)| one(&p.name, s))
        .collect();
    if let Some(room) = &r.room {
        out.push(one("waiting_room", room));
    }
    // The journey whose users are the busiest speaks for them all.
    if let Some(u) = r
        .users
        .iter()
        .max_by(|a, b| a.utilisation.total_cmp(&b.utilisation))
    {
        out.push(one("users", u));
    }
    out
}

fn busiest(resources: &[ResourceUse]) -> String {
    resources
        .iter()
        .max_by(|a, b| a.utilisation.total_cmp(&b.utilisation))
        .map_or("none".into(), |r| r.resource.clone())
}

fn phases(model: &Model, eval: &Evaluation) -> Vec<PhaseUse> {
    model
        .phases
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let top = eval
                .stretches
                .iter()
                .filter(|r| model.stretches[r.index].phase == i)
                .max_by(|a, b| {
                    let rate = |r: &simulate::StretchResult| model.stretches[r.index].rate;
                    rate(a).total_cmp(&rate(b))
                })?;
            let resources = uses(model, top);
            Some(PhaseUse {
                phase: name.clone(),
                peak_arrivals_per_s: model.stretches[top.index].rate * eval.scale,
                bottleneck: busiest(&resources),
                resources,
            })
        })
        .collect()
}

/// The busiest stretch's arrival rate and its most utilised resource.
fn peak(model: &Model, eval: &Evaluation) -> (f64, String) {
    eval.stretches
        .iter()
        .max_by(|a, b| {
            model.stretches[a.index]
                .rate
                .total_cmp(&model.stretches[b.index].rate)
        })
        .map_or((0.0, "none".into()), |r| {
            (
                model.stretches[r.index].rate * eval.scale,
                busiest(&uses(model, r)),
            )
        })
}

fn ms(v: Option<f64>) -> Option<f64> {
    v.map(|s| (s * 1e6).round() / 1e3)
}

fn steps(model: &Model, eval: &Evaluation) -> Vec<StepPrediction> {
    let mut out = Vec::new();
    for (ji, j) in model.journeys.iter().enumerate() {
        for (si, s) in j.steps.iter().enumerate() {
            let mut samples = Vec::new();
            let (mut requests, mut errors) = (0.0, 0.0);
            for r in &eval.stretches {
                let t = &r.steps[ji][si];
                samples.extend(t.latencies.iter().map(|l| (*l, t.weight)));
                requests += t.requests;
                errors += t.errors;
            }
            out.push(StepPrediction {
                step: s.label.clone(),
                channel: s.channel.clone(),
                resource: s.resource.clone(),
                poll_every_ms: s.poll.map(|(every, _)| every * 1e3),
                requests: requests.round(),
                p50_ms: ms(judge::percentile(&mut samples, 50.0)),
                p99_ms: ms(judge::percentile(&mut samples, 99.0)),
                error_rate: if requests > 0.0 {
                    errors / requests
                } else {
                    0.0
                },
            });
        }
    }
    out
}

fn journeys(model: &Model, eval: &Evaluation) -> Vec<JourneyPrediction> {
    model
        .journeys
        .iter()
        .enumerate()
        .map(|(ji, j)| {
            let mut samples = Vec::new();
            let mut p = JourneyPrediction {
                journey: j.name.clone(),
                arrivals: 0.0,
                p50_ms: None,
                p99_ms: None,
                completed_in_time: 0.0,
                completed_late: 0.0,
                failed: 0.0,
                abandoned: 0.0,
                dropped: 0.0,
            };
            for r in &eval.stretches {
                let t = &r.journeys[ji];
                samples.extend(t.durations.iter().map(|d| (*d, t.weight)));
                p.arrivals += t.arrivals;
                p.completed_in_time += t.in_time;
                p.completed_late += t.late;
                p.failed += t.failed;
                p.abandoned += t.abandoned;
                p.dropped += t.dropped;
            }
            p.p50_ms = ms(judge::percentile(&mut samples, 50.0));
            p.p99_ms = ms(judge::percentile(&mut samples, 99.0));
            p
        })
        .collect()
}

/// Whether every predicted objective holds at `scale`; the first that
/// fails otherwise.
fn holds(
    model: &Model,
    objectives: &[crate::scenario::model::Objective],
    scale: f64,
    seed: u64,
) -> Result<(), String> {
    let eval = simulate::evaluate(model, scale, SEARCH_SAMPLES, seed);
    match judge::objectives(model, objectives, &eval)
        .into_iter()
        .find(|o| o.met == Some(false))
    {
        Some(o) => Err(format!("{}: {}", o.name, o.detail)),
        None => Ok(()),
    }
}

/// Applicants per journey in each step of the capacity search.
const SEARCH_SAMPLES: usize = 8_000;
/// The search stops when its bracket is this narrow.
const RESOLUTION: f64 = 0.005;

/// The highest scale at which every predicted objective holds: doubling
/// or halving from `start` to a bracket, then bisecting it.
fn search(
    model: &Model,
    objectives: &[crate::scenario::model::Objective],
    start: f64,
    seed: u64,
) -> Result<CapacityPrediction, String> {
    let judged = objectives.iter().any(|o| {
        use crate::scenario::model::Objective::*;
        matches!(o, Latency(_) | ErrorRate(_) | Goodput(_) | Throughput(_))
    });
    if !judged {
        return Err(
            "no objective the model can judge (latency, error_rate, goodput, \
                    throughput): add one to predict a capacity"
                .into(),
        );
    }
    let start = if start > 0.0 && start.is_finite() {
        start
    } else {
        1.0
    };
    let (mut lo, mut hi, mut why);
    match holds(model, objectives, start, seed) {
        Ok(()) => {
            lo = start;
            hi = start * 2.0;
            loop {
                match holds(model, objectives, hi, seed) {
                    Err(w) => {
                        why = w;
                        break;
                    }
                    Ok(()) if hi > start * 1e9 => {
                        return Err("every objective holds at a billion times the scenario's \
                                    scale: nothing in the model limits it"
                            .into());
                    }
                    Ok(()) => {
                        lo = hi;
                        hi *= 2.0;
                    }
                }
            }
        }
        Err(w) => {
            why = w;
            hi = start;
            lo = start / 2.0;
            loop {
                match holds(model, objectives, lo, seed) {
                    Ok(()) => break,
                    Err(w) if lo < start * 1e-6 => {
                        return Err(format!(
                            "no scale down to a millionth of the scenario's passes: {w}"
                        ));
                    }
                    Err(w) => {
                        why = w;
                        hi = lo;
                        lo /= 2.0;
                    }
                }
            }
        }
    }
    while (hi - lo) / lo > RESOLUTION {
        let mid = (lo + hi) / 2.0;
        match holds(model, objectives, mid, seed) {
            Ok(()) => lo = mid,
            Err(w) => {
                hi = mid;
                why = w;
            }
        }
    }
    let eval = simulate::evaluate(model, lo, SEARCH_SAMPLES, seed);
    let (peak_arrivals_per_s, bottleneck) = peak(model, &eval);
    Ok(CapacityPrediction {
        scale: lo,
        peak_arrivals_per_s,
        limited_by: why,
        bottleneck,
    })
}

/// The prediction as a table for the terminal.
pub fn render(p: &Prediction) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} at scale {} ({:.0} s), predicted without load",
        p.scenario, p.scale, p.duration_s
    );
    let _ = writeln!(s, "\nresources (capacity in their own requests/s):");
    for (name, c) in &p.resource_capacity_per_s {
        let _ = writeln!(s, "  {name:<14} {c:>10.1}/s");
    }
    let _ = writeln!(
        s,
        "\nphase            arrivals/s  utilisation                  bottleneck"
    );
    for ph in &p.phases {
        let uses: Vec<String> = ph
            .resources
            .iter()
            .map(|r| format!("{} {:.0}%", r.resource, r.utilisation * 100.0))
            .collect();
        let _ = writeln!(
            s,
            "  {:<14} {:>10.1}  {:<28} {}",
            ph.phase,
            ph.peak_arrivals_per_s,
            uses.join(", "),
            ph.bottleneck
        );
    }
    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
    let _ = writeln!(
        s,
        "\nstep                              p50 ms    p99 ms   errors  waits on"
    );
    for st in &p.steps {
        let _ = writeln!(
            s,
            "  {:<30} {:>8} {:>9} {:>7.2}%  {}",
            st.step,
            fmt(st.p50_ms),
            fmt(st.p99_ms),
            st.error_rate * 100.0,
            st.resource
        );
    }
    let _ = writeln!(
        s,
        "\njourney                           p50 ms    p99 ms  in time"
    );
    for j in &p.journeys {
        let share = if j.arrivals > 0.0 {
            j.completed_in_time / j.arrivals * 100.0
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "  {:<30} {:>8} {:>9} {:>7.2}%",
            j.journey,
            fmt(j.p50_ms),
            fmt(j.p99_ms),
            share
        );
    }
    for st in &p.stocks {
        if let Some(at) = st.runs_out_at_s {
            let _ = writeln!(
                s,
                "\nstock {} ({}) runs out at {:.1} s",
                st.stock, st.size, at
            );
        }
    }
    let _ = writeln!(s, "\nobjectives at scale {}:", p.scale);
    for o in &p.objectives {
        let verdict = match o.met {
            Some(true) => "holds",
            Some(false) => "MISSED",
            None => "not predicted",
        };
        let _ = writeln!(s, "  {:<24} {:<14} {}", o.name, verdict, o.detail);
    }
    match (&p.capacity, &p.capacity_note) {
        (Some(c), _) => {
            let _ = writeln!(
                s,
                "\npredicted capacity: scale {:.3} ({:.1} arrivals/s at the peak), bottleneck {}\n  \
                 limited by {}",
                c.scale, c.peak_arrivals_per_s, c.bottleneck, c.limited_by
            );
        }
        (None, Some(note)) => {
            let _ = writeln!(s, "\npredicted capacity: none ({note})");
        }
        (None, None) => {}
    }
    let _ = writeln!(s, "\napproximations (README, \"Capacity before load\"):");
    for a in &p.approximations {
        let _ = writeln!(s, "  - {a}");
    }
    s
}
