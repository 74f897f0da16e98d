//! `surge compare BASE NEW`: did a change make the platform worse? Runs are
//! compared step by step on whole distributions, not on one noisy number:
//! for p50, p90 and p99 each run gives a distribution-free 99% confidence
//! interval (the values at ranks n·q ± 2.58·√(n·q·(1−q)) of its HDR
//! histogram), and a step regresses only when the new interval lies wholly
//! above the base's, by more than the tolerance. Error rates regress when
//! they rise by more than a margin and a two-proportion test says the rise
//! is real; goodput likewise; throughput when it falls by more than the
//! tolerance. Two capacity reports regress when the new capacity's upper
//! bracket is below the base's lower one, less the tolerance.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;

use super::capacity::CapacityReport;
use crate::human::ms_tenths;
use crate::rundata::{DataError, RunData, read_summary};
use crate::summary::Summary;

/// z for a two-sided 99% interval.
const Z: f64 = 2.576;

/// How much change is noise.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    /// Relative, for latency, throughput and capacity (0.10 = 10%).
    pub relative: f64,
    /// Absolute, for error rates and goodput (0.01 = one point).
    pub absolute: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            relative: 0.10,
            absolute: 0.01,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Same,
    Better,
    Worse,
    /// Too little data on one side to say.
    Unknown,
}

/// One line of the comparison.
#[derive(Clone, Debug)]
pub struct Row {
    pub subject: String,
    pub metric: String,
    pub base: String,
    pub new: String,
    pub change: Change,
    pub note: String,
}

#[derive(Clone, Debug)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.change == Change::Worse)
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
        let _ = writeln!(out, "Base `{base}`, new `{new}`.\n");
        let _ = writeln!(out, "| subject | metric | base | new | change | note |");
        let _ = writeln!(out, "| --- | --- | ---: | ---: | --- | --- |");
        for r in &self.rows {
            let change = match r.change {
                Change::Same => "same",
                Change::Better => "better",
                Change::Worse => "**worse**",
                Change::Unknown => "too little data",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {change} | {} |",
                r.subject, r.metric, r.base, r.new, r.note
            );
        }
        out
    }
}

/// What a path given to `surge compare` holds.
pub enum Source {
    Run(Box<RunData>),
    Summary(Box<Summary>),
    Capacity(CapacityReport),
}

/// Reads a run folder, a `summary.json` or a `capacity.json`.
pub fn load(path: &Path) -> Result<Source, DataError> {
    if path.is_dir() {
        if path.join("capacity.json").is_file() {
            return CapacityReport::read(&path.join("capacity.json")).map(Source::Capacity);
        }
        return RunData::load(path).map(|d| Source::Run(Box::new(d)));
    }
    if path.file_name().is_some_and(|n| n == "capacity.json") {
        return CapacityReport::read(path).map(Source::Capacity);
    }
    read_summary(path).map(|s| Source::Summary(Box::new(s)))
}

/// Compares two sources of the same kind.
pub fn compare(base: &Source, new: &Source, tol: Tolerance) -> Result<Comparison, String> {
    match (base, new) {
        (Source::Capacity(b), Source::Capacity(n)) => Ok(capacity(b, n, tol)),
        (Source::Capacity(_), _) | (_, Source::Capacity(_)) => {
            Err("compare two capacity reports, or two runs; not one of each".into())
        }
        _ => Ok(runs(base, new, tol)),
    }
}

fn summary_of(s: &Source) -> &Summary {
    match s {
        Source::Run(d) => &d.summary,
        Source::Summary(s) => s,
        Source::Capacity(_) => unreachable!("handled by the caller"),
    }
}

/// A step's whole-run latency distribution, when the run folder has it.
fn distribution(s: &Source, step: &str) -> Option<Histogram<u64>> {
    match s {
        Source::Run(d) => {
            let tag = format!("step:{step}");
            Some(d.histogram(|t| t == tag, &crate::rundata::Window::all()))
        }
        _ => None,
    }
}

/// The 99% confidence interval of quantile `q`, from a histogram.
pub fn quantile_interval(h: &Histogram<u64>, q: f64) -> Option<(f64, f64)> {
    let n = h.len() as f64;
    if n < 1.0 {
        return None;
    }
    let spread = Z * (n * q * (1.0 - q)).sqrt();
    let lo = ((n * q - spread) / n).clamp(0.0, 1.0);
    let hi = ((n * q + spread) / n).clamp(0.0, 1.0);
    Some((
        h.value_at_quantile(lo) as f64,
        h.value_at_quantile(hi) as f64,
    ))
}

fn runs(base: &Source, new: &Source, tol: Tolerance) -> Comparison {
    let (b, n) = (summary_of(base), summary_of(new));
    let mut rows = Vec::new();
    for bs in &b.steps {
        let Some(ns) = n.steps.iter().find(|s| s.name == bs.name) else {
            rows.push(Row {
                subject: bs.name.clone(),
                metric: "step".into(),
                base: "present".into(),
                new: "absent".into(),
                change: Change::Unknown,
                note: "the new run has no such step".into(),
            });
            continue;
        };
        let (bh, nh) = (distribution(base, &bs.name), distribution(new, &ns.name));
        for (q, label, bv, nv) in [
            (0.50, "p50", bs.latency.p50_us, ns.latency.p50_us),
            (0.90, "p90", bs.latency.p90_us, ns.latency.p90_us),
            (0.99, "p99", bs.latency.p99_us, ns.latency.p99_us),
        ] {
            rows.push(latency_row(
                &bs.name,
                label,
                q,
                (bv as f64, nv as f64),
                bh.as_ref(),
                nh.as_ref(),
                tol,
            ));
        }
        rows.push(rate_row(
            &bs.name,
            "error rate",
            (bs.error_rate, bs.requests),
            (ns.error_rate, ns.requests),
            tol,
            true,
        ));
        let (bt, nt) = (bs.throughput_per_s, ns.throughput_per_s);
        let change = if bt > 0.0 && nt < bt * (1.0 - tol.relative) {
            Change::Worse
        } else if bt > 0.0 && nt > bt * (1.0 + tol.relative) {
            Change::Better
        } else {
            Change::Same
        };
        rows.push(Row {
            subject: bs.name.clone(),
            metric: "throughput".into(),
            base: format!("{bt:.2}/s"),
            new: format!("{nt:.2}/s"),
            change,
            note: String::new(),
        });
    }
    for bj in &b.journeys {
        let Some(nj) = n.journeys.iter().find(|j| j.name == bj.name) else {
            continue;
        };
        rows.push(rate_row(
            &bj.name,
            "goodput",
            (bj.goodput, bj.scheduled),
            (nj.goodput, nj.scheduled),
            tol,
            false,
        ));
    }
    Comparison { rows }
}

fn latency_row(
    step: &str,
    label: &str,
    q: f64,
    (bv, nv): (f64, f64),
    bh: Option<&Histogram<u64>>,
    nh: Option<&Histogram<u64>>,
    tol: Tolerance,
) -> Row {
    let mut row = Row {
        subject: step.to_string(),
        metric: label.to_string(),
        base: ms_tenths(bv),
        new: ms_tenths(nv),
        change: Change::Same,
        note: String::new(),
    };
    match (
        bh.and_then(|h| quantile_interval(h, q)),
        nh.and_then(|h| quantile_interval(h, q)),
    ) {
        (Some((b_lo, b_hi)), Some((n_lo, n_hi))) => {
            let needed =
                |h: Option<&Histogram<u64>>| h.map_or(0, |h| h.len()) as f64 * (1.0 - q) >= 1.0;
            if !needed(bh) || !needed(nh) {
                row.change = Change::Unknown;
                row.note = format!("fewer than {:.0} samples", 1.0 / (1.0 - q));
            } else if n_lo > b_hi * (1.0 + tol.relative) {
                row.change = Change::Worse;
                row.note = format!(
                    "99% intervals: {}–{} vs {}–{}",
                    ms_tenths(b_lo),
                    ms_tenths(b_hi),
                    ms_tenths(n_lo),
                    ms_tenths(n_hi)
                );
            } else if n_hi < b_lo * (1.0 - tol.relative) {
                row.change = Change::Better;
                row.note = format!(
                    "99% intervals: {}–{} vs {}–{}",
                    ms_tenths(b_lo),
                    ms_tenths(b_hi),
                    ms_tenths(n_lo),
                    ms_tenths(n_hi)
                );
            }
        }
        _ => {
            // Summaries alone: compare the values with the tolerance.
            if nv > bv * (1.0 + tol.relative) {
                row.change = Change::Worse;
                row.note = "values only (give run folders for confidence intervals)".into();
            } else if nv < bv * (1.0 - tol.relative) {
                row.change = Change::Better;
            }
        }
    }
    row
}

/// A share that should not rise (error rate) or fall (goodput): worse when
/// it moved the wrong way by more than the margin and a two-proportion
/// z-test puts the move beyond noise.
fn rate_row(
    subject: &str,
    metric: &str,
    (b, bn): (f64, u64),
    (n, nn): (f64, u64),
    tol: Tolerance,
    higher_is_worse: bool,
) -> Row {
    let pooled = (b * bn as f64 + n * nn as f64) / (bn + nn).max(1) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / bn.max(1) as f64 + 1.0 / nn.max(1) as f64)).sqrt();
    let delta = if higher_is_worse { n - b } else { b - n };
    let significant = se == 0.0 && delta != 0.0 || se > 0.0 && delta.abs() / se > Z;
    let change = if bn == 0 || nn == 0 {
        Change::Unknown
    } else if delta > tol.absolute && significant {
        Change::Worse
    } else if delta < -tol.absolute && significant {
        Change::Better
    } else {
        Change::Same
    };
    Row {
        subject: subject.to_string(),
        metric: metric.to_string(),
        base: format!("{:.2}% of {bn}", b * 100.0),
        new: format!("{:.2}% of {nn}", n * 100.0),
        change,
        note: String::new(),
    }
}

fn capacity(b: &CapacityReport, n: &CapacityReport, tol: Tolerance) -> Comparison {
    let base_lo = b.capacity_per_s;
    let new_hi = n.upper_per_s.unwrap_or(f64::INFINITY);
    let change = if new_hi < base_lo * (1.0 - tol.relative) {
        Change::Worse
    } else if n.capacity_per_s > b.upper_per_s.unwrap_or(f64::INFINITY) * (1.0 + tol.relative) {
        Change::Better
    } else {
        Change::Same
    };
    let show = |r: &CapacityReport| match r.upper_per_s {
        Some(up) => format!("{:.1}/s (below {up:.1}/s)", r.capacity_per_s),
        None => format!("{:.1}/s or more", r.capacity_per_s),
    };
    Comparison {
        rows: vec![Row {
            subject: b.scenario.clone(),
            metric: "capacity".into(),
            base: show(b),
            new: show(n),
            change,
            note: format!(
                "worse when the new upper bound is below {:.1}/s",
                base_lo * (1.0 - tol.relative)
            ),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(center: u64, n: u64) -> Histogram<u64> {
        let mut h = crate::recorder::histogram();
        for i in 0..n {
            // A spread of ±20% around the center.
            h.record(center * 80 / 100 + (center * 40 / 100) * i / n)
                .unwrap();
        }
        h
    }

    #[test]
    fn intervals_narrow_with_samples() {
        let small = quantile_interval(&spread(10_000, 100), 0.9).unwrap();
        let large = quantile_interval(&spread(10_000, 100_000), 0.9).unwrap();
        assert!(large.1 - large.0 < small.1 - small.0);
        // The true p90 of a uniform spread over 8,000..12,000 is 11,600.
        assert!(large.0 <= 11_600.0 && large.1 >= 11_600.0, "{large:?}");
    }

    #[test]
    fn a_slower_step_is_worse_and_the_same_one_is_not() {
        let tol = Tolerance::default();
        let base = spread(10_000, 5_000);
        let same = spread(10_100, 5_000);
        let slower = spread(14_000, 5_000);
        let row = latency_row("s", "p90", 0.9, (0.0, 0.0), Some(&base), Some(&same), tol);
        assert_eq!(row.change, Change::Same);
        let row = latency_row("s", "p90", 0.9, (0.0, 0.0), Some(&base), Some(&slower), tol);
        assert_eq!(row.change, Change::Worse);
        let row = latency_row("s", "p90", 0.9, (0.0, 0.0), Some(&slower), Some(&base), tol);
        assert_eq!(row.change, Change::Better);
    }

    #[test]
    fn error_rates_must_rise_beyond_noise_and_margin() {
        let tol = Tolerance::default();
        assert_eq!(
            rate_row("s", "e", (0.010, 1000), (0.015, 1000), tol, true).change,
            Change::Same
        );
        assert_eq!(
            rate_row("s", "e", (0.010, 10_000), (0.050, 10_000), tol, true).change,
            Change::Worse
        );
        assert_eq!(
            rate_row("s", "e", (0.0, 20), (0.10, 20), tol, true).change,
            Change::Same,
            "2 of 20 is noise"
        );
        assert_eq!(
            rate_row("s", "g", (0.99, 1000), (0.80, 1000), tol, false).change,
            Change::Worse
        );
    }
}
