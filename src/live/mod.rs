//! Live views of a run, fed once a second by the recorder's flush (see
//! `recorder::observe`): the run's series as Prometheus sees them
//! (`metrics`), pushed with Prometheus remote write (`remote_write`).
//! Nothing here is on the users' path.

pub mod metrics;
pub mod remote_write;

use crate::recorder::Names;
use crate::recorder::observe::Observer;
use crate::scenario::Scenario;

/// What the command line asks to watch live, checked before any load.
pub struct LiveOptions {
    /// `--prometheus-rw URL` and its headers, `${ENV}` already read.
    pub remote_write: Option<(String, reqwest::header::HeaderMap)>,
}

impl LiveOptions {
    /// Checks the flags: a bad URL or header is an error before any load.
    pub fn new(
        remote_write: Option<&str>,
        headers: &[String],
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
        Ok(LiveOptions { remote_write })
    }

    /// The observers of this run; `run_id` names it in every series.
    pub fn observers(
        self,
        scenario: &Scenario,
        names: &Names,
        run: metrics::RunLabels,
    ) -> Result<Vec<Box<dyn Observer>>, remote_write::RemoteWriteError> {
        let mut out: Vec<Box<dyn Observer>> = Vec::new();
        if let Some((url, headers)) = self.remote_write {
            let faults = scenario
                .timeline
                .faults
                .iter()
                .map(|w| (w.name.clone(), scenario.file.faults[w.index].on.to_string()))
                .collect();
            let metrics = metrics::Metrics::new(run, names, faults);
            out.push(Box::new(remote_write::RemoteWrite::start(
                metrics, &url, headers,
            )?));
        }
        Ok(out)
    }
}
