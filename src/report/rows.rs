//! The cells of the tables every format shows (journeys, steps, errors,
//! the twin's ledger), built once so the terminal, Markdown and HTML read
//! the same figures the same way. Formats only lay the cells out.

use crate::human::ms;
use crate::summary::{ErrorExample, ErrorSummary, JourneySummary, Snapshot, StepSummary};

/// How many arrivals were dropped, and how many of those for want of test
/// data: `12 dropped` or `12 dropped (10 ran out of test data)`.
pub fn dropped(l: &crate::summary::LoadInfo) -> String {
    if l.data_exhausted == 0 {
        format!("{} dropped", l.dropped)
    } else {
        format!(
            "{} dropped ({} ran out of test data)",
            l.dropped, l.data_exhausted
        )
    }
}

/// A journey's line: how its arrivals ended.
pub struct JourneyCells {
    pub arrivals: u64,
    pub in_time: u64,
    pub late: u64,
    pub abandoned: u64,
    pub failed: u64,
    pub unfinished: u64,
    /// `97.5%`.
    pub goodput: String,
    pub p50: String,
    pub p99: String,
}

impl JourneyCells {
    /// The line in the order of [`JOURNEY_HEADER`].
    pub fn row(self, name: &str) -> [String; 10] {
        [
            name.to_string(),
            self.arrivals.to_string(),
            self.in_time.to_string(),
            self.late.to_string(),
            self.abandoned.to_string(),
            self.failed.to_string(),
            self.unfinished.to_string(),
            self.goodput,
            self.p50,
            self.p99,
        ]
    }
}

/// The columns of a journey's [`JourneyCells::row`].
pub const JOURNEY_HEADER: [&str; 10] = [
    "journey",
    "arrivals",
    "in time",
    "late",
    "abandoned",
    "failed",
    "unfinished",
    "goodput",
    "p50",
    "p99",
];

pub fn journey(j: &JourneySummary) -> JourneyCells {
    let o = &j.outcomes;
    JourneyCells {
        arrivals: j.servable(),
        in_time: o.completed_in_time,
        late: o.completed_late,
        abandoned: o.abandoned,
        failed: o.failed,
        unfinished: o.unfinished,
        goodput: format!("{:.1}%", j.goodput * 100.0),
        p50: ms(j.time.p50_us),
        p99: ms(j.time.p99_us),
    }
}

/// A step's line: requests, error rate and latency percentiles.
pub struct StepCells {
    pub requests: u64,
    /// `0.25%`.
    pub error_rate: String,
    pub p50: String,
    pub p90: String,
    pub p99: String,
    pub p999: String,
    pub max: String,
    /// New connections and their p99 (connect and TLS handshake):
    /// `12, p99 3.1ms`, or `–` when every request found one open.
    pub connects: String,
}

impl StepCells {
    /// The line in the order of [`STEP_HEADER`].
    pub fn row(self, name: &str) -> [String; 9] {
        [
            name.to_string(),
            self.requests.to_string(),
            self.error_rate,
            self.p50,
            self.p90,
            self.p99,
            self.p999,
            self.max,
            self.connects,
        ]
    }
}

/// The columns of a step's [`StepCells::row`].
pub const STEP_HEADER: [&str; 9] = [
    "step",
    "requests",
    "error rate",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "new connections",
];

pub fn step(st: &StepSummary) -> StepCells {
    let l = &st.latency;
    StepCells {
        requests: st.requests,
        error_rate: format!("{:.2}%", st.error_rate * 100.0),
        p50: ms(l.p50_us),
        p90: ms(l.p90_us),
        p99: ms(l.p99_us),
        p999: ms(l.p999_us),
        max: ms(l.max_us),
        connects: if st.connect.is_empty() {
            "–".to_string()
        } else {
            format!("{}, p99 {}", st.connect.count, ms(st.connect.p99_us))
        },
    }
}

/// `unavailable 12, timeout 3`, most frequent first; `None` without errors.
pub fn errors(errors: &[ErrorSummary]) -> Option<String> {
    let list: Vec<String> = errors
        .iter()
        .map(|e| format!("{} {}", e.class, e.count))
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// An error example in one line: `stamp.upload at 12s: POST /upload:
/// expected status 201, got 413; body: {"error":"too large"}`.
pub fn example(e: &ErrorExample) -> String {
    let mut line = format!("{} at {}s: {}: {}", e.step, e.second, e.request, e.what);
    if let Some(body) = &e.body {
        line += "; body: ";
        line += &body.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    line
}

/// The first example of each error class and step, most frequent class
/// first, at most `limit` (the terminal's and Markdown's short list).
pub fn first_examples(errors: &[ErrorSummary], limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for e in errors {
        let mut steps: Vec<&str> = Vec::new();
        for x in &e.examples {
            if !steps.contains(&x.step.as_str()) {
                steps.push(&x.step);
                out.push(format!("{}: {}", e.class, example(x)));
            }
        }
    }
    out.truncate(limit);
    out
}

/// The ledger in one sentence: payments, credits, and the invariants.
pub fn ledger(l: &Snapshot) -> String {
    let broken: Vec<&str> = l
        .invariants
        .iter()
        .filter(|v| !v.holds)
        .map(|v| v.detail.as_str())
        .collect();
    format!(
        "{} payments captured, {} credited, {} paid but not credited; {}",
        l.counters.payments_captured,
        l.counters.payments_credited,
        l.paid_not_credited,
        if broken.is_empty() {
            "every invariant holds".to_string()
        } else {
            format!("broken: {}", broken.join("; "))
        }
    )
}

/// The platform's books in a few lines: each counter before, at the end
/// of the load and after the settle; how the settle went; each
/// reconciliation; what could not be read.
pub fn books(b: &crate::summary::books::BooksSummary) -> Vec<String> {
    let value = |v: Option<f64>| v.map_or_else(|| "?".to_string(), number);
    let mut out = Vec::new();
    let counters: Vec<String> = b
        .counters
        .iter()
        .map(|c| {
            format!(
                "{} {} → {} → {}",
                c.name,
                value(c.before),
                value(c.end_of_load),
                value(c.after_settle)
            )
        })
        .collect();
    if !counters.is_empty() {
        out.push(format!(
            "{} (before → end of load → after the settle, which {} in {:.1} s)",
            counters.join("; "),
            if b.settled {
                "stopped moving"
            } else {
                "was still moving"
            },
            b.settle_s
        ));
    }
    for r in &b.reconcile {
        out.push(reconciled(r));
    }
    out.extend(b.warnings.iter().cloned());
    out
}

/// One reconciliation in a sentence, with the first ids on one side only.
pub fn reconciled(r: &crate::summary::books::ReconcileSummary) -> String {
    if let Some(e) = &r.error {
        return format!("{}: not reconciled: {e}", r.name);
    }
    let ids = |n: Option<u64>, ids: &[String]| {
        let n = n.unwrap_or(0);
        if ids.is_empty() {
            return n.to_string();
        }
        let more = if n as usize > ids.len() { ", …" } else { "" };
        format!("{n} ({}{more})", ids.join(", "))
    };
    format!(
        "{}: {} ids through {} ({}), {} in {}; ours, not theirs: {}; theirs, not ours: {}",
        r.name,
        r.ours_count,
        r.step,
        r.capture,
        r.theirs_count.unwrap_or(0),
        r.theirs,
        ids(r.missing, &r.missing_ids),
        ids(r.extra, &r.extra_ids)
    )
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Why the run stopped before its schedule's end, when an objective
/// stopped it: which, at what second, the figures, and what that means
/// for the other verdicts.
pub fn stopped_early(s: &crate::summary::Summary) -> Option<String> {
    let e = s.stopped_early.as_ref()?;
    Some(format!(
        "stopped early at {}s of {:.0}s: objective `{}` ({}) was decided missed: {}; the other objectives are judged on the seconds that ran",
        e.at_s, s.run.planned_s, e.objective, e.kind, e.detail
    ))
}
