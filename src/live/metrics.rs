//! The run's series as Prometheus sees them: cumulative counters and
//! classic histograms, grown one recorded second at a time, every series
//! labelled with `run_id` and `shard` so the shards of one run add up in
//! PromQL. Remote write sends them as they stand after each second.
//!
//! | series | labels |
//! | --- | --- |
//! | `surge_requests_total` | `journey`, `step`, `channel`, `outcome` (`ok` or the error class) |
//! | `surge_request_duration_seconds` (histogram) | `journey`, `step`, `channel` |
//! | `surge_journeys_total` | `journey`, `outcome` (`completed_in_time`, ...) |
//! | `surge_arrivals_total` | `journey`, `state` (`scheduled`, `started`, `late`, `dropped`) |
//! | `surge_in_flight` | |
//! | `surge_start_lag_seconds` (histogram) | |
//! | `surge_fault_active` | `fault`, `target` |
//! | `surge_run_info` | `scenario` |

use hdrhistogram::Histogram;

use crate::recorder::Outcome;
use crate::recorder::observe::Second;
use crate::scenario::model::ErrorClass;

/// Upper bounds of the histograms' buckets, in seconds.
const BOUNDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// What identifies the run in every series.
#[derive(Clone, Debug)]
pub struct RunLabels {
    pub run_id: String,
    /// `K/N`.
    pub shard: String,
    pub scenario: String,
}

/// One value of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: &'static str,
    /// Without `run_id` and `shard`, which every sample carries.
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// A classic histogram: cumulative bucket counts, sum and count.
#[derive(Clone, Debug, Default)]
struct Buckets {
    le: [u64; BOUNDS.len()],
    sum: f64,
    count: u64,
}

impl Buckets {
    /// Adds a second's HDR histogram of microseconds.
    fn add(&mut self, h: &Histogram<u64>) {
        for v in h.iter_recorded() {
            let seconds = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
            let n = v.count_at_value();
            self.sum += seconds * n as f64;
            self.count += n;
            for (slot, bound) in self.le.iter_mut().zip(BOUNDS) {
                if seconds <= bound {
                    *slot += n;
                }
            }
        }
    }

    fn samples(
        &self,
        name: &'static str,
        labels: &[(&'static str, String)],
        out: &mut Vec<Sample>,
    ) {
        let (bucket, sum, count) = match name {
            "surge_request_duration_seconds" => (
                "surge_request_duration_seconds_bucket",
                "surge_request_duration_seconds_sum",
                "surge_request_duration_seconds_count",
            ),
            _ => (
                "surge_start_lag_seconds_bucket",
                "surge_start_lag_seconds_sum",
                "surge_start_lag_seconds_count",
            ),
        };
        let le = BOUNDS
            .iter()
            .map(|b| b.to_string())
            .chain(["+Inf".to_string()]);
        for (bound, value) in le.zip(self.le.iter().copied().chain([self.count])) {
            let mut labels = labels.to_vec();
            labels.push(("le", bound));
            out.push(Sample {
                name: bucket,
                labels,
                value: value as f64,
            });
        }
        out.push(Sample {
            name: sum,
            labels: labels.to_vec(),
            value: self.sum,
        });
        out.push(Sample {
            name: count,
            labels: labels.to_vec(),
            value: self.count as f64,
        });
    }
}

/// The series of one run, as of its last recorded second.
pub struct Metrics {
    pub run: RunLabels,
    /// Per step: (journey, step, channel).
    steps: Vec<(String, String, String)>,
    /// Per step: successes, then failures by class.
    requests: Vec<[u64; 1 + ErrorClass::ALL.len()]>,
    durations: Vec<Buckets>,
    journeys: Vec<String>,
    outcomes: Vec<[u64; Outcome::ALL.len()]>,
    /// Per journey: scheduled, started, late, dropped.
    arrivals: Vec<[u64; 4]>,
    in_flight: i64,
    lag: Buckets,
    /// Every fault of the timeline: (name, target), and whether it is on.
    faults: Vec<(String, String, bool)>,
}

impl Metrics {
    /// `faults`: every fault of the timeline as (name, target).
    pub fn new(
        run: RunLabels,
        names: &crate::recorder::Names,
        faults: Vec<(String, String)>,
    ) -> Metrics {
        let steps = names.steps.len();
        let journeys = names.journeys.len();
        Metrics {
            run,
            steps: names
                .steps
                .iter()
                .map(|s| {
                    let journey = names.journeys[s.journey].name.clone();
                    (journey, s.step.clone(), s.channel.clone())
                })
                .collect(),
            requests: vec![[0; 1 + ErrorClass::ALL.len()]; steps],
            durations: vec![Buckets::default(); steps],
            journeys: names.journeys.iter().map(|j| j.name.clone()).collect(),
            outcomes: vec![[0; Outcome::ALL.len()]; journeys],
            arrivals: vec![[0; 4]; journeys],
            in_flight: 0,
            lag: Buckets::default(),
            faults: faults.into_iter().map(|(n, t)| (n, t, false)).collect(),
        }
    }

    /// Adds a recorded second.
    pub fn add(&mut self, s: &Second<'_>) {
        for (i, c) in s.steps.iter().enumerate() {
            let r = &mut self.requests[i];
            // A try that failed without a request of its own (a poll that
            // ran out of time) takes its last request from the successes,
            // so the outcomes add up to the requests sent.
            let failed: u64 = c.failures.iter().sum();
            r[0] += c.requests.saturating_sub(failed);
            for (slot, n) in r[1..].iter_mut().zip(c.failures) {
                *slot += n;
            }
            self.durations[i].add(&s.latency[i]);
        }
        for (j, c) in s.journeys.iter().enumerate() {
            for (slot, n) in self.outcomes[j].iter_mut().zip(c.finished) {
                *slot += n;
            }
            let a = &mut self.arrivals[j];
            for (slot, n) in a
                .iter_mut()
                .zip([c.scheduled, c.started, c.late, c.dropped])
            {
                *slot += n;
            }
            self.lag.add(&s.lag[j]);
        }
        self.in_flight = s.in_flight;
        for (name, _, on) in &mut self.faults {
            *on = s.faults.contains(&name.as_str());
        }
    }

    /// Every series' value now.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for (i, (journey, step, channel)) in self.steps.iter().enumerate() {
            let labels = vec![
                ("journey", journey.clone()),
                ("step", step.clone()),
                ("channel", channel.clone()),
            ];
            let outcomes = std::iter::once("ok").chain(ErrorClass::ALL.iter().map(|c| c.name()));
            for (outcome, n) in outcomes.zip(self.requests[i]) {
                let mut labels = labels.clone();
                labels.push(("outcome", outcome.to_string()));
                out.push(Sample {
                    name: "surge_requests_total",
                    labels,
                    value: n as f64,
                });
            }
            self.durations[i].samples("surge_request_duration_seconds", &labels, &mut out);
        }
        for (j, journey) in self.journeys.iter().enumerate() {
            for (outcome, n) in Outcome::ALL.iter().zip(self.outcomes[j]) {
                out.push(Sample {
                    name: "surge_journeys_total",
                    labels: vec![
                        ("journey", journey.clone()),
                        ("outcome", outcome.name().into()),
                    ],
                    value: n as f64,
                });
            }
            let states = ["scheduled", "started", "late", "dropped"];
            for (state, n) in states.iter().zip(self.arrivals[j]) {
                out.push(Sample {
                    name: "surge_arrivals_total",
                    labels: vec![("journey", journey.clone()), ("state", state.to_string())],
                    value: n as f64,
                });
            }
        }
        out.push(Sample {
            name: "surge_in_flight",
            labels: Vec::new(),
            value: self.in_flight as f64,
        });
        self.lag.samples("surge_start_lag_seconds", &[], &mut out);
        for (fault, target, on) in &self.faults {
            out.push(Sample {
                name: "surge_fault_active",
                labels: vec![("fault", fault.clone()), ("target", target.clone())],
                value: f64::from(u8::from(*on)),
            });
        }
        out.push(Sample {
            name: "surge_run_info",
            labels: vec![("scenario", self.run.scenario.clone())],
            value: 1.0,
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::{JourneyCounts, JourneyName, Names, StepCounts, StepName, histogram};

    #[test]
    fn seconds_add_up_into_cumulative_series() {
        let names = Names {
            steps: vec![StepName {
                label: "buy.login".into(),
                journey: 0,
                step: "login".into(),
                channel: "storefront".into(),
            }],
            journeys: vec![JourneyName {
                name: "buy".into(),
                channel: "storefront".into(),
            }],
        };
        let run = RunLabels {
            run_id: "r".into(),
            shard: "1/1".into(),
            scenario: "s".into(),
        };
        let mut m = Metrics::new(run, &names, vec![("core-down".into(), "twin/core".into())]);
        let mut latency = histogram();
        latency.record(20_000).unwrap();
        latency.record(3_000_000).unwrap();
        let mut failures = [0; ErrorClass::ALL.len()];
        failures[ErrorClass::Timeout.index()] = 1;
        let steps = [StepCounts {
            requests: 2,
            ok: 1,
            failures,
        }];
        let journeys = [JourneyCounts {
            scheduled: 2,
            started: 2,
            ..JourneyCounts::default()
        }];
        let lag = [histogram()];
        for second in 0..2 {
            m.add(&Second {
                second,
                names: &names,
                steps: &steps,
                latency: std::slice::from_ref(&latency),
                journeys: &journeys,
                lag: &lag,
                in_flight: 1,
                faults: &["core-down"],
            });
        }
        let samples = m.samples();
        let value = |name: &str, label: (&str, &str)| {
            samples
                .iter()
                .find(|s| {
                    s.name == name && s.labels.iter().any(|(k, v)| *k == label.0 && v == label.1)
                })
                .map(|s| s.value)
        };
        assert_eq!(value("surge_requests_total", ("outcome", "ok")), Some(2.0));
        assert_eq!(
            value("surge_requests_total", ("outcome", "timeout")),
            Some(2.0)
        );
        assert_eq!(
            value("surge_request_duration_seconds_bucket", ("le", "0.025")),
            Some(2.0)
        );
        assert_eq!(
            value("surge_request_duration_seconds_bucket", ("le", "2.5")),
            Some(2.0)
        );
        assert_eq!(
            value("surge_request_duration_seconds_bucket", ("le", "5")),
            Some(4.0)
        );
        assert_eq!(
            value("surge_request_duration_seconds_count", ("step", "login")),
            Some(4.0)
        );
        assert_eq!(
            value("surge_arrivals_total", ("state", "scheduled")),
            Some(4.0)
        );
        assert_eq!(
            value("surge_fault_active", ("fault", "core-down")),
            Some(1.0)
        );
    }
}
