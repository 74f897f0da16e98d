//! The books around one run: a reading of the counters before the load,
//! one every `every` while it runs (each row of `books.csv` as it comes,
//! the latest values to the live views), one when it ends, then readings
//! until two agree (callbacks still on their way) for at most `settle`,
//! a last one after it, and finally each reconciliation: our ids
//! (`ids.csv`) against their record, both ways, every id on one side only
//! kept in `reconcile.csv`. Ctrl-C cuts the settle short (the summary says
//! it did not settle) and stops asking sources that already failed;
//! nothing here can lose the run folder.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::source::Opening;
use super::{Books, BooksError};
use crate::folder::books::{Reading, Stage, Writer};
use crate::folder::ids;
use crate::summary::books::{BooksSummary, CounterSummary, IDS_SHOWN, ReconcileSummary};

/// How often the settle reads the counters, at most.
const SETTLE_POLL: Duration = Duration::from_secs(2);

/// The books of a run under way.
pub struct Watch {
    books: Books,
    table: Mutex<Writer>,
    /// The latest reading, for the live views.
    latest: Mutex<Vec<Option<f64>>>,
    /// The readings the summary quotes.
    before: Mutex<Vec<Option<f64>>>,
}

impl Watch {
    /// Opens the sources and `dir/books.csv`.
    pub fn open(
        spec: &crate::scenario::books::Books,
        at: &Opening<'_>,
        dir: &Path,
    ) -> Result<Arc<Watch>, BooksError> {
        let books = Books::open(spec, at)?;
        let table =
            Writer::create(dir, &books.counter_names()).map_err(|error| BooksError::Io {
                what: dir.join(crate::folder::books::FILE).display().to_string(),
                error,
            })?;
        let n = books.counter_names().len();
        Ok(Arc::new(Watch {
            books,
            table: Mutex::new(table),
            latest: Mutex::new(vec![None; n]),
            before: Mutex::new(vec![None; n]),
        }))
    }

    /// The counters' names with their latest values.
    pub fn latest(&self) -> Vec<(String, Option<f64>)> {
        let values = self.latest.lock().expect("books latest lock").clone();
        self.books.counter_names().into_iter().zip(values).collect()
    }

    /// The reading before the load.
    pub async fn before(&self) {
        let values = self.read(0.0, Stage::Before).await;
        *self.before.lock().expect("books before lock") = values;
    }

    /// Reads every `every` from the load's start `t0` until `cut` says
    /// the run is over.
    pub async fn during(self: Arc<Self>, t0: Instant, cut: impl Fn() -> bool) {
        let every = self.books.spec().every.0;
        let mut next = t0 + every;
        while sleep_until_unless(next, &cut).await {
            self.read(t0.elapsed().as_secs_f64(), Stage::Load).await;
            next += every;
            // A reading slower than `every` is not made up for.
            next = next.max(Instant::now());
        }
    }

    /// The end of the load (which started at `t0`), the settle (cut
    /// short once `interrupted` says so), the last reading and the
    /// reconciliations of `dir`'s ids.
    pub async fn finish(
        &self,
        t0: Option<Instant>,
        interrupted: impl Fn() -> bool,
        dir: &Path,
    ) -> BooksSummary {
        let t0 = t0.unwrap_or_else(Instant::now);
        let at = || t0.elapsed().as_secs_f64();
        let hurry = || {
            let now = interrupted();
            if now {
                self.books.hurry();
            }
            now
        };
        hurry();
        let end = self.read(at(), Stage::End).await;
        let settle_start = Instant::now();
        let limit = self.books.spec().settle.0;
        let poll = self.books.spec().every.0.min(SETTLE_POLL);
        let mut previous = end.clone();
        let mut settled = false;
        let after = loop {
            let left = limit.saturating_sub(settle_start.elapsed());
            if left.is_zero() || hurry() {
                break self.read(at(), Stage::After).await;
            }
            if !sleep_until_unless(Instant::now() + poll.min(left), &hurry).await {
                break self.read(at(), Stage::After).await;
            }
            let now = self.read_quietly().await;
            if now == previous {
                settled = true;
                self.write(at(), Stage::After, &now);
                break now;
            }
            self.write(at(), Stage::Settle, &now);
            previous = now;
        };
        let settle_s = settle_start.elapsed().as_secs_f64();
        let before = self.before.lock().expect("books before lock").clone();
        let counters = self
            .books
            .counter_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| CounterSummary {
                name,
                before: before[i],
                end_of_load: end[i],
                after_settle: after[i],
            })
            .collect();
        let mut reconcile = Vec::new();
        for r in &self.books.spec().reconcile {
            reconcile.push(self.reconcile(r, dir).await);
        }
        self.books.close().await;
        BooksSummary {
            counters,
            settle_s,
            settled: settled || limit.is_zero(),
            reconcile,
            warnings: self.books.warnings(),
        }
    }

    async fn reconcile(
        &self,
        r: &crate::scenario::books::Reconcile,
        dir: &Path,
    ) -> ReconcileSummary {
        let step = r.ours.step.to_string();
        let ours = ids::read(dir, &step, &r.ours.capture);
        let theirs = self.books.read_record(&r.theirs).await;
        let mut out = ReconcileSummary {
            name: r.name.to_string(),
            step,
            capture: r.ours.capture.clone(),
            theirs: r.theirs.clone(),
            ours_count: 0,
            theirs_count: None,
            missing: None,
            missing_ids: Vec::new(),
            extra: None,
            extra_ids: Vec::new(),
            error: None,
        };
        let (ours, theirs) = match (ours, theirs) {
            (Ok(o), Ok(t)) => (o, t),
            (Err(e), _) | (_, Err(e)) => {
                out.error = Some(e);
                return out;
            }
        };
        let (missing, extra) = differences(&ours, &theirs);
        if let Err(e) = ids::write_differences(dir, &out.name, &missing, &extra) {
            eprintln!(
                "surge: WARNING: cannot write the ids of reconciliation {}: {e}",
                out.name
            );
        }
        out.ours_count = ours.len() as u64;
        out.theirs_count = Some(theirs.len() as u64);
        out.missing = Some(missing.len() as u64);
        out.extra = Some(extra.len() as u64);
        out.missing_ids = missing.into_iter().take(IDS_SHOWN).collect();
        out.extra_ids = extra.into_iter().take(IDS_SHOWN).collect();
        out
    }

    /// Reads, writes the row, and keeps it as the latest.
    async fn read(&self, t_s: f64, stage: Stage) -> Vec<Option<f64>> {
        let values = self.read_quietly().await;
        self.write(t_s, stage, &values);
        values
    }

    async fn read_quietly(&self) -> Vec<Option<f64>> {
        let values = self.books.read_counters().await;
        *self.latest.lock().expect("books latest lock") = values.clone();
        values
    }

    fn write(&self, t_s: f64, stage: Stage, values: &[Option<f64>]) {
        let reading = Reading {
            t_s,
            stage,
            values: values.to_vec(),
        };
        if let Err(e) = self.table.lock().expect("books table lock").write(&reading) {
            eprintln!("surge: WARNING: cannot write a reading of the books: {e}");
        }
    }
}

/// Sleeps until `end` in slices, unless `stop` says so first (false then).
async fn sleep_until_unless(end: Instant, stop: &impl Fn() -> bool) -> bool {
    while Instant::now() < end {
        if stop() {
            return false;
        }
        let slice = (end - Instant::now()).min(Duration::from_millis(100));
        tokio::time::sleep(slice).await;
    }
    !stop()
}

/// Ours not in theirs, and theirs not in ours, each in its side's order.
pub fn differences(ours: &[String], theirs: &[String]) -> (Vec<String>, Vec<String>) {
    let o: std::collections::HashSet<&str> = ours.iter().map(String::as_str).collect();
    let t: std::collections::HashSet<&str> = theirs.iter().map(String::as_str).collect();
    let missing = ours
        .iter()
        .filter(|id| !t.contains(id.as_str()))
        .cloned()
        .collect();
    let extra = theirs
        .iter()
        .filter(|id| !o.contains(id.as_str()))
        .cloned()
        .collect();
    (missing, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_go_both_ways_in_order() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (missing, extra) = differences(&s(&["o3", "o1", "o2"]), &s(&["o2", "o9", "o1"]));
        assert_eq!(missing, ["o3"]);
        assert_eq!(extra, ["o9"]);
    }
}
