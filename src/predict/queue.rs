//! Queueing formulas for one resource: a pool of servers with a waiting
//! line in front (M/G/c by the Erlang C formula with the Allen-Cunneen
//! correction for the service time's variability), and the fluid backlog
//! that carries an overload from one stretch of the timeline to the next.
//! Plain functions of plain numbers: no scenario, no twin.

/// z of the 99th percentile of the standard normal distribution (the
/// twin's log-normal draws are given by their median and p99).
pub const Z99: f64 = 2.326_347_874_040_841;

/// A log-normal service time or delay, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogNormal {
    pub median: f64,
    pub sigma: f64,
}

impl LogNormal {
    /// From a median and a 99th percentile (equal: a fixed time).
    pub fn from_median_p99(median: f64, p99: f64) -> Self {
        let sigma = if median > 0.0 && p99 > median {
            (p99 / median).ln() / Z99
        } else {
            0.0
        };
        LogNormal { median, sigma }
    }

    pub fn mean(&self) -> f64 {
        self.median * (self.sigma * self.sigma / 2.0).exp()
    }

    /// The squared coefficient of variation (variance over mean squared).
    pub fn cs2(&self) -> f64 {
        (self.sigma * self.sigma).exp() - 1.0
    }

    /// The draw for a standard normal `z`.
    pub fn at(&self, z: f64) -> f64 {
        self.median * (self.sigma * z).exp()
    }
}

/// Erlang's C formula: the chance an arrival waits, for `c` servers
/// offered `a` erlangs (a < c).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    let c = c.max(1);
    // Erlang B by its recursion, stable for thousands of servers.
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c as f64;
    if rho >= 1.0 {
        return 1.0;
    }
    (b / (1.0 - rho * (1.0 - b))).clamp(0.0, 1.0)
}

/// A resource: `servers` in parallel, each taking `service` seconds on
/// average with squared variation `cs2`; `bound` places to wait (beyond
/// them an arrival is refused at once); `timeout` the longest wait.
#[derive(Clone, Copy, Debug)]
pub struct Station {
    pub servers: u32,
    pub service: f64,
    pub cs2: f64,
    pub bound: Option<f64>,
    pub timeout: Option<f64>,
}

/// How a resource fares over one stretch at one arrival rate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stretch {
    /// Offered load over capacity (above 1: overloaded).
    pub utilisation: f64,
    /// Chance an arrival waits at all (beyond the backlog).
    pub waits: f64,
    /// Rate of the exponential tail of the wait, per second.
    pub tail: f64,
    /// Wait added by a backlog (left from earlier overload or growing in
    /// this one), on average over the stretch, in seconds.
    pub backlog_wait: f64,
    /// Share of arrivals refused because every waiting place is taken,
    /// on average over the stretch.
    pub refused: f64,
    /// Backlog (arrivals waiting) at the stretch's end.
    pub backlog_end: f64,
    backlog_start: f64,
    /// Change of the backlog per second (negative: draining).
    slope: f64,
    bound: f64,
    capacity: f64,
    rate: f64,
    seconds: f64,
    /// Chance of finding the line full when it is not overloaded.
    stationary_refused: f64,
}

impl Stretch {
    /// The backlog at fraction `x` (0 to 1) of the stretch.
    fn backlog_at(&self, x: f64) -> f64 {
        (self.backlog_start + self.slope * x * self.seconds).clamp(0.0, self.bound)
    }

    /// One arrival at fraction `x` of the stretch, with three uniform
    /// draws: its wait in seconds, or `None` when it is refused.
    pub fn draw(&self, x: f64, u: [f64; 3]) -> Option<f64> {
        if self.capacity.is_infinite() || self.rate <= 0.0 {
            return Some(0.0);
        }
        let backlog = self.backlog_at(x);
        let full = self.rate > self.capacity && backlog >= self.bound - 1e-9;
        if full && u[0] < (self.rate - self.capacity) / self.rate {
            return None;
        }
        if !full && u[0] < self.stationary_refused {
            return None;
        }
        let mut wait = backlog / self.capacity;
        if u[1] < self.waits && self.tail > 0.0 {
            wait -= (1.0 - u[2]).max(f64::MIN_POSITIVE).ln() / self.tail;
        }
        Some(wait)
    }
}

impl Station {
    /// Arrivals served per second when every server is busy.
    pub fn capacity(&self) -> f64 {
        if self.service <= 0.0 {
            f64::INFINITY
        } else {
            self.servers as f64 / self.service
        }
    }

    /// The stretch of `seconds` at `rate` arrivals per second, starting
    /// with `backlog` arrivals already waiting.
    pub fn stretch(&self, rate: f64, seconds: f64, backlog: f64) -> Stretch {
        let mu = self.capacity();
        let bound = self.bound.unwrap_or(f64::INFINITY);
        let mut st = Stretch {
            capacity: mu,
            rate,
            seconds,
            bound,
            backlog_start: backlog.min(bound),
            ..Stretch::default()
        };
        if !mu.is_finite() || rate <= 0.0 {
            st.slope = -mu.min(1e12);
            st.backlog_end = st.backlog_at(1.0);
            return st;
        }
        st.utilisation = rate / mu;
        st.slope = rate - mu;
        if rate < mu {
            st.waits = erlang_c(self.servers, rate * self.service);
            // Allen-Cunneen: the wait scales with (1 + cs2) / 2 over the
            // exponential case; its tail stays exponential.
            st.tail = 2.0 * (mu - rate) / (1.0 + self.cs2);
            // Little's law on the tail: k places taken ~ a wait of k/rate.
            st.stationary_refused = if bound.is_finite() {
                st.waits * (-st.tail * bound / rate).exp()
            } else {
                0.0
            };
            st.refused = st.stationary_refused;
        } else {
            // Overload: the line grows at the excess until its bound, then
            // the excess is refused; around the backlog, waits vary by
            // about a service time.
            st.waits = 1.0;
            st.tail = mu;
            let full_at = ((bound - st.backlog_start) / st.slope).max(0.0);
            if full_at < seconds {
                st.refused = (1.0 - full_at / seconds) * st.slope / rate;
            }
        }
        st.backlog_end = st.backlog_at(1.0);
        const POINTS: usize = 64;
        let mean: f64 = (0..POINTS)
            .map(|i| st.backlog_at((i as f64 + 0.5) / POINTS as f64))
            .sum::<f64>()
            / POINTS as f64;
        st.backlog_wait = mean / mu;
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_known_values() {
        // One server: the chance of waiting is the utilisation.
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        // Two servers at 1 erlang: C = 1/3 (from the closed form).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        // Ten servers at 8 erlangs: 0.409 (tables).
        assert!(
            (erlang_c(10, 8.0) - 0.4092).abs() < 1e-3,
            "{}",
            erlang_c(10, 8.0)
        );
        assert_eq!(erlang_c(4, 5.0), 1.0);
        assert!(erlang_c(2000, 1500.0) < 1e-6);
    }

    #[test]
    fn the_mm1_wait_is_recovered() {
        // M/M/1 at 0.5: mean wait = rho / (mu - lambda) = 0.5 / 5 = 100 ms.
        let s = Station {
            servers: 1,
            service: 0.1,
            cs2: 1.0,
            bound: None,
            timeout: None,
        };
        let st = s.stretch(5.0, 60.0, 0.0);
        assert!((st.waits / st.tail - 0.1).abs() < 1e-9, "{st:?}");
        assert_eq!(st.refused, 0.0);
    }

    #[test]
    fn overload_fills_the_line_then_refuses_the_excess() {
        let s = Station {
            servers: 2,
            service: 0.1,
            cs2: 0.0,
            bound: Some(40.0),
            timeout: None,
        };
        // 30/s against 20/s: the line holds 40 after 4 s; of the last 6 s
        // a third of arrivals is refused.
        let st = s.stretch(30.0, 10.0, 0.0);
        assert!((st.refused - 0.6 / 3.0).abs() < 1e-9, "{st:?}");
        assert_eq!(st.backlog_end, 40.0);
        // Half way through the full part, half the arrivals over capacity
        // are refused; early on none.
        assert_eq!(
            st.draw(0.1, [0.0, 1.0, 0.5]),
            Some(0.5),
            "10 waiting at 1 s, served at 20/s"
        );
        assert_eq!(st.draw(0.9, [0.3, 1.0, 0.5]), None);
        // The next stretch at 10/s drains 10 per second: gone after 4 s.
        let next = s.stretch(10.0, 10.0, st.backlog_end);
        assert_eq!(next.backlog_end, 0.0);
        assert!((next.backlog_wait - (40.0 * 4.0 / 2.0 / 10.0) / 20.0).abs() < 1e-3);
    }

    #[test]
    fn a_log_normal_from_its_median_and_p99() {
        let d = LogNormal::from_median_p99(0.020, 0.080);
        assert!((d.at(Z99) - 0.080).abs() < 1e-12);
        assert!((d.mean() - 0.02388).abs() < 1e-4, "{}", d.mean());
        assert_eq!(LogNormal::from_median_p99(0.01, 0.01).cs2(), 0.0);
    }
}
