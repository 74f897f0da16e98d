//! A run folder is finished here, and only here: its measurements are read
//! back, its totals built from the per-second files, the gate judges it,
//! `summary.json` is written atomically, the folder is indexed in the run
//! history, and every report format is written after it.
//! `surge run`, each capacity trial, `surge merge` and `surge report` call
//! [`finish`]; the runner runs and records, it neither judges nor reports.
//! Because everything is read from the folder's files, the same folder
//! finished again later gives the same summary and the same verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::rundata::{DataError, RunData};
use crate::runner::RunOptions;
use crate::scenario::Scenario;
use crate::scenario::model::Objective;
use crate::summary::{DEFAULT_RATE_TOLERANCE, Summary};

/// How to finish a run folder.
#[derive(Clone, Debug, Default)]
pub struct Finish {
    /// The objectives to judge. `None`: those the run was judged on
    /// before, else those of its scenario copy (`scenario.yaml`).
    pub objectives: Option<Vec<Objective>>,
    /// The validity tolerance (`--rate-tolerance`). `None`: the run's own,
    /// else the default.
    pub rate_tolerance: Option<f64>,
    /// Build the totals from the per-second files even when `summary.json`
    /// has them. A run killed midway gets them built in any case.
    pub rebuild: bool,
    /// Write `summary.json` (a run, a merge, `surge report --rebuild`);
    /// otherwise it is an input, left as it is.
    pub write_summary: bool,
    /// Write into this folder instead of the run folder.
    pub into: Option<PathBuf>,
    /// Index the run folder in this history (before the reports, so their
    /// History section holds this run).
    pub history: Option<PathBuf>,
    /// The capacity search the run is a trial of.
    pub trial_of: Option<PathBuf>,
}

/// Why a run folder could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
    #[error(transparent)]
    Read(#[from] DataError),
    #[error("cannot write into {dir}: {source}")]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// What finishing left behind.
pub struct Finished {
    /// The run as judged, its summary with the gate's verdict.
    pub data: RunData,
    /// The run never wrote its totals (it was killed): they were built
    /// from the per-second files.
    pub was_killed: bool,
    /// Where the reports went.
    pub dir: PathBuf,
    /// Why the run is not in the history, when it could not be indexed:
    /// one warning, never a failure.
    pub history_warning: Option<String>,
}

/// Carries out `scenario` and finishes its run folder: `surge run` and
/// each capacity trial. The objectives judged are the scenario's.
pub fn run(
    scenario: Scenario,
    opts: &RunOptions,
    rate_tolerance: Option<f64>,
) -> Result<Finished, FinishError> {
    let how = Finish {
        objectives: Some(scenario.file.objectives.clone()),
        rate_tolerance,
        rebuild: true,
        write_summary: true,
        into: None,
        history: opts.history.clone(),
        trial_of: opts.trial_of.clone(),
    };
    let result = crate::runner::run(scenario, opts)?;
    give_back_freed_memory();
    finish(&result.dir, Some(result.summary), &how)
}

/// Hands the memory the generator freed back to the system. Its buffers
/// were freed into its worker threads' malloc arenas, which this thread
/// does not reuse: without this a run's peak memory was its load's plus
/// the report's, which grows with the run's length (26.8 MB after 1
/// million requests, 29.9 MB after 10 million, at 20,000/s).
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory glibc holds; it is
    // safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Finishes the run folder `dir`. `summary`, when given, replaces the
/// folder's `summary.json` (a run or a merge hands over what it knows
/// besides the per-second files: status, timing, users, ledger, CPU).
pub fn finish(dir: &Path, summary: Option<Summary>, how: &Finish) -> Result<Finished, FinishError> {
    let mut data = match summary {
        Some(s) => RunData::load_with(dir, s)?,
        None => RunData::load(dir)?,
    };
    let was_killed = data.needs_rebuild();
    // The scenario as it ran: its copy in the run folder.
    // Its load was checked when it ran (per shard), so not again here.
    let scenario = crate::scenario::load_split(&dir.join("scenario.yaml"), None)
        .ok()
        .map(|(s, _)| s);
    if how.rebuild || was_killed {
        let channels = scenario.as_ref().map(channels).unwrap_or_default();
        data.rebuild_totals(|name| channels.get(name).cloned());
    }
    let previous = data.summary.gate.as_ref();
    let objectives = match (&how.objectives, previous, &scenario) {
        (Some(o), _, _) => o.clone(),
        (None, Some(g), _) => g.objectives.iter().map(|o| o.spec.clone()).collect(),
        (None, None, Some(s)) => s.file.objectives.clone(),
        (None, None, None) => Vec::new(),
    };
    let tolerance = how
        .rate_tolerance
        .or(previous.map(|g| g.validity.rate_tolerance))
        .unwrap_or(DEFAULT_RATE_TOLERANCE);
    data.summary.gate = Some(crate::gate::judge(&objectives, &data, tolerance));
    let into = how.into.clone().unwrap_or_else(|| dir.to_path_buf());
    let written = |source| FinishError::Write {
        dir: into.clone(),
        source,
    };
    std::fs::create_dir_all(&into).map_err(written)?;
    if how.write_summary {
        data.summary.write(&into).map_err(written)?;
    }
    let history_warning =
        how.history.as_deref().and_then(|path| {
            match crate::history::record_run(path, &data, how.trial_of.as_deref()) {
                Ok(h) => {
                    if how.trial_of.is_none() {
                        data.history = h.recent(&data.summary.scenario.name, HISTORY_SHOWN).ok();
                    }
                    None
                }
                Err(warning) => Some(warning),
            }
        });
    crate::report::write_into(&data, &into).map_err(written)?;
    Ok(Finished {
        data,
        was_killed,
        dir: into,
        history_warning,
    })
}

/// How many earlier runs a report's History section shows.
const HISTORY_SHOWN: usize = 30;

/// The channel of every journey and step (`JOURNEY.STEP`) of a scenario.
fn channels(s: &Scenario) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (name, j) in &s.file.journeys {
        map.insert(name.clone(), j.channel.to_string());
        for step in &j.steps {
            let channel = step.channel.as_ref().unwrap_or(&j.channel);
            map.insert(format!("{name}.{}", step.name), channel.to_string());
        }
    }
    map
}
