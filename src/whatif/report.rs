//! The what-if's three files: `whatif.json` (the comparison as data),
//! `whatif.md` and `whatif.html` (verdict lines, the tables, and in HTML
//! the charts of goodput and of the backlog with a line per run). The
//! tables are built once and laid out by each format.

use std::fmt::Write as _;
use std::path::Path;

use super::WhatifError;
use super::compare::{Change, Comparison, Outcomes, Ran, RunResult, signed};
use crate::report::charts::{self, Frame, Line, Scale};
use crate::report::esc;

/// Writes `whatif.json`, `whatif.md` and `whatif.html` into `dir`.
pub fn write(dir: &Path, c: &Comparison, ran: &[(super::Planned, Ran)]) -> Result<(), WhatifError> {
    let put = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| WhatifError::Write { path, source })
    };
    let json = serde_json::to_string_pretty(c).expect("the comparison serializes");
    put("whatif.json", json + "\n")?;
    put("whatif.md", markdown(c))?;
    put("whatif.html", html(c, ran))?;
    Ok(())
}

/// A table as cells, laid out by each format.
struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn markdown(&self, out: &mut String) {
        let _ = writeln!(out, "| {} |", self.head.join(" | "));
        let rule: Vec<&str> = self
            .head
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "| {} |", rule.join(" | "));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
    }

    fn html(&self, out: &mut String) {
        out.push_str("<table><tr>");
        for h in &self.head {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", esc(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / of as f64)
    }
}

/// `+412 (+4.1 pts; +350 to +474)`, `–` for the baseline.
fn change_cell(c: Option<&Change>) -> String {
    match c {
        None => "–".into(),
        Some(c) => format!(
            "{} ({}{:.1} pts; {} to {}){}",
            signed(c.count),
            if c.share >= 0.0 { "+" } else { "−" },
            c.share.abs() * 100.0,
            signed(c.count_low.round() as i64),
            signed(c.count_high.round() as i64),
            if c.measurable { "" } else { ", within noise" }
        ),
    }
}

/// The heads of [`outcome_cells`] and the change beside them.
const OUTCOME_HEAD: [&str; 6] = [
    "arrivals",
    "done before the deadline",
    "late",
    "abandoned",
    "failed or unfinished",
    "vs baseline (95% interval)",
];

fn outcome_cells(o: &Outcomes) -> [String; 5] {
    [
        o.arrivals.to_string(),
        format!(
            "{} ({})",
            o.completed_in_time,
            pct(o.completed_in_time, o.arrivals)
        ),
        o.completed_late.to_string(),
        o.abandoned.to_string(),
        (o.failed + o.other).to_string(),
    ]
}

fn totals(c: &Comparison) -> Table {
    let rows = c
        .runs
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone()];
            row.extend(outcome_cells(&r.total));
            row.push(change_cell(r.versus_baseline.as_ref()));
            row.push(r.paid_not_credited.map_or("–".into(), |n| n.to_string()));
            row.push(stock_outs(r));
            row.push(format!("{:.2}", r.retry_amplification));
            row.push(validity(r));
            row
        })
        .collect();
    let mut head = vec!["run"];
    head.extend(OUTCOME_HEAD);
    head.extend([
        "paid, not credited",
        "stock-outs",
        "requests per arrival",
        "validity",
    ]);
    Table { head, rows }
}

fn validity(r: &RunResult) -> String {
    match (r.carried_out, r.valid) {
        (true, true) => "valid".into(),
        (true, false) => format!("invalid: {}", r.problems.join("; ")),
        (false, _) => r.problems.join("; "),
    }
}

fn stock_outs(r: &RunResult) -> String {
    if r.stock_outs.is_empty() {
        return "none".into();
    }
    r.stock_outs
        .iter()
        .map(|s| {
            format!(
                "{} at {} ({} refused)",
                s.partner,
                charts::clock(s.first_ms as f64 / 1000.0),
                s.refused
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn channels(c: &Comparison) -> Table {
    let mut rows = Vec::new();
    let names: Vec<&str> = c
        .runs
        .iter()
        .flat_map(|r| r.channels.iter().map(|ch| ch.channel.as_str()))
        .fold(Vec::new(), |mut acc, n| {
            if !acc.contains(&n) {
                acc.push(n);
            }
            acc
        });
    for name in names {
        for r in &c.runs {
            let Some(ch) = r.channels.iter().find(|ch| ch.channel == name) else {
                continue;
            };
            let mut row = vec![name.to_string(), r.name.clone()];
            row.extend(outcome_cells(&ch.outcomes));
            row.push(change_cell(ch.versus_baseline.as_ref()));
            row.push(format!("{:.2}", ch.retry_amplification));
            rows.push(row);
        }
    }
    let mut head = vec!["channel", "run"];
    head.extend(OUTCOME_HEAD);
    head.push("requests per arrival");
    Table { head, rows }
}

fn journey_times(c: &Comparison) -> Table {
    let ms = |v: Option<f64>| v.map_or("–".into(), |ms| crate::human::ms((ms * 1000.0) as u64));
    let mut rows = Vec::new();
    let names: Vec<&str> = c
        .runs
        .first()
        .map(|r| r.journeys.iter().map(|j| j.journey.as_str()).collect())
        .unwrap_or_default();
    for name in names {
        for r in &c.runs {
            if let Some(j) = r.journeys.iter().find(|j| j.journey == name) {
                rows.push(vec![
                    name.to_string(),
                    r.name.clone(),
                    j.completed.to_string(),
                    ms(j.p50_ms),
                    ms(j.p99_ms),
                ]);
            }
        }
    }
    Table {
        head: vec!["journey", "run", "completed", "p50", "p99"],
        rows,
    }
}

fn intro(c: &Comparison) -> String {
    let differ: Vec<&str> = c
        .runs
        .iter()
        .filter(|r| r.same_arrivals == Some(false))
        .map(|r| r.name.as_str())
        .collect();
    let mut text = format!(
        "{} (seed {}, scale {}",
        if differ.is_empty() {
            "Every run met the same arrivals"
        } else {
            "Every run used the same seed"
        },
        c.seed,
        c.scale
    );
    if (c.time_factor - 1.0).abs() > 1e-9 {
        let _ = write!(text, ", timeline ×{:.3}", c.time_factor);
    }
    let _ = write!(
        text,
        "); the deadline falls at {}. Differences are in applicants whose journey completed before it, \
         with the 95% interval of a two-proportion test; a difference whose interval spans zero is within the noise.",
        charts::clock(c.deadline_s)
    );
    if !differ.is_empty() {
        let _ = write!(
            text,
            " Not the same arrivals: {} (their variants change the load).",
            differ.join(", ")
        );
    }
    text
}

fn markdown(c: &Comparison) -> String {
    let mut out = format!("# What would have saved the deadline: {}\n\n", c.scenario);
    let _ = writeln!(out, "{}\n", intro(c));
    for r in &c.runs {
        let _ = writeln!(out, "- **{}**: {}.", r.name, r.verdict);
        if !r.description.is_empty() && r.name != super::BASELINE {
            let _ = writeln!(out, "  {} (`{}`)", r.description, r.sets.join("`, `"));
        }
    }
    out.push_str("\n## Applicants\n\n");
    totals(c).markdown(&mut out);
    out.push_str("\n## By channel\n\n");
    channels(c).markdown(&mut out);
    out.push_str("\n## Journey time, from each arrival's intended start (completed journeys)\n\n");
    journey_times(c).markdown(&mut out);
    let _ = writeln!(
        out,
        "\nEach run's folder (report.html, summary.json) is beside this file; `whatif.html` has the charts."
    );
    out
}

/// Mean of each `width`-second window centred on each second.
fn smoothed(per_s: &[u64], width: usize) -> Vec<(f64, f64)> {
    let half = width / 2;
    (0..per_s.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(per_s.len());
            let sum: u64 = per_s[lo..hi].iter().sum();
            (i as f64 + 0.5, sum as f64 / (hi - lo) as f64)
        })
        .collect()
}

fn html(c: &Comparison, ran: &[(super::Planned, Ran)]) -> String {
    let mut out = String::with_capacity(128 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>surge whatif: {0}</title><style>{1}</style></head><body><main>\n\
         <h1>What would have saved the deadline: {0}</h1>\n<p>{2}</p>\n<ul>\n",
        esc(&c.scenario),
        crate::report::html::STYLE,
        esc(&intro(c))
    );
    for r in &c.runs {
        let _ = writeln!(
            out,
            "<li><b>{}</b>: {}.{}</li>",
            esc(&r.name),
            esc(&r.verdict),
            if r.description.is_empty() || r.name == super::BASELINE {
                String::new()
            } else {
                format!(
                    " <span class=\"note\">{} ({})</span>",
                    esc(&r.description),
                    esc(&r.sets.join(", "))
                )
            }
        );
    }
    out.push_str("</ul>\n");
    let base = ran.iter().find_map(|(_, r)| match r {
        Ran::Data(d) => Some(d),
        Ran::NotCarriedOut(_) => None,
    });
    if let Some(base) = base {
        let s = &base.summary;
        let seconds = c
            .runs
            .iter()
            .map(|r| r.backlog.len())
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let frame = Frame {
            seconds,
            phases: &s.timeline.phases,
            faults: &s.timeline.faults,
            deadline_s: s.timeline.deadline_s,
        };
        let width = ((seconds / 60.0).round() as usize).clamp(1, 30) | 1;
        let lines = |pick: &dyn Fn(&RunResult) -> Vec<(f64, f64)>| -> Vec<Line> {
            c.runs
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.backlog.is_empty())
                .map(|(i, r)| Line {
                    name: r.name.clone(),
                    color: charts::color(i),
                    points: pick(r),
                    dashed: false,
                })
                .collect()
        };
        let goodput = lines(&|r| smoothed(&r.in_time_per_s, width));
        let backlog = lines(&|r| {
            r.backlog
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64 + 1.0, *n as f64))
                .collect()
        });
        let legend: String = goodput
            .iter()
            .map(|l| {
                format!(
                    "<span><i class=\"sw\" style=\"background:{}\"></i>{}</span>",
                    charts::hex(l.color),
                    esc(&l.name)
                )
            })
            .collect();
        let _ = write!(
            out,
            "<h2>Goodput</h2><p class=\"note\">Journeys completed before the deadline per second \
             ({width} s average); the baseline's phases, faults and deadline behind.</p>\n{}\
             <p class=\"legend\">{legend}</p>\n\
             <h2>Backlog</h2><p class=\"note\">Applicants started and not yet done (in flight) at \
             each second.</p>\n{}<p class=\"legend\">{legend}</p>\n",
            charts::time_lines(&frame, "completed in time /s", Scale::Linear, 300, &goodput),
            charts::time_lines(&frame, "in flight", Scale::Linear, 300, &backlog),
        );
    }
    out.push_str("<h2>Applicants</h2>\n");
    totals(c).html(&mut out);
    out.push_str("<h2>By channel</h2>\n");
    channels(c).html(&mut out);
    out.push_str("<h2>Journey time</h2><p class=\"note\">From each arrival's intended start, completed journeys.</p>\n");
    journey_times(c).html(&mut out);
    out.push_str("<h2>Runs</h2><ul>\n");
    for r in &c.runs {
        let _ = writeln!(
            out,
            "<li><a href=\"{0}/report.html\">{0}/report.html</a> ({1})</li>",
            esc(&r.folder),
            esc(&validity(r))
        );
    }
    out.push_str("</ul>\n</main></body></html>\n");
    out
}
