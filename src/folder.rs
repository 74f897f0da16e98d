//! The run folder's contract: the names of its files, the series of its
//! interval log, the rows of its per-second CSV files, and the one writer
//! and reader of those rows. The recorder and merge write rows through
//! [`RowWriter`]; rundata, merge and everything else read them through
//! [`read_steps`], [`read_journeys`] and [`read_table`]. Both sides go
//! through the `csv` crate, so a name or a phase holding a comma or a quote
//! reads back as it was written. Columns are found by their header's name,
//! never by position, so a folder written before a column existed still
//! reads (its count is zero), and a header that lacks a column every row
//! needs is refused at its line. It imports only the scenario model's
//! error classes (another contract, which imports nothing of surge).
//! The platform's books keep two files of their own: `books` (the
//! counters' readings) and `ids` (our side of a reconciliation, and its
//! differences).

pub mod books;
pub mod ids;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::scenario::model::{ErrorClass, OLD_QUEUE_FULL};

/// The run's totals, objectives and provenance (`summary::Summary`).
pub const SUMMARY: &str = "summary.json";
/// HdrHistogram's interval log: a tagged histogram per series per second.
pub const HLOG: &str = "latency.hlog";
/// Per second and step: requests, successes, failures by class.
pub const STEPS: &str = "steps.csv";
/// Per second and journey: arrivals and how journeys ended.
pub const JOURNEYS: &str = "journeys.csv";
/// Per second: the whole run's counts and latency, the phase and faults.
pub const TIMELINE: &str = "timeline.csv";
/// Examples of errors, one JSON object (`summary::ErrorExample`) a line.
pub const EXAMPLES: &str = "errors.jsonl";
/// The scenario as run.
pub const SCENARIO: &str = "scenario.yaml";

/// HDR histograms of microseconds, 3 significant digits, growing as needed:
/// every histogram of a run folder, written or read.
pub fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits are valid")
}

/// The tag of a step's request latency in `latency.hlog`.
pub fn step_tag(label: &str) -> String {
    format!("step:{label}")
}
/// The tag of a journey's time from intended start to completion.
pub fn journey_tag(name: &str) -> String {
    format!("journey:{name}")
}
/// The tag of a journey's start lag.
pub fn lag_tag(name: &str) -> String {
    format!("lag:{name}")
}
/// New connections of a step: TCP connect and TLS handshake.
pub fn connect_tag(label: &str) -> String {
    format!("connect:{label}")
}

/// Examples kept per step and class in `errors.jsonl`.
pub const EXAMPLES_PER_SLOT: u32 = 5;

/// Whether a slot (a step and class) holding examples with the words
/// `kept` takes one more with these: the first [`EXAMPLES_PER_SLOT`]
/// distinct ones. The recorder keeps them by this rule, and a merge picks
/// among shards' by it again.
pub fn admits<'a>(
    kept: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    what: &str,
    body: Option<&str>,
) -> bool {
    let mut n = 0;
    for (w, b) in kept {
        if w == what && b == body {
            return false;
        }
        n += 1;
    }
    n < EXAMPLES_PER_SLOT as usize
}

/// How a journey ended (a column of `journeys.csv` each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every step succeeded before the deadline.
    CompletedInTime,
    /// Every step succeeded, after the deadline.
    CompletedLate,
    /// The applicant ran out of patience (tries or time).
    Abandoned,
    /// A step failed in a way that retrying does not help.
    Failed,
    /// Still running when the run stopped.
    Unfinished,
}

impl Outcome {
    /// Every outcome, in the order files and reports list them (pinned to
    /// [`Outcome::index`] by a test).
    pub const ALL: [Outcome; 5] = [
        Outcome::CompletedInTime,
        Outcome::CompletedLate,
        Outcome::Abandoned,
        Outcome::Failed,
        Outcome::Unfinished,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::CompletedInTime => "completed_in_time",
            Outcome::CompletedLate => "completed_late",
            Outcome::Abandoned => "abandoned",
            Outcome::Failed => "failed",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// A step's counts in one second (a row of `steps.csv`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub requests: u64,
    pub ok: u64,
    pub failures: [u64; ErrorClass::ALL.len()],
}

/// A journey's counts in one second (a row of `journeys.csv`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JourneyCounts {
    pub scheduled: u64,
    pub late: u64,
    pub started: u64,
    pub dropped: u64,
    pub finished: [u64; Outcome::ALL.len()],
    pub retries: u64,
    /// Of `dropped`: arrivals that found no unused row of their test data.
    pub data_exhausted: u64,
}

impl StepCounts {
    pub fn is_empty(&self) -> bool {
        *self == StepCounts::default()
    }

    /// Adds `other`'s counts: counts of seconds, of shards, of steps add.
    pub fn add(&mut self, other: &StepCounts) {
        self.requests += other.requests;
        self.ok += other.ok;
        for (a, b) in self.failures.iter_mut().zip(other.failures) {
            *a += b;
        }
    }
}

impl JourneyCounts {
    pub fn is_empty(&self) -> bool {
        *self == JourneyCounts::default()
    }

    /// Arrivals the run could serve: scheduled, less those its test data
    /// could not (goodput is a share of these).
    pub fn servable(&self) -> u64 {
        self.scheduled.saturating_sub(self.data_exhausted)
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &JourneyCounts) {
        self.scheduled += other.scheduled;
        self.late += other.late;
        self.started += other.started;
        self.dropped += other.dropped;
        self.data_exhausted += other.data_exhausted;
        self.retries += other.retries;
        for (a, b) in self.finished.iter_mut().zip(other.finished) {
            *a += b;
        }
    }
}

/// The column of an error class in the per-second files.
pub fn error_column(class: ErrorClass) -> String {
    format!("err_{}", class.name())
}

/// The columns of `steps.csv`.
pub fn steps_header() -> Vec<String> {
    let mut cols: Vec<String> = ["second", "step", "requests", "ok"]
        .map(String::from)
        .into();
    cols.extend(ErrorClass::ALL.iter().map(|c| error_column(*c)));
    cols
}

/// The columns of `journeys.csv`.
pub fn journeys_header() -> Vec<String> {
    let mut cols: Vec<String> = [
        "second",
        "journey",
        "scheduled",
        "late",
        "started",
        "dropped",
    ]
    .map(String::from)
    .into();
    cols.extend(Outcome::ALL.iter().map(|o| o.name().to_string()));
    cols.push("retries".into());
    cols.push("data_exhausted".into());
    cols
}

/// The columns of `timeline.csv`.
pub fn timeline_header() -> Vec<String> {
    let mut cols: Vec<String> = [
        "second",
        "phase",
        "scheduled",
        "started",
        "completed_in_time",
        "completed_late",
        "abandoned",
        "failed",
        "unfinished",
        "dropped",
        "late",
        "in_flight",
        "requests",
        "retries",
        "errors",
    ]
    .map(String::from)
    .into();
    cols.extend(ErrorClass::ALL.iter().map(|c| error_column(*c)));
    cols.extend(
        [
            "p50_ms",
            "p99_ms",
            "max_ms",
            "lag_p99_ms",
            "cpu_pct",
            "faults",
        ]
        .map(String::from),
    );
    cols
}

/// Why a file of the run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: u64,
        reason: String,
    },
}

/// Writes the rows of one per-second CSV file, header first.
pub struct RowWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl RowWriter<io::BufWriter<File>> {
    /// Creates `path` with `header` as its first line.
    pub fn create(path: &Path, header: &[String]) -> io::Result<Self> {
        RowWriter::new(io::BufWriter::new(File::create(path)?), header)
    }
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, header: &[String]) -> io::Result<Self> {
        let mut csv = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        csv.write_record(header)?;
        csv.flush()?;
        Ok(RowWriter { csv })
    }

    /// A row of `steps.csv` (columns as [`steps_header`]).
    pub fn step(&mut self, second: u64, label: &str, c: &StepCounts) -> io::Result<()> {
        let counts = [c.requests, c.ok].into_iter().chain(c.failures);
        self.counts(second, label, counts)
    }

    /// A row of `journeys.csv` (columns as [`journeys_header`]).
    pub fn journey(&mut self, second: u64, name: &str, c: &JourneyCounts) -> io::Result<()> {
        let head = [c.scheduled, c.late, c.started, c.dropped];
        let tail = [c.retries, c.data_exhausted];
        self.counts(second, name, head.into_iter().chain(c.finished).chain(tail))
    }

    fn counts(
        &mut self,
        second: u64,
        name: &str,
        counts: impl Iterator<Item = u64>,
    ) -> io::Result<()> {
        let mut row = csv::ByteRecord::new();
        row.push_field(second.to_string().as_bytes());
        row.push_field(name.as_bytes());
        for n in counts {
            row.push_field(n.to_string().as_bytes());
        }
        Ok(self.csv.write_byte_record(&row)?)
    }

    /// A row of text fields (`timeline.csv`), in the header's order.
    pub fn fields<I, T>(&mut self, fields: I) -> io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        Ok(self.csv.write_record(fields)?)
    }

    /// Hands what was written to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()
    }

    /// The writer underneath, flushed (tests read back what was written).
    pub fn into_inner(self) -> io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }
}

/// Writes a whole `steps.csv` (a merge's): (second, step label, counts).
pub fn write_steps(path: &Path, rows: &[(u64, String, StepCounts)]) -> io::Result<()> {
    let mut w = RowWriter::create(path, &steps_header())?;
    for (second, label, c) in rows {
        w.step(*second, label, c)?;
    }
    w.flush()
}

/// Writes a whole `journeys.csv`: (second, journey name, counts).
pub fn write_journeys(path: &Path, rows: &[(u64, String, JourneyCounts)]) -> io::Result<()> {
    let mut w = RowWriter::create(path, &journeys_header())?;
    for (second, name, c) in rows {
        w.journey(*second, name, c)?;
    }
    w.flush()
}

/// Writes a whole CSV file of text rows (a merge's `timeline.csv`).
pub fn write_table<'a>(
    path: &Path,
    header: &[String],
    rows: impl IntoIterator<Item = &'a Vec<String>>,
) -> io::Result<()> {
    let mut w = RowWriter::create(path, header)?;
    for row in rows {
        w.fields(row)?;
    }
    w.flush()
}

/// A per-second CSV file read back: its header and its rows, each with the
/// line it came from.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Where the column `name` is, if the file has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }

    /// Where the column `name` is; a file without it is refused.
    fn required(&self, name: &str) -> Result<usize, FolderError> {
        self.column(name).ok_or_else(|| FolderError::Line {
            path: self.path.clone(),
            line: 1,
            reason: format!(
                "the header has no `{name}` column; is this a surge run folder's file?"
            ),
        })
    }

    fn bad(&self, line: u64, reason: String) -> FolderError {
        FolderError::Line {
            path: self.path.clone(),
            line,
            reason,
        }
    }
}

/// Reads a CSV file of the run folder. The last line cut short by a kill
/// (fewer fields than the header) is left out: the run wrote every second
/// before it whole. A short line before the last is refused at its line.
pub fn read_table(path: &Path) -> Result<Table, FolderError> {
    let file = File::open(path).map_err(|source| FolderError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    read_table_from(path, file)
}

fn read_table_from(path: &Path, input: impl io::Read) -> Result<Table, FolderError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut table = Table {
        path: path.to_path_buf(),
        ..Table::default()
    };
    let mut cut: Option<(u64, usize)> = None;
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 1;
        let record = record.map_err(|e| table.bad(line, e.to_string()))?;
        if let Some((short, fields)) = cut {
            let reason = format!(
                "{fields} fields where the header has {}",
                table.header.len()
            );
            return Err(table.bad(short, reason));
        }
        if i == 0 {
            table.header = record.iter().map(str::to_string).collect();
        } else if record.len() < table.header.len() {
            cut = Some((line, record.len()));
        } else {
            table.rows.push((line, record));
        }
    }
    Ok(table)
}

/// A count in column `at` of `row`; a column the file lacks counts zero.
fn count(
    table: &Table,
    line: u64,
    row: &csv::StringRecord,
    at: Option<usize>,
) -> Result<u64, FolderError> {
    let Some(at) = at else { return Ok(0) };
    let text = row.get(at).unwrap_or_default();
    text.parse().map_err(|_| {
        table.bad(
            line,
            format!("column `{}` is not a count: `{text}`", table.header[at]),
        )
    })
}

/// Each row's second and name (the first two columns of `steps.csv` and
/// `journeys.csv`) with what `parse` makes of it.
fn rows<T>(
    table: &Table,
    name: &str,
    parse: impl Fn(u64, &csv::StringRecord) -> Result<T, FolderError>,
) -> Result<Vec<(u64, String, T)>, FolderError> {
    let second = table.required("second")?;
    let name = table.required(name)?;
    let mut out = Vec::with_capacity(table.rows.len());
    for (line, row) in &table.rows {
        let s = count(table, *line, row, Some(second))?;
        let n = row.get(name).unwrap_or_default().to_string();
        out.push((s, n, parse(*line, row)?));
    }
    Ok(out)
}

/// Reads `steps.csv`: (second, step label, counts).
pub fn read_steps(path: &Path) -> Result<Vec<(u64, String, StepCounts)>, FolderError> {
    steps_of(&read_table(path)?)
}

fn steps_of(table: &Table) -> Result<Vec<(u64, String, StepCounts)>, FolderError> {
    let requests = table.required("requests")?;
    let ok = table.required("ok")?;
    // Folders written before a class existed lack its column, and count
    // none of it; `queue_full` (before 429 and 503 were told apart) counts
    // as `unavailable`.
    let classes = ErrorClass::ALL.map(|c| {
        table.column(&error_column(c)).or_else(|| {
            let (old, now) = OLD_QUEUE_FULL;
            (c == now)
                .then(|| table.column(&format!("err_{old}")))
                .flatten()
        })
    });
    rows(table, "step", |line, row| {
        let mut c = StepCounts {
            requests: count(table, line, row, Some(requests))?,
            ok: count(table, line, row, Some(ok))?,
            ..StepCounts::default()
        };
        for (slot, at) in c.failures.iter_mut().zip(classes) {
            *slot = count(table, line, row, at)?;
        }
        Ok(c)
    })
}

/// Reads `journeys.csv`: (second, journey name, counts).
pub fn read_journeys(path: &Path) -> Result<Vec<(u64, String, JourneyCounts)>, FolderError> {
    journeys_of(&read_table(path)?)
}

fn journeys_of(table: &Table) -> Result<Vec<(u64, String, JourneyCounts)>, FolderError> {
    let at = |name: &str| table.required(name);
    let fixed = [
        at("scheduled")?,
        at("late")?,
        at("started")?,
        at("dropped")?,
    ];
    let outcomes = Outcome::ALL.map(|o| table.required(o.name()));
    let outcomes: Vec<usize> = outcomes.into_iter().collect::<Result<_, _>>()?;
    let retries = at("retries")?;
    // Folders written before the column existed have none.
    let exhausted = table.column("data_exhausted");
    rows(table, "journey", |line, row| {
        let n = |i: usize| count(table, line, row, Some(i));
        let mut c = JourneyCounts {
            scheduled: n(fixed[0])?,
            late: n(fixed[1])?,
            started: n(fixed[2])?,
            dropped: n(fixed[3])?,
            retries: n(retries)?,
            data_exhausted: count(table, line, row, exhausted)?,
            ..JourneyCounts::default()
        };
        for (slot, i) in c.finished.iter_mut().zip(&outcomes) {
            *slot = n(*i)?;
        }
        Ok(c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(header: &[String], write: impl FnOnce(&mut RowWriter<Vec<u8>>)) -> Table {
        let mut w = RowWriter::new(Vec::new(), header).unwrap();
        write(&mut w);
        let bytes = w.into_inner().unwrap();
        read_table_from(Path::new("test.csv"), bytes.as_slice()).unwrap()
    }

    #[test]
    fn outcomes_and_error_classes_are_listed_in_index_order() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i, "{o:?}");
        }
        for (i, c) in ErrorClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i, "{c:?}");
        }
        // Every variant, as the schema (derived from the enum) lists them:
        // a class added to the enum but not to `ALL` would never be counted.
        let schema = serde_json::to_value(schemars::schema_for!(ErrorClass)).unwrap();
        let mut variants: Vec<String> = schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["enum"].as_array().cloned().unwrap_or_default())
            .chain(
                schema["oneOf"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|v| v.get("const").cloned()),
            )
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        variants.sort();
        let mut listed: Vec<String> = ErrorClass::ALL
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, variants);
    }

    #[test]
    fn step_rows_round_trip_with_a_comma_and_a_quote_in_the_name() {
        let name = r#"buyer.pay, "now""#;
        let mut c = StepCounts {
            requests: 7,
            ok: 5,
            ..StepCounts::default()
        };
        c.failures[ErrorClass::Unavailable.index()] = 2;
        c.failures[ErrorClass::ALL.len() - 1] = 1;
        let table = written(&steps_header(), |w| w.step(3, name, &c).unwrap());
        assert_eq!(steps_of(&table).unwrap(), vec![(3, name.to_string(), c)]);
    }

    #[test]
    fn journey_rows_round_trip() {
        let c = JourneyCounts {
            scheduled: 9,
            late: 1,
            started: 8,
            dropped: 1,
            finished: [4, 1, 1, 1, 1],
            retries: 3,
            data_exhausted: 1,
        };
        let table = written(&journeys_header(), |w| w.journey(12, "a,b", &c).unwrap());
        assert_eq!(journeys_of(&table).unwrap(), vec![(12, "a,b".into(), c)]);
    }

    #[test]
    fn a_timeline_field_with_a_comma_a_quote_and_a_line_break_reads_back_whole() {
        let body = "error body: {\"a\": 1,\n \"b\": \"x\"}";
        let header = ["second", "faults"].map(String::from);
        let table = written(&header, |w| w.fields(["0", body]).unwrap());
        assert_eq!(table.rows.len(), 1);
        assert_eq!(&table.rows[0].1[1], body);
    }

    #[test]
    fn a_folder_from_before_a_column_existed_reads_with_zeros_and_queue_full_as_unavailable() {
        let text = "second,step,requests,ok,err_timeout,err_queue_full\n4,a.b,10,7,1,2\n";
        let table = read_table_from(Path::new("steps.csv"), text.as_bytes()).unwrap();
        let (_, _, c) = steps_of(&table).unwrap().remove(0);
        assert_eq!(c.failures[ErrorClass::Timeout.index()], 1);
        assert_eq!(c.failures[ErrorClass::Unavailable.index()], 2);
        assert_eq!(c.failures[ErrorClass::RateLimited.index()], 0);
        let text = "second,journey,scheduled,late,started,dropped,completed_in_time,completed_late,abandoned,failed,unfinished,retries\n1,j,5,0,5,0,5,0,0,0,0,2\n";
        let table = read_table_from(Path::new("journeys.csv"), text.as_bytes()).unwrap();
        assert_eq!(journeys_of(&table).unwrap()[0].2.data_exhausted, 0);
    }

    #[test]
    fn a_line_cut_by_a_kill_ends_the_rows_and_a_bad_count_is_located() {
        let text = "second,step,requests,ok\n1,a.b,3,3\n2,a.b,4";
        let table = read_table_from(Path::new("steps.csv"), text.as_bytes()).unwrap();
        assert_eq!(steps_of(&table).unwrap().len(), 1);
        let text = "second,step,requests,ok\n1,a.b,3\n2,a.b,4,4\n";
        let e = read_table_from(Path::new("steps.csv"), text.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: 3 fields where the header has 4"),
            "{e}"
        );
        let text = "second,step,requests,ok\n1,a.b,x,3\n";
        let table = read_table_from(Path::new("steps.csv"), text.as_bytes()).unwrap();
        let e = steps_of(&table).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`requests`"), "{e}");
        let text = "second,name\n1,a\n";
        let table = read_table_from(Path::new("steps.csv"), text.as_bytes()).unwrap();
        let e = steps_of(&table).unwrap_err().to_string();
        assert!(e.contains("no `requests` column"), "{e}");
    }
}
