//! `summary.md`: the verdict, the objectives and the steps, for a CI job
//! summary or a pull-request comment.

use std::fmt::Write;

use super::{Format, ms, value};
use crate::rundata::RunData;
use crate::summary::{Judgement, Verdict};

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
        if let Some(gate) = &s.gate {
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
        let l = &s.load;
        let _ = writeln!(
            out,
            "**Load:** {} arrivals scheduled ({:.0} expected), {} started, {} late, {} dropped; start lag p99 {}.\n",
            l.scheduled,
            l.expected,
            l.started,
            l.late,
            l.dropped,
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
            let o = &j.outcomes;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {:.1}% | {} |",
                j.name,
                j.scheduled,
                o.completed_in_time,
                o.completed_late,
                o.abandoned,
                o.failed,
                o.unfinished,
                j.goodput * 100.0,
                ms(j.time.p99_us)
            );
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
            let t = &st.latency;
            let _ = writeln!(
                out,
                "| {} | {} | {:.2}% | {} | {} | {} | {} | {} |",
                st.name,
                st.requests,
                st.error_rate * 100.0,
                ms(t.p50_us),
                ms(t.p90_us),
                ms(t.p99_us),
                ms(t.p999_us),
                ms(t.max_us)
            );
        }
        if !s.errors.is_empty() {
            let list: Vec<String> = s
                .errors
                .iter()
                .map(|e| format!("{} {}", e.class, e.count))
                .collect();
            let _ = writeln!(out, "\n**Errors:** {}.", list.join(", "));
        }
        if let Some(ledger) = &s.ledger {
            let broken: Vec<&str> = ledger
                .invariants
                .iter()
                .filter(|v| !v.holds)
                .map(|v| v.detail.as_str())
                .collect();
            let _ = writeln!(
                out,
                "\n**Twin ledger:** {} payments captured, {} credited, {} paid but not credited; {}.",
                ledger.counters.payments_captured,
                ledger.counters.payments_credited,
                ledger.paid_not_credited,
                if broken.is_empty() {
                    "every invariant holds".to_string()
                } else {
                    format!("broken: {}", broken.join("; "))
                }
            );
        }
        out.into_bytes()
    }
}
