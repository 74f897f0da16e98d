//! Arrival curves (`curve: { file: eve.csv }` in `load` or a phase): a
//! CSV of arrivals counted per second or per minute, read once when the
//! scenario is checked. A bad row is an error naming `file:line`; the
//! counts become rates per bin, which the schedule draws arrivals around.

use std::path::Path;
use std::time::Duration;

/// Curves longer than this many bins are refused: a day counted per
/// second is 86,400.
pub const MAX_BINS: u64 = 7 * 86_400;

/// Why a curve file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CurveError {
    #[error("cannot read `{file}`: {reason}")]
    Unreadable { file: String, reason: String },
    #[error(
        "{file}:1: the header is `{found}`; write `second,arrivals` (counts per second) or `minute,arrivals` (counts per minute)"
    )]
    Header { file: String, found: String },
    #[error("{file}:{line}: {reason}")]
    Row {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("`{file}` has a header but no rows")]
    Empty { file: String },
}

/// Arrivals counted in consecutive bins of one length.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub bin: Duration,
    pub counts: Vec<f64>,
}

impl Curve {
    pub fn duration(&self) -> Duration {
        self.bin * self.counts.len() as u32
    }

    /// Rates per second, one per bin.
    pub fn rates(&self) -> Vec<f64> {
        let secs = self.bin.as_secs_f64();
        self.counts.iter().map(|c| c / secs).collect()
    }
}

/// Reads the curve at `full`, naming it `shown` in errors.
pub fn load(full: &Path, shown: &str) -> Result<Curve, CurveError> {
    let file = || shown.to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(full)
        .map_err(|e| CurveError::Unreadable {
            file: file(),
            reason: e.to_string(),
        })?;
    let header = reader
        .headers()
        .cloned()
        .map_err(|e| CurveError::Unreadable {
            file: file(),
            reason: e.to_string(),
        })?;
    let columns: Vec<&str> = header.iter().collect();
    let bin = match columns.as_slice() {
        ["second", "arrivals"] => Duration::from_secs(1),
        ["minute", "arrivals"] => Duration::from_secs(60),
        _ => {
            return Err(CurveError::Header {
                file: file(),
                found: columns.join(","),
            });
        }
    };
    let mut counts: Vec<f64> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| CurveError::Row {
            file: file(),
            line: e.position().map_or(0, |p| p.line()),
            reason: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let row = |reason: String| CurveError::Row {
            file: file(),
            line,
            reason,
        };
        let offset: u64 = record[0].parse().map_err(|_| {
            row(format!(
                "`{}` is not an offset; write a whole number of {}s from the start (0, 1, 2...)",
                &record[0], columns[0]
            ))
        })?;
        let count: f64 = record[1]
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| {
                row(format!(
                    "`{}` is not a count of arrivals; write a number 0 or above",
                    &record[1]
                ))
            })?;
        if offset >= MAX_BINS {
            return Err(row(format!(
                "offset {offset} is beyond the {MAX_BINS} {}s a curve may hold",
                columns[0]
            )));
        }
        if (offset as usize) < counts.len() {
            return Err(row(format!(
                "offset {offset} comes after offset {}; write offsets in increasing order, each once",
                counts.len() - 1
            )));
        }
        counts.resize(offset as usize, 0.0);
        counts.push(count);
    }
    if counts.is_empty() {
        return Err(CurveError::Empty { file: file() });
    }
    Ok(Curve { bin, counts })
}

/// Writes `counts` (per second) in the format [`load`] reads.
pub fn write(path: &Path, counts: &[u64]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["second", "arrivals"])?;
    for (i, c) in counts.iter().enumerate() {
        w.write_record([i.to_string(), c.to_string()])?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Curve, CurveError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        std::fs::write(&p, text).unwrap();
        load(&p, "c.csv")
    }

    #[test]
    fn offsets_left_out_count_zero_and_minutes_are_bins_of_60s() {
        let c = read("second,arrivals\n0,3\n2,5\n").unwrap();
        assert_eq!(c.counts, vec![3.0, 0.0, 5.0]);
        assert_eq!(c.duration(), Duration::from_secs(3));
        let m = read("minute,arrivals\n0,120\n1,60\n").unwrap();
        assert_eq!(m.rates(), vec![2.0, 1.0]);
    }

    #[test]
    fn bad_rows_are_located_by_line() {
        let e = read("second,arrivals\n0,3\n1,-2\n").unwrap_err();
        assert!(e.to_string().starts_with("c.csv:3: `-2`"), "{e}");
        let e = read("second,arrivals\n0,3\nx,2\n").unwrap_err();
        assert!(
            e.to_string().starts_with("c.csv:3: `x` is not an offset"),
            "{e}"
        );
        let e = read("second,arrivals\n4,3\n1,2\n").unwrap_err();
        assert!(e.to_string().contains("increasing order"), "{e}");
        let e = read("sec,n\n0,1\n").unwrap_err();
        assert!(matches!(e, CurveError::Header { .. }), "{e}");
        let e = read("second,arrivals\n").unwrap_err();
        assert!(matches!(e, CurveError::Empty { .. }), "{e}");
        let e = read("second,arrivals\n999999999,1\n").unwrap_err();
        assert!(e.to_string().contains("beyond"), "{e}");
    }
}
