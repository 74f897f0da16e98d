//! A run folder, read back: `summary.json`, every per-second histogram of
//! `latency.hlog`, and the per-second counts of `steps.csv` and
//! `journeys.csv`. Sums over windows of seconds (a phase, a fault window,
//! everything outside faults) are exact, because HDR histograms and counts
//! add. The gate, reports, comparisons and merges all read runs through
//! this one module; nothing here writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use crate::folder::{self, FolderError, JourneyCounts, StepCounts, histogram};
use crate::scenario::model::ErrorClass;
use crate::summary::capacity::CapacityReport;
use crate::summary::{ErrorExample, Summary};

mod totals;

/// Why a run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a surge summary: {reason}")]
    Summary { path: PathBuf, reason: String },
    #[error("{path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Books { path: PathBuf, reason: String },
    #[error(transparent)]
    Folder(#[from] FolderError),
}

/// One interval's histogram, kept as its non-empty buckets: a second holds
/// a few hundred distinct values at most, while a whole histogram spans
/// every bucket up to its maximum (an hour of per-second histograms would
/// take gigabytes). Each bucket is stored by its highest equivalent value,
/// which records back into the same bucket, so sums stay exact. The
/// buckets are packed as varints, each value as its distance from the one
/// before, with its count: two or three bytes a bucket rather than sixteen,
/// so a long run's series, read back whole, stays small.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sparse {
    packed: Vec<u8>,
}

impl Sparse {
    pub fn of(h: &Histogram<u64>) -> Sparse {
        let mut packed = Vec::new();
        let mut last = 0;
        for v in h.iter_recorded() {
            let value = v.value_iterated_to();
            prost::encoding::encode_varint(value - last, &mut packed);
            prost::encoding::encode_varint(v.count_at_value(), &mut packed);
            last = value;
        }
        packed.shrink_to_fit();
        Sparse { packed }
    }

    /// The (value, count) of each bucket, in order.
    fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut rest = self.packed.as_slice();
        let mut last = 0;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            // Written by `of` alone, so it reads back.
            let delta = prost::encoding::decode_varint(&mut rest).ok()?;
            let count = prost::encoding::decode_varint(&mut rest).ok()?;
            last += delta;
            Some((last, count))
        })
    }

    /// Adds these counts into `h` (3 significant digits, like every
    /// histogram surge records).
    pub fn add_to(&self, h: &mut Histogram<u64>) {
        for (value, count) in self.buckets() {
            let _ = h.record_n(value, count);
        }
    }

    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = histogram();
        self.add_to(&mut h);
        h
    }

    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Sparse) {
        let mut sum = self.histogram();
        other.add_to(&mut sum);
        *self = Sparse::of(&sum);
    }
}

/// Tag → second → histogram, as `latency.hlog` holds them.
pub type Series = BTreeMap<String, BTreeMap<u64, Sparse>>;

/// A run folder's measurements.
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    /// Tag → second → histogram.
    pub series: Series,
    /// (second, step label, counts).
    pub steps: Vec<(u64, String, StepCounts)>,
    /// (second, journey name, counts).
    pub journeys: Vec<(u64, String, JourneyCounts)>,
    /// Examples of errors (`errors.jsonl`; none in folders without it).
    pub examples: Vec<ErrorExample>,
    /// The scenario's earlier runs, from the history, when the run was
    /// indexed in one (a report's History section).
    pub history: Option<Recent>,
    /// The readings of the platform's books (`books.csv`), when the run
    /// read any.
    pub books: Option<crate::folder::books::Table>,
}

/// A run as a report's History section shows it.
#[derive(Clone, Debug, Default)]
pub struct Past {
    pub folder: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub goodput: f64,
    /// Channel → p99, µs.
    pub p99_us: BTreeMap<String, u64>,
}

/// The history of one scenario a report shows.
#[derive(Clone, Debug, Default)]
pub struct Recent {
    /// Oldest first, at most the number asked.
    pub runs: Vec<Past>,
    /// Capacity searches: (started at, commit, arrivals/s), oldest first.
    pub capacities: Vec<(String, Option<String>, f64)>,
}

/// Reads `errors.jsonl`: absent, none; a line cut short by a kill is
/// skipped, the lines before it kept.
fn read_examples(path: &Path) -> Vec<ErrorExample> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<ErrorExample>(line).ok())
        .map(|mut e| {
            e.class = crate::summary::class_now(&e.class).to_string();
            e
        })
        .collect()
}

/// A set of seconds of the run: those overlapping any of `include` (all
/// when empty) and none of `exclude`, within `[0, limit)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    pub include: Vec<(f64, f64)>,
    pub exclude: Vec<(f64, f64)>,
    pub limit: Option<f64>,
}

impl Window {
    /// Every second.
    pub fn all() -> Window {
        Window::default()
    }

    /// Whether second `s` (covering `[s, s+1)`) belongs to the window.
    pub fn contains(&self, s: u64) -> bool {
        let (a, b) = (s as f64, s as f64 + 1.0);
        let overlaps = |(start, end): &(f64, f64)| a < *end && b > *start;
        self.limit.is_none_or(|l| a < l)
            && (self.include.is_empty() || self.include.iter().any(overlaps))
            && !self.exclude.iter().any(overlaps)
    }

    /// How many seconds of `[0, total)` belong to the window.
    pub fn seconds(&self, total: f64) -> u64 {
        (0..total.ceil() as u64)
            .filter(|s| self.contains(*s))
            .count() as u64
    }
}

/// Reads a file of the run folder, saying which on failure.
pub fn read(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a `summary.json` on its own.
pub fn read_summary(path: &Path) -> Result<Summary, DataError> {
    let mut summary: Summary = read_json(path)?;
    summary.upgrade();
    Ok(summary)
}

/// Reads a `capacity.json` (what `surge capacity` found).
pub fn read_capacity(path: &Path) -> Result<CapacityReport, DataError> {
    read_json(path)
}

/// Reads one of surge's JSON documents, saying which on failure.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DataError> {
    serde_json::from_str(&read(path)?).map_err(|e| DataError::Summary {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl RunData {
    /// Reads the run folder `dir`.
    pub fn load(dir: &Path) -> Result<RunData, DataError> {
        Self::load_with(dir, read_summary(&dir.join(folder::SUMMARY))?)
    }

    /// Reads the measurements of the run folder `dir`, with a summary held
    /// in memory instead of its `summary.json` (a run or a merge that has
    /// not written its own yet).
    pub fn load_with(dir: &Path, summary: Summary) -> Result<RunData, DataError> {
        let series = read_hlog(&dir.join(folder::HLOG))?;
        let steps = folder::read_steps(&dir.join(folder::STEPS))?;
        let journeys = folder::read_journeys(&dir.join(folder::JOURNEYS))?;
        Ok(RunData {
            dir: dir.to_path_buf(),
            summary,
            series,
            steps,
            journeys,
            examples: read_examples(&dir.join(folder::EXAMPLES)),
            history: None,
            books: crate::folder::books::Table::read(dir).map_err(|reason| DataError::Books {
                path: dir.join(crate::folder::books::FILE),
                reason,
            })?,
        })
    }

    /// The sum of the histograms of the tags `pick` accepts, over `window`.
    pub fn histogram(&self, pick: impl Fn(&str) -> bool, window: &Window) -> Histogram<u64> {
        let mut sum = histogram();
        for (tag, seconds) in &self.series {
            if !pick(tag) {
                continue;
            }
            for (s, h) in seconds {
                if window.contains(*s) {
                    h.add_to(&mut sum);
                }
            }
        }
        sum
    }

    /// Per second, the sum of the histograms of the tags `pick` accepts.
    pub fn per_second(&self, pick: impl Fn(&str) -> bool) -> BTreeMap<u64, Histogram<u64>> {
        let mut out: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
        for (tag, seconds) in &self.series {
            if !pick(tag) {
                continue;
            }
            for (s, h) in seconds {
                h.add_to(out.entry(*s).or_insert_with(histogram));
            }
        }
        out
    }

    /// Step counts summed over the steps `pick` accepts and `window`.
    pub fn step_counts(&self, pick: impl Fn(&str) -> bool, window: &Window) -> StepCounts {
        let mut sum = StepCounts::default();
        for (s, step, c) in &self.steps {
            if pick(step) && window.contains(*s) {
                sum.add(c);
            }
        }
        sum
    }

    /// Journey counts summed over the journeys `pick` accepts and `window`.
    pub fn journey_counts(&self, pick: impl Fn(&str) -> bool, window: &Window) -> JourneyCounts {
        let mut sum = JourneyCounts::default();
        for (s, journey, c) in &self.journeys {
            if pick(journey) && window.contains(*s) {
                sum.add(c);
            }
        }
        sum
    }
}

/// Failures of the classes in `classes` (all when empty).
pub fn failures(c: &StepCounts, classes: &[ErrorClass]) -> u64 {
    ErrorClass::ALL
        .iter()
        .filter(|k| classes.is_empty() || classes.contains(k))
        .map(|k| c.failures[k.index()])
        .sum()
}

/// Reads `latency.hlog` into tag → second → histogram.
pub fn read_hlog(path: &Path) -> Result<Series, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out: Series = BTreeMap::new();
    let mut deserializer = Deserializer::new();
    let bad = |reason: String| DataError::Line {
        path: path.to_path_buf(),
        line: 0,
        reason,
    };
    for entry in IntervalLogIterator::new(&bytes) {
        let Ok(LogEntry::Interval(interval)) = entry else {
            continue;
        };
        let Some(tag) = interval.tag() else { continue };
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| bad(format!("tag {}: {e}", tag.as_str())))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut encoded.as_slice())
            .map_err(|e| bad(format!("tag {}: {e:?}", tag.as_str())))?;
        let second = interval.start_timestamp().as_secs_f64().round() as u64;
        let slot = out.entry(tag.as_str().to_string()).or_default();
        match slot.get_mut(&second) {
            Some(existing) => existing.add(&Sparse::of(&h)),
            None => {
                slot.insert(second, Sparse::of(&h));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_second_reads_back_as_the_same_histogram_in_a_fraction_of_its_size() {
        let mut h = histogram();
        // Latencies from 40 µs to a 60 s stall, every bucket's edges.
        let mut x: u64 = 0x9E37_79B9;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let value = 40 + (x >> 33) % 60_000_000 / (1 + (x >> 60));
            h.record(value).unwrap();
        }
        h.record_n(u64::from(u32::MAX) * 8, 3).unwrap();
        let packed = Sparse::of(&h);
        let back = packed.histogram();
        assert_eq!(back, h);
        let buckets = h.iter_recorded().count();
        assert!(
            packed.packed.len() < buckets * 5,
            "{} bytes for {buckets} buckets",
            packed.packed.len()
        );
        let mut twice = packed.clone();
        twice.add(&packed);
        assert_eq!(twice.histogram().len(), 2 * h.len());
        assert!(Sparse::of(&histogram()).is_empty());
    }

    #[test]
    fn windows_select_overlapping_seconds() {
        let phase = Window {
            include: vec![(10.0, 20.0)],
            ..Window::default()
        };
        assert!(
            !phase.contains(9) && phase.contains(10) && phase.contains(19) && !phase.contains(20)
        );
        let fault = Window {
            include: vec![(33.5, 45.2)],
            ..Window::default()
        };
        assert!(fault.contains(33) && fault.contains(45) && !fault.contains(46));
        let outside = Window {
            exclude: vec![(33.5, 45.2)],
            ..Window::default()
        };
        assert!(outside.contains(32) && !outside.contains(33) && outside.contains(46));
        assert_eq!(Window::all().seconds(60.0), 60);
        assert_eq!(outside.seconds(60.0), 47);
        assert_eq!(
            Window {
                limit: Some(10.0),
                ..Window::default()
            }
            .seconds(60.0),
            10
        );
    }
}
