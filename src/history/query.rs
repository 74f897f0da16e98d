//! What the history answers: the list of runs, one metric's series for a
//! trend, the recent runs a report shows, and the baseline `last-pass`.
//! Only whole, valid, completed runs make series and baselines: shards,
//! capacity trials and invalid runs measure something else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{History, HistoryError};
use crate::gate::compare::Bracket;
use crate::gate::noise::Share;

/// Runs that stand for the scenario's whole load, judged valid.
const WHOLE_VALID: &str = "r.kind IN ('run', 'merge') AND r.shard_count IS NULL \
     AND r.status = 'completed' AND r.valid = 1";

/// One line of `surge history`.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// `run`, `merge`, `shard` or `capacity`.
    pub kind: String,
    pub started_at: String,
    pub scenario: String,
    pub folder: String,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub git_dirty: Option<bool>,
    /// `pass`, `fail` or `invalid` (runs); absent for unfinished runs.
    pub verdict: Option<String>,
    pub goodput: Option<f64>,
    pub requests: Option<u64>,
    pub error_rate: Option<f64>,
    /// Capacity searches: what was found, arrivals/s.
    pub capacity_per_s: Option<f64>,
    pub upper_per_s: Option<f64>,
}

/// A metric `surge history trend` follows.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    Capacity,
    Goodput,
    /// Of every request, or of one step's.
    ErrorRate(Option<String>),
    /// p50, p90 or p99 (by `QUANTILES` index) of a step or channel.
    Quantile(usize, String),
}

/// The quantiles a trend can follow (their standard errors are kept).
pub const QUANTILE_NAMES: [&str; 3] = ["p50", "p90", "p99"];

impl Metric {
    /// `capacity`, `goodput`, `error_rate[:STEP]`, `p50|p90|p99:STEP|CHANNEL`.
    pub fn parse(text: &str) -> Result<Metric, String> {
        let (head, tail) = match text.split_once(':') {
            Some((h, t)) => (h, Some(t.to_string())),
            None => (text, None),
        };
        let bad = || {
            format!(
                "`{text}` is not a metric; use capacity, goodput, error_rate, error_rate:STEP, \
                 or p50|p90|p99:STEP|CHANNEL (e.g. p99:stamping)"
            )
        };
        match (head, tail) {
            ("capacity", None) => Ok(Metric::Capacity),
            ("goodput", None) => Ok(Metric::Goodput),
            ("error_rate", t) => Ok(Metric::ErrorRate(t.filter(|t| !t.is_empty()))),
            (q, Some(name)) if !name.is_empty() => QUANTILE_NAMES
                .iter()
                .position(|n| *n == q)
                .map(|i| Metric::Quantile(i, name))
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    /// How a value of it reads.
    pub fn show(&self, v: f64) -> String {
        match self {
            Metric::Capacity => format!("{v:.1}/s"),
            Metric::Goodput | Metric::ErrorRate(_) => format!("{:.2}%", v * 100.0),
            Metric::Quantile(..) => crate::human::ms(v as u64),
        }
    }

    /// The chart's axis title.
    pub fn axis(&self) -> String {
        match self {
            Metric::Capacity => "capacity, arrivals/s".into(),
            Metric::Goodput => "goodput, % of arrivals".into(),
            Metric::ErrorRate(None) => "error rate, % of requests".into(),
            Metric::ErrorRate(Some(s)) => format!("error rate of {s}, %"),
            Metric::Quantile(i, name) => format!("{} of {name}", QUANTILE_NAMES[*i]),
        }
    }

    /// Whether a higher value is better.
    pub fn higher_is_better(&self) -> bool {
        matches!(self, Metric::Capacity | Metric::Goodput)
    }
}

/// What a point rests on, for telling a move from noise.
#[derive(Clone, Copy, Debug)]
pub enum Sample {
    /// A capacity search's bracket.
    Bracket(Bracket),
    /// A share of bad outcomes (arrivals not completed in time, failed
    /// requests).
    Share(Share),
    /// A quantile and its standard error (absent: too few samples).
    Quantile(f64, Option<f64>),
}

/// One run (or search) of a series, oldest first.
#[derive(Clone, Debug)]
pub struct Point {
    pub started_at: String,
    pub folder: String,
    pub git_commit: Option<String>,
    pub value: f64,
    pub sample: Sample,
}

pub use crate::rundata::{Past, Recent};

impl History {
    /// Runs and capacity searches, newest first; trials are left out (each
    /// search is one line).
    pub fn list(&self, scenario: Option<&str>, last: usize) -> Result<Vec<Listed>, HistoryError> {
        let mut runs = self.conn
            .prepare_cached(
                "SELECT kind, started_at, scenario, folder, git_commit, git_branch, git_dirty,
                    verdict, goodput, requests, failed, shard_index, shard_count
                 FROM runs WHERE kind != 'trial' AND (?1 IS NULL OR scenario = ?1 OR scenario_file = ?1)
                 ORDER BY started_at DESC LIMIT ?2",
            )
            .map_err(|e| self.fail(e))?;
        let mut listed: Vec<Listed> = runs
            .query_map(params![scenario, last as i64], |r| {
                let requests: i64 = r.get(9)?;
                let failed: i64 = r.get(10)?;
                let shard: Option<i64> = r.get(11)?;
                let count: Option<i64> = r.get(12)?;
                Ok(Listed {
                    kind: match (shard, count) {
                        (Some(k), Some(n)) => format!("shard {k}/{n}"),
                        _ => r.get(0)?,
                    },
                    started_at: r.get(1)?,
                    scenario: r.get(2)?,
                    folder: r.get(3)?,
                    git_commit: r.get(4)?,
                    git_branch: r.get(5)?,
                    git_dirty: r.get(6)?,
                    verdict: r.get(7)?,
                    goodput: r.get(8)?,
                    requests: Some(requests as u64),
                    error_rate: Some(crate::summary::ratio(failed as u64, requests as u64)),
                    capacity_per_s: None,
                    upper_per_s: None,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))?;
        let mut searches = self
            .conn
            .prepare_cached(
                "SELECT started_at, scenario, folder, git_commit, git_branch, git_dirty,
                    capacity_per_s, upper_per_s, found, judged
                 FROM capacities WHERE (?1 IS NULL OR scenario = ?1)
                 ORDER BY started_at DESC LIMIT ?2",
            )
            .map_err(|e| self.fail(e))?;
        let found: Vec<Listed> = searches
            .query_map(params![scenario, last as i64], |r| {
                let (found, judged): (bool, bool) = (r.get(8)?, r.get(9)?);
                Ok(Listed {
                    kind: "capacity".into(),
                    started_at: r.get(0)?,
                    scenario: r.get(1)?,
                    folder: r.get(2)?,
                    git_commit: r.get(3)?,
                    git_branch: r.get(4)?,
                    git_dirty: r.get(5)?,
                    verdict: Some(
                        match (judged, found) {
                            (false, _) => "unjudged",
                            (true, true) => "found",
                            (true, false) => "none found",
                        }
                        .into(),
                    ),
                    goodput: None,
                    requests: None,
                    error_rate: None,
                    capacity_per_s: Some(r.get(6)?),
                    upper_per_s: r.get(7)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))?;
        listed.extend(found);
        listed.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        listed.truncate(last);
        Ok(listed)
    }

    /// One metric of a scenario's last `last` whole, valid runs (or judged
    /// capacity searches), oldest first.
    pub fn series(
        &self,
        scenario: &str,
        metric: &Metric,
        last: usize,
    ) -> Result<Vec<Point>, HistoryError> {
        let last = last as i64;
        let mut points = match metric {
            Metric::Capacity => self.points(
                "SELECT started_at, folder, git_commit, capacity_per_s, upper_per_s
                 FROM capacities r WHERE scenario = ?1 AND judged = 1
                 ORDER BY started_at DESC LIMIT ?2",
                params![scenario, last],
                |r| {
                    let lower: f64 = r.get(3)?;
                    let sample = Sample::Bracket(Bracket {
                        lower,
                        upper: r.get(4)?,
                        judged: true,
                    });
                    Ok((lower, sample))
                },
            )?,
            Metric::Goodput => self.points(
                &format!(
                    "SELECT started_at, folder, git_commit, completed_in_time, servable
                     FROM runs r WHERE (scenario = ?1 OR scenario_file = ?1) AND {WHOLE_VALID}
                     ORDER BY started_at DESC LIMIT ?2"
                ),
                params![scenario, last],
                |r| {
                    let (in_time, servable): (i64, i64) = (r.get(3)?, r.get(4)?);
                    let share = Share {
                        hits: (servable - in_time).max(0) as u64,
                        trials: servable as u64,
                    };
                    Ok((1.0 - share.value(), Sample::Share(share)))
                },
            )?,
            Metric::ErrorRate(step) => self.points(
                &format!(
                    "SELECT r.started_at, r.folder, r.git_commit,
                        COALESCE(s.requests - s.ok, r.failed), COALESCE(s.requests, r.requests)
                     FROM runs r LEFT JOIN steps s ON s.run_id = r.id AND s.name = ?3
                     WHERE (r.scenario = ?1 OR r.scenario_file = ?1) AND {WHOLE_VALID}
                        AND (?3 IS NULL OR s.name IS NOT NULL)
                     ORDER BY r.started_at DESC LIMIT ?2"
                ),
                params![scenario, last, step],
                |r| {
                    let (failed, requests): (i64, i64) = (r.get(3)?, r.get(4)?);
                    let share = Share {
                        hits: failed.max(0) as u64,
                        trials: requests.max(0) as u64,
                    };
                    Ok((share.value(), Sample::Share(share)))
                },
            )?,
            Metric::Quantile(i, name) => {
                let q = QUANTILE_NAMES[*i];
                let mut found = Vec::new();
                for table in ["steps", "channels"] {
                    found = self.points(
                        &format!(
                            "SELECT r.started_at, r.folder, r.git_commit, x.{q}_us, x.{q}_se_us
                             FROM runs r JOIN {table} x ON x.run_id = r.id AND x.name = ?3
                             WHERE (r.scenario = ?1 OR r.scenario_file = ?1) AND {WHOLE_VALID}
                             ORDER BY r.started_at DESC LIMIT ?2"
                        ),
                        params![scenario, last, name],
                        |r| {
                            let v: i64 = r.get(3)?;
                            Ok((v as f64, Sample::Quantile(v as f64, r.get(4)?)))
                        },
                    )?;
                    if !found.is_empty() {
                        break;
                    }
                }
                found
            }
        };
        points.reverse();
        Ok(points)
    }

    fn points(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        value: impl Fn(&rusqlite::Row) -> rusqlite::Result<(f64, Sample)>,
    ) -> Result<Vec<Point>, HistoryError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.fail(e))?;
        stmt.query_map(params, |r| {
            let (v, sample) = value(r)?;
            Ok(Point {
                started_at: r.get(0)?,
                folder: r.get(1)?,
                git_commit: r.get(2)?,
                value: v,
                sample,
            })
        })
        .and_then(Iterator::collect)
        .map_err(|e| self.fail(e))
    }

    /// Steps and channels with latency in a scenario's runs, for a hint.
    pub fn names(&self, scenario: &str) -> Result<Vec<String>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT x.name FROM runs r JOIN steps x ON x.run_id = r.id
                 WHERE r.scenario = ?1 OR r.scenario_file = ?1
                 UNION SELECT DISTINCT c.name FROM runs r JOIN channels c ON c.run_id = r.id
                 WHERE r.scenario = ?1 OR r.scenario_file = ?1 ORDER BY 1",
            )
            .map_err(|e| self.fail(e))?;
        stmt.query_map([scenario], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))
    }

    /// The scenario's last `n` whole valid runs (this one among them when
    /// indexed) and capacity searches, for a report.
    pub fn recent(&self, scenario: &str, n: usize) -> Result<Recent, HistoryError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT r.id, r.folder, r.started_at, r.git_commit, r.goodput
                 FROM runs r WHERE r.scenario = ?1 AND {WHOLE_VALID}
                 ORDER BY r.started_at DESC LIMIT ?2"
            ))
            .map_err(|e| self.fail(e))?;
        let rows: Vec<(i64, Past)> = stmt
            .query_map(params![scenario, n as i64], |r| {
                Ok((
                    r.get(0)?,
                    Past {
                        folder: r.get(1)?,
                        started_at: r.get(2)?,
                        git_commit: r.get(3)?,
                        goodput: r.get(4)?,
                        p99_us: BTreeMap::new(),
                    },
                ))
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))?;
        let mut channels = self
            .conn
            .prepare_cached("SELECT name, p99_us FROM channels WHERE run_id = ?1")
            .map_err(|e| self.fail(e))?;
        let mut runs = Vec::with_capacity(rows.len());
        for (id, mut past) in rows.into_iter().rev() {
            past.p99_us = channels
                .query_map([id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
                .and_then(Iterator::collect)
                .map_err(|e| self.fail(e))?;
            runs.push(past);
        }
        let capacities = self
            .series(scenario, &Metric::Capacity, n)?
            .into_iter()
            .map(|p| (p.started_at, p.git_commit, p.value))
            .collect();
        Ok(Recent { runs, capacities })
    }

    /// The latest valid, passing, whole run of the same scenario file
    /// (sha256) on the same branch, started before `started_at`, whose
    /// folder still exists; not `folder` itself.
    pub fn last_pass_run(
        &self,
        sha256: &str,
        branch: Option<&str>,
        shard: Option<(u64, u64)>,
        folder: &str,
        started_at: &str,
    ) -> Result<Option<PathBuf>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT folder FROM runs r
                 WHERE scenario_sha256 = ?1 AND git_branch IS ?2 AND kind IN ('run', 'merge')
                    AND shard_index IS ?3 AND shard_count IS ?4 AND status = 'completed'
                    AND valid = 1 AND verdict = 'pass' AND folder != ?5 AND started_at < ?6
                 ORDER BY started_at DESC",
            )
            .map_err(|e| self.fail(e))?;
        let folders: Vec<String> = stmt
            .query_map(
                params![
                    sha256,
                    branch,
                    shard.map(|s| s.0 as i64),
                    shard.map(|s| s.1 as i64),
                    folder,
                    started_at
                ],
                |r| r.get(0),
            )
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))?;
        Ok(folders
            .into_iter()
            .map(PathBuf::from)
            .find(|f| f.join("summary.json").is_file()))
    }

    /// The latest capacity search of the same scenario file on the same
    /// branch that found a capacity, whose `capacity.json` still exists.
    pub fn last_pass_capacity(
        &self,
        sha256: &str,
        branch: Option<&str>,
    ) -> Result<Option<PathBuf>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT folder FROM capacities
                 WHERE scenario_sha256 = ?1 AND git_branch IS ?2 AND judged = 1 AND found = 1
                 ORDER BY started_at DESC",
            )
            .map_err(|e| self.fail(e))?;
        let folders: Vec<String> = stmt
            .query_map(params![sha256, branch], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))?;
        Ok(folders
            .into_iter()
            .map(|f| Path::new(&f).join("capacity.json"))
            .find(|f| f.is_file()))
    }

    /// Branches with passing runs of this scenario file, for a hint when
    /// the asked branch has none.
    pub fn branches_with_passes(&self, sha256: &str) -> Result<Vec<String>, HistoryError> {
        self.conn
            .query_row(
                "SELECT group_concat(DISTINCT COALESCE(git_branch, '(no branch)')) FROM runs
                 WHERE scenario_sha256 = ?1 AND verdict = 'pass' AND valid = 1",
                [sha256],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(|v| {
                v.flatten()
                    .map(|s| s.split(',').map(str::to_string).collect())
                    .unwrap_or_default()
            })
            .map_err(|e| self.fail(e))
    }
}
