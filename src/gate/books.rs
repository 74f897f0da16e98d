//! Verdicts on the platform's books: a reconciliation's differences
//! (from the summary), and bounds on counters or arithmetic over them
//! (from `books.csv`'s readings). A reading that failed makes the
//! objective unjudged, never met.

use super::{Judged, Judging};
use crate::folder::books::{Reading, Stage, Table};
use crate::rundata::RunData;
use crate::scenario::books::Expr;
use crate::scenario::model::{BooksObjective, ReconcileObjective};
use crate::summary::Summary;

/// Ours against theirs, by the objective's bounds.
pub(super) fn reconcile(o: &ReconcileObjective, s: &Summary) -> Judged {
    let bounds: Vec<(&str, u64)> = [("missing", o.missing_at_most), ("extra", o.extra_at_most)]
        .into_iter()
        .filter_map(|(what, b)| b.map(|b| (what, b)))
        .collect();
    let first = bounds.first().map_or(0, |b| b.1);
    // The reconciliation's name names the objective too.
    let judging = Judging::new(first as f64, "ids", o.name.clone());
    let Some(r) = s
        .books
        .as_ref()
        .and_then(|b| b.reconcile.iter().find(|r| r.name == o.name))
    else {
        return judging.unjudged(
            None,
            None,
            format!("{}: the run reconciled no books", o.name),
        );
    };
    if let Some(e) = &r.error {
        return judging.unjudged(None, None, e.clone());
    }
    let mut met = true;
    let mut measured = None;
    let mut parts = Vec::new();
    for (what, bound) in &bounds {
        let (count, ids, side) = match *what {
            "missing" => (r.missing.unwrap_or(0), &r.missing_ids, "ours, not theirs"),
            _ => (r.extra.unwrap_or(0), &r.extra_ids, "theirs, not ours"),
        };
        let holds = count <= *bound;
        met &= holds;
        measured.get_or_insert(count as f64);
        let mut part = format!("{count} {side} ({} {bound})", super::relation(holds, true));
        if !ids.is_empty() && !holds {
            let more = if count as usize > ids.len() {
                ", …"
            } else {
                ""
            };
            part.push_str(&format!(": {}{more}", ids.join(", ")));
        }
        parts.push(part);
    }
    let detail = format!(
        "{} ids through {}, {} in {}; {}",
        r.ours_count,
        r.step,
        r.theirs_count.unwrap_or(0),
        r.theirs,
        parts.join("; ")
    );
    judging.verdict(met, measured, Some(r.ours_count), detail)
}

/// A counter's (or an expression's) readings against the objective's
/// bounds.
pub(super) fn counter(o: &BooksObjective, data: &RunData) -> Judged {
    let what = o
        .counter
        .clone()
        .or_else(|| o.expr.clone())
        .unwrap_or_default();
    let bounds = bounds(o);
    let first = bounds.first().map_or(0.0, |b| b.2);
    let shown: Vec<String> = bounds
        .iter()
        .map(|(l, rel, b)| format!("{l}{what} {rel} {b}"))
        .collect();
    let judging = Judging::new(first, "value", shown.join(", "));
    let Some(table) = &data.books else {
        return judging.unjudged(None, None, format!("{what}: the run read no books"));
    };
    let expr = match Expr::parse(&what) {
        Ok(e) => e,
        Err(e) => return judging.unjudged(None, None, e),
    };
    let value = |r: &Reading| expr.eval(&|c| table.value(r, c));
    let mut met = true;
    let mut measured = None;
    let mut parts = Vec::new();
    for (label, relation, bound) in &bounds {
        let got = if label.is_empty() {
            over_readings(table, o.after_settle, &value, *relation == "≤")
        } else {
            change(table, &value)
        };
        let v = match got {
            Ok(v) => v,
            Err(why) => return judging.unjudged(measured, None, format!("{what}: {why}")),
        };
        let holds = if *relation == "≤" {
            v <= *bound
        } else {
            v >= *bound
        };
        met &= holds;
        measured.get_or_insert(v);
        let sign = super::relation(holds, *relation == "≤");
        parts.push(format!(
            "{label}{what} = {} {sign} {bound}",
            shown_number(v)
        ));
    }
    let readings = table.readings.len() as u64;
    judging.verdict(met, measured, Some(readings), parts.join("; "))
}

/// (label, relation, bound) of each bound the objective gives.
fn bounds(o: &BooksObjective) -> Vec<(&'static str, &'static str, f64)> {
    [
        ("", "≤", o.at_most),
        ("", "≥", o.at_least),
        ("change of ", "≤", o.delta_at_most),
        ("change of ", "≥", o.delta_at_least),
    ]
    .into_iter()
    .filter_map(|(l, r, b)| b.map(|b| (l, r, b)))
    .collect()
}

/// The worst value over the readings a bound looks at: every reading from
/// before the load to its end, or only the one after the settle.
fn over_readings(
    table: &Table,
    after_settle: bool,
    value: &dyn Fn(&Reading) -> Option<f64>,
    at_most: bool,
) -> Result<f64, String> {
    let stages: &[Stage] = if after_settle {
        &[Stage::After]
    } else {
        &[Stage::Before, Stage::Load, Stage::End]
    };
    let rows: Vec<&Reading> = table
        .readings
        .iter()
        .filter(|r| stages.contains(&r.stage))
        .collect();
    if rows.is_empty() {
        return Err("no reading was taken".into());
    }
    let values: Vec<Option<f64>> = rows.iter().map(|r| value(r)).collect();
    let failed = values.iter().filter(|v| v.is_none()).count();
    if failed > 0 {
        return Err(format!("{failed} of {} readings failed", rows.len()));
    }
    let values = values.into_iter().flatten();
    Ok(if at_most {
        values.fold(f64::NEG_INFINITY, f64::max)
    } else {
        values.fold(f64::INFINITY, f64::min)
    })
}

/// After the settle minus before the load.
fn change(table: &Table, value: &dyn Fn(&Reading) -> Option<f64>) -> Result<f64, String> {
    let at = |stage: Stage| {
        table
            .readings
            .iter()
            .rfind(|r| r.stage == stage)
            .ok_or_else(|| format!("no reading {} was taken", stage.as_str()))
            .and_then(|r| value(r).ok_or_else(|| format!("the reading {} failed", stage.as_str())))
    };
    Ok(at(Stage::After)? - at(Stage::Before)?)
}

fn shown_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
