//! The recorder: turns what users measured into HDR histograms and
//! counters, once a second. Users append events to their own buffers (no
//! lock, no channel per request); the flusher drains every buffer each
//! second, folds the events into the interval's histograms (per step, per
//! journey's total time, per journey's start lag) and counters, appends
//! them to `latency.hlog` (HdrHistogram's interval log, one line per
//! tagged histogram) and `timeline.csv`, and adds them to the whole run's.
//! Data reaches the disk every second, so a run killed midway still leaves
//! what it measured. It never sends a request.

pub mod buffer;
pub mod cpu;
pub mod examples;
pub mod observe;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::folder::{self, RowWriter, journeys_header, steps_header, timeline_header};
pub use crate::folder::{
    JourneyCounts, Outcome, StepCounts, connect_tag, histogram, journey_tag, lag_tag, step_tag,
};
use crate::scenario::model::ErrorClass;
pub use buffer::{Event, UserBuffer};
use cpu::CpuMeter;
pub use examples::{Example, Examples};

/// What the recorder calls things: steps and journeys by index.
#[derive(Clone, Debug)]
pub struct Names {
    pub steps: Vec<StepName>,
    pub journeys: Vec<JourneyName>,
}

#[derive(Clone, Debug)]
pub struct StepName {
    /// `JOURNEY.STEP`.
    pub label: String,
    pub journey: usize,
    pub step: String,
    pub channel: String,
}

#[derive(Clone, Debug)]
pub struct JourneyName {
    pub name: String,
    pub channel: String,
}

/// Shared by the users, the dispatcher and the flusher.
pub struct Recorder {
    users: Mutex<Vec<Arc<UserBuffer>>>,
    scheduled: Vec<AtomicU64>,
    late: Vec<AtomicU64>,
    /// Arrivals the dispatcher dropped at once: their queue already held
    /// more than could start within `max_lateness`.
    dropped: Vec<AtomicU64>,
    /// The first few examples of each error.
    pub examples: Examples,
}

impl Recorder {
    pub fn new(journeys: usize, steps: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            examples: Examples::new(steps),
            users: Mutex::new(Vec::new()),
            scheduled: (0..journeys).map(|_| AtomicU64::new(0)).collect(),
            late: (0..journeys).map(|_| AtomicU64::new(0)).collect(),
            dropped: (0..journeys).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// A buffer for one user, drained with all the others (called once per
    /// user, not per request).
    pub fn register(&self) -> Arc<UserBuffer> {
        let buffer = Arc::new(UserBuffer::default());
        self.users.lock().expect("users lock").push(buffer.clone());
        buffer
    }

    /// The dispatcher handed out an arrival of `journey`; `late` when no
    /// user was free to take it.
    pub fn scheduled(&self, journey: usize, late: bool) {
        self.scheduled[journey].fetch_add(1, Ordering::Relaxed);
        if late {
            self.late[journey].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The dispatcher dropped an arrival of `journey` (after counting it
    /// scheduled): its queue was full.
    pub fn dropped(&self, journey: usize) {
        self.dropped[journey].fetch_add(1, Ordering::Relaxed);
    }
}

/// The generator's own CPU over the run, from its per-second samples.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub max_pct: Option<f64>,
    sum: f64,
    samples: u64,
}

impl Cpu {
    fn add(&mut self, pct: f64) {
        self.max_pct = Some(self.max_pct.map_or(pct, |m| m.max(pct)));
        self.sum += pct;
        self.samples += 1;
    }

    pub fn mean_pct(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.sum / self.samples as f64)
    }
}

/// One second's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntervalCounts {
    pub scheduled: u64,
    pub late: u64,
    pub started: u64,
    pub dropped: u64,
    pub finished: [u64; Outcome::ALL.len()],
    pub requests: u64,
    pub retries: u64,
    pub failures: [u64; ErrorClass::ALL.len()],
}

impl IntervalCounts {
    pub fn errors(&self) -> u64 {
        self.failures.iter().sum()
    }

    pub fn completed(&self) -> u64 {
        self.finished[Outcome::CompletedInTime.index()]
            + self.finished[Outcome::CompletedLate.index()]
    }
}

/// What one second looked like, for the progress line.
#[derive(Clone, Debug)]
pub struct IntervalView {
    pub second: u64,
    pub counts: IntervalCounts,
    pub in_flight: i64,
    /// p99 of every request answered in the second.
    pub p99_us: Option<u64>,
    pub cpu_pct: Option<f64>,
}

/// Owns the per-second files; called once a second. Whole-run totals are
/// not kept here: they are built from these files when the run folder is
/// finished (`rundata::totals`), so a run and its rebuild cannot disagree.
pub struct Flusher {
    recorder: Arc<Recorder>,
    names: Names,
    cpu_totals: Cpu,
    steps: Vec<Histogram<u64>>,
    /// Per step, the connections its requests opened.
    connects: Vec<Histogram<u64>>,
    journey_time: Vec<Histogram<u64>>,
    lag: Vec<Histogram<u64>>,
    all: Histogram<u64>,
    counts: IntervalCounts,
    step_counts: Vec<StepCounts>,
    journey_counts: Vec<JourneyCounts>,
    scratch: Vec<Event>,
    seen_scheduled: Vec<u64>,
    seen_late: Vec<u64>,
    seen_dropped: Vec<u64>,
    in_flight: i64,
    hlog: BufWriter<File>,
    serializer: V2DeflateSerializer,
    timeline: RowWriter<BufWriter<File>>,
    steps_csv: RowWriter<BufWriter<File>>,
    journeys_csv: RowWriter<BufWriter<File>>,
    /// `errors.jsonl`, created with its first example.
    examples: Option<BufWriter<File>>,
    dir: std::path::PathBuf,
    cpu: CpuMeter,
    observers: Vec<Box<dyn observe::Observer>>,
    /// The books' latest counters, handed to the observers.
    books: Vec<(String, Option<f64>)>,
}

impl Flusher {
    /// Creates `latency.hlog` and `timeline.csv` in `dir`, with their
    /// headers. `base` is the wall-clock instant of the schedule's start.
    pub fn new(
        dir: &Path,
        names: Names,
        recorder: Arc<Recorder>,
        base: SystemTime,
        comment: &str,
    ) -> io::Result<Flusher> {
        let mut hlog = BufWriter::new(File::create(dir.join(folder::HLOG))?);
        let mut serializer = V2DeflateSerializer::new();
        let mut header = IntervalLogWriterBuilder::new();
        header
            .add_comment(comment)
            .add_comment("Values (and the max column) are microseconds; tags: step:JOURNEY.STEP (request latency), connect:JOURNEY.STEP (new connections: TCP connect and TLS handshake), journey:NAME (time from intended start to completion), lag:NAME (intended start to first request)")
            .with_start_time(base)
            .with_base_time(base);
        header.begin_log_with(&mut hlog, &mut serializer)?;
        hlog.write_all(b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")?;
        hlog.flush()?;
        let timeline = RowWriter::create(&dir.join(folder::TIMELINE), &timeline_header())?;
        let steps_csv = RowWriter::create(&dir.join(folder::STEPS), &steps_header())?;
        let journeys_csv = RowWriter::create(&dir.join(folder::JOURNEYS), &journeys_header())?;
        let journeys = names.journeys.len();
        Ok(Flusher {
            steps: names.steps.iter().map(|_| histogram()).collect(),
            connects: names.steps.iter().map(|_| histogram()).collect(),
            journey_time: (0..journeys).map(|_| histogram()).collect(),
            lag: (0..journeys).map(|_| histogram()).collect(),
            all: histogram(),
            cpu_totals: Cpu::default(),
            counts: IntervalCounts::default(),
            step_counts: vec![StepCounts::default(); names.steps.len()],
            journey_counts: vec![JourneyCounts::default(); journeys],
            scratch: Vec::new(),
            seen_scheduled: vec![0; journeys],
            seen_late: vec![0; journeys],
            seen_dropped: vec![0; journeys],
            in_flight: 0,
            recorder,
            names,
            hlog,
            serializer,
            timeline,
            steps_csv,
            journeys_csv,
            examples: None,
            dir: dir.to_path_buf(),
            cpu: CpuMeter::default(),
            observers: Vec::new(),
            books: Vec::new(),
        })
    }

    /// The generator's CPU over the seconds flushed so far.
    pub fn cpu(&self) -> Cpu {
        self.cpu_totals
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Closes second `second` (counted from the schedule's start): drains
    /// the users and writes the second's histograms and rows. `phase` and
    /// `faults` label the row.
    pub fn flush(&mut self, second: u64, phase: &str, faults: &str) -> io::Result<IntervalView> {
        self.absorb();
        self.dispatch_counts();
        let cpu = self.cpu.sample();
        if let Some(pct) = cpu {
            self.cpu_totals.add(pct);
        }
        self.write_histograms(second)?;
        self.write_row(second, phase, faults, cpu)?;
        self.write_examples(second)?;
        self.notify(second, faults, cpu);
        self.write_counts(second)?;
        let view = IntervalView {
            second,
            counts: std::mem::take(&mut self.counts),
            in_flight: self.in_flight,
            p99_us: (!self.all.is_empty()).then(|| self.all.value_at_quantile(0.99)),
            cpu_pct: cpu,
        };
        self.reset_interval();
        Ok(view)
    }

    /// Takes in what the users recorded so far into the current second,
    /// without writing it; returns the journeys in flight. The clock uses
    /// it to see whether a run that was cut has wound down.
    pub fn absorb(&mut self) -> i64 {
        let users: Vec<Arc<UserBuffer>> = self.recorder.users.lock().expect("users lock").clone();
        for user in &users {
            user.drain(&mut self.scratch);
        }
        let events = std::mem::take(&mut self.scratch);
        for event in &events {
            self.apply(*event);
        }
        self.scratch = events;
        self.scratch.clear();
        self.in_flight
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Request { step, micros, ok } => {
                let s = step as usize;
                let _ = self.steps[s].record(micros);
                let _ = self.all.record(micros);
                self.counts.requests += 1;
                self.step_counts[s].requests += 1;
                self.step_counts[s].ok += u64::from(ok);
            }
            Event::Failure { step, class } => {
                self.counts.failures[class.index()] += 1;
                self.step_counts[step as usize].failures[class.index()] += 1;
            }
            Event::Retry { step } => {
                let journey = self.names.steps[step as usize].journey;
                self.counts.retries += 1;
                self.journey_counts[journey].retries += 1;
            }
            Event::Started {
                journey,
                lag_micros,
            } => {
                let _ = self.lag[journey as usize].record(lag_micros);
                self.counts.started += 1;
                self.journey_counts[journey as usize].started += 1;
                self.in_flight += 1;
            }
            Event::Finished {
                journey,
                outcome,
                micros,
            } => {
                if matches!(outcome, Outcome::CompletedInTime | Outcome::CompletedLate) {
                    let _ = self.journey_time[journey as usize].record(micros);
                }
                self.counts.finished[outcome.index()] += 1;
                self.journey_counts[journey as usize].finished[outcome.index()] += 1;
                self.in_flight -= 1;
            }
            Event::Dropped { journey } => {
                self.counts.dropped += 1;
                self.journey_counts[journey as usize].dropped += 1;
            }
            Event::Connect { step, micros } => {
                let _ = self.connects[step as usize].record(micros);
            }
            Event::Exhausted { journey } => {
                self.counts.dropped += 1;
                let c = &mut self.journey_counts[journey as usize];
                c.dropped += 1;
                c.data_exhausted += 1;
            }
        }
    }

    fn dispatch_counts(&mut self) {
        for j in 0..self.seen_scheduled.len() {
            let scheduled = self.recorder.scheduled[j].load(Ordering::Relaxed);
            let late = self.recorder.late[j].load(Ordering::Relaxed);
            self.counts.scheduled += scheduled - self.seen_scheduled[j];
            self.counts.late += late - self.seen_late[j];
            self.journey_counts[j].scheduled += scheduled - self.seen_scheduled[j];
            self.journey_counts[j].late += late - self.seen_late[j];
            self.seen_scheduled[j] = scheduled;
            self.seen_late[j] = late;
            let dropped = self.recorder.dropped[j].load(Ordering::Relaxed);
            self.counts.dropped += dropped - self.seen_dropped[j];
            self.journey_counts[j].dropped += dropped - self.seen_dropped[j];
            self.seen_dropped[j] = dropped;
        }
    }

    fn write_histograms(&mut self, second: u64) -> io::Result<()> {
        let start = Duration::from_secs(second);
        let length = Duration::from_secs(1);
        let mut log =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.hlog, &mut self.serializer)?;
        let series = self
            .names
            .steps
            .iter()
            .map(|s| step_tag(&s.label))
            .zip(&self.steps)
            .chain(
                self.names
                    .steps
                    .iter()
                    .map(|s| connect_tag(&s.label))
                    .zip(&self.connects),
            )
            .chain(
                self.names
                    .journeys
                    .iter()
                    .map(|j| journey_tag(&j.name))
                    .zip(&self.journey_time),
            )
            .chain(
                self.names
                    .journeys
                    .iter()
                    .map(|j| lag_tag(&j.name))
                    .zip(&self.lag),
            );
        for (tag, h) in series {
            if h.is_empty() {
                continue;
            }
            let tag = Tag::new(&tag).expect("names have no spaces or commas");
            log.write_histogram(h, start, length, Some(tag))
                .map_err(|e| io::Error::other(format!("{e:?}")))?;
        }
        self.hlog.flush()
    }

    fn write_row(
        &mut self,
        second: u64,
        phase: &str,
        faults: &str,
        cpu: Option<f64>,
    ) -> io::Result<()> {
        let c = &self.counts;
        let lag_p99 = self
            .lag
            .iter()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(0.99))
            .max();
        let ms = |v: Option<u64>| v.map_or(String::new(), |v| format!("{:.3}", v as f64 / 1000.0));
        let mut row = vec![
            second.to_string(),
            phase.to_string(),
            c.scheduled.to_string(),
            c.started.to_string(),
        ];
        row.extend(c.finished.iter().map(u64::to_string));
        row.extend([c.dropped, c.late].iter().map(u64::to_string));
        row.push(self.in_flight.to_string());
        row.extend(
            [c.requests, c.retries, c.errors()]
                .iter()
                .map(u64::to_string),
        );
        row.extend(c.failures.iter().map(u64::to_string));
        let all = (!self.all.is_empty()).then_some(&self.all);
        row.push(ms(all.map(|h| h.value_at_quantile(0.5))));
        row.push(ms(all.map(|h| h.value_at_quantile(0.99))));
        row.push(ms(all.map(|h| h.max())));
        row.push(ms(lag_p99));
        row.push(cpu.map_or(String::new(), |p| format!("{p:.1}")));
        row.push(faults.to_string());
        self.timeline.fields(&row)?;
        self.timeline.flush()
    }

    /// Adds an observer of every second from now on.
    pub fn observe(&mut self, observer: Box<dyn observe::Observer>) {
        self.observers.push(observer);
    }

    /// The books' counters as last read, for the observers of the next
    /// second.
    pub fn books_now(&mut self, counters: Vec<(String, Option<f64>)>) {
        self.books = counters;
    }

    /// Tells the observers the run is over; what they have to say.
    pub fn end_observers(&mut self) -> Vec<String> {
        self.observers.iter_mut().filter_map(|o| o.end()).collect()
    }

    /// Hands the second just written to every observer.
    fn notify(&mut self, second: u64, faults: &str, cpu_pct: Option<f64>) {
        if self.observers.is_empty() {
            return;
        }
        let faults: Vec<&str> = faults.split(';').filter(|f| !f.is_empty()).collect();
        let view = observe::Second {
            second,
            names: &self.names,
            steps: &self.step_counts,
            latency: &self.steps,
            journeys: &self.journey_counts,
            lag: &self.lag,
            journey_time: &self.journey_time,
            in_flight: self.in_flight,
            faults: &faults,
            cpu_pct,
            books: &self.books,
        };
        for o in &mut self.observers {
            o.second(&view);
        }
    }

    /// Appends the examples kept during `second` to `errors.jsonl`.
    fn write_examples(&mut self, second: u64) -> io::Result<()> {
        let new = self.recorder.examples.take();
        if new.is_empty() {
            return Ok(());
        }
        if self.examples.is_none() {
            let file = File::create(self.dir.join(folder::EXAMPLES))?;
            self.examples = Some(BufWriter::new(file));
        }
        let out = self.examples.as_mut().expect("just opened");
        for e in new {
            let line = crate::summary::ErrorExample {
                step: self.names.steps[e.step as usize].label.clone(),
                class: e.class.name().to_string(),
                second,
                request: e.request,
                what: e.what,
                body: e.body,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    fn write_counts(&mut self, second: u64) -> io::Result<()> {
        for (i, c) in self.step_counts.iter_mut().enumerate() {
            if c.is_empty() {
                continue;
            }
            self.steps_csv.step(second, &self.names.steps[i].label, c)?;
            *c = StepCounts::default();
        }
        for (j, c) in self.journey_counts.iter_mut().enumerate() {
            if c.is_empty() {
                continue;
            }
            self.journeys_csv
                .journey(second, &self.names.journeys[j].name, c)?;
            *c = JourneyCounts::default();
        }
        self.steps_csv.flush()?;
        self.journeys_csv.flush()
    }

    fn reset_interval(&mut self) {
        for h in self
            .steps
            .iter_mut()
            .chain(&mut self.connects)
            .chain(&mut self.journey_time)
            .chain(&mut self.lag)
        {
            h.reset();
        }
        self.all.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    fn names() -> Names {
        Names {
            steps: vec![
                StepName {
                    label: "buy.login".into(),
                    journey: 0,
                    step: "login".into(),
                    channel: "storefront".into(),
                },
                StepName {
                    label: "buy.pay".into(),
                    journey: 0,
                    step: "pay".into(),
                    channel: "storefront".into(),
                },
            ],
            journeys: vec![JourneyName {
                name: "buy".into(),
                channel: "storefront".into(),
            }],
        }
    }

    #[test]
    // One scenario of events followed through every file the flusher writes
    // (timeline, steps, journeys, interval log) and back through the totals:
    // long because each file is checked against the same two seconds.
    fn a_second_of_events_becomes_histograms_rows_and_totals() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(1, 2);
        let user = recorder.register();
        let mut flusher = Flusher::new(
            dir.path(),
            names(),
            recorder.clone(),
            SystemTime::now(),
            "test",
        )
        .unwrap();
        recorder.scheduled(0, false);
        recorder.scheduled(0, true);
        user.push(Event::Started {
            journey: 0,
            lag_micros: 80,
        });
        for us in [1_000, 2_000, 3_000] {
            user.push(Event::Request {
                step: 0,
                micros: us,
                ok: true,
            });
        }
        user.push(Event::Request {
            step: 1,
            micros: 50_000,
            ok: false,
        });
        user.push(Event::Failure {
            step: 1,
            class: ErrorClass::Unavailable,
        });
        user.push(Event::Retry { step: 1 });
        let first = flusher.flush(0, "warm-up", "").unwrap();
        assert_eq!(first.counts.requests, 4);
        assert_eq!((first.counts.scheduled, first.counts.late), (2, 1));
        assert_eq!(first.in_flight, 1);
        user.push(Event::Request {
            step: 1,
            micros: 40_000,
            ok: true,
        });
        user.push(Event::Finished {
            journey: 0,
            outcome: Outcome::CompletedInTime,
            micros: 1_200_000,
        });
        user.push(Event::Dropped { journey: 0 });
        let second = flusher.flush(1, "steady", "core-down").unwrap();
        assert_eq!(second.in_flight, 0);
        assert_eq!(second.counts.completed(), 1);

        // The files total to what happened (built the one way every run
        // folder's totals are built).
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/summary.json");
        let mut skeleton = crate::rundata::read_summary(&fixture).unwrap();
        skeleton.journeys.clear();
        skeleton.steps.clear();
        let mut data = crate::rundata::RunData::load_with(dir.path(), skeleton).unwrap();
        data.rebuild_totals(|_| Some("storefront".into()));
        let t = &data.summary;
        let (login, pay) = (&t.steps[0], &t.steps[1]);
        assert_eq!((login.requests, login.ok, login.latency.count), (3, 3, 3));
        assert_eq!((pay.requests, pay.ok), (2, 1));
        assert_eq!(pay.errors["unavailable"], 1);
        let j = &t.journeys[0];
        assert_eq!(
            (j.scheduled, j.late, j.started, j.dropped, j.retries),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(j.outcomes.completed_in_time, 1);
        assert_eq!(j.time.p50_us, histogram().highest_equivalent(1_200_000));
        assert_eq!(t.errors[0].count, 1);

        let csv = std::fs::read_to_string(dir.path().join("timeline.csv")).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].split(',').count(), rows[2].split(',').count());
        assert!(
            rows[1].starts_with("0,warm-up,2,1,0,0,0,0,0,0,1,1,4,1,1,"),
            "{}",
            rows[1]
        );
        assert!(rows[2].ends_with(",core-down"), "{}", rows[2]);

        let steps = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
        let rows: Vec<&str> = steps.lines().collect();
        assert_eq!(rows[0], steps_header().join(","));
        assert!(rows[1].starts_with("0,buy.login,3,3,"), "{steps}");
        assert!(
            rows[2].starts_with("0,buy.pay,1,0,0,0,0,0,0,0,0,1,"),
            "{steps}"
        );
        assert!(rows[3].starts_with("1,buy.pay,1,1,"), "{steps}");
        let journeys = std::fs::read_to_string(dir.path().join("journeys.csv")).unwrap();
        let rows: Vec<&str> = journeys.lines().collect();
        assert_eq!(rows[1], "0,buy,2,1,1,0,0,0,0,0,0,1,0");
        assert_eq!(rows[2], "1,buy,0,0,0,1,1,0,0,0,0,0,0");

        // The log reads back: per tag, per second, exact counts.
        let log = std::fs::read(dir.path().join("latency.hlog")).unwrap();
        let mut got = Vec::new();
        for entry in IntervalLogIterator::new(&log) {
            if let Ok(LogEntry::Interval(h)) = entry {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(h.encoded_histogram())
                    .unwrap();
                let hist: Histogram<u64> = Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .unwrap();
                got.push((
                    h.tag().unwrap().as_str().to_string(),
                    h.start_timestamp().as_secs(),
                    hist.len(),
                ));
            }
        }
        assert_eq!(
            got,
            vec![
                ("step:buy.login".to_string(), 0, 3),
                ("step:buy.pay".to_string(), 0, 1),
                ("lag:buy".to_string(), 0, 1),
                ("step:buy.pay".to_string(), 1, 1),
                ("journey:buy".to_string(), 1, 1),
            ]
        );
    }
}
