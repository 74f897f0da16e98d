//! Test data files (`data:` in a scenario), read once when the scenario is
//! checked and held compactly for the run: every cell of a table lives in
//! one text buffer, found through one `u32` end offset per cell, so a
//! million-row file costs little more than its own size and no `String`
//! per cell. CSV (a header row; quoting, embedded newlines and a BOM as the
//! `csv` crate reads them) and JSON lines (the first object's keys are the
//! columns) are read here; a malformed row is an error naming `file:line`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Data files larger than this are refused: cell offsets are `u32`, and a
/// rehearsal's test accounts fit in far less.
pub const MAX_DATA_BYTES: u64 = 2 << 30;

/// Why a data file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("cannot read `{file}`: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("`{file}` is {size} bytes; data files are limited to {} MiB", MAX_DATA_BYTES >> 20)]
    TooLarge { file: String, size: u64 },
    #[error("`{file}` names no format: give it a `.csv`, `.jsonl` or `.ndjson` extension")]
    UnknownFormat { file: String },
    #[error("{file}:{line}: {reason}")]
    Row {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("`{file}` has a header but no rows")]
    Empty { file: String },
}

/// A table of text cells, row by row.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Table {
    columns: Vec<String>,
    /// Every cell's text, one after the other.
    text: String,
    /// Where each cell ends in `text` (row-major; a cell starts where the
    /// one before it ends).
    ends: Vec<u32>,
}

impl Table {
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn rows(&self) -> usize {
        self.ends.len().checked_div(self.columns.len()).unwrap_or(0)
    }

    /// The text of `row`'s cell in `column`.
    pub fn cell(&self, row: usize, column: usize) -> &str {
        let i = row * self.columns.len() + column;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Bytes held, for memory estimates and the benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }

    fn push(&mut self, cell: &str) -> Result<(), String> {
        self.text.push_str(cell);
        let end = u32::try_from(self.text.len())
            .map_err(|_| "the cells exceed 4 GiB of text".to_string())?;
        self.ends.push(end);
        Ok(())
    }

    fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Reads the table at `path` (`shown`: the path as the scenario gives it,
/// for messages).
pub fn load(path: &Path, shown: &str) -> Result<Table, DataError> {
    let unreadable = |e: std::io::Error| DataError::Unreadable {
        file: shown.to_string(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_DATA_BYTES {
        return Err(DataError::TooLarge {
            file: shown.to_string(),
            size,
        });
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let file = File::open(path).map_err(unreadable)?;
    let mut table = match extension.as_deref() {
        Some("csv") => csv_table(file, shown, size)?,
        Some("jsonl" | "ndjson") => jsonl_table(BufReader::new(file), shown, size)?,
        _ => {
            return Err(DataError::UnknownFormat {
                file: shown.to_string(),
            });
        }
    };
    if table.rows() == 0 {
        return Err(DataError::Empty {
            file: shown.to_string(),
        });
    }
    table.shrink();
    Ok(table)
}

fn csv_table(file: File, shown: &str, size: u64) -> Result<Table, DataError> {
    let row_error = |line: u64, reason: String| DataError::Row {
        file: shown.to_string(),
        line,
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(file);
    let header = reader.headers().map_err(|e| csv_error(&e, shown))?;
    let mut table = Table {
        columns: header.iter().map(|c| c.trim().to_string()).collect(),
        ..Table::default()
    };
    header_checks(&table.columns).map_err(|reason| row_error(1, reason))?;
    table.text.reserve(size as usize);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                for cell in &record {
                    table.push(cell).map_err(|r| row_error(line, r))?;
                }
            }
            Err(e) => return Err(csv_error(&e, shown)),
        }
    }
    Ok(table)
}

fn csv_error(e: &csv::Error, shown: &str) -> DataError {
    let line = e.position().map_or(0, |p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        _ => e.to_string(),
    };
    DataError::Row {
        file: shown.to_string(),
        line,
        reason,
    }
}

fn jsonl_table(reader: impl BufRead, shown: &str, size: u64) -> Result<Table, DataError> {
    let mut table = Table::default();
    table.text.reserve(size as usize);
    for (i, line) in reader.lines().enumerate() {
        let number = i as u64 + 1;
        let row_error = |reason: String| DataError::Row {
            file: shown.to_string(),
            line: number,
            reason,
        };
        let line = line.map_err(|e| row_error(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line)
            .map_err(|e| row_error(format!("not a JSON object: {e}")))?;
        if table.columns.is_empty() {
            table.columns = object.keys().cloned().collect();
            header_checks(&table.columns).map_err(row_error)?;
        }
        for column in &table.columns {
            if !object.contains_key(column) {
                return Err(row_error(format!(
                    "no key `{column}` (the first line has it; every line needs the same keys)"
                )));
            }
        }
        for c in 0..table.columns.len() {
            let cell = match &object[&table.columns[c]] {
                serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                serde_json::Value::Null => std::borrow::Cow::Borrowed(""),
                other => std::borrow::Cow::Owned(other.to_string()),
            };
            table.push(&cell).map_err(row_error)?;
        }
    }
    Ok(table)
}

fn header_checks(columns: &[String]) -> Result<(), String> {
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err("no columns: the first line names them".into());
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].contains(c) {
            return Err(format!("column `{c}` is named twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn csv_with_quotes_newlines_and_bom() {
        let (_d, path) = write(
            "a.csv",
            "\u{feff}phone,note\n0812,\"a, b\"\n0813,\"two\nlines\"\n",
        );
        let t = load(&path, "a.csv").unwrap();
        assert_eq!(t.columns(), ["phone", "note"]);
        assert_eq!(t.rows(), 2);
        assert_eq!(t.cell(0, 1), "a, b");
        assert_eq!(t.cell(1, 1), "two\nlines");
        assert_eq!(t.cell(1, 0), "0813");
    }

    #[test]
    fn a_short_csv_row_names_its_line() {
        let (_d, path) = write("a.csv", "phone,otp\n0812,1\n0813\n");
        let e = load(&path, "data/a.csv").unwrap_err().to_string();
        assert_eq!(e, "data/a.csv:3: 1 fields where the header has 2");
    }

    #[test]
    fn jsonl_columns_from_the_first_line() {
        let (_d, path) = write(
            "p.jsonl",
            "{\"id\": \"pos-1\", \"n\": 3}\n\n{\"n\": 4, \"id\": \"pos-2\", \"extra\": true}\n",
        );
        let t = load(&path, "p.jsonl").unwrap();
        assert_eq!(t.columns(), ["id", "n"]);
        assert_eq!((t.cell(1, 0), t.cell(1, 1)), ("pos-2", "4"));
        let (_d, path) = write("p.jsonl", "{\"id\": 1}\n{\"nope\": 2}\n");
        let e = load(&path, "p.jsonl").unwrap_err().to_string();
        assert!(e.starts_with("p.jsonl:2: no key `id`"), "{e}");
        let (_d, path) = write("p.jsonl", "{\"id\": 1}\n[1]\n");
        let e = load(&path, "p.jsonl").unwrap_err().to_string();
        assert!(e.starts_with("p.jsonl:2: not a JSON object"), "{e}");
    }

    #[test]
    fn empty_duplicate_and_unknown_are_refused() {
        let (_d, path) = write("a.csv", "phone\n");
        assert!(matches!(load(&path, "a"), Err(DataError::Empty { .. })));
        let (_d, path) = write("a.csv", "a,a\n1,2\n");
        assert!(
            load(&path, "a")
                .unwrap_err()
                .to_string()
                .contains("named twice")
        );
        let (_d, path) = write("a.txt", "a\n1\n");
        assert!(matches!(
            load(&path, "a"),
            Err(DataError::UnknownFormat { .. })
        ));
    }
}
