//! `surge compare BASE NEW`: did a change make the platform worse? Every
//! judged row has a stated noise model (`noise`): latency quantiles by
//! their difference over its standard error, error rates and goodput by a
//! test of two proportions, journeys completed per second and requests per
//! journey by a quasi-Poisson test of two rates. A row is worse only when
//! its test says the move is beyond the practical margin (relative
//! tolerance, and for latency an absolute floor, so sub-millisecond wobble
//! of a shared machine is never a verdict) after Holm's adjustment over the
//! whole table, so an unchanged system fails at most `noise::ALPHA` of the
//! time overall, not per row. Throughput is judged only between runs
//! offered the same schedule; a step's request rate is reported, never
//! judged (a polled step sends fewer requests when the system is faster).
//! Several baselines make the new run worse only when it is worse than
//! each of them. Two capacity reports regress when the new bracket lies
//! below the base's.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;

use super::noise::{self, Count, Evidence, Share};
use crate::folder::Outcome;
use crate::human::ms_tenths;
use crate::rundata::read_capacity;
use crate::rundata::{DataError, RunData, Window, read_summary};
use crate::summary::capacity::CapacityReport;
use crate::summary::{JourneySummary, Latency, StepSummary, Summary};

/// z of the 99% bounds shown beside latency rows.
const Z_SHOWN: f64 = 2.576;

/// How much change is too little to matter, whatever the statistics say.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    /// Relative, for latency, rates and capacity (0.10 = 10%).
    pub relative: f64,
    /// Absolute, for error rates and goodput (0.01 = one point).
    pub absolute: f64,
    /// Absolute, for latency, in microseconds.
    pub min_delta_us: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            relative: 0.10,
            absolute: 0.01,
            min_delta_us: 5_000.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Same,
    Better,
    Worse,
    /// Too little data on one side to judge.
    Unknown,
    /// The runs were not offered the same load, so this is not judged.
    NotComparable,
    /// Shown for reading, never judged.
    Reported,
}

impl Change {
    fn label(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::Better => "better",
            Change::Worse => "**worse**",
            Change::Unknown => "too little data",
            Change::NotComparable => "not comparable",
            Change::Reported => "not judged",
        }
    }
}

/// One line of the comparison.
#[derive(Clone, Debug)]
pub struct Row {
    pub subject: String,
    pub metric: String,
    pub base: String,
    pub new: String,
    pub change: Change,
    /// The test and its Holm-adjusted p-value; empty for rows not judged.
    pub test: String,
    pub note: String,
    /// The test's raw result, before the family's adjustment.
    evidence: Option<Evidence>,
}

impl Row {
    fn new(subject: &str, metric: &str, base: String, new: String) -> Row {
        Row {
            subject: subject.to_string(),
            metric: metric.to_string(),
            base,
            new,
            change: Change::Reported,
            test: String::new(),
            note: String::new(),
            evidence: None,
        }
    }

    /// Judged by `evidence`, or too little data for it.
    fn judged(mut self, evidence: Option<Evidence>, too_little: impl FnOnce() -> String) -> Row {
        match evidence {
            Some(e) => {
                self.change = Change::Same;
                self.evidence = Some(e);
            }
            None => {
                self.change = Change::Unknown;
                self.note = too_little();
            }
        }
        self
    }

    fn unjudged(mut self, change: Change, note: impl Into<String>) -> Row {
        self.change = change;
        self.note = note.into();
        self
    }
}

#[derive(Clone, Debug)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Whether the runs were offered the same schedule, and why not.
    pub schedule: String,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.change == Change::Worse)
    }

    /// Rows judged by a test.
    pub fn judged(&self) -> usize {
        self.rows.iter().filter(|r| !r.test.is_empty()).count()
    }

    /// A Markdown table for a pull-request comment.
    pub fn markdown(&self, base: &str, new: &str) -> String {
        let mut out = String::new();
        let verdict = if self.regressed() {
            "❌ regression"
        } else {
            "✅ no regression"
        };
        let _ = writeln!(out, "### surge compare: {verdict}\n");
        let _ = writeln!(out, "Base `{base}`, new `{new}`. {}\n", self.schedule);
        let _ = writeln!(
            out,
            "{} rows judged; a row is worse when its test puts the move beyond the \
             tolerance at a family-wise false-alarm rate of {}% (Holm).\n",
            self.judged(),
            noise::ALPHA * 100.0
        );
        let _ = writeln!(
            out,
            "| subject | metric | base | new | change | test | note |"
        );
        let _ = writeln!(out, "| --- | --- | ---: | ---: | --- | --- | --- |");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.subject,
                r.metric,
                r.base,
                r.new,
                r.change.label(),
                r.test,
                r.note
            );
        }
        out
    }

    /// Holm's adjustment over every judged row, then each row's verdict.
    fn decide(mut self) -> Comparison {
        let judged: Vec<usize> = (0..self.rows.len())
            .filter(|&i| self.rows[i].evidence.is_some())
            .collect();
        let evidence = |i: usize| self.rows[i].evidence.expect("judged rows have evidence");
        let worse = noise::holm(
            &judged
                .iter()
                .map(|&i| evidence(i).p_worse)
                .collect::<Vec<_>>(),
        );
        let better = noise::holm(
            &judged
                .iter()
                .map(|&i| evidence(i).p_better)
                .collect::<Vec<_>>(),
        );
        for (k, &i) in judged.iter().enumerate() {
            let row = &mut self.rows[i];
            let test = row.evidence.expect("judged").test.name();
            let (change, p) = if worse[k] <= noise::ALPHA {
                (Change::Worse, worse[k])
            } else if better[k] <= noise::ALPHA {
                (Change::Better, better[k])
            } else {
                (Change::Same, worse[k].min(better[k]))
            };
            row.change = change;
            row.test = format!("{test}, p {}", p_value(p));
        }
        self
    }
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{p:.2}")
    }
}

/// What a path given to `surge compare` holds.
pub enum Source {
    Run(Box<RunData>),
    Summary(Box<Summary>),
    Capacity(Box<CapacityReport>),
}

/// Reads a run folder, a `summary.json` or a `capacity.json`.
pub fn load(path: &Path) -> Result<Source, DataError> {
    if path.is_dir() {
        if path.join("capacity.json").is_file() {
            return read_capacity(&path.join("capacity.json"))
                .map(|r| Source::Capacity(Box::new(r)));
        }
        return RunData::load(path).map(|d| Source::Run(Box::new(d)));
    }
    if path.file_name().is_some_and(|n| n == "capacity.json") {
        return read_capacity(path).map(|r| Source::Capacity(Box::new(r)));
    }
    read_summary(path).map(|s| Source::Summary(Box::new(s)))
}

/// Compares a new source with one or more baselines of the same kind.
pub fn compare(bases: &[Source], new: &Source, tol: Tolerance) -> Result<Comparison, String> {
    if bases.is_empty() {
        return Err("give at least one baseline".into());
    }
    match new {
        Source::Capacity(n) => {
            let reports: Option<Vec<&CapacityReport>> = bases
                .iter()
                .map(|b| match b {
                    Source::Capacity(r) => Some(r.as_ref()),
                    _ => None,
                })
                .collect();
            reports.map(|b| capacity(&b, n, tol)).ok_or_else(one_kind)
        }
        _ if bases.iter().any(|b| matches!(b, Source::Capacity(_))) => Err(one_kind()),
        _ => Ok(runs(bases, new, tol).decide()),
    }
}

fn one_kind() -> String {
    "compare capacity reports with capacity reports, and runs with runs; not one of each".into()
}

fn summary_of(s: &Source) -> &Summary {
    match s {
        Source::Run(d) => &d.summary,
        Source::Summary(s) => s,
        Source::Capacity(_) => unreachable!("handled by the caller"),
    }
}

fn step_of<'a>(s: &'a Source, name: &str) -> Option<&'a StepSummary> {
    summary_of(s).steps.iter().find(|st| st.name == name)
}

fn journey_of<'a>(s: &'a Source, name: &str) -> Option<&'a JourneySummary> {
    summary_of(s).journeys.iter().find(|j| j.name == name)
}

/// A whole-run latency distribution (`step:NAME`, `journey:NAME`), when the
/// source is a run folder.
fn distribution(s: &Source, tag: &str) -> Option<Histogram<u64>> {
    match s {
        Source::Run(d) => Some(d.histogram(|t| t == tag, &Window::all())),
        _ => None,
    }
}

/// How bursty a count is: the dispersion of its per-second values, zeros
/// included, over every second the run recorded. Only run folders have
/// per-second counts.
fn burstiness(s: &Source, of: Counted) -> Option<f64> {
    let Source::Run(d) = s else { return None };
    let last = d
        .steps
        .iter()
        .map(|(sec, _, _)| *sec)
        .chain(d.journeys.iter().map(|(sec, _, _)| *sec))
        .max()?;
    let mut per_second = vec![0u64; last as usize + 1];
    match of {
        Counted::Requests(step) => {
            for (sec, _, c) in d.steps.iter().filter(|(_, l, _)| l == step) {
                per_second[*sec as usize] += c.requests;
            }
        }
        Counted::Completed(journey, in_time) => {
            let late = if in_time { 0 } else { 1 };
            for (sec, _, c) in d.journeys.iter().filter(|(_, n, _)| n == journey) {
                per_second[*sec as usize] += c.finished[Outcome::CompletedInTime.index()]
                    + late * c.finished[Outcome::CompletedLate.index()];
            }
        }
    }
    Some(noise::dispersion(&per_second))
}

/// What a rate row counts.
#[derive(Clone, Copy)]
enum Counted<'a> {
    Requests(&'a str),
    /// A journey's completions; only those before the deadline when true.
    Completed(&'a str, bool),
}

/// What makes two runs' loads the same: the schedule is seeded data.
fn schedule(s: &Summary) -> String {
    format!(
        "scenario sha256 {}, seed {}, scale {}, {}s{}",
        &s.scenario.sha256[..s.scenario.sha256.len().min(12)],
        s.scenario.seed,
        s.scenario.scale,
        s.run.planned_s,
        s.run.shard.as_ref().map_or(String::new(), |sh| format!(
            ", shard {}/{}",
            sh.index, sh.count
        ))
    )
}

/// The values of one metric across the baselines, shown as one or a range.
fn shown(values: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if fmt(lo) == fmt(hi) {
        fmt(lo)
    } else {
        format!("{}–{}", fmt(lo), fmt(hi))
    }
}

fn per_s(v: f64) -> String {
    format!("{v:.2}/s")
}

/// The baselines' and the new run's matching entries (a step or journey).
struct Matched<'a, T> {
    bases: Vec<&'a T>,
    new: &'a T,
}

fn runs(bases: &[Source], new: &Source, tol: Tolerance) -> Comparison {
    let n = summary_of(new);
    let first = summary_of(&bases[0]);
    let plans: Vec<String> = bases.iter().map(|b| schedule(summary_of(b))).collect();
    let plan = schedule(n);
    let same_schedule = plans.iter().all(|p| *p == plan);
    let schedule_note = if same_schedule {
        format!("Same schedule ({plan}).")
    } else {
        format!(
            "Not the same schedule (base: {}; new: {plan}), so throughput is not compared.",
            plans[0]
        )
    };
    let invalid: Vec<String> = bases
        .iter()
        .chain([new])
        .map(summary_of)
        .filter_map(|s| {
            let g = s.gate.as_ref()?;
            (!g.validity.valid)
                .then(|| format!("{} ({})", s.run.started_at, g.validity.reasons.join("; ")))
        })
        .collect();
    let schedule_note = if invalid.is_empty() {
        schedule_note
    } else {
        format!(
            "{schedule_note} ⚠ Invalid runs, whose figures measure the generator as much as the \
             system: {}.",
            invalid.join(", ")
        )
    };
    let mut rows = Vec::new();
    for bs in &first.steps {
        let found = |s| step_of(s, &bs.name);
        let (Some(ns), Some(others)) = (found(new), bases.iter().map(found).collect()) else {
            rows.push(
                Row::new(&bs.name, "step", "present".into(), "absent".into())
                    .unjudged(Change::Unknown, "not in every run"),
            );
            continue;
        };
        let m = Matched {
            bases: others,
            new: ns,
        };
        let tag = format!("step:{}", bs.name);
        let latency = Matched {
            bases: m.bases.iter().map(|s| &s.latency).collect(),
            new: &ns.latency,
        };
        for (q, label) in [(0.50, "p50"), (0.90, "p90"), (0.99, "p99")] {
            rows.push(latency_row(
                &bs.name,
                label,
                q,
                &tag,
                &latency,
                (bases, new),
                tol,
            ));
        }
        rows.push(error_row(&m, tol));
        if let Some(row) = amplification_row(&m, bases, new, tol) {
            rows.push(row);
        }
        rows.push(
            Row::new(
                &bs.name,
                "requests/s",
                shown(
                    &m.bases
                        .iter()
                        .map(|s| s.throughput_per_s)
                        .collect::<Vec<_>>(),
                    per_s,
                ),
                per_s(ns.throughput_per_s),
            )
            .unjudged(
                Change::Reported,
                "set by the schedule and by polls; see journeys completed/s",
            ),
        );
    }
    for bj in &first.journeys {
        let found = |s| journey_of(s, &bj.name);
        let (Some(nj), Some(others)) = (found(new), bases.iter().map(found).collect()) else {
            continue;
        };
        let m = Matched {
            bases: others,
            new: nj,
        };
        rows.push(goodput_row(&m, tol));
        for in_time in [true, false] {
            rows.push(completed_row(&m, bases, new, in_time, same_schedule, tol));
        }
        let tag = format!("journey:{}", bj.name);
        let time = Matched {
            bases: m.bases.iter().map(|j| &j.time).collect(),
            new: &nj.time,
        };
        for (q, label) in [(0.50, "time p50"), (0.99, "time p99")] {
            rows.push(latency_row(
                &bj.name,
                label,
                q,
                &tag,
                &time,
                (bases, new),
                tol,
            ));
        }
    }
    Comparison {
        rows,
        schedule: schedule_note,
    }
}

/// Quantile `q` (p50, p90 or p99) of a latency summary.
fn summarised(l: &Latency, q: f64) -> f64 {
    (if q <= 0.5 {
        l.p50_us
    } else if q <= 0.9 {
        l.p90_us
    } else {
        l.p99_us
    }) as f64
}

/// Quantile `q` of one latency (`tag`'s histograms in run folders, the
/// matched summaries' values otherwise) in the baselines and the new run.
fn latency_row(
    subject: &str,
    label: &str,
    q: f64,
    tag: &str,
    latency: &Matched<Latency>,
    (bases, new): (&[Source], &Source),
    tol: Tolerance,
) -> Row {
    let row = Row::new(
        subject,
        label,
        shown(
            &latency
                .bases
                .iter()
                .map(|l| summarised(l, q))
                .collect::<Vec<_>>(),
            ms_tenths,
        ),
        ms_tenths(summarised(latency.new, q)),
    );
    let histograms = distribution(new, tag).zip(
        bases
            .iter()
            .map(|b| distribution(b, tag))
            .collect::<Option<Vec<_>>>(),
    );
    let Some((nh, bhs)) = histograms else {
        return row.unjudged(
            Change::Reported,
            "values only: give run folders to judge latency",
        );
    };
    let evidence = Evidence::against_all(
        bhs.iter()
            .map(|bh| noise::quantiles(bh, &nh, q, tol.relative, tol.min_delta_us)),
    );
    let needed = (noise::QUANTILE_TAIL / (1.0 - q)).round();
    let fewest = bhs.iter().chain([&nh]).map(|h| h.len()).min().unwrap_or(0);
    let mut row = row.judged(evidence, || {
        format!("{fewest} samples; judged from {needed:.0}")
    });
    if row.change != Change::Unknown {
        let (b_lo, b_hi) = noise::quantile_bounds(&bhs[0], q, Z_SHOWN);
        let (n_lo, n_hi) = noise::quantile_bounds(&nh, q, Z_SHOWN);
        row.note = format!(
            "99% bounds {}–{} vs {}–{}",
            ms_tenths(b_lo),
            bound(b_hi),
            ms_tenths(n_lo),
            bound(n_hi)
        );
    }
    row
}

fn bound(us: f64) -> String {
    if us.is_finite() {
        ms_tenths(us)
    } else {
        "∞".into()
    }
}

fn error_row(m: &Matched<StepSummary>, tol: Tolerance) -> Row {
    let failed = |s: &StepSummary| Share {
        hits: s.requests - s.ok.min(s.requests),
        trials: s.requests,
    };
    let pct = |s: &StepSummary| format!("{:.2}% of {}", failed(s).value() * 100.0, s.requests);
    share_row(
        Row::new(
            &m.new.name,
            "error rate",
            shown_text(m.bases.iter().map(|s| pct(s))),
            pct(m.new),
        ),
        m,
        failed,
        tol,
        "requests",
    )
}

/// A share that must not rise (`share` counts the bad outcomes), judged by
/// two proportions against every baseline.
fn share_row<T>(
    row: Row,
    m: &Matched<T>,
    share: impl Fn(&T) -> Share,
    tol: Tolerance,
    trials: &str,
) -> Row {
    let evidence = Evidence::against_all(
        m.bases
            .iter()
            .map(|b| noise::proportions(share(b), share(m.new), tol.absolute)),
    );
    row.judged(evidence, || {
        format!("judged from {} {trials} on each side", noise::MIN_TRIALS)
    })
}

/// Several baselines' texts: one when they agree, else the first and how
/// many more.
fn shown_text(mut texts: impl Iterator<Item = String>) -> String {
    let first = texts.next().unwrap_or_default();
    let more = texts.filter(|t| *t != first).count();
    if more == 0 {
        first
    } else {
        format!("{first} (+{more} other runs)")
    }
}

/// Requests per started journey, for steps that poll or retry (more than
/// one request per journey in some run): judged as an amplification change.
fn amplification_row(
    m: &Matched<StepSummary>,
    bases: &[Source],
    new: &Source,
    tol: Tolerance,
) -> Option<Row> {
    let count = |s: &StepSummary, src: &Source| Count {
        events: s.requests,
        exposure: journey_of(src, &s.journey).map_or(0, |j| j.started) as f64,
        dispersion: burstiness(src, Counted::Requests(&s.name)).unwrap_or(1.0),
    };
    let counts = counts(m, (bases, new), count);
    let amplified = counts
        .bases
        .iter()
        .chain([&counts.new])
        .any(|c| c.rate() > 1.0 + 1e-9);
    if !amplified {
        return None;
    }
    Some(rate_row(
        &m.new.name,
        "requests per journey",
        |v| format!("{v:.2}"),
        &counts,
        (bases, new),
        (tol, true),
        "requests",
    ))
}

/// Whether every source is a run folder (with per-second counts).
fn all_runs(bases: &[Source], new: &Source) -> bool {
    bases
        .iter()
        .chain([new])
        .all(|s| matches!(s, Source::Run(_)))
}

fn goodput_row(m: &Matched<JourneySummary>, tol: Tolerance) -> Row {
    // Goodput falls when the share not completed in time rises.
    let missed = |j: &JourneySummary| Share {
        hits: j.servable() - j.outcomes.completed_in_time.min(j.servable()),
        trials: j.servable(),
    };
    let pct = |j: &JourneySummary| format!("{:.2}% of {}", j.goodput * 100.0, j.servable());
    share_row(
        Row::new(
            &m.new.name,
            "goodput",
            shown_text(m.bases.iter().map(|j| pct(j))),
            pct(m.new),
        ),
        m,
        missed,
        tol,
        "arrivals",
    )
}

/// Journeys completed per second of the schedule (before the deadline, or
/// in all): the throughput that says something about capacity.
fn completed_row(
    m: &Matched<JourneySummary>,
    bases: &[Source],
    new: &Source,
    in_time: bool,
    same_schedule: bool,
    tol: Tolerance,
) -> Row {
    let count = |j: &JourneySummary, src: &Source| Count {
        events: j.outcomes.completed_in_time
            + if in_time {
                0
            } else {
                j.outcomes.completed_late
            },
        exposure: summary_of(src).run.planned_s,
        dispersion: burstiness(src, Counted::Completed(&j.name, in_time)).unwrap_or(1.0),
    };
    let counts = counts(m, (bases, new), count);
    let metric = if in_time {
        "completed in time/s"
    } else {
        "completed/s"
    };
    if !same_schedule {
        return rate_shown(&m.new.name, metric, per_s, &counts).unjudged(
            Change::NotComparable,
            "the runs were offered different loads",
        );
    }
    rate_row(
        &m.new.name,
        metric,
        per_s,
        &counts,
        (bases, new),
        (tol, false),
        "journeys",
    )
}

/// A rate's counts in the baselines and the new run.
struct Counts {
    bases: Vec<Count>,
    new: Count,
}

/// The counts of matched entries, each from its own run.
fn counts<T>(
    m: &Matched<T>,
    (bases, new): (&[Source], &Source),
    count: impl Fn(&T, &Source) -> Count,
) -> Counts {
    Counts {
        bases: m
            .bases
            .iter()
            .zip(bases)
            .map(|(t, b)| count(t, b))
            .collect(),
        new: count(m.new, new),
    }
}

/// A rate row before judgement: the rates, shown.
fn rate_shown(subject: &str, metric: &str, fmt: impl Fn(f64) -> String, counts: &Counts) -> Row {
    let rates: Vec<f64> = counts.bases.iter().map(|c| c.rate()).collect();
    Row::new(subject, metric, shown(&rates, &fmt), fmt(counts.new.rate()))
}

/// A rate judged by the quasi-Poisson test against every baseline (run
/// folders only: the test needs per-second counts).
fn rate_row(
    subject: &str,
    metric: &str,
    fmt: impl Fn(f64) -> String,
    counts: &Counts,
    (bases, new): (&[Source], &Source),
    (tol, higher_is_worse): (Tolerance, bool),
    events: &str,
) -> Row {
    let row = rate_shown(subject, metric, fmt, counts);
    if !all_runs(bases, new) {
        return row.unjudged(Change::Reported, "counts only: give run folders to judge");
    }
    let evidence = Evidence::against_all(
        counts
            .bases
            .iter()
            .map(|b| noise::rates(*b, counts.new, tol.relative, higher_is_worse)),
    );
    row.judged(evidence, || {
        format!("judged from {} {events} in all", noise::MIN_EVENTS)
    })
}

/// Capacity brackets: worse when the new upper bound lies below every
/// baseline's lower bound, less the tolerance. A search that judged no
/// trial says nothing.
/// What a capacity search found, as a comparison needs it: the capacity
/// lies in `[lower, upper)` arrivals/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bracket {
    pub lower: f64,
    /// `None` when even the largest scale tried passed.
    pub upper: Option<f64>,
    /// Whether any trial was judged.
    pub judged: bool,
}

impl Bracket {
    pub fn of(r: &CapacityReport) -> Bracket {
        Bracket {
            lower: r.capacity_per_s,
            upper: r.upper_per_s,
            judged: r.judged(),
        }
    }
}

/// Whether capacity moved beyond its brackets against every baseline
/// (worse when the new upper bound lies below the lowest baseline less the
/// tolerance), and that floor.
pub fn capacity_change(bases: &[Bracket], n: Bracket, tol: Tolerance) -> (Change, f64) {
    let floor = bases.iter().map(|b| b.lower).fold(f64::INFINITY, f64::min) * (1.0 - tol.relative);
    let new_hi = n.upper.unwrap_or(f64::INFINITY);
    let ceiling = bases
        .iter()
        .map(|b| b.upper.unwrap_or(f64::INFINITY))
        .fold(f64::NEG_INFINITY, f64::max)
        * (1.0 + tol.relative);
    let change = if !n.judged || bases.iter().any(|b| !b.judged) {
        Change::Unknown
    } else if new_hi < floor {
        Change::Worse
    } else if n.lower > ceiling {
        Change::Better
    } else {
        Change::Same
    };
    (change, floor)
}

fn capacity(bases: &[&CapacityReport], n: &CapacityReport, tol: Tolerance) -> Comparison {
    let show = |r: &CapacityReport| match (r.judged(), r.upper_per_s) {
        (false, _) => "no trial judged".to_string(),
        (true, Some(up)) => format!("{:.1}/s (below {up:.1}/s)", r.capacity_per_s),
        (true, None) => format!("{:.1}/s or more", r.capacity_per_s),
    };
    let brackets: Vec<Bracket> = bases.iter().map(|b| Bracket::of(b)).collect();
    let (change, floor) = capacity_change(&brackets, Bracket::of(n), tol);
    let test = if change == Change::Unknown {
        String::new()
    } else {
        "capacity brackets".to_string()
    };
    let row = Row {
        subject: n.scenario.clone(),
        metric: "capacity".into(),
        base: shown_text(bases.iter().map(|b| show(b))),
        new: show(n),
        change,
        test,
        note: format!("worse when the new upper bound is below {floor:.1}/s"),
        evidence: None,
    };
    Comparison {
        rows: vec![row],
        schedule: String::new(),
    }
}
