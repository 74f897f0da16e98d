//! The runner: carries out a scenario and records it, nothing more. It
//! resolves the target (starting the twin in-process when asked), compiles
//! the plan, opens the run folder, starts the fault runtime, the
//! dispatcher (arrivals at their instants), the goose attack whose users
//! are the concurrency pool, and the flusher (the recorder, once a
//! second), then waits for the schedule and the drain to end. It does not
//! judge or report: the caller hands the folder to [`crate::finish`].
//!
//! Its rooms: `overrides` (the command line's changes to the scenario),
//! `target` (with `client`, the HTTP clients of a target with TLS
//! settings), `plan`, `run_folder`, `fault_runtime`, `pool` (goose users
//! and their transaction), `dispatch`, `journey` (one applicant's steps),
//! `flush` (the clock), `control` (stopping), `progress`, `quiet`
//! (goose's output) and `summary` (what the runner says of its run).

mod client;
pub mod control;
mod dispatch;
mod early;
mod example;
mod fault_runtime;
mod feed;
mod flush;
mod http1;
pub mod journey;
pub mod limits;
mod overrides;
pub mod plan;
mod pool;
mod progress;
mod quiet;
mod run_folder;
pub(crate) mod summary;
pub mod target;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::recorder::{Flusher, Recorder};
use crate::scenario::Scenario;
use crate::schedule::{Schedule, Shard};
use crate::summary::Summary;
use control::Control;
use dispatch::Dispatcher;
use fault_runtime::FaultRuntime;
use journey::Shared;
use plan::{Plan, PlanError};
use pool::Pool;
use target::TargetError;

pub use limits::{Estimate, estimate};
pub use overrides::apply_overrides;
pub use pool::allocate_users;
pub use pool::users_of;

/// How to carry out a run, beyond the scenario itself.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The scenario file (copied into the run folder).
    pub scenario_path: PathBuf,
    /// Overrides `load.scale`.
    pub scale: Option<f64>,
    /// Stretches or compresses the timeline to this length.
    pub duration: Option<Duration>,
    /// Overrides `seed`.
    pub seed: Option<u64>,
    /// Overrides `load.max_in_flight`.
    pub max_in_flight: Option<u32>,
    /// Write the run folder here instead of `reports/NAME/TIMESTAMP`.
    pub out: Option<PathBuf>,
    /// Where run folders go by default.
    pub reports_dir: PathBuf,
    /// Load a target off loopback even if `allow_hosts` does not list it.
    pub allow_remote_target: bool,
    /// Keep goose's own metrics and write its report, as a cross-check.
    pub goose_metrics: bool,
    /// Print a live progress line on stderr.
    pub progress: bool,
    /// Hide what goose prints on stdout (its "users launched" line).
    pub quiet_goose: bool,
    /// This process's part of a split run.
    pub shard: Shard,
    /// Wall-clock instant at which the schedule starts (`--start-at`).
    pub start_at: Option<SystemTime>,
    /// Worker threads of the generator's runtime (default: one per core).
    pub threads: Option<usize>,
    /// Push the run's series to this Prometheus remote-write URL.
    pub prometheus_rw: Option<String>,
    /// `Name: value` headers of the pushes (`${ENV}` for secrets).
    pub prometheus_rw_headers: Vec<String>,
    /// Serve a live page of the run here (`--dashboard`).
    pub dashboard: Option<String>,
    /// Let the dashboard listen off loopback.
    pub allow_remote_dashboard: bool,
    /// Keep serving the dashboard this long after the run.
    pub dashboard_linger: Duration,
    /// The dashboard, once listening (set by the command line before the
    /// run, so a port in use is refused before any load).
    pub board: Option<std::sync::Arc<crate::live::dashboard::Board>>,
    /// Index the finished run folder in this history (`None`: no history).
    pub history: Option<PathBuf>,
    /// The capacity search this run is a trial of (its folder).
    pub trial_of: Option<PathBuf>,
    /// `--set` overrides and the variant the scenario was resolved with.
    pub resolve: crate::scenario::Resolve,
    /// Which objectives may stop the run once decided missed.
    pub stop_early: crate::gate::early::Policy,
}

/// The arrivals a run of `scenario` with `opts` will be offered, per
/// (second, journey): its schedule after `--scale`, `--seed` and
/// `--duration`, before any sharding.
pub fn planned_arrivals(scenario: &Scenario, opts: &RunOptions) -> crate::schedule::PerSecond {
    let mut s = scenario.clone();
    overrides::apply_overrides(&mut s, opts);
    crate::schedule::per_second(&s)
}

impl RunOptions {
    pub fn new(scenario_path: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            scenario_path: scenario_path.into(),
            scale: None,
            duration: None,
            seed: None,
            max_in_flight: None,
            out: None,
            reports_dir: PathBuf::from("reports"),
            allow_remote_target: false,
            goose_metrics: false,
            progress: false,
            quiet_goose: false,
            shard: Shard::WHOLE,
            start_at: None,
            threads: None,
            prometheus_rw: None,
            prometheus_rw_headers: Vec::new(),
            dashboard: None,
            allow_remote_dashboard: false,
            dashboard_linger: Duration::ZERO,
            board: None,
            history: None,
            trial_of: None,
            resolve: crate::scenario::Resolve::default(),
            stop_early: crate::gate::early::Policy::AsWritten,
        }
    }
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the load generator failed: {0}")]
    Goose(String),
    #[error(transparent)]
    Faults(#[from] crate::faults::FaultsError),
    /// The load, after the command line's overrides, is beyond what one
    /// process carries.
    #[error("{}", limits::describe(.0))]
    Limits(Vec<crate::scenario::diagnostic::Problem>),
    #[error(
        "this run needs about {need} open files (a connection per journey in flight, and the \
         run's own), but the process may open only {have}; raise the limit (`ulimit -n`), lower \
         load.max_in_flight, or split the load over shards (--shard K/N)"
    )]
    Descriptors { need: u64, have: u64 },
    #[error(
        "this run would hold about {estimate} at its peak, more than the {available_mb} MB this \
         machine has available; lower load.max_in_flight or the bodies' sizes, or split the load \
         over shards (--shard K/N) on several machines"
    )]
    Memory { estimate: String, available_mb: u64 },
    #[error(
        "a sharded run cannot start its own twin: {shards} shards would rehearse against {shards} \
         twins (each with the whole signing pool, stock and waiting room), and the twin's faults \
         would reach only shard 1's. Start one twin apart (`surge twin --config SCENARIO --listen \
         127.0.0.1:8080`) and point every shard at it: replace `target.twin` with `base_url: \
         http://127.0.0.1:8080` and `admin: http://127.0.0.1:8080`"
    )]
    ShardedTwin { shards: u64 },
    #[error(transparent)]
    Live(#[from] crate::live::remote_write::RemoteWriteError),
    #[error(transparent)]
    Books(#[from] crate::books::BooksError),
}

impl RunError {
    /// Goose's error with what goose says about it: its own message names
    /// only the kind ("invalid option or value specified").
    pub fn goose(e: goose::GooseError) -> RunError {
        RunError::Goose(match e {
            goose::GooseError::InvalidOption {
                option,
                value,
                detail,
            } => format!("goose refused {option} = {value}: {detail}"),
            e => e.to_string(),
        })
    }

    /// The scenario or the command line asks for what cannot be run (exit
    /// 2), as opposed to a run that failed (exit 3).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RunError::Target(TargetError::NotLoopback { .. })
                | RunError::Limits(_)
                | RunError::Descriptors { .. }
                | RunError::Memory { .. }
                | RunError::ShardedTwin { .. }
                | RunError::Live(_)
                | RunError::Books(crate::books::BooksError::Source { .. })
        )
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What a run left behind: its folder of per-second files and what the
/// runner knows besides them. Not judged yet: [`crate::finish::finish`]
/// totals, judges and reports it.
pub struct RunResult {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// Carries out `scenario` and records it in a new run folder. Blocks until
/// the run is over; builds its own runtimes, so call it from outside any
/// async context. (Long: it is the run's table of contents, each line a
/// call in the order the pieces must start and stop.)
pub fn run(mut scenario: Scenario, opts: &RunOptions) -> Result<RunResult, RunError> {
    let time_factor = apply_overrides(&mut scenario, opts);
    limits::check(&scenario, opts.shard)?;
    let live = crate::live::LiveOptions::new(
        opts.prometheus_rw.as_deref(),
        &opts.prometheus_rw_headers,
        opts.board.clone(),
    )?;
    quiet::install_logger();
    let mut target = target::resolve(&scenario.file.target, opts.allow_remote_target)?;
    let faults = fault_runtime::start(&scenario, &mut target, opts.shard)?;
    target::secure(&mut target, &scenario.file.target, &scenario.base_dir)?;
    for place in &target.unverified {
        eprintln!(
            "surge: WARNING: TLS certificates of the {place} are NOT verified (insecure_skip_verify): \
             anyone between surge and the target can read and change its traffic"
        );
    }
    let plan = Arc::new(Plan::new(
        &scenario,
        &target.bases,
        Some(&target.default_base),
        &target.clients,
    )?);
    let dir = run_folder::create(&scenario, opts)?;
    let mut observers = live.observers(
        &scenario,
        &plan.names(),
        run_labels(&scenario, opts, &dir),
        crate::live::Target {
            shown: &target.shown,
            twin: target.twin.as_ref().map(|(_, r)| r.twin.clone()),
            dir: &dir,
        },
    )?;
    let runtime = generator_runtime(opts.threads)?;
    // The books' pools belong to the runtime that reads them.
    let (books, ids) = {
        let _in = runtime.enter();
        open_books(&scenario, &target, &dir)?
    };
    let users = pool::users_of(&scenario, opts.shard);
    let control = Control::new();
    control::route_signals(&control);
    observers.extend(early::observer(
        &scenario,
        &plan,
        opts.shard,
        time_factor,
        opts.stop_early,
        &control,
        opts.trial_of.is_none(),
    ));
    let recorder = Recorder::new(plan.journeys.len(), plan.steps.len());
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        recorder: recorder.clone(),
        control: control.clone(),
        deadline: scenario.timeline.deadline,
        max_lateness: scenario.file.load.max_lateness.0,
        seed: scenario.file.seed,
        feeds: feed::feeds(&scenario, opts.shard),
        goose_metrics: opts.goose_metrics,
        ids: ids.clone(),
    });
    let capacities = pool::queue_capacities(&scenario, opts.shard, &users);
    let (pool, queues) = Pool::new(users.clone(), &capacities, shared);
    let schedule = Schedule::new(&scenario, opts.shard);
    let expected: f64 = schedule.expected().iter().sum::<f64>() / opts.shard.count as f64;
    let dispatcher = Dispatcher {
        schedule,
        queues,
        idle: pool.idle(),
        recorder: recorder.clone(),
        control: control.clone(),
        users: users.iter().sum(),
        start_at: opts.start_at,
    };
    let context = summary::Context {
        scenario: &scenario,
        opts,
        time_factor,
        target_kind: target.kind,
        target_shown: target.shown.clone(),
        tls_unverified: target.unverified.clone(),
        users,
        names: plan.names(),
        expected,
    };
    let started = SystemTime::now();
    let drive = Drive {
        scenario: &scenario,
        opts,
        plan: &plan,
        dir: &dir,
        control: &control,
        recorder,
        faults: &faults,
        initial: summary::initial(&context, started),
        host: &target.default_base,
        observers,
        books: books.clone(),
        ids,
    };
    if let Some(b) = &books {
        runtime.block_on(b.before());
    }
    let outcome = runtime.block_on(drive.run(pool, dispatcher));
    // The settle reads a twin still running, and Ctrl-C still cuts it.
    let books =
        books.map(|b| runtime.block_on(b.finish(control.t0(), || control.interrupted(), &dir)));
    control::release_signals();
    let ledger = target.stop();
    runtime.shutdown_timeout(Duration::from_secs(2));
    let FaultRuntime { driver, runtime } = faults;
    if let Some(rt) = runtime {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    let flusher = outcome?;
    let end = summary::End {
        started,
        t0: control.t0(),
        interrupted: control.interrupted(),
        stopped_early: control.stopped_early(),
        cpu: flusher.cpu(),
        ledger,
    };
    let mut summary = summary::ended(&context, end);
    summary.books = books;
    for (name, record) in driver.records() {
        if let Some(info) = summary.timeline.faults.iter_mut().find(|f| f.name == name) {
            info.applied_s = record.applied_s;
            info.removed_s = record.removed_s;
            info.error = record.error;
        }
    }
    Ok(RunResult { dir, summary })
}

/// The books' watch and our side's id log, when the scenario reads books
/// (the log only when a reconciliation needs it).
type OpenBooks = (
    Option<Arc<crate::books::Watch>>,
    Option<Arc<crate::books::ids::IdLog>>,
);

fn open_books(
    scenario: &Scenario,
    target: &target::Resolved,
    dir: &std::path::Path,
) -> Result<OpenBooks, RunError> {
    let Some(spec) = &scenario.file.books else {
        return Ok((None, None));
    };
    let at = crate::books::source::Opening {
        target: &target.default_base,
        base_dir: &scenario.base_dir,
        target_tls: scenario.file.target.tls.as_ref(),
        timeout: spec.timeout.0,
        client: &target::client_for,
    };
    let watch = crate::books::Watch::open(spec, &at, dir)?;
    let ids = (!spec.reconcile.is_empty()).then(|| Arc::new(crate::books::ids::IdLog::new(dir)));
    Ok((Some(watch), ids))
}

/// What names this run in live series: the shards of one run share its
/// `run_id` when they share a start (`--start-at`).
fn run_labels(
    scenario: &Scenario,
    opts: &RunOptions,
    dir: &std::path::Path,
) -> crate::live::metrics::RunLabels {
    let name = scenario.file.name.to_string();
    let when = match opts.start_at {
        Some(at) => at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string(),
        None => dir
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
    };
    crate::live::metrics::RunLabels {
        run_id: format!("{name}-{when}"),
        shard: format!("{}/{}", opts.shard.index + 1, opts.shard.count),
        scenario: name,
    }
}

/// How long lifting the faults still on at the end may take (a hook that
/// does not answer must not hold the run open).
const LIFT_WAIT: Duration = Duration::from_secs(3);

/// The generator's runtime: the goose users' tasks.
fn generator_runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, RunError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    builder
        .thread_name("surge-generator")
        .enable_all()
        .build()
        .map_err(io("cannot start the runtime"))
}

/// What the run's async part works with.
struct Drive<'a> {
    scenario: &'a Scenario,
    opts: &'a RunOptions,
    plan: &'a Plan,
    dir: &'a PathBuf,
    control: &'a Arc<Control>,
    recorder: Arc<Recorder>,
    faults: &'a FaultRuntime,
    initial: Summary,
    host: &'a str,
    observers: Vec<Box<dyn crate::recorder::observe::Observer>>,
    books: Option<Arc<crate::books::Watch>>,
    ids: Option<Arc<crate::books::ids::IdLog>>,
}

impl Drive<'_> {
    /// Starts the flusher, the fault timeline and the cutter, runs the
    /// goose attack to its end, lifts every fault, and waits for the last
    /// second to be written.
    async fn run(self, pool: Pool, dispatcher: Dispatcher) -> Result<Flusher, RunError> {
        let (scenario, control, driver) = (self.scenario, self.control, &self.faults.driver);
        let dispatch = tokio::spawn(dispatcher.run());
        let flusher = tokio::spawn(flush::flush_loop(flush::FlushJob {
            dir: self.dir.clone(),
            names: self.plan.names(),
            recorder: self.recorder.clone(),
            control: control.clone(),
            phases: scenario.timeline.phases.clone(),
            progress: self.opts.progress,
            planned: scenario.timeline.total,
            initial: self.initial,
            faults: (!driver.is_empty()).then(|| driver.clone()),
            observers: self.observers,
            ids: self.ids.clone(),
            books: self.books.clone(),
        }));
        let books = self.books.clone().map(|b| {
            let control = control.clone();
            tokio::spawn(async move {
                // A run cut before it starts has no load to watch.
                if let Some(t0) = control.unless_cut(control.started()).await {
                    b.during(t0, || control.is_cut()).await;
                }
            })
        });
        let fault_runtime = self.faults.runtime.as_ref().map(|rt| rt.handle().clone());
        if let Some(rt) = &fault_runtime {
            let (driver, control) = (driver.clone(), control.clone());
            rt.spawn(async move {
                let t0 = control.started().await;
                driver.run(t0).await;
            });
        }
        let drain_end = scenario.timeline.total + scenario.file.load.drain.0;
        tokio::spawn(flush::cut_at_end(control.clone(), drain_end));
        let attack = pool::attack(self.plan, pool, self.host, self.opts, self.dir)?;
        let silence = self.opts.quiet_goose.then(quiet::StdoutSilencer::new);
        // A user that does not notice the cut must not hold the run open:
        // the attack gets the settling time, then is left behind (its
        // journeys count as unfinished; the runtime's shutdown ends it).
        let result = tokio::select! {
            r = attack.execute() => Some(r),
            _ = control.cut_for(flush::SETTLE) => None,
        };
        drop(silence);
        control.cut();
        control.set_users_done();
        if let (Some(t0), Some(rt)) = (control.t0(), &fault_runtime) {
            let driver = driver.clone();
            let lift = rt.spawn(async move { driver.lift_all(t0).await });
            let _ = tokio::time::timeout(LIFT_WAIT, lift).await;
        }
        if let Some(result) = result {
            result.map_err(RunError::goose)?;
        }
        // The cut set the stop flag, which the dispatcher sees within one
        // slice of its sleep (50 ms).
        match dispatch.await {
            Ok(Ok(_handed)) => {}
            Ok(Err(e)) => return Err(io("the dispatcher's timer failed")(e)),
            Err(panicked) => return Err(io("the dispatcher failed")(panicked.into())),
        }
        if let Some(books) = books {
            // It ends at the cut, once a reading under way is done.
            let _ = books.await;
        }
        let writing = format!(
            "cannot write the run's measurements to {}",
            self.dir.display()
        );
        flusher
            .await
            .map_err(|e| io(writing.clone())(e.into()))?
            .map_err(io(writing))
    }
}
