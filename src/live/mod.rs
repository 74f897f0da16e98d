//! Live views of a run, fed once a second by the recorder's flush (see
//! `recorder::observe`): the run's series as Prometheus sees them
//! (`metrics`), pushed with Prometheus remote write (`remote_write`) and
//! served with a live page (`dashboard`). Nothing here is on the users'
//! path.

pub mod dashboard;
pub mod metrics;
pub mod remote_write;

use crate::recorder::Names;
use crate::recorder::observe::Observer;
use crate::scenario::Scenario;

/// The run's target and folder, as the live views show them.
pub struct Target<'a> {
    /// How the target is shown (never a secret).
    pub shown: &'a str,
    /// The in-process twin, whose ledger the dashboard shows.
    pub twin: Option<std::sync::Arc<crate::twin::Twin>>,
    /// The run folder, whose files the running verdicts are judged from.
    pub dir: &'a std::path::Path,
}

/// What the command line asks to watch live, checked before any load.
pub struct LiveOptions {
    /// `--prometheus-rw URL` and its headers, `${ENV}` already read.
    pub remote_write: Option<(String, reqwest::header::HeaderMap)>,
    /// `--dashboard`, already listening.
    pub dashboard: Option<std::sync::Arc<dashboard::Board>>,
}

impl LiveOptions {
    /// Checks the flags: a bad URL or header is an error before any load.
    pub fn new(
        remote_write: Option<&str>,
        headers: &[String],
        dashboard: Option<std::sync::Arc<dashboard::Board>>,
    ) -> Result<LiveOptions, remote_write::RemoteWriteError> {
        let remote_write = match remote_write {
            Some(url) => {
                let parsed = url::Url::parse(url)
                    .map_err(|_| remote_write::RemoteWriteError::Url(url.to_string()))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(remote_write::RemoteWriteError::Url(url.to_string()));
                }
                Some((url.to_string(), remote_write::headers(headers)?))
            }
            None => None,
        };
        Ok(LiveOptions {
            remote_write,
            dashboard,
        })
    }

    /// The observers of this run; `run_id` names it in every series.
    pub fn observers(
        self,
        scenario: &Scenario,
        names: &Names,
        run: metrics::RunLabels,
        target: Target<'_>,
    ) -> Result<Vec<Box<dyn Observer>>, remote_write::RemoteWriteError> {
        let faults: Vec<(String, String)> = scenario
            .timeline
            .faults
            .iter()
            .map(|w| (w.name.clone(), scenario.file.faults[w.index].on.to_string()))
            .collect();
        let mut out: Vec<Box<dyn Observer>> = Vec::new();
        if self.dashboard.is_none() && self.remote_write.is_none() {
            return Ok(out);
        }
        // One set of series for every view, added to once a second.
        let metrics: metrics::Shared = std::sync::Arc::new(std::sync::Mutex::new(
            metrics::Metrics::new(run.clone(), names, faults.clone()),
        ));
        out.push(Box::new(metrics::Adder(metrics.clone())));
        if let Some(board) = &self.dashboard {
            let hello = serde_json::json!({
                "scenario": run.scenario,
                "run_id": run.run_id,
                "shard": run.shard,
                "target": target.shown,
                "planned_s": scenario.total().as_secs(),
                "phases": scenario.timeline.phases.iter().map(|p| serde_json::json!({
                    "name": p.name, "start_s": p.start.as_secs_f64(), "end_s": p.end.as_secs_f64(),
                })).collect::<Vec<_>>(),
                "steps": names.steps.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
                "faults": scenario.timeline.faults.iter().zip(&faults).map(|(w, (_, on))| serde_json::json!({
                    "name": w.name, "target": on,
                    "start_s": w.start.as_secs_f64(), "end_s": w.end.as_secs_f64(),
                })).collect::<Vec<_>>(),
            });
            let judging = dashboard::Judging {
                dir: target.dir.to_path_buf(),
                objectives: scenario.file.objectives.clone(),
                channels: names
                    .steps
                    .iter()
                    .map(|s| (s.label.clone(), s.channel.clone()))
                    .chain(
                        names
                            .journeys
                            .iter()
                            .map(|j| (j.name.clone(), j.channel.clone())),
                    )
                    .collect(),
            };
            out.push(board.observer(metrics.clone(), hello, judging, target.twin.clone()));
        }
        if let Some((url, headers)) = self.remote_write {
            out.push(Box::new(remote_write::RemoteWrite::start(
                metrics, &url, headers,
            )?));
        }
        Ok(out)
    }
}
