//! surge rehearses a registration deadline before it happens: an open-model
//! surge of applicants across the channels of an e-Meterai platform, with
//! outages injected on a timeline and objectives that decide the exit code.
//!
//! # Layout
//!
//! The modules follow the data flow of a rehearsal:
//!
//! - [`scenario`]: reads and checks scenario files (YAML), reports every
//!   problem at its line and column, and yields a validated [`Scenario`]
//!   with its timeline. Also the JSON Schema of the format.
//! - [`schedule`]: the arrival schedule, as seeded data.
//! - [`runner`]: carries out a scenario on goose: dispatch, journeys,
//!   target, the run folder; [`recorder`] turns what users measured into
//!   HDR histograms and per-second files.
//! - [`faults`]: carries out the scenario's fault timeline during a run,
//!   on the twin's switches, the [`proxy`] or external hooks.
//! - [`rundata`] reads a run folder back; [`gate`] judges it (objectives,
//!   validity, comparisons, capacity); [`report`] writes what people and
//!   CI read; [`summary`] is the `summary.json` contract.
//! - [`twin`]: the built-in e-Meterai platform to rehearse against;
//!   [`proxy`]: the fault-injecting TCP/HTTP proxy.
//! - [`cli`]: one function per subcommand, called by `main.rs` after it
//!   parsed the command line, so tests drive exactly what users run.
//!
//! Exit codes are part of the interface: see [`Exit`].
//!
//! [`Scenario`]: scenario::Scenario

pub mod cli;
pub mod faults;
pub mod gate;
pub mod merge;
pub mod pdf;
pub mod proxy;
pub mod recorder;
pub mod report;
pub mod rundata;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod summary;
pub mod twin;

/// What the process's exit code means; documented in README and `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for succeeded, and every objective was met.
    Ok = 0,
    /// An objective or a comparison failed.
    Failed = 1,
    /// The scenario or the command line is wrong.
    BadInput = 2,
    /// The run could not be carried out (target unreachable, I/O error).
    RunError = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
