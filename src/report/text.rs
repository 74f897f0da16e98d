//! The run as `surge run` and `surge merge` print it on the terminal: the
//! load, a line per journey and per step, errors, each objective's verdict
//! and the twin's ledger. Not written into the run folder; the same cells
//! as the Markdown and HTML tables.

use std::fmt::Write;

use super::{Format, rows};
use crate::human::ms;
use crate::rundata::RunData;
use crate::summary::{Judgement, Verdict};

pub struct Text;

impl Format for Text {
    fn file_name(&self) -> &'static str {
        "summary.txt"
    }

    fn render(&self, run: &RunData) -> Vec<u8> {
        let s = &run.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "surge: {} ({}) -> {}",
            s.scenario.name,
            s.status.as_str(),
            run.dir.display()
        );
        let _ = writeln!(out, "  target: {}", s.target.base_url);
        if !s.target.tls_unverified.is_empty() {
            let _ = writeln!(
                out,
                "  WARNING: TLS certificates were not verified ({})",
                s.target.tls_unverified.join(", ")
            );
        }
        load(&mut out, run);
        journeys(&mut out, run);
        steps(&mut out, run);
        let errors = rows::errors(&s.errors);
        let _ = writeln!(out, "  errors: {}", errors.as_deref().unwrap_or("none"));
        for line in rows::first_examples(&s.errors, EXAMPLE_LINES) {
            let _ = writeln!(out, "    e.g. {line}");
        }
        verdicts(&mut out, run);
        if let Some(ledger) = &s.ledger {
            let _ = writeln!(out, "  ledger: {}", rows::ledger(ledger));
        }
        for line in s.books.iter().flat_map(rows::books) {
            let _ = writeln!(out, "  books: {line}");
        }
        if s.gate.is_some() {
            let _ = writeln!(out, "  report: {}/report.html", run.dir.display());
        }
        out.into_bytes()
    }
}

/// Error examples the terminal shows (the report and summary.json keep up
/// to five per step and class).
const EXAMPLE_LINES: usize = 8;

fn load(out: &mut String, run: &RunData) {
    let l = &run.summary.load;
    let _ = writeln!(
        out,
        "  arrivals: {} scheduled ({:.0} expected), {} started, {} late, {}; start lag p50 {} p99 {}",
        l.scheduled,
        l.expected,
        l.started,
        l.late,
        super::rows::dropped(l),
        ms(l.lag.p50_us),
        ms(l.lag.p99_us)
    );
}

/// Column widths of the journeys' table; negative: aligned left.
const JOURNEY_WIDTHS: [i32; 10] = [-18, 8, 8, 6, 9, 6, 10, 8, 9, 9];

fn journeys(out: &mut String, run: &RunData) {
    line(out, &JOURNEY_WIDTHS, &rows::JOURNEY_HEADER);
    for j in &run.summary.journeys {
        line(out, &JOURNEY_WIDTHS, &rows::journey(j).row(&j.name));
    }
}

/// The steps' table shows these columns of a step's row, this wide.
const STEP_COLUMNS: [(usize, i32); 7] = [(0, -34), (1, 9), (2, 7), (3, 9), (5, 9), (7, 9), (8, 18)];

fn steps(out: &mut String, run: &RunData) {
    let pick = |row: &[&str]| -> Vec<String> {
        STEP_COLUMNS
            .iter()
            .map(|(i, _)| row[*i].to_string())
            .collect()
    };
    let widths: Vec<i32> = STEP_COLUMNS.iter().map(|(_, w)| *w).collect();
    let mut header = rows::STEP_HEADER;
    header[2] = "errors";
    line(out, &widths, &pick(&header));
    for st in &run.summary.steps {
        let row = rows::step(st).row(&st.name);
        line(out, &widths, &pick(&row.each_ref().map(String::as_str)));
    }
}

/// One line of a table: two spaces in, cells a space apart, each padded
/// to its width (left-aligned where the width is negative).
fn line(out: &mut String, widths: &[i32], cells: &[impl AsRef<str>]) {
    let mut text = String::from(" ");
    for (w, cell) in widths.iter().zip(cells) {
        let (cell, width) = (cell.as_ref(), w.unsigned_abs() as usize);
        let _ = if *w < 0 {
            write!(text, " {cell:<width$}")
        } else {
            write!(text, " {cell:>width$}")
        };
    }
    let _ = writeln!(out, "{text}");
}

fn verdicts(out: &mut String, run: &RunData) {
    let Some(gate) = &run.summary.gate else {
        return;
    };
    for reason in &gate.validity.reasons {
        let _ = writeln!(out, "  invalid: {reason}");
    }
    for o in &gate.objectives {
        let mark = match o.judgement {
            Judgement::Met => "met     ",
            Judgement::Missed => "MISSED  ",
            Judgement::Unjudged => "UNJUDGED",
        };
        let _ = writeln!(out, "  {mark} {}: {}", o.name, o.detail);
    }
    let verdict = match gate.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Invalid => "INVALID",
    };
    let _ = writeln!(out, "  verdict: {verdict}");
    if let Some(line) = rows::stopped_early(&run.summary) {
        let _ = writeln!(out, "  {line}");
    }
}
