//! `surge merge`: the run folders of the N shards of one run, made into one
//! run folder. Histograms are added bucket by bucket (exact, never
//! percentiles of percentiles) and counts summed, second by second, with
//! each shard's seconds shifted by how much later than the earliest shard
//! its clock started (read from its interval log's StartTime). The merged
//! summary's totals are rebuilt from the merged per-second files, the same
//! way a killed run's are, then judged; the folder is a normal run folder
//! that `surge report` and `surge compare` read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::folder::{self, JourneyCounts, StepCounts, histogram};
use crate::rundata::{DataError, RunData, Sparse};
use crate::summary::{ShardStart, Status, Summary};

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{0} is not a shard: it was run without --shard K/N")]
    NotAShard(PathBuf),
    #[error("{a} and {b} are not shards of one run: {what} differ ({x} vs {y})")]
    Mismatch {
        a: PathBuf,
        b: PathBuf,
        what: &'static str,
        x: String,
        y: String,
    },
    #[error("shard {index} of {count} is given twice: {a} and {b}")]
    Duplicate {
        index: u64,
        count: u64,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("shards {missing:?} of {count} are missing; give every shard's run folder")]
    Missing { missing: Vec<u64>, count: u64 },
    #[error("{path}: no StartTime in the interval log header")]
    NoStart { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One shard, read.
struct Shard {
    data: RunData,
    index: u64,
    /// Wall-clock start of its schedule, Unix seconds.
    start: f64,
}

/// A row of timeline.csv: its second and its fields.
type Row = (u64, Vec<String>);

/// The merged run, in memory.
pub struct Merged {
    pub data: RunData,
    /// Wall-clock start of the earliest shard, Unix seconds.
    start: f64,
    timeline: Vec<Row>,
    timeline_header: Vec<String>,
}

/// Reads and checks the shards, and merges them.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, MergeError> {
    let mut shards = read(dirs)?;
    check(&shards)?;
    shards.sort_by_key(|s| s.index);
    let earliest = shards.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
    let seconds = add_seconds(&shards, earliest);
    let data = RunData {
        dir: out.to_path_buf(),
        summary: whole_run(&shards, earliest),
        series: seconds.series,
        steps: seconds
            .steps
            .into_iter()
            .map(|((s, n), c)| (s, n, c))
            .collect(),
        journeys: seconds
            .journeys
            .into_iter()
            .map(|((s, n), c)| (s, n, c))
            .collect(),
        examples: seconds.examples,
        history: None,
        // Each shard reads the books on its own; a merge has no one reading.
        books: None,
    };
    let (timeline_header, timeline) = merge_timelines(&shards, earliest, &data)?;
    Ok(Merged {
        data,
        start: earliest,
        timeline,
        timeline_header,
    })
}

/// Each shard's run folder, with its index and wall-clock start.
fn read(dirs: &[PathBuf]) -> Result<Vec<Shard>, MergeError> {
    let mut shards = Vec::new();
    for dir in dirs {
        let data = RunData::load(dir)?;
        let info = data
            .summary
            .run
            .shard
            .ok_or_else(|| MergeError::NotAShard(dir.clone()))?;
        let start = hlog_start(&dir.join("latency.hlog"))?;
        shards.push(Shard {
            data,
            index: info.index,
            start,
        });
    }
    Ok(shards)
}

/// The shards' per-second measurements, added on seconds aligned to the
/// earliest shard's start.
struct Seconds {
    series: crate::rundata::Series,
    steps: BTreeMap<(u64, String), StepCounts>,
    journeys: BTreeMap<(u64, String), JourneyCounts>,
    examples: Vec<crate::summary::ErrorExample>,
}

fn add_seconds(shards: &[Shard], earliest: f64) -> Seconds {
    let mut sum = Seconds {
        series: BTreeMap::new(),
        steps: BTreeMap::new(),
        journeys: BTreeMap::new(),
        examples: Vec::new(),
    };
    for shard in shards {
        let shift = ((shard.start - earliest).round()) as u64;
        for (tag, seconds) in &shard.data.series {
            let slot = sum.series.entry(tag.clone()).or_default();
            for (s, h) in seconds {
                slot.entry(s + shift).or_default().add(h);
            }
        }
        for (s, name, c) in &shard.data.steps {
            sum.steps
                .entry((s + shift, name.clone()))
                .or_default()
                .add(c);
        }
        for (s, name, c) in &shard.data.journeys {
            sum.journeys
                .entry((s + shift, name.clone()))
                .or_default()
                .add(c);
        }
        sum.examples.extend(
            shard
                .data
                .examples
                .iter()
                .map(|e| crate::summary::ErrorExample {
                    second: e.second + shift,
                    ..e.clone()
                }),
        );
    }
    sum.examples.sort_by_key(|e| e.second);
    sum
}

/// The whole run's summary, but its totals: the first shard's, with every
/// shard's start, users, CPU and status folded in.
fn whole_run(shards: &[Shard], earliest: f64) -> Summary {
    let mut summary = shards[0].data.summary.clone();
    summary.run.shards = shards
        .iter()
        .map(|shard| ShardStart {
            index: shard.index,
            offset_ms: crate::summary::round((shard.start - earliest) * 1000.0, 1),
        })
        .collect();
    // The whole run: no shard, every generator's users and CPU, the worst
    // status, the expected arrivals of all.
    summary.run.shard = None;
    summary.run.generator.users = shards
        .iter()
        .map(|s| s.data.summary.run.generator.users)
        .sum();
    summary.run.generator.cpu_max_pct = shards
        .iter()
        .filter_map(|s| s.data.summary.run.generator.cpu_max_pct)
        .reduce(f64::max);
    summary.run.generator.cpu_mean_pct = shards
        .iter()
        .filter_map(|s| s.data.summary.run.generator.cpu_mean_pct)
        .reduce(f64::max);
    summary.run.generator.hostname = shards
        .iter()
        .map(|s| s.data.summary.run.generator.hostname.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    summary.load.expected = shards.iter().map(|s| s.data.summary.load.expected).sum();
    summary.status = shards
        .iter()
        .map(|s| s.data.summary.status)
        .max_by_key(|s| match s {
            Status::Completed => 0,
            Status::StoppedEarly => 1,
            Status::Interrupted => 2,
            Status::Running => 3,
        })
        .unwrap_or(Status::Completed);
    // Each shard decides on its own share; the merge says which stopped
    // first and judges the whole.
    summary.stopped_early = shards
        .iter()
        .filter_map(|s| s.data.summary.stopped_early.clone().map(|e| (s.index, e)))
        .min_by(|a, b| a.1.at_s.total_cmp(&b.1.at_s))
        .map(|(index, e)| crate::summary::StoppedEarly {
            detail: format!("shard {index} decided it on its own share: {}", e.detail),
            ..e
        });
    // The run's own judgement (objectives, tolerance) goes on to the
    // merged one; the totals are built from the merged files when the
    // folder is finished, in the order the first shard lists them.
    summary.run.elapsed_s = shards
        .iter()
        .map(|s| s.data.summary.run.elapsed_s + (s.start - earliest))
        .fold(0.0, f64::max);
    let users: BTreeMap<String, usize> = shards
        .iter()
        .flat_map(|s| {
            s.data
                .summary
                .journeys
                .iter()
                .map(|j| (j.name.clone(), j.users))
        })
        .fold(BTreeMap::new(), |mut m, (n, u)| {
            *m.entry(n).or_insert(0) += u;
            m
        });
    // Every journey and step any shard lists (a shard killed midway lists
    // none), in the first shard's order, with the users of all shards.
    for shard in &shards[1..] {
        for j in &shard.data.summary.journeys {
            if !summary.journeys.iter().any(|k| k.name == j.name) {
                summary.journeys.push(j.clone());
            }
        }
        for st in &shard.data.summary.steps {
            if !summary.steps.iter().any(|k| k.name == st.name) {
                summary.steps.push(st.clone());
            }
        }
    }
    for j in &mut summary.journeys {
        j.users = users.get(&j.name).copied().unwrap_or(0);
    }
    summary
}

/// One thing the shards of one run share: its name in a refusal, and how
/// to read it from a summary.
type Shared = (&'static str, fn(&Summary) -> String);

const IDENTITY: [Shared; 5] = [
    ("scenario names", |s| s.scenario.name.clone()),
    ("scenario files (sha256)", |s| s.scenario.sha256.clone()),
    ("seeds", |s| s.scenario.seed.to_string()),
    ("scales", |s| s.scenario.scale.to_string()),
    ("shard counts", |s| shard_count(s).to_string()),
];

fn shard_count(s: &Summary) -> u64 {
    s.run.shard.map_or(1, |k| k.count)
}

/// The shards are the N shards of one scenario and seed, each once.
fn check(shards: &[Shard]) -> Result<(), MergeError> {
    let first = &shards[0];
    let f = &first.data.summary;
    let count = shard_count(f);
    let mut seen: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for s in shards {
        let x = &s.data.summary;
        for (what, key) in IDENTITY {
            let (a, b) = (key(f), key(x));
            if a != b {
                return Err(MergeError::Mismatch {
                    a: first.data.dir.clone(),
                    b: s.data.dir.clone(),
                    what,
                    x: a,
                    y: b,
                });
            }
        }
        if let Some(other) = seen.insert(s.index, &s.data.dir) {
            return Err(MergeError::Duplicate {
                index: s.index,
                count,
                a: other.clone(),
                b: s.data.dir.clone(),
            });
        }
    }
    let missing: Vec<u64> = (1..=count).filter(|k| !seen.contains_key(k)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }
    Ok(())
}

/// The `StartTime` of an interval log, Unix seconds.
fn hlog_start(path: &Path) -> Result<f64, MergeError> {
    let text = crate::rundata::read(path)?;
    text.lines()
        .take_while(|l| l.starts_with('#') || l.starts_with('"'))
        .find_map(|l| l.strip_prefix("#[StartTime: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| MergeError::NoStart {
            path: path.to_path_buf(),
        })
}

/// timeline.csv of the whole run: counts summed per aligned second, the
/// latency columns recomputed from the merged histograms, phase and faults
/// from shard 1 (the one that applies shared faults). Long because each
/// column of the timeline has its own rule of adding.
fn merge_timelines(
    shards: &[Shard],
    earliest: f64,
    data: &RunData,
) -> Result<(Vec<String>, Vec<Row>), MergeError> {
    let mut header = Vec::new();
    let mut rows: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (k, shard) in shards.iter().enumerate() {
        let table =
            folder::read_table(&shard.data.dir.join(folder::TIMELINE)).map_err(DataError::from)?;
        let cols = table.header;
        if k == 0 {
            header = cols.clone();
        } else if cols != header {
            // Written by another surge (before 429 and 503 were told apart,
            // say): adding its columns by position would mix counts.
            let differ = |a: &[String], b: &[String]| {
                a.iter()
                    .filter(|c| !b.contains(c))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            return Err(MergeError::Mismatch {
                a: shards[0].data.dir.clone(),
                b: shard.data.dir.clone(),
                what: "timeline.csv columns (shards written by different surge versions?)",
                x: format!("only the first has: {}", differ(&header, &cols)),
                y: format!("only the second has: {}", differ(&cols, &header)),
            });
        }
        let shift = (shard.start - earliest).round() as u64;
        for (_, fields) in &table.rows {
            let Some(second) = fields.get(0).and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            let second = second + shift;
            let row = rows
                .entry(second)
                .or_insert_with(|| vec![String::new(); cols.len()]);
            for (i, (name, value)) in cols.iter().zip(fields).enumerate() {
                match name.as_str() {
                    "second" => row[i] = second.to_string(),
                    "phase" | "faults" => {
                        if k == 0 || row[i].is_empty() {
                            row[i] = value.to_string();
                        }
                    }
                    _ => {
                        let a: f64 = row[i].parse().unwrap_or(0.0);
                        let b: f64 = value.parse().unwrap_or(0.0);
                        row[i] = trim(a + b);
                    }
                }
            }
        }
    }
    // Percentiles are recomputed from the merged histograms, never summed.
    let at = |name: &str| header.iter().position(|c| c == name);
    for (second, row) in rows.iter_mut() {
        let mut requests = histogram();
        let mut lag = histogram();
        for (tag, seconds) in &data.series {
            if let Some(h) = seconds.get(second) {
                if tag.starts_with("step:") {
                    h.add_to(&mut requests);
                } else if tag.starts_with("lag:") {
                    h.add_to(&mut lag);
                }
            }
        }
        let ms = |v: u64| trim(v as f64 / 1000.0);
        let put = |row: &mut Vec<String>, name: &str, v: String| {
            if let Some(i) = at(name) {
                row[i] = v;
            }
        };
        let empty = |h: &hdrhistogram::Histogram<u64>, v: u64| {
            if h.is_empty() { String::new() } else { ms(v) }
        };
        put(
            row,
            "p50_ms",
            empty(&requests, requests.value_at_quantile(0.5)),
        );
        put(
            row,
            "p99_ms",
            empty(&requests, requests.value_at_quantile(0.99)),
        );
        put(row, "max_ms", empty(&requests, requests.max()));
        put(row, "lag_p99_ms", empty(&lag, lag.value_at_quantile(0.99)));
    }
    Ok((header, rows.into_iter().collect()))
}

fn trim(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

impl Merged {
    /// Writes the merged run folder (every file a run writes, but the
    /// reports, which the caller writes after judging).
    pub fn write(&self, first_shard: &Path) -> Result<(), MergeError> {
        let dir = &self.data.dir;
        let wrap = |path: PathBuf| move |source| MergeError::Write { path, source };
        std::fs::create_dir_all(dir).map_err(wrap(dir.clone()))?;
        let _ = std::fs::copy(first_shard.join("scenario.yaml"), dir.join("scenario.yaml"));
        self.write_hlog().map_err(wrap(dir.join("latency.hlog")))?;
        let path = dir.join(folder::STEPS);
        folder::write_steps(&path, &self.data.steps).map_err(wrap(path.clone()))?;
        let path = dir.join(folder::JOURNEYS);
        folder::write_journeys(&path, &self.data.journeys).map_err(wrap(path.clone()))?;
        if !self.data.examples.is_empty() {
            let path = dir.join(folder::EXAMPLES);
            let mut text = String::new();
            for e in &self.data.examples {
                text += &serde_json::to_string(e).expect("examples serialize");
                text.push('\n');
            }
            std::fs::write(&path, text).map_err(wrap(path))?;
        }
        let path = dir.join(folder::TIMELINE);
        let rows = self.timeline.iter().map(|(_, row)| row);
        folder::write_table(&path, &self.timeline_header, rows).map_err(wrap(path.clone()))?;
        Ok(())
    }

    fn write_hlog(&self) -> std::io::Result<()> {
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(self.data.dir.join("latency.hlog"))?);
        let mut serializer = V2DeflateSerializer::new();
        let base = std::time::UNIX_EPOCH + Duration::from_secs_f64(self.start);
        let mut header = IntervalLogWriterBuilder::new();
        header
            .add_comment("surge merge of the shards' interval logs")
            .with_start_time(base)
            .with_base_time(base);
        let mut by_second: BTreeMap<u64, Vec<(&String, &Sparse)>> = BTreeMap::new();
        for (tag, seconds) in &self.data.series {
            for (s, h) in seconds {
                by_second.entry(*s).or_default().push((tag, h));
            }
        }
        {
            let mut log = header.begin_log_with(&mut file, &mut serializer)?;
            log.write_comment("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
            for (s, items) in by_second {
                for (tag, sparse) in items {
                    let h = sparse.histogram();
                    let tag = Tag::new(tag)
                        .ok_or_else(|| std::io::Error::other(format!("bad tag {tag}")))?;
                    log.write_histogram(
                        &h,
                        Duration::from_secs(s),
                        Duration::from_secs(1),
                        Some(tag),
                    )
                    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
                }
            }
        }
        file.flush()
    }
}
