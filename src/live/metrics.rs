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
//! | `surge_books_counter` | `counter` (a `books.counters` entry, as last read) |
//! | `surge_run_info` | `scenario` |

use hdrhistogram::Histogram;

use crate::folder::Outcome;
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
    pub name: String,
    /// Without `run_id` and `shard`, which every sample carries.
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// A classic histogram: cumulative bucket counts, sum and count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets {
    /// Observations at most each of `BOUNDS`.
    pub le: [u64; BOUNDS.len()],
    /// Seconds, all observations.
    pub sum: f64,
    pub count: u64,
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

    /// (upper bound, cumulative count), `+Inf` last.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        BOUNDS
            .iter()
            .copied()
            .zip(self.le.iter().copied())
            .chain([(f64::INFINITY, self.count)])
    }
}

/// What kind of series a family holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One series' value: a number, or a histogram.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(Buckets),
}

/// A metric family: its name (counters without `_total`), help, kind
/// and series.
#[derive(Clone, Debug)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// Each series' labels (without `run_id` and `shard`) and value.
    pub series: Vec<(Vec<(&'static str, String)>, Value)>,
}

/// The series of one run, as of its last recorded second.
/// The run's series, shared by the live views that read them: the
/// [`Adder`] adds each second once, before the views are told of it.
pub type Shared = std::sync::Arc<std::sync::Mutex<Metrics>>;

/// The observer that adds each second to the shared series; registered
/// before the views that read them.
pub struct Adder(pub Shared);

impl crate::recorder::observe::Observer for Adder {
    fn second(&mut self, s: &crate::recorder::observe::Second<'_>) {
        self.0.lock().expect("metrics lock").add(s);
    }
}

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
    /// The books' counters as last read (a failed read keeps the last
    /// value, as a gauge does).
    books: Vec<(String, f64)>,
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
            books: Vec::new(),
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
        for (name, value) in s.books {
            let Some(value) = *value else { continue };
            match self.books.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => self.books.push((name.clone(), value)),
            }
        }
    }

    /// The whole run's counts so far, as the dashboard shows them.
    pub fn totals(&self) -> serde_json::Value {
        let sum_outcome = |o: Outcome| -> u64 { self.outcomes.iter().map(|j| j[o.index()]).sum() };
        let sum_state = |i: usize| -> u64 { self.arrivals.iter().map(|a| a[i]).sum() };
        let mut errors = serde_json::Map::new();
        for class in ErrorClass::ALL {
            let n: u64 = self.requests.iter().map(|r| r[1 + class.index()]).sum();
            if n > 0 {
                errors.insert(class.name().into(), n.into());
            }
        }
        let steps: serde_json::Map<String, serde_json::Value> = self
            .steps
            .iter()
            .zip(&self.requests)
            .map(|((journey, step, _), r)| {
                (format!("{journey}.{step}"), r.iter().sum::<u64>().into())
            })
            .collect();
        serde_json::json!({
            "requests": self.requests.iter().flatten().sum::<u64>(),
            "failed": self.requests.iter().map(|r| r[1..].iter().sum::<u64>()).sum::<u64>(),
            "completed": sum_outcome(Outcome::CompletedInTime) + sum_outcome(Outcome::CompletedLate),
            "in_time": sum_outcome(Outcome::CompletedInTime),
            "abandoned": sum_outcome(Outcome::Abandoned),
            "journeys_failed": sum_outcome(Outcome::Failed),
            "late": sum_state(2),
            "dropped": sum_state(3),
            "errors": errors,
            "steps": steps,
        })
    }

    /// Every family, as of the last recorded second.
    pub fn families(&self) -> Vec<Family> {
        let number = |n: u64| Value::Number(n as f64);
        let mut requests = Vec::new();
        let mut durations = Vec::new();
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
                requests.push((labels, number(n)));
            }
            durations.push((labels, Value::Histogram(self.durations[i].clone())));
        }
        let mut journeys = Vec::new();
        let mut arrivals = Vec::new();
        for (j, journey) in self.journeys.iter().enumerate() {
            for (outcome, n) in Outcome::ALL.iter().zip(self.outcomes[j]) {
                let labels = vec![
                    ("journey", journey.clone()),
                    ("outcome", outcome.name().into()),
                ];
                journeys.push((labels, number(n)));
            }
            let states = ["scheduled", "started", "late", "dropped"];
            for (state, n) in states.iter().zip(self.arrivals[j]) {
                let labels = vec![("journey", journey.clone()), ("state", state.to_string())];
                arrivals.push((labels, number(n)));
            }
        }
        let faults = self
            .faults
            .iter()
            .map(|(fault, target, on)| {
                let labels = vec![("fault", fault.clone()), ("target", target.clone())];
                (labels, Value::Number(f64::from(u8::from(*on))))
            })
            .collect();
        let books = self
            .books
            .iter()
            .map(|(counter, v)| (vec![("counter", counter.clone())], Value::Number(*v)))
            .collect();
        let family = |name, help, kind, series| Family {
            name,
            help,
            kind,
            series,
        };
        vec![
            family(
                "surge_requests",
                "Requests sent, by outcome (ok or the error class).",
                Kind::Counter,
                requests,
            ),
            family(
                "surge_request_duration_seconds",
                "Request latency, send to the end of the body.",
                Kind::Histogram,
                durations,
            ),
            family(
                "surge_journeys",
                "Journeys ended, by outcome.",
                Kind::Counter,
                journeys,
            ),
            family(
                "surge_arrivals",
                "Arrivals, by state (scheduled, started, late, dropped).",
                Kind::Counter,
                arrivals,
            ),
            family(
                "surge_in_flight",
                "Journeys in flight.",
                Kind::Gauge,
                vec![(Vec::new(), Value::Number(self.in_flight as f64))],
            ),
            family(
                "surge_start_lag_seconds",
                "From each arrival's intended start to its first request.",
                Kind::Histogram,
                vec![(Vec::new(), Value::Histogram(self.lag.clone()))],
            ),
            family(
                "surge_fault_active",
                "1 while a fault of the timeline is on.",
                Kind::Gauge,
                faults,
            ),
            family(
                "surge_books_counter",
                "The platform's books: each counter of `books.counters` as last read.",
                Kind::Gauge,
                books,
            ),
            family(
                "surge_run_info",
                "The run: its scenario.",
                Kind::Gauge,
                vec![(
                    vec![("scenario", self.run.scenario.clone())],
                    Value::Number(1.0),
                )],
            ),
        ]
    }

    /// Every sample as remote write sends it: counters with `_total`,
    /// histograms as `_bucket` (with `le`), `_sum` and `_count`.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for family in self.families() {
            for (labels, value) in family.series {
                match value {
                    Value::Number(value) => out.push(Sample {
                        name: match family.kind {
                            Kind::Counter => total_name(family.name),
                            _ => family.name.to_string(),
                        },
                        labels,
                        value,
                    }),
                    Value::Histogram(b) => {
                        for (bound, n) in b.cumulative() {
                            let mut labels = labels.clone();
                            let le = if bound.is_infinite() {
                                "+Inf".to_string()
                            } else {
                                bound.to_string()
                            };
                            labels.push(("le", le));
                            out.push(Sample {
                                name: format!("{}_bucket", family.name),
                                labels,
                                value: n as f64,
                            });
                        }
                        out.push(Sample {
                            name: format!("{}_sum", family.name),
                            labels: labels.clone(),
                            value: b.sum,
                        });
                        out.push(Sample {
                            name: format!("{}_count", family.name),
                            labels,
                            value: b.count as f64,
                        });
                    }
                }
            }
        }
        out
    }
}

/// The families in the Prometheus text format 0.0.4 (`/metrics`), every
/// series labelled with `run_id` and `shard`. Written here rather than by
/// prometheus-client, which writes OpenMetrics only: `promtool check
/// metrics` and most scrapers read this format, with `# HELP` and
/// `# TYPE` on a counter's `_total` name.
pub fn text(metrics: &Metrics) -> String {
    use std::fmt::Write;
    let run = [
        ("run_id", metrics.run.run_id.as_str()),
        ("shard", metrics.run.shard.as_str()),
    ];
    let mut out = String::new();
    for family in metrics.families() {
        let (name, kind) = match family.kind {
            Kind::Counter => (total_name(family.name), "counter"),
            Kind::Gauge => (family.name.to_string(), "gauge"),
            Kind::Histogram => (family.name.to_string(), "histogram"),
        };
        let _ = writeln!(out, "# HELP {name} {}", family.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in &family.series {
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain(run)
                .collect();
            match value {
                Value::Number(v) => {
                    let _ = writeln!(out, "{name}{} {}", label_text(&pairs, None), number(*v));
                }
                Value::Histogram(b) => {
                    for (bound, n) in b.cumulative() {
                        let le = if bound.is_infinite() {
                            "+Inf".to_string()
                        } else {
                            bound.to_string()
                        };
                        let _ = writeln!(out, "{name}_bucket{} {n}", label_text(&pairs, Some(&le)));
                    }
                    let _ = writeln!(
                        out,
                        "{name}_sum{} {}",
                        label_text(&pairs, None),
                        number(b.sum)
                    );
                    let _ = writeln!(out, "{name}_count{} {}", label_text(&pairs, None), b.count);
                }
            }
        }
    }
    out
}

/// `{a="x",b="y"}`, values escaped as the format asks, `le` last.
fn label_text(pairs: &[(&str, &str)], le: Option<&str>) -> String {
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

fn total_name(name: &str) -> String {
    format!("{name}_total")
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
        // The books read 7 credits, then failed to read: the gauge keeps 7.
        let books = [
            vec![("credited".to_string(), Some(7.0))],
            vec![("credited".to_string(), None)],
        ];
        for second in 0..2 {
            m.add(&Second {
                second,
                names: &names,
                steps: &steps,
                latency: std::slice::from_ref(&latency),
                journeys: &journeys,
                lag: &lag,
                journey_time: &[],
                in_flight: 1,
                faults: &["core-down"],
                cpu_pct: None,
                books: &books[second as usize],
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
            value("surge_books_counter", ("counter", "credited")),
            Some(7.0)
        );
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
