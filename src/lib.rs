//! surge rehearses a registration deadline before it happens: an open-model
//! surge of applicants across the channels of an e-Meterai platform, with
//! outages injected on a timeline and objectives that decide the exit code.
//!
//! # Layout
//!
//! The modules follow the data flow of a rehearsal, one line each:
//!
//! - [`scenario`]: reads and checks scenario files (YAML), every problem at
//!   its line and column, into a validated [`Scenario`]; the JSON Schema.
//! - [`schedule`]: the arrival schedule, as lazily generated seeded data.
//! - [`runner`]: carries out a scenario on goose and records it in a run
//!   folder; it neither judges nor reports.
//! - [`recorder`]: turns what users measured into HDR histograms and the
//!   per-second files (a second was recorded: the one place it happens).
//! - [`faults`]: carries out the fault timeline on the twin's switches,
//!   the [`proxy`] or external hooks.
//! - [`folder`]: the run folder's contract: its file names, the series of
//!   its interval log, the rows of its CSV files, their one writer and
//!   reader.
//! - [`finish`]: finishes a run folder (read back, total, judge, write
//!   `summary.json` and every report): called by run, report, merge and
//!   each capacity trial.
//! - [`rundata`]: reads a run folder back and builds its totals.
//! - [`gate`]: judges a run (objectives, validity), compares runs, says
//!   what a capacity trial needs and what it showed.
//! - [`capacity`]: the capacity search, a bisection over trial runs.
//! - [`predict`]: capacity before load: a queueing model of the scenario
//!   against the twin's configuration, evaluated without a request.
//! - [`fit`]: a twin fitted to the user's own platform from a short
//!   staged measurement (probe, ramp to the bend, M/G/c fit).
//! - [`report`]: the formats people and CI read (HTML, Markdown, JUnit,
//!   the terminal's text).
//! - [`merge`]: adds the run folders of a run's shards into one.
//! - [`whatif`]: the scenario and its variants run on the same arrivals,
//!   compared from their run folders.
//! - [`import`]: the user's own platform brought in: a scenario's load
//!   (and journeys) from its access logs, a journey from a browser's
//!   recording of it (HAR), dynamic values correlated.
//! - [`live`]: views of a run as it goes (dashboard, `/metrics`,
//!   Prometheus remote write), observers of each recorded second.
//! - [`summary`]: the `summary.json` and `capacity.json` contracts.
//! - [`twin`]: the built-in e-Meterai platform to rehearse against;
//!   [`pdf`]: the documents its applicants upload.
//! - [`proxy`]: the fault-injecting TCP/HTTP proxy.
//! - [`history`]: the SQLite index of finished runs and capacity searches
//!   (list, trends, baselines), rebuilt from run folders at will.
//! - [`net`], [`human`], [`provenance`]: leaf helpers (loopback and
//!   host:port; figures as people read them; git and CI identifiers).
//! - [`cli`]: one function per subcommand, and the arguments clap reads,
//!   called by `main.rs`, so tests drive exactly what users run.
//!
//! # Layers
//!
//! From the ground up: a module imports only from its own layer and the
//! layers before it, and no modules import each other around a circle.
//! `tests/layers.rs` reads this list and `src/`, and fails naming the file
//! and the import that breaks either rule; a new top-level module must be
//! added here.
//!
//! 1. leaves: net, human, pdf
//! 2. contracts: scenario, summary, folder, provenance
//! 3. logic: schedule, rundata, gate, report, history
//! 4. machinery: recorder, runner, books, live, twin, proxy, faults
//! 5. drivers: finish, capacity, predict, fit, whatif, merge, import
//! 6. face: cli
//!
//! Exit codes are part of the interface: see [`Exit`].
//!
//! [`Scenario`]: scenario::Scenario

pub mod books;
pub mod capacity;
pub mod cli;
pub mod faults;
pub mod finish;
pub mod fit;
pub mod folder;
pub mod gate;
pub mod history;
pub mod human;
pub mod import;
pub mod live;
pub mod merge;
pub mod net;
pub mod pdf;
pub mod predict;
pub mod provenance;
pub mod proxy;
pub mod recorder;
pub mod report;
pub mod rundata;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod summary;
pub mod twin;
pub mod whatif;

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
