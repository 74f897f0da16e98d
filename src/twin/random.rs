//! Random draws for the twin: service times and delays from a log-normal
//! distribution given by its median and 99th percentile, coin flips for
//! fault shares, and unguessable tokens. Not reproducible by design: the
//! twin serves many concurrent clients, so the order of draws is not.

use std::time::Duration;

use rand::Rng;

use crate::scenario::model::Distribution;

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// Longest delay ever drawn: a log-normal tail is unbounded, a twin's
/// patience is not.
const CAP: Duration = Duration::from_secs(3600);

/// A draw from the log-normal distribution with this median and p99.
pub fn sample(d: &Distribution) -> Duration {
    let median = d.median.as_secs_f64();
    let p99 = d.p99.as_secs_f64();
    if median <= 0.0 || p99 <= median {
        return d.median.0;
    }
    let sigma = (p99 / median).ln() / Z99;
    let z = standard_normal(&mut rand::rng());
    Duration::from_secs_f64((median * (sigma * z).exp()).min(CAP.as_secs_f64()))
}

/// Box-Muller: one standard normal draw.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// True with probability `p` (0 to 1).
pub fn chance(p: f64) -> bool {
    p >= 1.0 || (p > 0.0 && rand::rng().random::<f64>() < p)
}

/// `delay`, moved by up to `jitter` either way, never below zero.
pub fn jittered(delay: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return delay;
    }
    let spread = rand::rng().random_range(-1.0..=1.0) * jitter.as_secs_f64();
    Duration::from_secs_f64((delay.as_secs_f64() + spread).max(0.0))
}

/// 128 random bits as hex: session tokens, admission tokens.
pub fn token() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// A six-digit one-time password.
pub fn otp_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::units::Duration as D;

    #[test]
    fn log_normal_draws_have_the_asked_median_and_p99() {
        let d = Distribution::new(D::from_millis(40), D::from_millis(400));
        let mut draws: Vec<Duration> = (0..40_000).map(|_| sample(&d)).collect();
        draws.sort();
        let median = draws[20_000].as_secs_f64();
        let p99 = draws[39_600].as_secs_f64();
        assert!((median - 0.040).abs() < 0.004, "median {median}");
        assert!((p99 - 0.400).abs() < 0.06, "p99 {p99}");
    }

    #[test]
    fn equal_median_and_p99_is_a_fixed_time() {
        let d = Distribution::new(D::from_millis(25), D::from_millis(25));
        assert!((0..100).all(|_| sample(&d) == Duration::from_millis(25)));
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        for _ in 0..1000 {
            let j = jittered(Duration::from_millis(100), Duration::from_millis(30));
            assert!(j >= Duration::from_millis(70) && j <= Duration::from_millis(130));
        }
        // A jitter wider than the delay clamps at zero instead of wrapping.
        let draws: Vec<Duration> = (0..1000)
            .map(|_| jittered(Duration::from_millis(5), Duration::from_millis(50)))
            .collect();
        assert!(draws.contains(&Duration::ZERO));
        assert!(draws.iter().all(|d| *d <= Duration::from_millis(55)));
    }
}
