//! The run folder: where a run's files go (`--out`, or
//! `reports/NAME/TIMESTAMP`, never an existing folder of another run), and
//! the copy of the scenario it ran, so the folder can be judged and
//! reported again on its own.

use std::path::PathBuf;

use super::{RunError, RunOptions, io};
use crate::scenario::Scenario;

/// Creates the run folder and writes the scenario as run into it: a copy
/// of the file, or its resolved document when `--set` or a variant
/// changed it.
pub fn create(scenario: &Scenario, opts: &RunOptions) -> Result<PathBuf, RunError> {
    let dir = run_dir(scenario, opts).map_err(io("cannot create the run folder"))?;
    let copy = dir.join("scenario.yaml");
    match &scenario.as_run {
        Some(doc) => std::fs::write(&copy, doc).map(drop),
        None => std::fs::copy(&opts.scenario_path, &copy).map(drop),
    }
    .map_err(io("cannot copy the scenario"))?;
    Ok(dir)
}

/// Where this run's files go: `--out`, or `reports/NAME/TIMESTAMP`.
fn run_dir(scenario: &Scenario, opts: &RunOptions) -> std::io::Result<PathBuf> {
    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out)?;
        return Ok(out.clone());
    }
    let mut stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string();
    if opts.shard.count > 1 {
        stamp = format!(
            "{stamp}-shard-{}-of-{}",
            opts.shard.index + 1,
            opts.shard.count
        );
    }
    let parent = opts.reports_dir.join(scenario.file.name.as_str());
    let mut dir = parent.join(&stamp);
    let mut n = 2;
    while dir.exists() {
        dir = parent.join(format!("{stamp}-{n}"));
        n += 1;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
