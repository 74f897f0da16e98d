//! A run folder or capacity search as the history's rows: built from what
//! the folder holds (its summary and latency histograms), inserted in one
//! transaction that replaces whatever the folder had before.

use std::path::Path;

use hdrhistogram::Histogram;
use rusqlite::{Transaction, params};

use crate::folder::{histogram, step_tag};
use crate::gate::noise;
use crate::rundata::RunData;
use crate::summary::capacity::CapacityReport;
use crate::summary::{Latency, Provenance, Summary};

/// The quantiles kept with their standard errors, for trends.
const QUANTILES: [f64; 3] = [0.50, 0.90, 0.99];

/// A latency's figures and the standard error of each of [`QUANTILES`]
/// (absent when too few samples to judge it).
struct Spread {
    latency: Latency,
    se: [Option<f64>; 3],
}

impl Spread {
    fn of(h: &Histogram<u64>) -> Spread {
        let se =
            QUANTILES.map(|q| noise::quantile_judgeable(h, q).then(|| noise::estimate(h, q).1));
        Spread {
            latency: Latency::of(h),
            se,
        }
    }
}

/// Everything one run folder puts in the history.
pub struct RunRows<'a> {
    folder: String,
    kind: &'static str,
    capacity: Option<String>,
    summary: &'a Summary,
    steps: Vec<Spread>,
    channels: Vec<Spread>,
}

impl<'a> RunRows<'a> {
    pub fn of(data: &'a RunData, capacity: Option<&Path>) -> RunRows<'a> {
        let s = &data.summary;
        let kind = match (capacity, s.run.shards.is_empty()) {
            (Some(_), _) => "trial",
            (None, false) => "merge",
            (None, true) => "run",
        };
        // Each step's whole-run histogram once; a channel's is the sum of
        // its steps'.
        let step_hists: Vec<Histogram<u64>> = s
            .steps
            .iter()
            .map(|st| data.tag(&step_tag(&st.name)))
            .collect();
        let channels = s
            .channels
            .iter()
            .map(|c| {
                let mut h = histogram();
                for (st, sh) in s.steps.iter().zip(&step_hists) {
                    if st.channel == c.name {
                        let _ = h.add(sh);
                    }
                }
                Spread::of(&h)
            })
            .collect();
        let steps = step_hists.iter().map(Spread::of).collect();
        RunRows {
            folder: super::key(&data.dir),
            kind,
            capacity: capacity.map(super::key),
            summary: s,
            steps,
            channels,
        }
    }

    pub fn insert(&self, tx: &Transaction) -> rusqlite::Result<()> {
        let s = self.summary;
        tx.execute("DELETE FROM runs WHERE folder = ?1", [&self.folder])?;
        let gate = s.gate.as_ref();
        let requests: u64 = s.steps.iter().map(|st| st.requests).sum();
        let ok: u64 = s.steps.iter().map(|st| st.ok.min(st.requests)).sum();
        let in_time: u64 = s
            .journeys
            .iter()
            .map(|j| j.outcomes.completed_in_time)
            .sum();
        let servable: u64 = s.journeys.iter().map(|j| j.servable()).sum();
        let p = &s.run.provenance;
        tx.execute(
            "INSERT INTO runs (folder, kind, capacity_folder, scenario, scenario_file,
                scenario_sha256, seed, scale, time_factor, planned_s, elapsed_s,
                shard_index, shard_count, started_at, ended_at, status, valid,
                validity_reasons, verdict, scheduled, started, dropped, requests, failed,
                completed_in_time, servable, goodput, surge_version, host,
                git_commit, git_branch, git_dirty, ci, ci_run_url, ci_pr, ci_commit,
                indexed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29,
                ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37)",
            params![
                self.folder,
                self.kind,
                self.capacity,
                s.scenario.name,
                s.scenario.file,
                s.scenario.sha256,
                // SQLite integers are signed: a seed above i64::MAX keeps
                // its bits.
                s.scenario.seed as i64,
                s.scenario.scale,
                s.scenario.time_factor,
                s.run.planned_s,
                s.run.elapsed_s,
                s.run.shard.map(|sh| sh.index as i64),
                s.run.shard.map(|sh| sh.count as i64),
                s.run.started_at,
                s.run.ended_at,
                s.status.as_str(),
                gate.map(|g| g.validity.valid),
                serde_json::to_string(&gate.map_or(&Vec::new(), |g| &g.validity.reasons))
                    .unwrap_or_default(),
                gate.map(|g| g.verdict.as_str()),
                s.load.scheduled as i64,
                s.load.started as i64,
                s.load.dropped as i64,
                requests as i64,
                (requests - ok) as i64,
                in_time as i64,
                servable as i64,
                crate::summary::ratio(in_time, servable),
                s.surge_version,
                s.run.generator.hostname,
                p.git_commit,
                p.git_branch,
                p.git_dirty,
                p.ci,
                p.ci_run_url,
                p.ci_pr,
                p.ci_commit,
                now(),
            ],
        )?;
        let id = tx.last_insert_rowid();
        for o in gate.map_or(&[][..], |g| &g.objectives[..]) {
            tx.execute(
                "INSERT OR REPLACE INTO objectives
                 (run_id, name, kind, judgement, measured, bound, unit, samples)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    o.name,
                    o.kind,
                    o.judgement.as_str(),
                    o.measured,
                    o.bound,
                    o.unit,
                    o.samples.map(|n| n as i64),
                ],
            )?;
        }
        for (st, spread) in s.steps.iter().zip(&self.steps) {
            let l = &spread.latency;
            tx.execute(
                "INSERT OR REPLACE INTO steps (run_id, name, journey, step, channel, requests,
                    ok, error_rate, p50_us, p90_us, p99_us, p999_us, max_us,
                    p50_se_us, p90_se_us, p99_se_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    id,
                    st.name,
                    st.journey,
                    st.step,
                    st.channel,
                    st.requests as i64,
                    st.ok as i64,
                    st.error_rate,
                    l.p50_us as i64,
                    l.p90_us as i64,
                    l.p99_us as i64,
                    l.p999_us as i64,
                    l.max_us as i64,
                    spread.se[0],
                    spread.se[1],
                    spread.se[2],
                ],
            )?;
            for (class, count) in &st.errors {
                tx.execute(
                    "INSERT OR REPLACE INTO step_errors (run_id, step, class, count)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, st.name, class, *count as i64],
                )?;
            }
        }
        for (c, spread) in s.channels.iter().zip(&self.channels) {
            let l = &spread.latency;
            tx.execute(
                "INSERT OR REPLACE INTO channels (run_id, name, requests, ok, error_rate,
                    p50_us, p90_us, p99_us, p999_us, max_us, p50_se_us, p90_se_us, p99_se_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    id,
                    c.name,
                    c.requests as i64,
                    c.ok as i64,
                    c.error_rate,
                    l.p50_us as i64,
                    l.p90_us as i64,
                    l.p99_us as i64,
                    l.p999_us as i64,
                    l.max_us as i64,
                    spread.se[0],
                    spread.se[1],
                    spread.se[2],
                ],
            )?;
        }
        for j in &s.journeys {
            let o = &j.outcomes;
            tx.execute(
                "INSERT OR REPLACE INTO journeys (run_id, name, channel, scheduled, started,
                    dropped, data_exhausted, completed_in_time, completed_late, abandoned,
                    failed, unfinished, goodput, retry_amplification, time_p50_us, time_p99_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    id,
                    j.name,
                    j.channel,
                    j.scheduled as i64,
                    j.started as i64,
                    j.dropped as i64,
                    j.data_exhausted as i64,
                    o.completed_in_time as i64,
                    o.completed_late as i64,
                    o.abandoned as i64,
                    o.failed as i64,
                    o.unfinished as i64,
                    j.goodput,
                    j.retry_amplification,
                    j.time.p50_us as i64,
                    j.time.p99_us as i64,
                ],
            )?;
        }
        if let Some(ledger) = &s.ledger {
            let counters = serde_json::to_value(ledger.counters).unwrap_or_default();
            let mut all: Vec<(String, u64)> = counters
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect();
            all.push(("paid_not_credited".into(), ledger.paid_not_credited));
            all.push(("stamps_completed".into(), ledger.stamps_completed));
            for (counter, value) in all {
                tx.execute(
                    "INSERT OR REPLACE INTO ledger (run_id, counter, value) VALUES (?1, ?2, ?3)",
                    params![id, counter, value as i64],
                )?;
            }
        }
        Ok(())
    }
}

/// A capacity search's row.
pub struct CapacityRow<'a> {
    folder: String,
    report: &'a CapacityReport,
    /// surge's version and the host, from the first trial's summary.
    version: Option<String>,
    host: Option<String>,
}

impl<'a> CapacityRow<'a> {
    pub fn of(dir: &Path, report: &'a CapacityReport) -> CapacityRow<'a> {
        let first = report.trials.first().and_then(|t| {
            crate::rundata::read_summary(&Path::new(&t.dir).join("summary.json")).ok()
        });
        CapacityRow {
            folder: super::key(dir),
            report,
            version: first.as_ref().map(|s| s.surge_version.clone()),
            host: first.map(|s| s.run.generator.hostname),
        }
    }

    pub fn insert(&self, tx: &Transaction) -> rusqlite::Result<()> {
        let r = self.report;
        let p: &Provenance = &r.provenance;
        tx.execute("DELETE FROM capacities WHERE folder = ?1", [&self.folder])?;
        tx.execute(
            "INSERT INTO capacities (folder, scenario, scenario_sha256, started_at,
                base_rate_per_s, scale, capacity_per_s, upper_scale, upper_per_s, resolution,
                trials, judged, found, surge_version, host, git_commit, git_branch, git_dirty,
                ci, ci_run_url, ci_pr, ci_commit, indexed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            params![
                self.folder,
                r.scenario,
                r.scenario_sha256,
                r.started_at,
                r.base_rate_per_s,
                r.scale,
                r.capacity_per_s,
                r.upper_scale,
                r.upper_per_s,
                r.resolution,
                r.trials.len() as i64,
                r.judged(),
                r.found(),
                self.version,
                self.host,
                p.git_commit,
                p.git_branch,
                p.git_dirty,
                p.ci,
                p.ci_run_url,
                p.ci_pr,
                p.ci_commit,
                now(),
            ],
        )?;
        Ok(())
    }
}

fn now() -> String {
    crate::human::rfc3339(std::time::SystemTime::now())
}
