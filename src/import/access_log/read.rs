//! Streaming the logs: files (plain or gzip) read in the order of their
//! first line's time, each line parsed in place, counted into per-second
//! bins of requests and arrivals and into the route table. Memory stays
//! flat in the log's length: one line buffer, one entry per second of the
//! window, one per route, one per client active within the session gap.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::ImportError;
use super::logformat::{Format, Record};
use super::routes::{self, Table};

/// Windows longer than this are refused (a timestamp off by years would
/// otherwise ask for billions of bins).
pub const MAX_SPAN_S: i64 = 31 * 86_400;

/// Lines shown per kind of problem.
const SHOWN: usize = 5;

/// What makes a request an arrival.
#[derive(Clone, Debug)]
pub enum Arrivals {
    /// Each request of one of these (method, template) routes.
    Entries(Vec<(String, String)>),
    /// A client's first request after this many quiet milliseconds.
    Sessions { gap_ms: i64 },
}

/// What to read and keep.
#[derive(Clone, Debug)]
pub struct Reading {
    pub format: Format,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub keep_query: bool,
    pub keep_assets: bool,
    pub arrivals: Arrivals,
}

/// Everything counted.
#[derive(Debug, Default)]
pub struct Tally {
    pub lines: u64,
    pub blank: u64,
    pub unreadable: u64,
    /// `file:line: why` of the first unreadable lines.
    pub examples: Vec<String>,
    /// Files whose last line was cut short (no newline, unreadable).
    pub cut: Vec<String>,
    pub outside: u64,
    pub not_path: u64,
    pub assets: u64,
    pub requests: u64,
    pub arrivals: u64,
    /// Per second from `origin_ms`: (requests, arrivals).
    pub seconds: Vec<[u64; 2]>,
    /// Milliseconds since the epoch of second 0.
    pub origin_ms: i64,
    pub last_ms: i64,
    pub routes: Vec<routes::Route>,
    /// The files, in the order read.
    pub files: Vec<PathBuf>,
}

/// Opens a log, through gzip when it starts with gzip's magic bytes.
fn open(path: &Path) -> Result<Box<dyn BufRead>, ImportError> {
    let unreadable = |e: std::io::Error| ImportError::Unreadable {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut f = File::open(path).map_err(unreadable)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(unreadable)?;
    drop(f);
    let f = File::open(path).map_err(unreadable)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}

/// A line's time, ms since the epoch, and its UTC offset in minutes when
/// the log writes one.
pub type Stamp = (i64, Option<i32>);

/// The logs in the order of their first lines' times (rotated files given
/// in any order), and the earliest line's time and UTC offset: the zone
/// times of day are read and shown in.
pub fn in_time_order(
    files: &[PathBuf],
    format: &Format,
) -> Result<(Vec<PathBuf>, Option<Stamp>), ImportError> {
    let mut ordered = Vec::new();
    for f in files {
        ordered.push((first_time(f, format)?, f.clone()));
    }
    // Files without a readable line go last (their lines are counted).
    ordered.sort_by_key(|(first, _)| first.map_or(i64::MAX, |t| t.0));
    let earliest = ordered.first().and_then(|o| o.0);
    Ok((ordered.into_iter().map(|o| o.1).collect(), earliest))
}

/// The time and offset of a file's first readable line (within its first
/// thousand).
fn first_time(path: &Path, format: &Format) -> Result<Option<Stamp>, ImportError> {
    let mut r = open(path)?;
    let mut buf = Vec::new();
    for _ in 0..1000 {
        buf.clear();
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|e| ImportError::Unreadable {
                file: path.display().to_string(),
                reason: e.to_string(),
            })?;
        if n == 0 {
            break;
        }
        if let Ok(rec) = format.parse(trim(&buf)) {
            return Ok(Some((rec.ms, rec.offset_min)));
        }
    }
    Ok(None)
}

fn trim(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Per-second bins that grow either way from the first line's second.
struct Bins {
    origin_ms: Option<i64>,
    /// Index of `data[0]`, in seconds from the origin.
    first: i64,
    data: Vec<[u64; 2]>,
}

impl Bins {
    fn add(&mut self, ms: i64, arrival: bool) -> Result<(), (i64, i64)> {
        let origin = *self.origin_ms.get_or_insert(ms);
        let s = (ms - origin).div_euclid(1000);
        if self.data.is_empty() {
            self.first = s;
        }
        let lo = self.first.min(s);
        let hi = (self.first + self.data.len() as i64).max(s + 1);
        if hi - lo > MAX_SPAN_S {
            return Err((lo, hi));
        }
        if s < self.first {
            let grow = (self.first - s) as usize;
            self.data.splice(0..0, std::iter::repeat_n([0, 0], grow));
            self.first = s;
        }
        let i = (s - self.first) as usize;
        if i >= self.data.len() {
            self.data.resize(i + 1, [0, 0]);
        }
        self.data[i][0] += 1;
        self.data[i][1] += u64::from(arrival);
        Ok(())
    }
}

/// Reads every file, in the order given ([`in_time_order`]'s).
pub fn read(
    files: Vec<PathBuf>,
    how: &Reading,
    progress: &indicatif::ProgressBar,
) -> Result<Tally, ImportError> {
    let mut tally = Tally {
        files,
        ..Tally::default()
    };
    let mut bins = Bins {
        origin_ms: how.from_ms,
        first: 0,
        data: Vec::new(),
    };
    let mut table = Table::default();
    table.keep_query = how.keep_query;
    let mut clients: HashMap<u64, i64> = HashMap::new();
    let mut forget_above = 100_000;
    let hasher = std::hash::RandomState::new();
    let mut buf = Vec::with_capacity(4096);
    for file in &tally.files.clone() {
        let shown = file.display().to_string();
        let mut r = open(file)?;
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let n = r
                .read_until(b'\n', &mut buf)
                .map_err(|e| ImportError::Unreadable {
                    file: shown.clone(),
                    reason: format!("line {}: {e}", line_no + 1),
                })?;
            if n == 0 {
                break;
            }
            progress.inc(n as u64);
            line_no += 1;
            let complete = buf.last() == Some(&b'\n');
            let line = trim(&buf);
            if line.iter().all(u8::is_ascii_whitespace) {
                tally.blank += 1;
                continue;
            }
            tally.lines += 1;
            let rec = match how.format.parse(line) {
                Ok(rec) => rec,
                Err(why) => {
                    if complete {
                        tally.unreadable += 1;
                        if tally.examples.len() < SHOWN {
                            tally
                                .examples
                                .push(format!("{shown}:{line_no}: the line {why}"));
                        }
                    } else {
                        tally.cut.push(format!("{shown}:{line_no}"));
                    }
                    continue;
                }
            };
            count(
                &mut tally,
                how,
                rec,
                &mut bins,
                &mut table,
                &mut clients,
                &hasher,
            )
            .map_err(|(lo, hi)| ImportError::TooLong {
                at: format!("{shown}:{line_no}"),
                days: (hi - lo) as f64 / 86_400.0,
            })?;
            if let Arrivals::Sessions { gap_ms } = how.arrivals
                && clients.len() > forget_above
            {
                // Clients quiet for longer than the gap would start a new
                // session anyway: forget them. Then wait until the map has
                // doubled again, so this stays linear in the lines.
                let now = tally.last_ms;
                clients.retain(|_, last| now - *last <= gap_ms);
                forget_above = (2 * clients.len()).max(100_000);
            }
        }
    }
    tally.origin_ms = bins.origin_ms.unwrap_or(0) + bins.first * 1000;
    tally.seconds = bins.data;
    tally.routes = table.into_sorted();
    Ok(tally)
}

fn count(
    tally: &mut Tally,
    how: &Reading,
    rec: Record<'_>,
    bins: &mut Bins,
    table: &mut Table,
    clients: &mut HashMap<u64, i64>,
    hasher: &std::hash::RandomState,
) -> Result<(), (i64, i64)> {
    if how.from_ms.is_some_and(|f| rec.ms < f) || how.to_ms.is_some_and(|t| rec.ms >= t) {
        tally.outside += 1;
        return Ok(());
    }
    if rec.method.is_empty() || rec.target.first() != Some(&b'/') {
        tally.not_path += 1;
        return Ok(());
    }
    if !how.keep_assets && routes::is_asset(&rec.target, &rec.content_type) {
        tally.assets += 1;
        return Ok(());
    }
    let arrival = match &how.arrivals {
        Arrivals::Entries(entries) => entries
            .iter()
            .any(|(m, t)| m.as_bytes() == &*rec.method && routes::fits(t, &rec.target)),
        Arrivals::Sessions { gap_ms } => {
            let mut h = hasher.build_hasher();
            h.write(&rec.client.0);
            h.write_u8(0xff);
            h.write(&rec.client.1);
            let last = clients.entry(h.finish()).or_insert(i64::MIN);
            let new = *last == i64::MIN || rec.ms - *last > *gap_ms;
            *last = (*last).max(rec.ms);
            new
        }
    };
    bins.add(rec.ms, arrival)?;
    tally.requests += 1;
    tally.arrivals += u64::from(arrival);
    tally.last_ms = tally.last_ms.max(rec.ms);
    table.add(&rec.method, &rec.target, rec.status, arrival);
    Ok(())
}
