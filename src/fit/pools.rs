//! Fits a pool of workers to what the ramp measured: the number of
//! workers whose M/G/c waits (Erlang C, Allen-Cunneen) best match the
//! measured extra time at each rate, never fewer than the throughput seen
//! needs. Plain numbers in, a fit and its residuals out.

use serde::Serialize;

use crate::predict::queue::erlang_c;

/// One ramp step as the pool saw it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Point {
    /// Requests per second the pool served.
    pub rate: f64,
    /// Mean extra time per request over the probe's, in seconds.
    pub wait: f64,
    /// Whether nothing bent at this rate: its throughput was served.
    pub held: bool,
}

/// A fitted pool.
#[derive(Clone, Debug, Serialize)]
pub struct PoolFit {
    pub workers: u32,
    /// Per point: measured and modelled wait, in ms.
    pub residuals: Vec<Residual>,
    /// Root mean square of the residuals, in ms.
    pub rms_ms: f64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Residual {
    pub rate: f64,
    pub measured_ms: f64,
    pub model_ms: f64,
}

/// Most workers a fit considers.
const MAX_WORKERS: u32 = 4096;

/// The M/G/c mean wait in seconds (infinite at or above capacity).
pub fn mean_wait(workers: u32, service: f64, cs2: f64, rate: f64) -> f64 {
    let capacity = workers as f64 / service;
    if rate >= capacity {
        return f64::INFINITY;
    }
    erlang_c(workers, rate * service) / (capacity - rate) * (1.0 + cs2) / 2.0
}

/// The workers that explain `points` best for a service time of mean
/// `service` seconds and squared variation `cs2`.
pub fn fit(points: &[Point], service: f64, cs2: f64) -> PoolFit {
    // Only a rate that held was served; above the knee it was offered.
    let floor = points
        .iter()
        .filter(|p| p.held)
        .map(|p| (p.rate * service).floor() as u32)
        .max()
        .unwrap_or(0)
        .max(1);
    // Compared as ratios (logarithms): a wait twice the measured one
    // costs as much at 2 ms as at 200 ms. Near the knee a stage is too
    // short to reach the steady-state wait, so the model overshoots there
    // whatever the workers; ratios keep that one point from outweighing
    // every other. `f` keeps waits of nothing comparable.
    let f = 0.0005 + service / 50.0;
    let cost = |c: u32| -> f64 {
        points
            .iter()
            .map(|p| {
                let measured = p.wait.max(0.0) + f;
                let model = mean_wait(c, service, cs2, p.rate);
                if model.is_infinite() {
                    // Overloaded in the model: right if a backlog was
                    // building (a short stage shows it finite), far off
                    // if the wait stayed short.
                    let building = p.wait >= 2.0 * service;
                    return if building {
                        2f64.ln().powi(2)
                    } else {
                        100f64.ln().powi(2)
                    };
                }
                ((model + f) / measured).ln().powi(2)
            })
            .sum()
    };
    let workers = (floor..=MAX_WORKERS)
        .min_by(|a, b| cost(*a).total_cmp(&cost(*b)))
        .unwrap_or(floor);
    let residuals: Vec<Residual> = points
        .iter()
        .map(|p| Residual {
            rate: p.rate,
            measured_ms: p.wait * 1e3,
            model_ms: mean_wait(workers, service, cs2, p.rate) * 1e3,
        })
        .collect();
    let finite: Vec<f64> = residuals
        .iter()
        .filter(|r| r.model_ms.is_finite())
        .map(|r| (r.model_ms - r.measured_ms).powi(2))
        .collect();
    let rms_ms = if finite.is_empty() {
        0.0
    } else {
        (finite.iter().sum::<f64>() / finite.len() as f64).sqrt()
    };
    PoolFit {
        workers,
        residuals,
        rms_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workers_of_a_known_pool_are_recovered_from_its_waits() {
        // Points made by the model itself with 6 workers of 20 ms.
        let (service, cs2) = (0.020, 0.4);
        let points: Vec<Point> = [100.0, 180.0, 240.0, 280.0]
            .iter()
            .map(|&rate| Point {
                rate,
                wait: mean_wait(6, service, cs2, rate),
                held: true,
            })
            .collect();
        assert_eq!(fit(&points, service, cs2).workers, 6);
        // A little measurement noise moves nothing.
        let noisy: Vec<Point> = points
            .iter()
            .map(|p| Point {
                rate: p.rate,
                wait: p.wait * 1.1 + 0.0005,
                held: true,
            })
            .collect();
        assert_eq!(fit(&noisy, service, cs2).workers, 6);
    }

    #[test]
    fn never_fewer_workers_than_the_throughput_seen_needs() {
        // 500 requests per second of 20 ms were served: at least 10.
        let points = [Point {
            rate: 500.0,
            wait: 0.0,
            held: true,
        }];
        assert!(fit(&points, 0.020, 0.0).workers >= 10);
    }

    #[test]
    fn a_rate_offered_past_the_knee_does_not_buy_workers() {
        // 6 workers of 33 ms (181/s); the last stage offered 205/s, a
        // backlog building through its 20 s. Found by a fit of the twin
        // with 6 signing workers, which once came out 7.
        let (service, cs2) = (0.0331, 0.25);
        let mut points: Vec<Point> = [100.0, 141.8, 156.5, 173.1]
            .iter()
            .map(|&rate| Point {
                rate,
                wait: mean_wait(6, service, cs2, rate) * 1.3,
                held: true,
            })
            .collect();
        points.push(Point {
            rate: 204.8,
            wait: 0.208,
            held: false,
        });
        assert_eq!(fit(&points, service, cs2).workers, 6);
    }
}
