//! Observers of a recorded second: what the live views (remote write, and
//! the dashboard and `/metrics` to come) are fed from. The flusher hands
//! each observer the second it just wrote to disk, once a second, so the
//! files, the report and every live view read the same figures, and
//! nothing per request is added to the users' path.

use hdrhistogram::Histogram;

use super::{JourneyCounts, Names, StepCounts};

/// One recorded second, as the flusher wrote it.
pub struct Second<'a> {
    /// Seconds since the schedule's start.
    pub second: u64,
    pub names: &'a Names,
    /// Per step, in `names.steps` order: counts and request latency (µs).
    pub steps: &'a [StepCounts],
    pub latency: &'a [Histogram<u64>],
    /// Per journey, in `names.journeys` order: counts and start lag (µs).
    pub journeys: &'a [JourneyCounts],
    pub lag: &'a [Histogram<u64>],
    /// Per journey: times of the journeys completed in the second (µs).
    pub journey_time: &'a [Histogram<u64>],
    /// Journeys in flight at the second's end.
    pub in_flight: i64,
    /// The faults on during the second, by name.
    pub faults: &'a [&'a str],
    /// The generator's CPU over the second, in percent of one core.
    pub cpu_pct: Option<f64>,
    /// The platform's books as last read (`None`: that read failed).
    pub books: &'a [(String, Option<f64>)],
}

/// Something that watches the run second by second. It must not block:
/// the flusher's clock waits for it.
pub trait Observer: Send {
    fn second(&mut self, second: &Second<'_>);

    /// The run is over; a line for the terminal, if there is something to
    /// say (what could not be delivered).
    fn end(&mut self) -> Option<String> {
        None
    }
}
