//! The run history: an SQLite database (`reports/history.sqlite` by
//! default) indexing every finished run folder and capacity search, so
//! trends, baselines and "which commit lowered capacity" are one query
//! away, from surge or any SQL client. Rows are built from the folders'
//! files only, so `surge history rebuild` can always make the database
//! again. Writing it must never fail or slow a run: callers turn every
//! [`HistoryError`] into one warning.
//!
//! WAL mode and a busy timeout let shards, merges and capacity searches
//! write at once; each folder is one transaction (its rows replaced whole).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::rundata::RunData;
use crate::summary::capacity::CapacityReport;

mod index;
pub mod query;
mod schema;
pub mod trend;

pub use query::{Listed, Past};

/// The file name of the history beside the run folders.
pub const FILE_NAME: &str = "history.sqlite";
/// The environment variable naming another history file.
pub const ENV: &str = "SURGE_HISTORY";
/// How long a writer waits for another to finish before giving up.
const BUSY: Duration = Duration::from_secs(5);

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "the run history {path} is damaged ({source}); move it aside and run `surge history rebuild` to make it again from the run folders"
    )]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the run history {path} was still locked by another surge after {}s; this run is not in it (add it later with `surge history rebuild`)",
        BUSY.as_secs()
    )]
    Busy { path: PathBuf },
    #[error("the run history {path} is read-only ({source}); this run is not in it")]
    ReadOnly {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "cannot open the run history {path} ({source}); name a file, in a folder surge may write, with --history"
    )]
    CannotOpen {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the disk holding the run history {path} is full; this run is not in it")]
    Full { path: PathBuf },
    #[error(
        "the run history {path} was written by a newer surge (schema {found}, this one knows {known}); use that surge, or another --history file"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the run history {path} does not exist yet: no run has been indexed there (run `surge history rebuild DIR` to index existing run folders)"
    )]
    Missing { path: PathBuf },
    #[error("cannot use the run history {path}: {source}")]
    Other {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot index {dir}: {reason}")]
    Folder { dir: PathBuf, reason: String },
}

impl HistoryError {
    fn of(path: &Path, source: rusqlite::Error) -> HistoryError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                HistoryError::Corrupt { path, source }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                HistoryError::Busy { path }
            }
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
                HistoryError::ReadOnly { path, source }
            }
            Some(ErrorCode::CannotOpen) if read_only(&path) => {
                HistoryError::ReadOnly { path, source }
            }
            Some(ErrorCode::CannotOpen) => HistoryError::CannotOpen { path, source },
            Some(ErrorCode::DiskFull) => HistoryError::Full { path },
            _ => HistoryError::Other { path, source },
        }
    }
}

/// Whether `path` exists but cannot be written (a read-only file system,
/// or permissions): SQLite says only that it cannot open it.
fn read_only(path: &Path) -> bool {
    path.is_file()
        && std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .is_err_and(|e| {
                e.kind() == std::io::ErrorKind::PermissionDenied
                    || e.raw_os_error() == Some(libc::EROFS)
            })
}

/// Where the history is: `--history FILE`, else `$SURGE_HISTORY`, else
/// `history.sqlite` in the reports directory; `None` with `--no-history`.
pub fn location(flag: Option<&Path>, off: bool, reports: &Path) -> Option<PathBuf> {
    if off {
        return None;
    }
    flag.map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| Some(reports.join(FILE_NAME)))
}

/// An open history.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

impl History {
    /// Opens the history to write, creating it (and its folder) when new
    /// and bringing its tables up to date.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| HistoryError::Folder {
                dir: dir.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let fail = |e| HistoryError::of(path, e);
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(BUSY).map_err(fail)?;
        // WAL lets readers and one writer work at once, and is kept in the
        // file: asking again when it is already on takes no lock.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(HistoryError::ReadOnly {
                path: path.to_path_buf(),
                source: rusqlite::Error::InvalidQuery,
            });
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(fail)?;
        let mut history = History {
            conn,
            path: path.to_path_buf(),
        };
        history.migrate()?;
        Ok(history)
    }

    /// Opens an existing history to read.
    pub fn read(path: &Path) -> Result<History, HistoryError> {
        if !path.is_file() {
            return Err(HistoryError::Missing {
                path: path.to_path_buf(),
            });
        }
        let fail = |e| HistoryError::of(path, e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(BUSY).map_err(fail)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        if version == 0 {
            return Err(HistoryError::Missing {
                path: path.to_path_buf(),
            });
        }
        Ok(History {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: rusqlite::Error) -> HistoryError {
        HistoryError::of(&self.path, e)
    }

    /// Brings the tables to this surge's schema, one migration at a time,
    /// each in a transaction that holds the write lock (two processes
    /// opening a new history at once migrate it once).
    fn migrate(&mut self) -> Result<(), HistoryError> {
        let known = schema::MIGRATIONS.len() as i64;
        let mut newer = None;
        self.write(|tx| {
            let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if found > known {
                newer = Some(found);
                return Ok(());
            }
            for (n, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", n as i64 + 1)?;
            }
            Ok(())
        })?;
        match newer {
            Some(found) => Err(HistoryError::Newer {
                path: self.path.clone(),
                found,
                known,
            }),
            None => Ok(()),
        }
    }

    /// Indexes a finished run folder (its rows replace any it had).
    /// `capacity`: the search folder when it is a capacity trial.
    pub fn index_run(
        &mut self,
        data: &RunData,
        capacity: Option<&Path>,
    ) -> Result<(), HistoryError> {
        let rows = index::RunRows::of(data, capacity);
        self.write(|tx| rows.insert(tx))
    }

    /// Indexes a capacity search's folder (holding `capacity.json`).
    pub fn index_capacity(
        &mut self,
        dir: &Path,
        report: &CapacityReport,
    ) -> Result<(), HistoryError> {
        let row = index::CapacityRow::of(dir, report);
        self.write(|tx| row.insert(tx))
    }

    /// Runs `f` in one transaction holding the write lock from its start
    /// (so a busy history waits its timeout at the start, not midway).
    fn write(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let fail = |e| HistoryError::of(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        f(&tx).map_err(fail)?;
        tx.commit().map_err(fail)
    }
}

/// Indexes a finished run folder into the history at `path`: the one
/// sequence `finish` calls. The history, open, to read the run's
/// neighbours from (one connection: the last to close tidies the WAL
/// away); or the warning to show when it could not be written.
pub fn record_run(path: &Path, data: &RunData, capacity: Option<&Path>) -> Result<History, String> {
    History::open(path)
        .and_then(|mut h| h.index_run(data, capacity).map(|()| h))
        .map_err(|e| e.to_string())
}

/// Indexes a capacity search into the history at `path`; the warning when
/// it could not.
pub fn record_capacity(path: &Path, dir: &Path, report: &CapacityReport) -> Option<String> {
    History::open(path)
        .and_then(|mut h| h.index_capacity(dir, report))
        .err()
        .map(|e| e.to_string())
}

/// What `surge history rebuild` did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub runs: usize,
    pub capacities: usize,
    /// Folders that could not be read, and why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Where a damaged database was moved.
    pub moved_aside: Option<PathBuf>,
}

/// Indexes every run folder and capacity search under `root` into the
/// history at `path`. A damaged database is moved aside first and made
/// again; `progress` hears of each folder.
pub fn rebuild(
    path: &Path,
    root: &Path,
    mut progress: impl FnMut(&Path),
) -> Result<Rebuilt, HistoryError> {
    let mut done = Rebuilt::default();
    let mut history = match History::open(path) {
        Ok(h) => h,
        Err(HistoryError::Corrupt { .. }) => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let aside = path.with_extension(format!("sqlite.damaged-{stamp}"));
            std::fs::rename(path, &aside).map_err(|e| HistoryError::Folder {
                dir: path.to_path_buf(),
                reason: format!("cannot move the damaged database aside: {e}"),
            })?;
            for ext in ["-wal", "-shm"] {
                let mut side = path.as_os_str().to_owned();
                side.push(ext);
                let _ = std::fs::remove_file(PathBuf::from(side));
            }
            done.moved_aside = Some(aside);
            History::open(path)?
        }
        Err(e) => return Err(e),
    };
    let mut folders = Vec::new();
    find_folders(root, &mut folders);
    folders.sort();
    for dir in folders {
        progress(&dir);
        if dir.join("capacity.json").is_file() {
            match crate::rundata::read_capacity(&dir.join("capacity.json")) {
                Ok(report) => {
                    history.index_capacity(&dir, &report)?;
                    done.capacities += 1;
                }
                Err(e) => done.skipped.push((dir.clone(), e.to_string())),
            }
            continue;
        }
        match RunData::load(&dir) {
            Ok(data) => {
                let search = dir.parent().filter(|p| p.join("capacity.json").is_file());
                history.index_run(&data, search)?;
                done.runs += 1;
            }
            Err(e) => done.skipped.push((dir.clone(), e.to_string())),
        }
    }
    Ok(done)
}

/// Run folders (holding `summary.json`) and capacity searches (holding
/// `capacity.json`) under `dir`, at any depth.
fn find_folders(dir: &Path, found: &mut Vec<PathBuf>) {
    if dir.join("summary.json").is_file() || dir.join("capacity.json").is_file() {
        found.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_folders(&entry.path(), found);
        }
    }
}

/// A folder's path as the history keys it: absolute, so the same folder
/// reached from another directory is the same row.
pub fn key(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_history_is_migrated_once_and_a_newer_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/er/history.sqlite");
        drop(History::open(&path).unwrap());
        let h = History::open(&path).unwrap();
        let version: i64 = h
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::MIGRATIONS.len() as i64);
        h.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(h);
        match History::open(&path) {
            Err(e @ HistoryError::Newer { found: 99, .. }) => {
                assert!(e.to_string().contains("newer surge"))
            }
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn the_history_is_where_the_flag_then_the_environment_says() {
        let reports = Path::new("reps");
        assert_eq!(location(None, true, reports), None);
        assert_eq!(
            location(Some(Path::new("h.db")), false, reports),
            Some(PathBuf::from("h.db"))
        );
        if std::env::var_os(ENV).is_none() {
            assert_eq!(
                location(None, false, reports),
                Some(PathBuf::from("reps/history.sqlite"))
            );
        }
    }
}
