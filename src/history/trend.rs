//! Where a metric moved beyond noise in a scenario's history. Each point
//! is tested against the runs before it, since the last move (at most
//! [`WINDOW`] of them), with `compare`'s own tests: two proportions for
//! goodput and error rates, the quantile test on kept standard errors for
//! latency, the brackets for capacity. A move must show against every one
//! of them (intersection-union, as `compare` with several baselines), so a
//! single odd run does not make the next look like a change.

use crate::gate::compare::{Change, Tolerance, capacity_change};
use crate::gate::noise::{self, Evidence};

use super::query::{Metric, Point, Sample};

/// Most earlier runs a point is tested against.
pub const WINDOW: usize = 5;

/// Which way a point moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    Worse,
    Better,
}

/// For each point, whether it moved relative to the runs before it.
pub fn moves(points: &[Point], tol: Tolerance) -> Vec<Option<Move>> {
    let mut found = vec![None; points.len()];
    let mut since = 0;
    for i in 1..points.len() {
        let from = since.max(i.saturating_sub(WINDOW));
        let before = &points[from..i];
        if let Some(m) = moved(before, &points[i], tol) {
            found[i] = Some(m);
            since = i;
        }
    }
    found
}

fn moved(before: &[Point], new: &Point, tol: Tolerance) -> Option<Move> {
    if let Sample::Bracket(n) = new.sample {
        let bases: Vec<_> = before
            .iter()
            .filter_map(|p| match p.sample {
                Sample::Bracket(b) => Some(b),
                _ => None,
            })
            .collect();
        if bases.is_empty() {
            return None;
        }
        return match capacity_change(&bases, n, tol).0 {
            Change::Worse => Some(Move::Worse),
            Change::Better => Some(Move::Better),
            _ => None,
        };
    }
    let evidence = Evidence::against_all(before.iter().map(|b| test(b.sample, new.sample, tol)))?;
    if evidence.p_worse < noise::ALPHA {
        Some(Move::Worse)
    } else if evidence.p_better < noise::ALPHA {
        Some(Move::Better)
    } else {
        None
    }
}

fn test(base: Sample, new: Sample, tol: Tolerance) -> Option<Evidence> {
    match (base, new) {
        (Sample::Share(b), Sample::Share(n)) => noise::proportions(b, n, tol.absolute),
        (Sample::Quantile(b, Some(bse)), Sample::Quantile(n, Some(nse))) => Some(noise::estimated(
            (b, bse),
            (n, nse),
            tol.relative,
            tol.min_delta_us,
        )),
        _ => None,
    }
}

/// A terminal sparkline of the values, one character per point.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| {
            if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// The series as printed by `surge history trend`.
pub fn describe(metric: &Metric, points: &[Point], moves: &[Option<Move>]) -> String {
    let mut text = String::new();
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    text.push_str(&format!(
        "{} over {} runs: {}\n",
        metric.axis(),
        points.len(),
        sparkline(&values)
    ));
    for (i, (p, m)) in points.iter().zip(moves).enumerate() {
        let mark = match m {
            Some(Move::Worse) => "  ← worse",
            Some(Move::Better) => "  ← better",
            None => "",
        };
        text.push_str(&format!(
            "  {:>3}  {}  {:<10}  {:>10}{mark}\n",
            i + 1,
            short_time(&p.started_at),
            short_commit(p.git_commit.as_deref()),
            metric.show(p.value)
        ));
    }
    for (i, m) in moves.iter().enumerate() {
        let Some(m) = m else { continue };
        let before: Vec<f64> = points[i.saturating_sub(WINDOW)..i]
            .iter()
            .map(|p| p.value)
            .collect();
        let typical = median(&before);
        text.push_str(&format!(
            "{} moved {} at run {} (commit {}, {}): {} against {} before\n",
            metric.axis(),
            match m {
                Move::Worse => "worse",
                Move::Better => "better",
            },
            i + 1,
            points[i].git_commit.as_deref().unwrap_or("unknown"),
            short_time(&points[i].started_at),
            metric.show(points[i].value),
            metric.show(typical)
        ));
    }
    if moves.iter().all(Option::is_none) && points.len() > 1 {
        text.push_str("no move beyond noise\n");
    }
    text
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// `2026-11-28 10:00`, from RFC 3339.
pub fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

/// The first 10 characters of a commit, `-` when unknown.
pub fn short_commit(commit: Option<&str>) -> String {
    commit.map_or("-".into(), |c| c.chars().take(10).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::compare::Bracket;
    use crate::gate::noise::Share;

    fn point(sample: Sample, value: f64) -> Point {
        Point {
            started_at: String::new(),
            folder: String::new(),
            git_commit: None,
            value,
            sample,
        }
    }

    fn share(missed: u64, of: u64) -> Point {
        let s = Share {
            hits: missed,
            trials: of,
        };
        point(Sample::Share(s), 1.0 - s.value())
    }

    #[test]
    fn a_drop_in_goodput_is_found_once() {
        let mut points: Vec<Point> = (0..10).map(|i| share(100 + i % 3, 10_000)).collect();
        points.extend((0..6).map(|_| share(1_500, 10_000)));
        let m = moves(&points, Tolerance::default());
        assert_eq!(m[10], Some(Move::Worse));
        assert_eq!(m.iter().filter(|m| m.is_some()).count(), 1, "{m:?}");
    }

    #[test]
    fn noise_within_a_point_is_no_move() {
        let points: Vec<Point> = [100, 120, 95, 110, 105, 98, 115]
            .iter()
            .map(|&n| share(n, 10_000))
            .collect();
        assert!(
            moves(&points, Tolerance::default())
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn capacity_moves_by_brackets() {
        let b = |lower: f64, upper: f64| {
            point(
                Sample::Bracket(Bracket {
                    lower,
                    upper: Some(upper),
                    judged: true,
                }),
                lower,
            )
        };
        let points = vec![
            b(100.0, 110.0),
            b(100.0, 110.0),
            b(70.0, 77.0),
            b(140.0, 150.0),
        ];
        let m = moves(&points, Tolerance::default());
        assert_eq!(m, vec![None, None, Some(Move::Worse), Some(Move::Better)]);
    }

    #[test]
    fn latency_needs_its_standard_errors() {
        let q = |v: f64, se: Option<f64>| point(Sample::Quantile(v, se), v);
        let points = vec![q(100_000.0, Some(2_000.0)), q(300_000.0, None)];
        assert_eq!(moves(&points, Tolerance::default())[1], None);
        let points = vec![q(100_000.0, Some(2_000.0)), q(300_000.0, Some(5_000.0))];
        assert_eq!(moves(&points, Tolerance::default())[1], Some(Move::Worse));
    }

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(sparkline(&[1.0, 2.0, 8.0]), "▁▂█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▄▄");
    }
}
