//! The comparison `surge whatif` writes (`whatif.json`): for the scenario
//! as written and each variant, how the same arrivals ended, per channel
//! and in all, and for each variant the change in applicants who completed
//! before the deadline, with a 95% interval. Built from run folders only,
//! so it can be made again from them.

use serde::{Deserialize, Serialize};

use crate::gate::noise::{Share, difference};
use crate::rundata::RunData;
use crate::summary::{JourneySummary, StockOut};

/// `format` of `whatif.json`.
pub const FORMAT: &str = "surge-whatif";

/// Normal score of the intervals (95%).
const Z95: f64 = 1.96;

/// Name of the run of the scenario as written.
pub const BASELINE: &str = "baseline";

/// What `whatif.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    pub format: String,
    pub version: u32,
    pub scenario: String,
    /// The scenario file as given.
    pub file: String,
    pub seed: u64,
    pub scale: f64,
    /// How the timeline was stretched by `--duration` (1 when it was not).
    pub time_factor: f64,
    /// The deadline on the run's clock, seconds.
    pub deadline_s: f64,
    /// The baseline first, then each variant in the file's order.
    pub runs: Vec<RunResult>,
}

/// One run of the what-if.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    /// `baseline`, or the variant's name.
    pub name: String,
    pub description: String,
    /// Its run folder, relative to the what-if's folder.
    pub folder: String,
    /// The variant's `set:` entries as `PATH=VALUE` (none for the baseline).
    pub sets: Vec<String>,
    /// Whether the run was carried out to its end.
    pub carried_out: bool,
    /// Carried out and valid (the schedule was kept).
    pub valid: bool,
    /// Why it was not carried out, or not valid.
    pub problems: Vec<String>,
    /// The scenario's objectives on this run: `pass`, `fail` or `invalid`.
    pub objectives: Option<String>,
    /// Whether its scheduled arrivals, per second and journey, are the
    /// baseline's (`None` for the baseline itself).
    pub same_arrivals: Option<bool>,
    pub total: Outcomes,
    pub channels: Vec<ChannelResult>,
    pub journeys: Vec<JourneyTime>,
    /// Payments captured but not credited at the end (twin only).
    pub paid_not_credited: Option<u64>,
    /// Resellers whose stock ran out (twin only).
    pub stock_outs: Vec<StockOut>,
    /// Requests per started arrival, all journeys.
    pub retry_amplification: f64,
    /// Applicants done before the deadline against the baseline's.
    pub versus_baseline: Option<Change>,
    /// The one line that says what the change did.
    pub verdict: String,
    /// Journeys completed before the deadline in each second of the run.
    pub in_time_per_s: Vec<u64>,
    /// Journeys started and not yet ended at the end of each second.
    pub backlog: Vec<u64>,
}

/// How a group of arrivals ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    /// Scheduled arrivals.
    pub arrivals: u64,
    pub completed_in_time: u64,
    pub completed_late: u64,
    pub abandoned: u64,
    pub failed: u64,
    /// Dropped before starting, or unfinished when the run ended.
    pub other: u64,
}

impl Outcomes {
    fn of(j: &JourneySummary) -> Outcomes {
        let o = &j.outcomes;
        let ended = o.completed_in_time + o.completed_late + o.abandoned + o.failed;
        Outcomes {
            arrivals: j.scheduled,
            completed_in_time: o.completed_in_time,
            completed_late: o.completed_late,
            abandoned: o.abandoned,
            failed: o.failed,
            other: j.scheduled.saturating_sub(ended),
        }
    }

    /// The outcomes of `journeys` together.
    fn of_all<'a>(journeys: impl Iterator<Item = &'a JourneySummary>) -> Outcomes {
        journeys.fold(Outcomes::default(), |mut acc, j| {
            acc.add(Outcomes::of(j));
            acc
        })
    }

    fn add(&mut self, o: Outcomes) {
        self.arrivals += o.arrivals;
        self.completed_in_time += o.completed_in_time;
        self.completed_late += o.completed_late;
        self.abandoned += o.abandoned;
        self.failed += o.failed;
        self.other += o.other;
    }

    fn in_time(self) -> Share {
        Share {
            hits: self.completed_in_time,
            trials: self.arrivals,
        }
    }
}

/// One channel's arrivals in one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChannelResult {
    pub channel: String,
    pub outcomes: Outcomes,
    pub retry_amplification: f64,
    pub versus_baseline: Option<Change>,
}

/// A journey's time from its intended start to its end (completed only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JourneyTime {
    pub journey: String,
    pub channel: String,
    pub completed: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Completed before the deadline, against the baseline: the difference
/// in applicants and in share of arrivals, with the 95% interval of a
/// two-proportion test (Agresti and Caffo).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Change {
    pub count: i64,
    /// Of the baseline's applicants done in time (0 when it had none).
    pub relative: f64,
    pub share: f64,
    pub share_low: f64,
    pub share_high: f64,
    /// The interval in applicants (shares times the baseline's arrivals).
    pub count_low: f64,
    pub count_high: f64,
    /// The interval leaves out zero.
    pub measurable: bool,
}

impl Change {
    fn between(base: Outcomes, new: Outcomes) -> Option<Change> {
        let (share, low, high) = difference(base.in_time(), new.in_time(), Z95)?;
        let n = base.arrivals as f64;
        let count = new.completed_in_time as i64 - base.completed_in_time as i64;
        Some(Change {
            count,
            relative: if base.completed_in_time == 0 {
                0.0
            } else {
                count as f64 / base.completed_in_time as f64
            },
            share,
            share_low: low,
            share_high: high,
            count_low: low * n,
            count_high: high * n,
            measurable: low > 0.0 || high < 0.0,
        })
    }

    /// `+412 applicants stamped before the deadline (+18.0%)`, or that
    /// there is no measurable difference; with the interval.
    pub fn sentence(&self) -> String {
        let interval = format!(
            "95% interval {} to {}",
            signed(self.count_low.round() as i64),
            signed(self.count_high.round() as i64)
        );
        if !self.measurable {
            return format!(
                "no measurable difference ({} applicants, {interval})",
                signed(self.count)
            );
        }
        format!(
            "{} applicant{} stamped before the deadline ({}{:.1}%), {interval}",
            signed(self.count),
            if self.count.abs() == 1 { "" } else { "s" },
            if self.relative >= 0.0 { "+" } else { "−" },
            self.relative.abs() * 100.0
        )
    }
}

/// `+12`, `−3`, `0`.
pub fn signed(n: i64) -> String {
    match n.signum() {
        1 => format!("+{n}"),
        -1 => format!("−{}", n.unsigned_abs()),
        _ => "0".into(),
    }
}

/// What the what-if knows of a run before reading its folder.
#[derive(Clone, Debug)]
pub struct Planned {
    pub name: String,
    pub description: String,
    pub sets: Vec<String>,
    pub folder: String,
    /// Its schedule's arrivals per (second, journey).
    pub arrivals: crate::schedule::PerSecond,
}

/// A run as it ended: its folder's data, or why there is none.
pub enum Ran {
    Data(Box<RunData>),
    NotCarriedOut(String),
}

/// The comparison of the runs, the baseline first.
pub fn compare(file: &str, runs: &[(Planned, Ran)]) -> Comparison {
    let base = runs.iter().find_map(|(_, r)| match r {
        Ran::Data(d) => Some(d.as_ref()),
        Ran::NotCarriedOut(_) => None,
    });
    // Variants are compared only with a baseline that ran to its end.
    let base_done = match runs.first() {
        Some((_, Ran::Data(d))) if d.summary.status == crate::summary::Status::Completed => {
            Some(d.as_ref())
        }
        _ => None,
    };
    let base_arrivals = runs.first().map(|(p, _)| &p.arrivals);
    let mut results: Vec<RunResult> = runs
        .iter()
        .map(|(plan, ran)| result(plan, ran, base_done))
        .collect();
    for (r, (plan, _)) in results.iter_mut().zip(runs).skip(1) {
        let same = base_arrivals == Some(&plan.arrivals);
        r.same_arrivals = Some(same);
        if !same && r.versus_baseline.is_some() {
            r.verdict += " (its arrivals differ from the baseline's: the variant changes the load)";
        }
    }
    if let Some(first) = results.first_mut()
        && first.carried_out
    {
        first.verdict = format!(
            "the scenario as written: {} of {} applicants stamped before the deadline ({:.1}%)",
            first.total.completed_in_time,
            first.total.arrivals,
            first.total.in_time().value() * 100.0
        );
    }
    let s = base.map(|d| &d.summary);
    Comparison {
        format: FORMAT.into(),
        version: 1,
        scenario: s.map_or_else(String::new, |s| s.scenario.name.clone()),
        file: file.to_string(),
        seed: s.map_or(0, |s| s.scenario.seed),
        scale: s.map_or(1.0, |s| s.scenario.scale),
        time_factor: s.map_or(1.0, |s| s.scenario.time_factor),
        deadline_s: s.map_or(0.0, |s| s.timeline.deadline_s),
        runs: results,
    }
}

fn result(plan: &Planned, ran: &Ran, base: Option<&RunData>) -> RunResult {
    let mut r = RunResult {
        name: plan.name.clone(),
        description: plan.description.clone(),
        folder: plan.folder.clone(),
        sets: plan.sets.clone(),
        carried_out: false,
        valid: false,
        problems: Vec::new(),
        objectives: None,
        same_arrivals: None,
        total: Outcomes::default(),
        channels: Vec::new(),
        journeys: Vec::new(),
        paid_not_credited: None,
        stock_outs: Vec::new(),
        retry_amplification: 0.0,
        versus_baseline: None,
        verdict: String::new(),
        in_time_per_s: Vec::new(),
        backlog: Vec::new(),
    };
    let data = match ran {
        Ran::Data(d) => d.as_ref(),
        Ran::NotCarriedOut(why) => {
            r.problems.push(why.clone());
            r.verdict = format!("not compared: {why}");
            return r;
        }
    };
    let s = &data.summary;
    r.carried_out = s.status == crate::summary::Status::Completed;
    if !r.carried_out {
        r.problems
            .push(format!("the run was {}", s.status.as_str()));
    }
    if let Some(gate) = &s.gate {
        r.objectives = Some(gate.verdict.as_str().to_string());
        r.problems.extend(gate.validity.reasons.iter().cloned());
        r.valid = r.carried_out && gate.validity.valid;
    }
    let mut requests = 0;
    let mut started = 0;
    for j in &s.journeys {
        let o = Outcomes::of(j);
        r.total.add(o);
        requests += j.requests;
        started += j.started;
        match r.channels.iter_mut().find(|c| c.channel == j.channel) {
            Some(c) => {
                c.outcomes.add(o);
                c.retry_amplification += j.requests as f64;
            }
            None => r.channels.push(ChannelResult {
                channel: j.channel.clone(),
                outcomes: o,
                retry_amplification: j.requests as f64,
                versus_baseline: None,
            }),
        }
        let ms = |us: u64| (j.time.count > 0).then_some(us as f64 / 1000.0);
        r.journeys.push(JourneyTime {
            journey: j.name.clone(),
            channel: j.channel.clone(),
            completed: j.time.count,
            p50_ms: ms(j.time.p50_us),
            p99_ms: ms(j.time.p99_us),
        });
    }
    // Requests per started arrival of the channel's journeys.
    for c in &mut r.channels {
        let started: u64 = s
            .journeys
            .iter()
            .filter(|j| j.channel == c.channel)
            .map(|j| j.started)
            .sum();
        c.retry_amplification = ratio(c.retry_amplification, started);
    }
    r.retry_amplification = ratio(requests as f64, started);
    if let Some(l) = &s.ledger {
        r.paid_not_credited = Some(l.paid_not_credited);
        r.stock_outs = l.stock_outs.clone();
    }
    (r.in_time_per_s, r.backlog) = over_time(data);
    if !r.carried_out {
        r.verdict = format!("not compared: {}", r.problems.join("; "));
        return r;
    }
    if let Some(b) = base.filter(|b| !std::ptr::eq(*b, data)) {
        let journeys = &b.summary.journeys;
        r.versus_baseline = Change::between(Outcomes::of_all(journeys.iter()), r.total);
        for c in &mut r.channels {
            let of_base = Outcomes::of_all(journeys.iter().filter(|j| j.channel == c.channel));
            c.versus_baseline = Change::between(of_base, c.outcomes);
        }
        r.verdict = match &r.versus_baseline {
            Some(change) => change.sentence(),
            None => "not compared: no arrivals".into(),
        };
        if !r.valid {
            r.verdict += " (this run is invalid: see its problems)";
        }
    } else if plan.name != BASELINE {
        r.verdict = "not compared: the baseline did not run to its end".into();
    }
    r
}

fn ratio(a: f64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a / b as f64 }
}

/// Completed before the deadline per second, and journeys in flight at
/// the end of each second.
fn over_time(d: &RunData) -> (Vec<u64>, Vec<u64>) {
    use crate::folder::Outcome;
    let last = d.journeys.iter().map(|(s, _, _)| *s).max();
    let Some(last) = last else {
        return (Vec::new(), Vec::new());
    };
    let n = last as usize + 1;
    let mut in_time = vec![0u64; n];
    let mut delta = vec![0i64; n];
    for (sec, _, c) in &d.journeys {
        let i = *sec as usize;
        in_time[i] += c.finished[Outcome::CompletedInTime.index()];
        let ended: u64 = c.finished.iter().sum();
        delta[i] += c.started as i64 - ended as i64;
    }
    let mut backlog = Vec::with_capacity(n);
    let mut level = 0i64;
    for d in delta {
        level += d;
        backlog.push(level.max(0) as u64);
    }
    (in_time, backlog)
}
