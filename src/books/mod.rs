//! The platform's own books: counters and id lists read from the system
//! under test (its database, or an admin API), so a run can say that 374
//! payments were captured and never credited, and which. `source` opens
//! and reads one source safely (read-only, bounded); this file turns a
//! scenario's `books:` into readings of counters and records; `watch`
//! reads them around a run (before, every `every`, at the end, through the
//! settle) and reconciles; `ids` collects our side. Their files
//! (`books.csv`, `ids.csv`, `reconcile.csv`) are the run folder's
//! contract, in [`crate::folder::books`] and [`crate::folder::ids`]. It
//! never judges: the gate does, on what it
//! wrote. A source that fails is a warning, never a lost run.

pub mod ids;
pub mod source;
pub mod watch;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;

use crate::scenario::books::{self as spec, CounterQuery, RecordQuery};
use source::{Opening, Source};

pub use watch::Watch;

/// Why the books cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum BooksError {
    #[error("books source `{source_name}`: {reason}")]
    Source { source_name: String, reason: String },
    #[error("cannot write {what}: {error}")]
    Io { what: String, error: std::io::Error },
}

/// A scenario's books, open.
pub struct Books {
    spec: spec::Books,
    sources: IndexMap<String, Source>,
    /// The first failure of each source, as a warning line.
    warnings: Mutex<IndexMap<String, String>>,
    /// After Ctrl-C a source that failed before is not asked again: a
    /// stalled database would hold the run open a timeout per read.
    hurry: std::sync::atomic::AtomicBool,
    /// When the books were first read: `{run_start}` of record queries.
    started: SystemTime,
}

impl Books {
    /// Opens every source of `spec` (connections come at the first read).
    pub fn open(spec: &spec::Books, at: &Opening<'_>) -> Result<Books, BooksError> {
        let sources = spec
            .sources
            .iter()
            .map(|(name, s)| Ok((name.clone(), Source::open(name, s, at)?)))
            .collect::<Result<_, BooksError>>()?;
        Ok(Books {
            spec: spec.clone(),
            sources,
            warnings: Mutex::new(IndexMap::new()),
            hurry: std::sync::atomic::AtomicBool::new(false),
            started: SystemTime::now(),
        })
    }

    pub fn spec(&self) -> &spec::Books {
        &self.spec
    }

    fn timeout(&self) -> Duration {
        self.spec.timeout.0
    }

    /// The counters' names, in the scenario's order.
    pub fn counter_names(&self) -> Vec<String> {
        self.spec.counters.keys().cloned().collect()
    }

    /// One reading of every counter, in the scenario's order. A source
    /// that fails is asked nothing more in this reading (a stalled database
    /// costs one timeout, not one per counter).
    pub async fn read_counters(&self) -> Vec<Option<f64>> {
        let mut failed: HashMap<&str, ()> = HashMap::new();
        let mut values = Vec::with_capacity(self.spec.counters.len());
        for c in self.spec.counters.values() {
            if failed.contains_key(c.source.as_str()) || self.given_up(&c.source) {
                values.push(None);
                continue;
            }
            match self.counter(c).await {
                Ok(v) => values.push(Some(v)),
                Err(e) => {
                    self.warn(&c.source, &e);
                    failed.insert(&c.source, ());
                    values.push(None);
                }
            }
        }
        values
    }

    /// The ids of record `name`, each once, in the order they came.
    pub async fn read_record(&self, name: &str) -> Result<Vec<String>, String> {
        let r = self
            .spec
            .records
            .get(name)
            .ok_or_else(|| format!("no record is named `{name}`"))?;
        if self.given_up(&r.source) {
            return Err(format!(
                "not read after Ctrl-C: source `{}` had failed",
                r.source
            ));
        }
        let ids = self
            .record(r)
            .await
            .inspect_err(|e| self.warn(&r.source, e))?;
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect())
    }

    /// Runs every counter's and record's query once: what `surge validate
    /// --connect` prints, `Ok` with the value or the number of ids.
    pub async fn try_all(&self) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        for (name, c) in &self.spec.counters {
            let r = self.counter(c).await.map(|v| format!("{v}"));
            out.push((format!("counter {name} ({})", c.source), r));
        }
        for (name, r) in &self.spec.records {
            let got = self.record(r).await.map(|ids| format!("{} ids", ids.len()));
            out.push((format!("record {name} ({})", r.source), got));
        }
        out
    }

    /// From now on, sources that failed are not asked again (Ctrl-C).
    pub fn hurry(&self) {
        self.hurry.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether `source` is not to be asked again.
    fn given_up(&self, source: &str) -> bool {
        self.hurry.load(std::sync::atomic::Ordering::Relaxed)
            && self
                .warnings
                .lock()
                .expect("books warnings lock")
                .contains_key(source)
    }

    /// The warnings so far, one per source that failed.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .expect("books warnings lock")
            .values()
            .cloned()
            .collect()
    }

    pub async fn close(&self) {
        for s in self.sources.values() {
            s.close().await;
        }
    }

    fn source(&self, name: &str) -> Result<&Source, String> {
        self.sources
            .get(name)
            .ok_or_else(|| format!("no books source is named `{name}`"))
    }

    async fn counter(&self, c: &CounterQuery) -> Result<f64, String> {
        let source = self.source(&c.source)?;
        match (&c.query, &c.path, &c.value) {
            (Some(q), _, _) => {
                let rows = source.rows(q, self.timeout()).await?;
                match rows.first() {
                    None => Err("the query returned no row; a counter needs one".into()),
                    // `SELECT sum(x)` over no rows is NULL: nothing counted.
                    Some(None) => Ok(0.0),
                    Some(Some(text)) => number(text),
                }
            }
            (None, Some(path), Some(value)) => {
                let doc = source.json(path, self.timeout()).await?;
                match value.get(&doc) {
                    Some(serde_json::Value::Number(n)) => n
                        .as_f64()
                        .ok_or_else(|| format!("{n} is not a number surge can carry")),
                    Some(serde_json::Value::String(s)) => number(s),
                    Some(other) => Err(format!("GET {path}: the value is {other}, not a number")),
                    None => Err(format!("GET {path}: the answer has no such field")),
                }
            }
            _ => Err("the counter names neither a query nor a path and value".into()),
        }
    }

    async fn record(&self, r: &RecordQuery) -> Result<Vec<String>, String> {
        let source = self.source(&r.source)?;
        match (&r.query, &r.path, &r.values) {
            (Some(q), _, _) => {
                let q = spec::run_window(q, self.started);
                let rows = source.rows(&q, self.timeout()).await?;
                Ok(rows.into_iter().flatten().collect())
            }
            (None, Some(path), Some(values)) => {
                let doc = source.json(path, self.timeout()).await?;
                match values.get(&doc) {
                    Some(serde_json::Value::Array(items)) => items
                        .iter()
                        .map(|v| match v {
                            serde_json::Value::String(s) => Ok(s.clone()),
                            serde_json::Value::Number(n) => Ok(n.to_string()),
                            other => Err(format!(
                                "GET {path}: an id is {other}, not a string or number"
                            )),
                        })
                        .collect(),
                    Some(_) => Err(format!("GET {path}: the value is not an array of ids")),
                    None => Err(format!("GET {path}: the answer has no such field")),
                }
            }
            _ => Err("the record names neither a query nor a path and values".into()),
        }
    }

    /// Keeps the first failure of `source` as its warning, and says it
    /// once on the terminal.
    fn warn(&self, source: &str, error: &str) {
        let mut warnings = self.warnings.lock().expect("books warnings lock");
        if warnings.contains_key(source) {
            return;
        }
        let kind = self.spec.sources.get(source).map_or("?", |s| s.kind());
        let line = format!(
            "books source `{source}` ({kind}) could not be read: {error}; objectives on it are unjudged"
        );
        eprintln!("surge: WARNING: {line}");
        warnings.insert(source.to_string(), line);
    }
}

/// A counter's text as a number.
fn number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{text}` is not a number")),
    }
}
