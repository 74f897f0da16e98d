//! `books.csv`: every reading of the platform's counters, one row each
//! (its time from the load's start, its stage, a column per counter; an
//! empty cell is a reading that failed). The books write it as the
//! readings come; the gate and the report read it back.

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's name in the run folder.
pub const FILE: &str = "books.csv";

/// When a reading was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Before the load.
    Before,
    /// Every `every` during it.
    Load,
    /// When the load ended.
    End,
    /// While waiting for the counters to stop moving.
    Settle,
    /// After the settle: the books' final word.
    After,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Before => "before",
            Stage::Load => "load",
            Stage::End => "end",
            Stage::Settle => "settle",
            Stage::After => "after",
        }
    }

    fn parse(text: &str) -> Option<Stage> {
        [
            Stage::Before,
            Stage::Load,
            Stage::End,
            Stage::Settle,
            Stage::After,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One reading of every counter.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// Seconds from the load's start (negative before it).
    pub t_s: f64,
    pub stage: Stage,
    /// Per counter, in the table's order; `None` where the read failed.
    pub values: Vec<Option<f64>>,
}

/// The readings of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub counters: Vec<String>,
    pub readings: Vec<Reading>,
}

impl Table {
    /// `counter`'s value in `reading`.
    pub fn value(&self, reading: &Reading, counter: &str) -> Option<f64> {
        let i = self.counters.iter().position(|c| c == counter)?;
        reading.values.get(i).copied().flatten()
    }

    /// Reads `dir/books.csv`; `None` when the run read no books.
    pub fn read(dir: &Path) -> Result<Option<Table>, String> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let mut r = csv::Reader::from_path(&path).map_err(|e| bad(&e))?;
        let header = r.headers().map_err(|e| bad(&e))?;
        let counters: Vec<String> = header.iter().skip(2).map(String::from).collect();
        let mut readings = Vec::new();
        for row in r.records() {
            let row = row.map_err(|e| bad(&e))?;
            let t_s = row.get(0).and_then(|t| t.parse().ok());
            let stage = row.get(1).and_then(Stage::parse);
            let (Some(t_s), Some(stage)) = (t_s, stage) else {
                return Err(bad(&format!(
                    "line {} is not a reading",
                    readings.len() + 2
                )));
            };
            let values = (0..counters.len())
                .map(|i| row.get(i + 2).and_then(|v| v.parse().ok()))
                .collect();
            readings.push(Reading { t_s, stage, values });
        }
        Ok(Some(Table { counters, readings }))
    }
}

/// Appends readings to `books.csv` as they come.
pub struct Writer {
    out: csv::Writer<File>,
}

impl Writer {
    pub fn create(dir: &Path, counters: &[String]) -> std::io::Result<Writer> {
        let mut out = csv::Writer::from_path(dir.join(FILE))?;
        let mut header = vec!["t_s".to_string(), "stage".to_string()];
        header.extend(counters.iter().cloned());
        out.write_record(&header)?;
        out.flush()?;
        Ok(Writer { out })
    }

    pub fn write(&mut self, r: &Reading) -> std::io::Result<()> {
        let mut row = vec![format!("{:.3}", r.t_s), r.stage.as_str().to_string()];
        row.extend(
            r.values
                .iter()
                .map(|v| v.map_or_else(String::new, |v| v.to_string())),
        );
        self.out.write_record(&row)?;
        self.out.flush()
    }
}
