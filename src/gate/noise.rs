//! The noise models `surge compare` judges with. Each judged metric has one
//! stated test that gives a p-value for "the new run is worse by more than
//! the practical margin" (and one for "better"), a minimum sample below
//! which it says "too little data", and the whole table is one family whose
//! false-alarm rate Holm's step-down procedure holds at `ALPHA`.
//!
//! - Latency quantiles: the difference of the two quantiles beyond the
//!   margin, over its standard error; each quantile's standard error is
//!   read from its distribution-free 95% bounds (the values at ranks
//!   n·q ± 1.96·√(n·q·(1−q)) of the histogram), so no shape is assumed.
//! - Shares (error rate, goodput): a one-sided test of the difference of
//!   two proportions beyond the margin, with Agresti and Caffo's added
//!   successes and failures so that 0 of n is not a certainty.
//! - Counts per exposure (journeys completed per second, requests per
//!   journey): two rates, quasi-Poisson: the log of their ratio beyond the
//!   relative tolerance, with each count's variance inflated by its
//!   dispersion (variance over mean of its counts binned by 1 to 10
//!   seconds, the largest), because polls and completions come in bursts.

use hdrhistogram::Histogram;
use statrs::distribution::{ContinuousCDF, Normal};

/// The family-wise false-alarm rate of one comparison.
pub const ALPHA: f64 = 0.01;

/// A quantile is judged only with this many samples beyond it on each side
/// (20 for p50, 100 for p90, 1,000 for p99).
pub const QUANTILE_TAIL: f64 = 10.0;

/// A share is judged only on this many trials on each side.
pub const MIN_TRIALS: u64 = 20;

/// A rate is judged only when both runs counted this many events together.
pub const MIN_EVENTS: u64 = 20;

/// Which test a judged row used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    Quantile,
    Proportions,
    Rates,
}

impl Test {
    pub fn name(self) -> &'static str {
        match self {
            Test::Quantile => "quantile difference",
            Test::Proportions => "two proportions",
            Test::Rates => "quasi-Poisson rates",
        }
    }
}

/// What one test found: one-sided p-values for each direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evidence {
    pub test: Test,
    pub p_worse: f64,
    pub p_better: f64,
}

impl Evidence {
    /// Several baselines: the new run is worse only if it is worse than
    /// each of them (an intersection-union test, valid at the same level
    /// with no correction), so the largest p-value speaks.
    /// `None` when any comparison lacked data.
    pub fn against_all(each: impl IntoIterator<Item = Option<Evidence>>) -> Option<Evidence> {
        each.into_iter()
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .reduce(|a, b| Evidence {
                test: a.test,
                p_worse: a.p_worse.max(b.p_worse),
                p_better: a.p_better.max(b.p_better),
            })
    }
}

/// The upper tail of the standard normal beyond `z`.
fn upper_tail(z: f64) -> f64 {
    1.0 - Normal::standard().cdf(z)
}

/// Whether a quantile has enough samples beyond it to be judged.
pub fn quantile_judgeable(h: &Histogram<u64>, q: f64) -> bool {
    h.len() as f64 * (1.0 - q) >= QUANTILE_TAIL
}

/// The distribution-free bounds of quantile `q` at normal score `z`: the
/// values at ranks n·q ∓ z·√(n·q·(1−q)). A rank past the last sample has
/// no bound (infinity); one before the first is bounded by zero.
pub fn quantile_bounds(h: &Histogram<u64>, q: f64, z: f64) -> (f64, f64) {
    let n = h.len() as f64;
    if n < 1.0 {
        return (0.0, f64::INFINITY);
    }
    let spread = z * (n * q * (1.0 - q)).sqrt();
    let (lo, hi) = (n * q - spread, n * q + spread);
    let lower = if lo < 0.0 {
        0.0
    } else {
        h.value_at_quantile(lo / n) as f64
    };
    let upper = if hi > n {
        f64::INFINITY
    } else {
        h.value_at_quantile(hi / n) as f64
    };
    (lower, upper)
}

/// How far above `base` a value must be to matter: the relative tolerance
/// or the absolute floor, whichever is larger.
fn raised(base: f64, relative: f64, floor: f64) -> f64 {
    base + (base * relative).max(floor)
}

/// z of the bounds a quantile's standard error is read from (95%).
const Z_SE: f64 = 1.96;

/// A quantile's estimate and its standard error, the width of its
/// distribution-free 95% bounds over 2 × 1.96 (at least the histogram's
/// resolution, so a quantile on one repeated value is not exact).
pub fn estimate(h: &Histogram<u64>, q: f64) -> (f64, f64) {
    let value = h.value_at_quantile(q) as f64;
    let (lo, hi) = quantile_bounds(h, q, Z_SE);
    let resolution = (value / 1000.0).max(1.0);
    (value, ((hi - lo) / (2.0 * Z_SE)).max(resolution))
}

/// p-value that quantile `q` of `new` exceeds that of `base` by more than
/// the margin (`relative` of the base, at least `floor`).
fn quantile_worse(base: (f64, f64), new: (f64, f64), relative: f64, floor: f64) -> f64 {
    let ((b, b_se), (n, n_se)) = (base, new);
    upper_tail((n - raised(b, relative, floor)) / b_se.hypot(n_se))
}

/// Quantile `q` of two runs; `None` when either has too few samples.
pub fn quantiles(
    base: &Histogram<u64>,
    new: &Histogram<u64>,
    q: f64,
    relative: f64,
    floor: f64,
) -> Option<Evidence> {
    if !quantile_judgeable(base, q) || !quantile_judgeable(new, q) {
        return None;
    }
    Some(estimated(
        estimate(base, q),
        estimate(new, q),
        relative,
        floor,
    ))
}

/// The quantile test on two (estimate, standard error) pairs, as
/// [`estimate`] gives them: what a run history keeps instead of the
/// histograms.
pub fn estimated(b: (f64, f64), n: (f64, f64), relative: f64, floor: f64) -> Evidence {
    Evidence {
        test: Test::Quantile,
        p_worse: quantile_worse(b, n, relative, floor),
        p_better: quantile_worse(n, b, relative, floor),
    }
}

/// A share of trials, as counted.
#[derive(Clone, Copy, Debug)]
pub struct Share {
    pub hits: u64,
    pub trials: u64,
}

impl Share {
    pub fn value(self) -> f64 {
        if self.trials == 0 {
            0.0
        } else {
            self.hits as f64 / self.trials as f64
        }
    }

    /// Agresti and Caffo: one success and one failure added.
    fn adjusted(self) -> (f64, f64) {
        let n = self.trials as f64 + 2.0;
        let p = (self.hits as f64 + 1.0) / n;
        (p, p * (1.0 - p) / n)
    }
}

/// Two shares where a higher one is worse (for goodput, pass the shares
/// of journeys that did not complete in time). `margin` is absolute.
pub fn proportions(base: Share, new: Share, margin: f64) -> Option<Evidence> {
    if base.trials < MIN_TRIALS || new.trials < MIN_TRIALS {
        return None;
    }
    let ((pb, vb), (pn, vn)) = (base.adjusted(), new.adjusted());
    let se = (vb + vn).sqrt();
    Some(Evidence {
        test: Test::Proportions,
        p_worse: upper_tail((pn - pb - margin) / se),
        p_better: upper_tail((pb - pn - margin) / se),
    })
}

/// The difference of two shares (`new` − `base`) with its two-sided
/// interval at normal score `z` (1.96 for 95%), Agresti and Caffo's: each
/// share with one success and one failure added, so that 0 of n still has
/// a width. `None` without trials on both sides.
pub fn difference(base: Share, new: Share, z: f64) -> Option<(f64, f64, f64)> {
    if base.trials == 0 || new.trials == 0 {
        return None;
    }
    let ((pb, vb), (pn, vn)) = (base.adjusted(), new.adjusted());
    let d = pn - pb;
    let half = z * (vb + vn).sqrt();
    Some((new.value() - base.value(), d - half, d + half))
}

/// Events counted over an exposure (seconds, journeys), and how much more
/// they vary than a Poisson count would.
#[derive(Clone, Copy, Debug)]
pub struct Count {
    pub events: u64,
    pub exposure: f64,
    /// Variance over mean of the events' per-second counts (at least 1):
    /// polls and completions come in bursts (after an outage, behind a
    /// slow signer), so their totals vary far more than Poisson's.
    pub dispersion: f64,
}

impl Count {
    pub fn rate(self) -> f64 {
        if self.exposure > 0.0 {
            self.events as f64 / self.exposure
        } else {
            0.0
        }
    }
}

/// Widths (seconds) at which counts are binned to measure their bursts.
const SCALES: [usize; 4] = [1, 2, 5, 10];

/// A wider binning counts only with at least this many bins.
const MIN_BINS: usize = 8;

/// Variance over mean of a count's per-second values, at least 1
/// (Poisson), over the seconds from its first count to its last. The
/// variance is taken from second differences, so a ramp of the schedule
/// does not pass for noise; bursts do.
/// Bursts that last longer than a second (polls piling up behind an outage)
/// show only in wider bins, so the counts are also binned by 2, 5 and 10
/// seconds (where at least eight bins remain) and the largest dispersion
/// is kept.
pub fn dispersion(per_second: &[u64]) -> f64 {
    let first = per_second.iter().position(|&c| c > 0);
    let last = per_second.iter().rposition(|&c| c > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return 1.0;
    };
    let active = &per_second[first..=last];
    SCALES
        .iter()
        .filter_map(|&width| {
            let bins: Vec<u64> = active.chunks_exact(width).map(|c| c.iter().sum()).collect();
            // Fewer bins estimate a variance too poorly to count.
            (bins.len() >= MIN_BINS || width == 1).then(|| burst_index(&bins))
        })
        .fold(1.0, f64::max)
}

/// Variance over mean of `bins`, the variance from second differences
/// (x[i+1] − 2x[i] + x[i−1] has six times the variance of independent
/// counts, and a straight-line trend, a ramp, cancels out).
fn burst_index(bins: &[u64]) -> f64 {
    let n = bins.len() as f64;
    let mean = bins.iter().sum::<u64>() as f64 / n;
    if mean <= 0.0 || bins.len() < 3 {
        return 1.0;
    }
    let var = bins
        .windows(3)
        .map(|w| (w[2] as f64 - 2.0 * w[1] as f64 + w[0] as f64).powi(2))
        .sum::<f64>()
        / (6.0 * (n - 2.0));
    var / mean
}

/// Two rates, quasi-Poisson: the log of their ratio against the tolerance,
/// with each count's variance its dispersion times its size (half an
/// event added, so an empty count is not a certainty).
/// `higher_is_worse` picks the direction; `relative` is the tolerance.
pub fn rates(base: Count, new: Count, relative: f64, higher_is_worse: bool) -> Option<Evidence> {
    if base.events + new.events < MIN_EVENTS || base.exposure <= 0.0 || new.exposure <= 0.0 {
        return None;
    }
    let (kb, kn) = (base.events as f64 + 0.5, new.events as f64 + 0.5);
    let log_ratio = (kn / new.exposure).ln() - (kb / base.exposure).ln();
    let se = (base.dispersion / kb + new.dispersion / kn).sqrt();
    let up = (log_ratio - (1.0 + relative).ln()) / se;
    let down = (-log_ratio + (1.0 - relative).max(1e-9).ln()) / se;
    let (p_up, p_down) = (upper_tail(up), upper_tail(down));
    let (p_worse, p_better) = if higher_is_worse {
        (p_up, p_down)
    } else {
        (p_down, p_up)
    };
    Some(Evidence {
        test: Test::Rates,
        p_worse,
        p_better,
    })
}

/// Holm's step-down adjustment: each p-value multiplied by the number of
/// hypotheses not yet rejected, kept monotone, capped at 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(center: u64, n: u64) -> Histogram<u64> {
        let mut h = crate::folder::histogram();
        for i in 0..n {
            // A spread of ±20% around the center.
            h.record(center * 80 / 100 + (center * 40 / 100) * i / n)
                .unwrap();
        }
        h
    }

    #[test]
    fn bounds_narrow_with_samples_and_hold_the_true_quantile() {
        let small = quantile_bounds(&spread(10_000, 100), 0.9, 2.576);
        let large = quantile_bounds(&spread(10_000, 100_000), 0.9, 2.576);
        assert!(large.1 - large.0 < small.1 - small.0);
        // The true p90 of a uniform spread over 8,000..12,000 is 11,600.
        assert!(large.0 <= 11_600.0 && large.1 >= 11_600.0, "{large:?}");
        // Ten samples have no upper bound on their p99.
        assert_eq!(
            quantile_bounds(&spread(10_000, 10), 0.99, 2.576).1,
            f64::INFINITY
        );
    }

    #[test]
    fn a_slower_quantile_is_worse_and_the_same_one_is_not() {
        let base = spread(10_000, 5_000);
        let same = quantiles(&base, &spread(10_100, 5_000), 0.9, 0.1, 0.0).unwrap();
        assert!(same.p_worse > 0.5 && same.p_better > 0.5, "{same:?}");
        let slower = quantiles(&base, &spread(14_000, 5_000), 0.9, 0.1, 0.0).unwrap();
        assert!(
            slower.p_worse < 1e-6 && slower.p_better > 0.99,
            "{slower:?}"
        );
        // The same shift is not worse when the floor is above it.
        let floored = quantiles(&base, &spread(14_000, 5_000), 0.9, 0.1, 10_000.0).unwrap();
        assert!(floored.p_worse > 0.99, "{floored:?}");
        // p99 of 500 samples is too little data.
        assert!(quantiles(&base, &spread(10_000, 500), 0.99, 0.1, 0.0).is_none());
    }

    #[test]
    fn shares_must_move_beyond_the_margin_and_the_noise() {
        let s = |hits, trials| Share { hits, trials };
        let small = proportions(s(10, 1000), s(15, 1000), 0.01).unwrap();
        assert!(small.p_worse > 0.5, "{small:?}");
        let large = proportions(s(100, 10_000), s(500, 10_000), 0.01).unwrap();
        assert!(large.p_worse < 1e-9, "{large:?}");
        // 2 of 20 against 0 of 20 is noise.
        let few = proportions(s(0, 20), s(2, 20), 0.01).unwrap();
        assert!(few.p_worse > 0.05, "{few:?}");
        assert!(proportions(s(0, 19), s(5, 19), 0.01).is_none());
    }

    #[test]
    fn rates_follow_the_counts_and_their_bursts() {
        let c = |events, exposure| Count {
            events,
            exposure,
            dispersion: 1.0,
        };
        // 181 against 151 polls in the same time: within noise of 10%.
        let polls = rates(c(151, 20.0), c(181, 20.0), 0.1, true).unwrap();
        assert!(polls.p_worse > 0.01, "{polls:?}");
        // Three times the polls per journey is not noise.
        let slower = rates(c(100, 50.0), c(300, 50.0), 0.1, true).unwrap();
        assert!(
            slower.p_worse < 1e-9 && slower.p_better > 0.99,
            "{slower:?}"
        );
        // Fewer journeys completed per second is worse when lower is worse.
        let fewer = rates(c(1000, 60.0), c(700, 60.0), 0.1, false).unwrap();
        assert!(fewer.p_worse < 1e-6, "{fewer:?}");
        assert!(rates(c(5, 10.0), c(6, 10.0), 0.1, false).is_none());
        // 23% more polls is a clear signal for Poisson counts, but not for
        // counts twenty times as dispersed (polls bunched behind outages).
        let bursty = |events| Count {
            dispersion: 20.0,
            ..c(events, 550.0)
        };
        let plain = rates(c(2403, 550.0), c(2959, 550.0), 0.1, true).unwrap();
        assert!(plain.p_worse < 1e-4, "{plain:?}");
        let noisy = rates(bursty(2403), bursty(2959), 0.1, true).unwrap();
        assert!(noisy.p_worse > 0.05, "{noisy:?}");
    }

    #[test]
    fn dispersion_is_one_for_steady_counts_and_grows_with_bursts() {
        assert_eq!(dispersion(&[10, 10, 10, 10]), 1.0);
        assert_eq!(dispersion(&[]), 1.0);
        // A steady ramp is the schedule, not noise.
        let ramp: Vec<u64> = (1..=40).collect();
        assert_eq!(dispersion(&ramp), 1.0);
        let bursts = dispersion(&[0, 0, 40, 0, 0, 40, 0, 0, 40]);
        assert!(bursts > 20.0, "{bursts}");
        // Ten-second waves of 20/s and 40/s: smooth second to second,
        // bursty at ten seconds.
        let waves: Vec<u64> = (0..80)
            .map(|s| if (s / 10) % 2 == 0 { 20 } else { 40 })
            .collect();
        let slow = dispersion(&waves);
        assert!(slow > 10.0, "{slow}");
    }

    #[test]
    fn a_difference_of_shares_is_measurable_only_beyond_its_interval() {
        let share = |hits, trials| Share { hits, trials };
        // 600 of 1,000 against 500 of 1,000: +10 points, about ±4.3.
        let (d, lo, hi) = difference(share(500, 1000), share(600, 1000), 1.96).unwrap();
        assert!((d - 0.1).abs() < 1e-12);
        assert!(
            lo > 0.05 && lo < 0.06 && hi > 0.14 && hi < 0.15,
            "{lo} {hi}"
        );
        // 510 of 1,000: within the noise, the interval spans zero.
        let (_, lo, hi) = difference(share(500, 1000), share(510, 1000), 1.96).unwrap();
        assert!(lo < 0.0 && hi > 0.0);
        // None of 20 on both sides is no difference, with a width.
        let (d, lo, hi) = difference(share(0, 20), share(0, 20), 1.96).unwrap();
        assert_eq!(d, 0.0);
        assert!(lo < 0.0 && hi > 0.0);
        assert_eq!(difference(share(0, 0), share(1, 2), 1.96), None);
    }

    #[test]
    fn holm_multiplies_by_the_hypotheses_left() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.5]);
        assert!((adjusted[0] - 0.04).abs() < 1e-12);
        assert!((adjusted[2] - 0.09).abs() < 1e-12);
        assert!((adjusted[1] - 0.09).abs() < 1e-12, "kept monotone");
        assert!((adjusted[3] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn several_baselines_need_the_new_run_worse_than_each() {
        let e = |w, b| Evidence {
            test: Test::Quantile,
            p_worse: w,
            p_better: b,
        };
        let all = Evidence::against_all([Some(e(0.001, 0.9)), Some(e(0.2, 0.8))]).unwrap();
        assert!(Evidence::against_all([Some(e(0.001, 0.9)), None]).is_none());
        assert_eq!((all.p_worse, all.p_better), (0.2, 0.9));
    }
}
