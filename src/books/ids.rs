//! Our side of a reconciliation, as it is made: the ids applicants held
//! when they completed a step a `books.reconcile` names. Users hand rows
//! over under a lock only for those steps (a scenario without `reconcile`
//! pays nothing); the flusher appends them to `ids.csv` once a second, so
//! a run that is killed keeps what it had.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// One id an applicant got through a step.
pub struct IdRow {
    pub journey: Arc<str>,
    pub arrival: u64,
    pub step: Arc<str>,
    pub capture: Arc<str>,
    pub value: String,
    pub at: Instant,
}

/// Rows on their way to `ids.csv`.
pub struct IdLog {
    pending: Mutex<Vec<IdRow>>,
    out: Mutex<Option<csv::Writer<File>>>,
    path: PathBuf,
}

impl IdLog {
    /// A log writing to `dir/ids.csv` (created at the first append).
    pub fn new(dir: &Path) -> IdLog {
        IdLog {
            pending: Mutex::new(Vec::new()),
            out: Mutex::new(None),
            path: dir.join(crate::folder::ids::FILE),
        }
    }

    pub fn push(&self, row: IdRow) {
        self.pending.lock().expect("ids lock").push(row);
    }

    /// Appends the rows handed over so far, times from `t0` in seconds.
    pub fn append(&self, t0: Instant) -> std::io::Result<()> {
        let rows = std::mem::take(&mut *self.pending.lock().expect("ids lock"));
        let mut out = self.out.lock().expect("ids file lock");
        if out.is_none() {
            let mut w = csv::Writer::from_path(&self.path)?;
            w.write_record(crate::folder::ids::HEADER)?;
            *out = Some(w);
        }
        let w = out.as_mut().expect("just opened");
        for r in rows {
            let t = r.at.saturating_duration_since(t0).as_secs_f64();
            w.write_record([
                &*r.journey,
                &r.arrival.to_string(),
                &*r.step,
                &*r.capture,
                &r.value,
                &format!("{t:.3}"),
            ])?;
        }
        w.flush()
    }
}
