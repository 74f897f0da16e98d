//! `surge whatif`: the scenario as written (the baseline) and each of its
//! variants, run one after another on the same seeded schedule, each a
//! normal run folder (judged, reported, indexed) under one
//! `whatif-TIMESTAMP/` folder; then the comparison of their folders
//! (`compare`), written as `whatif.json`, `whatif.md` and `whatif.html`
//! (`report`). A run that cannot be carried out is marked, not fatal; a
//! Ctrl-C stops the sequence and the comparison covers what ran.

pub mod compare;
pub mod report;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::runner::RunOptions;
use crate::scenario::diagnostic::Problem;
use crate::scenario::{Resolve, Scenario};
pub use compare::{BASELINE, Comparison, Planned, Ran};

/// A what-if to carry out.
#[derive(Clone, Debug)]
pub struct Whatif {
    /// Options every run shares (scenario file, `--set`, `--duration`,
    /// `--scale`, history...); `out` and the variant are set per run.
    pub base: RunOptions,
    /// Variants to run, by name; empty: every variant of the file.
    pub variants: Vec<String>,
    /// The what-if's folder.
    pub out: PathBuf,
    pub rate_tolerance: f64,
}

#[derive(Debug, Error)]
pub enum WhatifError {
    #[error("{}", render(problems, file))]
    Scenario {
        problems: Vec<Problem>,
        file: String,
    },
    #[error(
        "the scenario has no variants: add `variants:` (a list of {{ name, description, set }}), or name a scenario that has them"
    )]
    NoVariants,
    #[error("the scenario has no variant `{0}`; its variants: {1}")]
    UnknownVariant(String, String),
    #[error("cannot create {}: {source}; nothing was run", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every problem on its own line, located in `file`.
fn render(problems: &[Problem], file: &str) -> String {
    problems
        .iter()
        .map(|p| p.render(file))
        .collect::<Vec<_>>()
        .join("\n")
}

impl WhatifError {
    /// Whether the command line or the scenario must change (exit 2).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, WhatifError::Write { .. })
    }
}

/// One run of the sequence, resolved and checked before any load.
struct Step {
    plan: Planned,
    scenario: Scenario,
    opts: RunOptions,
}

/// Resolves the baseline and every chosen variant, so a scenario or a
/// variant that does not validate stops the what-if before any load.
fn resolve(w: &Whatif) -> Result<Vec<Step>, WhatifError> {
    let path = &w.base.scenario_path;
    let shown = path.display().to_string();
    let load = |variant: Option<&str>| {
        let how = Resolve {
            sets: w.base.resolve.sets.clone(),
            variant: variant.map(str::to_string),
        };
        crate::scenario::load_with(path, Some(1), &how)
            .map(|(s, _)| s)
            .map_err(|problems| WhatifError::Scenario {
                problems,
                file: shown.clone(),
            })
    };
    let base = load(None)?;
    let all: Vec<&crate::scenario::model::Variant> = base.file.variants.iter().collect();
    if all.is_empty() {
        return Err(WhatifError::NoVariants);
    }
    let names = || {
        all.iter()
            .map(|v| v.name.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen: Vec<&crate::scenario::model::Variant> = if w.variants.is_empty() {
        all.clone()
    } else {
        let mut chosen = Vec::new();
        for name in &w.variants {
            let v = all
                .iter()
                .find(|v| v.name.0 == *name)
                .ok_or_else(|| WhatifError::UnknownVariant(name.clone(), names()))?;
            chosen.push(*v);
        }
        chosen
    };
    let step = |name: &str, scenario: Scenario, description: String, sets: Vec<String>| {
        let mut opts = w.base.clone();
        opts.out = Some(w.out.join(name));
        opts.resolve.variant = (name != BASELINE).then(|| name.to_string());
        Step {
            plan: Planned {
                name: name.to_string(),
                description,
                sets,
                folder: name.to_string(),
                arrivals: crate::runner::planned_arrivals(&scenario, &opts),
            },
            scenario,
            opts,
        }
    };
    let mut steps = vec![step(
        BASELINE,
        base.clone(),
        "the scenario as written".into(),
        Vec::new(),
    )];
    for v in chosen {
        let scenario = load(Some(&v.name.0))?;
        let sets = v
            .set
            .iter()
            .map(|(path, value)| match value {
                serde_json::Value::String(s) => format!("{path}={s}"),
                other => format!("{path}={other}"),
            })
            .collect();
        steps.push(step(
            &v.name.0,
            scenario,
            v.description.trim().to_string(),
            sets,
        ));
    }
    Ok(steps)
}

/// Carries out the what-if: every run, then the comparison written in
/// three formats. `say` hears one line as each run starts and ends.
pub fn carry_out(w: &Whatif, say: &mut dyn FnMut(&str)) -> Result<Comparison, WhatifError> {
    let steps = resolve(w)?;
    std::fs::create_dir_all(&w.out).map_err(|source| WhatifError::Folder {
        path: w.out.clone(),
        source,
    })?;
    let total = steps.len();
    let mut ran: Vec<(Planned, Ran)> = Vec::with_capacity(total);
    for (i, step) in steps.into_iter().enumerate() {
        if i > 0 && crate::runner::control::interrupted_since_last_run() {
            ran.push((step.plan, Ran::NotCarriedOut("not run: interrupted".into())));
            continue;
        }
        say(&format!(
            "[{}/{total}] {}: running ({})",
            i + 1,
            step.plan.name,
            if step.plan.sets.is_empty() {
                "as written".to_string()
            } else {
                step.plan.sets.join(", ")
            }
        ));
        let outcome = match crate::finish::run(step.scenario, &step.opts, Some(w.rate_tolerance)) {
            Ok(finished) => {
                let s = &finished.data.summary;
                let verdict = s.gate.as_ref().map_or("not judged", |g| g.verdict.as_str());
                say(&format!(
                    "[{}/{total}] {}: {}, objectives {verdict}",
                    i + 1,
                    step.plan.name,
                    s.status.as_str()
                ));
                if let Some(warning) = &finished.history_warning {
                    say(&format!("warning: {warning}"));
                }
                // The comparison reads the summary and the per-second
                // journey counts; the latency series stay in the folder
                // rather than in memory for the rest of the sequence.
                let mut data = finished.data;
                data.series.clear();
                data.steps.clear();
                data.examples.clear();
                Ran::Data(Box::new(data))
            }
            Err(e) => {
                say(&format!(
                    "[{}/{total}] {}: could not be carried out: {e}",
                    i + 1,
                    step.plan.name
                ));
                Ran::NotCarriedOut(format!("could not be carried out: {e}"))
            }
        };
        ran.push((step.plan, outcome));
    }
    let comparison = compare::compare(&w.base.scenario_path.display().to_string(), &ran);
    report::write(&w.out, &comparison, &ran)?;
    Ok(comparison)
}

/// Where a what-if goes by default: `reports/NAME/whatif-TIMESTAMP`.
pub fn default_folder(reports: &Path, scenario: &Path) -> PathBuf {
    let name = crate::scenario::load_with(scenario, None, &Resolve::default())
        .map(|(s, _)| s.file.name.to_string())
        .unwrap_or_else(|_| {
            scenario
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
        });
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ");
    reports.join(name).join(format!("whatif-{stamp}"))
}

/// Whether every run was carried out and valid (exit 0, else 3).
pub fn all_valid(c: &Comparison) -> bool {
    c.runs.iter().all(|r| r.carried_out && r.valid)
}
