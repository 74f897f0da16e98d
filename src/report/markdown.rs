//! `summary.md`: the verdict, the objectives and the steps, for a CI job
//! summary or a pull-request comment.

use std::fmt::Write;

use super::{Format, rows, value};
use crate::human::ms;
use crate::rundata::RunData;
use crate::summary::{Gate, Judgement, Summary, Verdict};

pub struct Markdown;

impl Format for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, run: &RunData) -> Vec<u8> {
        let s = &run.summary;
        let mut out = String::new();
        let verdict = match s.gate.as_ref().map(|g| g.verdict) {
            Some(Verdict::Pass) => "✅ pass",
            Some(Verdict::Fail) => "❌ fail",
            Some(Verdict::Invalid) => "⚠️ invalid run",
            None => "… running",
        };
        let _ = writeln!(out, "## surge: {} — {verdict}\n", s.scenario.name);
        let _ = writeln!(
            out,
            "Run of `{}` started {}, {:.0}s planned, against {}.\n",
            s.scenario.file, s.run.started_at, s.run.planned_s, s.target.base_url
        );
        if let Some(line) = super::rows::stopped_early(s) {
            let _ = writeln!(out, "**{line}.**\n");
        }
        if let Some(gate) = &s.gate {
            verdicts(&mut out, gate);
        }
        tables(&mut out, s);
        out.into_bytes()
    }
}

/// Why the run is invalid, and each objective's verdict.
fn verdicts(out: &mut String, gate: &Gate) {
    for reason in &gate.validity.reasons {
        let _ = writeln!(out, "- ⚠️ {reason}");
    }
    if !gate.validity.reasons.is_empty() {
        let _ = writeln!(out);
    }
    if !gate.objectives.is_empty() {
        let _ = writeln!(out, "| objective | verdict | measured | bound | samples |");
        let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: |");
        for o in &gate.objectives {
            let mark = match o.judgement {
                Judgement::Met => "✅ met",
                Judgement::Missed => "❌ missed",
                Judgement::Unjudged => "❔ too few samples",
            };
            let samples = o.samples.map_or(String::new(), |n| n.to_string());
            let _ = writeln!(
                out,
                "| {} | {mark} | {} | {} | {samples} |",
                o.name,
                value(o.measured, &o.unit),
                value(Some(o.bound), &o.unit)
            );
        }
        let _ = writeln!(out);
    }
}

/// The load, the journeys' and steps' tables, errors and the ledger.
fn tables(out: &mut String, s: &Summary) {
    let l = &s.load;
    let _ = writeln!(
        out,
        "**Load:** {} arrivals scheduled ({:.0} expected), {} started, {} late, {}; start lag p99 {}.\n",
        l.scheduled,
        l.expected,
        l.started,
        l.late,
        super::rows::dropped(l),
        ms(l.lag.p99_us)
    );
    let _ = writeln!(
        out,
        "| journey | arrivals | in time | late | abandoned | failed | unfinished | goodput | p99 time |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for j in &s.journeys {
        let mut cells = rows::journey(j).row(&j.name).to_vec();
        cells.remove(8); // p50: the job summary keeps to the tail
        table_row(out, &cells);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| step | requests | error rate | p50 | p90 | p99 | p99.9 | max |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for st in &s.steps {
        table_row(out, &rows::step(st).row(&st.name));
    }
    if let Some(errors) = rows::errors(&s.errors) {
        let _ = writeln!(out, "\n**Errors:** {errors}.");
        for line in rows::first_examples(&s.errors, 5) {
            let _ = writeln!(out, "- `{}`", line.replace('`', "'"));
        }
    }
    if let Some(ledger) = &s.ledger {
        let _ = writeln!(out, "\n**Twin ledger:** {}.", rows::ledger(ledger));
    }
    if let Some(books) = &s.books {
        let _ = writeln!(out, "\n**The platform's books:**\n");
        for line in rows::books(books) {
            let _ = writeln!(out, "- {}", line.replace('`', "'"));
        }
    }
}

/// `| a | b | c |`
fn table_row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}
