//! The runner: carries out a scenario. It resolves the target (starting the
//! twin in-process when asked), compiles the plan, opens the run folder,
//! starts the dispatcher (arrivals at their instants), the goose attack
//! whose users are the concurrency pool, and the flusher (the recorder,
//! once a second), then waits for the schedule and the drain to end and
//! writes the summary. `surge run` is this function behind a command line.

pub mod control;
mod dispatch;
mod finish;
pub mod journey;
pub mod plan;
mod progress;
pub mod target;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use goose::GooseAttack;
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::goose::{GooseUser, Scenario as GooseScenario, Transaction, TransactionFunction};

use crate::recorder::{Flusher, Recorder};
use crate::scenario::Scenario;
use crate::schedule::{Schedule, Shard};
use crate::summary::Summary;
use control::Control;
use dispatch::{Dispatched, Dispatcher};
use journey::{Shared, UserCtx};
use plan::{Plan, PlanError};
use target::TargetError;

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
    /// How far below the schedule started arrivals may fall before the
    /// run is invalid.
    pub rate_tolerance: f64,
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
            rate_tolerance: crate::gate::DEFAULT_RATE_TOLERANCE,
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
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What a run left behind.
pub struct RunResult {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// Applies the command line's overrides to the scenario.
pub fn apply_overrides(scenario: &mut Scenario, opts: &RunOptions) -> f64 {
    if let Some(scale) = opts.scale {
        scenario.file.load.scale = scale;
    }
    if let Some(seed) = opts.seed {
        scenario.file.seed = seed;
    }
    if let Some(n) = opts.max_in_flight {
        scenario.file.load.max_in_flight = n;
    }
    match opts.duration {
        Some(d) if !scenario.timeline.total.is_zero() => {
            let factor = d.as_secs_f64() / scenario.timeline.total.as_secs_f64();
            scenario.timeline.stretch(factor);
            // A staged recovery is part of the timeline's shape too.
            let at = |d: &mut crate::scenario::units::Duration| {
                d.0 = Duration::from_secs_f64(d.0.as_secs_f64() * factor);
            };
            for f in &mut scenario.file.faults {
                if let crate::scenario::model::FaultKind::Outage(o) = &mut f.fault
                    && let Some(r) = &mut o.recovery
                {
                    at(&mut r.stamping);
                    at(&mut r.credits);
                    at(&mut r.sales);
                }
            }
            // So do the moments stocks run dry: the arrivals that use them
            // up scale with the timeline, so the stocks scale with it.
            if let Some(twin) = &mut scenario.file.target.twin {
                twin.scale_stocks(factor);
            }
            factor
        }
        _ => 1.0,
    }
}

/// Users per journey: the cap split by the mix (largest remainder), at
/// least one for every journey that has arrivals.
pub fn allocate_users(shares: &[f64], cap: usize) -> Vec<usize> {
    let total: f64 = shares.iter().sum();
    if total <= 0.0 {
        return vec![0; shares.len()];
    }
    let exact: Vec<f64> = shares.iter().map(|s| s / total * cap as f64).collect();
    let mut users: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| {
        (exact[*b] - exact[*b].floor()).total_cmp(&(exact[*a] - exact[*a].floor()))
    });
    let mut left = cap.saturating_sub(users.iter().sum());
    for i in order {
        if left == 0 {
            break;
        }
        if shares[i] > 0.0 {
            users[i] += 1;
            left -= 1;
        }
    }
    for (u, s) in users.iter_mut().zip(shares) {
        if *s > 0.0 && *u == 0 {
            *u = 1;
        }
    }
    users
}

/// Carries out `scenario`. Blocks until the run is over; builds its own
/// runtimes, so call it from outside any async context.
pub fn run(mut scenario: Scenario, opts: &RunOptions) -> Result<RunResult, RunError> {
    let time_factor = apply_overrides(&mut scenario, opts);
    install_logger();
    let mut target = target::resolve(&scenario.file.target, opts.allow_remote_target)?;
    let (faults, proxy_runtime) = setup_faults(&scenario, &mut target, opts.shard)?;
    let plan = Arc::new(Plan::new(
        &scenario,
        &target.bases,
        Some(&target.default_base),
    )?);
    let dir = run_dir(&scenario, opts).map_err(io("cannot create the run folder"))?;
    std::fs::copy(&opts.scenario_path, dir.join("scenario.yaml"))
        .map_err(io("cannot copy the scenario"))?;

    let shares: Vec<f64> = scenario
        .file
        .journeys
        .keys()
        .map(|name| {
            scenario
                .mix
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, s)| *s)
        })
        .collect();
    let cap = (scenario.file.load.max_in_flight as u64 / opts.shard.count).max(1) as usize;
    let users = allocate_users(&shares, cap);
    let total_users: usize = users.iter().sum();

    let control = Control::new();
    control::route_signals(&control);
    let recorder = Recorder::new(plan.journeys.len());
    let idle: Arc<Vec<AtomicUsize>> =
        Arc::new(plan.journeys.iter().map(|_| AtomicUsize::new(0)).collect());
    let mut queues = Vec::new();
    let mut receivers = Vec::new();
    for u in &users {
        if *u > 0 {
            let (tx, rx) = flume::unbounded::<Dispatched>();
            queues.push(Some(tx));
            receivers.push(Some(rx));
        } else {
            queues.push(None);
            receivers.push(None);
        }
    }
    let schedule = Schedule::new(&scenario, opts.shard);
    let expected: f64 = schedule.expected().iter().sum::<f64>() / opts.shard.count as f64;
    let dispatcher = Dispatcher {
        schedule,
        queues,
        idle: idle.clone(),
        recorder: recorder.clone(),
        control: control.clone(),
        users: total_users,
        start_at: opts.start_at,
    }
    .spawn()
    .map_err(io("cannot start the dispatcher"))?;

    let shared = Arc::new(Shared {
        plan: plan.clone(),
        recorder: recorder.clone(),
        control: control.clone(),
        deadline: scenario.timeline.deadline,
        max_lateness: scenario.file.load.max_lateness.0,
        seed: scenario.file.seed,
    });
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = opts.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder
        .thread_name("surge-generator")
        .enable_all()
        .build()
        .map_err(io("cannot start the runtime"))?;
    let started_wall = SystemTime::now();
    let context = finish::Context {
        scenario: &scenario,
        opts,
        time_factor,
        target_kind: target.kind,
        target_shown: target.shown.clone(),
        users: users.clone(),
        expected,
    };

    let outcome = runtime.block_on(async {
        let flusher = tokio::spawn(flush_loop(FlushJob {
            dir: dir.clone(),
            names: plan.names(),
            recorder: recorder.clone(),
            control: control.clone(),
            phases: scenario.timeline.phases.clone(),
            progress: opts.progress,
            planned: scenario.timeline.total,
            initial: finish::initial(&context, started_wall),
            faults: (!faults.is_empty()).then(|| faults.clone()),
        }));
        // The timeline runs on its own runtime, so a busy generator does
        // not delay a fault's start.
        let fault_runtime = proxy_runtime.as_ref().map(|rt| rt.handle().clone());
        if let Some(rt) = &fault_runtime {
            let (driver, control) = (faults.clone(), control.clone());
            rt.spawn(async move {
                let t0 = control.started().await;
                driver.run(t0).await;
            });
        }
        let drain_end = scenario.timeline.total + scenario.file.load.drain.0;
        tokio::spawn(cut_at_end(control.clone(), drain_end));
        let pool = Pool {
            users: users.clone(),
            receivers,
            shared,
            idle,
        };
        let attack = attack(&plan, pool, &target.default_base, opts, &dir)?;
        let silence = opts.quiet_goose.then(StdoutSilencer::new);
        let result = attack.execute().await;
        drop(silence);
        control.stop();
        control.cut();
        if let (Some(t0), Some(rt)) = (control.t0(), &fault_runtime) {
            let driver = faults.clone();
            let _ = rt.spawn(async move { driver.lift_all(t0).await }).await;
        }
        result.map_err(|e| RunError::Goose(e.to_string()))?;
        let flusher = flusher.await.map_err(|e| RunError::Goose(e.to_string()))?;
        flusher.map_err(io("cannot write the run's measurements"))
    });
    let _ = dispatcher.join();
    control::release_signals();
    let ledger = target.stop();
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Some(rt) = proxy_runtime {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    let flusher = outcome?;
    let t0 = control.t0();
    let mut summary = finish::summary(
        &context,
        &flusher,
        started_wall,
        t0,
        control.interrupted(),
        ledger,
    );
    for (name, record) in faults.records() {
        if let Some(info) = summary.timeline.faults.iter_mut().find(|f| f.name == name) {
            info.applied_s = record.applied_s;
            info.removed_s = record.removed_s;
            info.error = record.error;
        }
    }
    finish::write(&dir, &summary).map_err(io("cannot write summary.json"))?;
    // Judge from the files just written: the same path `surge report` and
    // merges take.
    let mut data = crate::rundata::RunData::load(&dir).map_err(|e| RunError::Io {
        what: "cannot read the run back".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    data.summary.gate = Some(crate::gate::judge(
        &scenario.file.objectives,
        &data,
        opts.rate_tolerance,
    ));
    finish::write(&dir, &data.summary).map_err(io("cannot write summary.json"))?;
    crate::report::write_all(&data).map_err(io("cannot write the reports"))?;
    Ok(RunResult {
        dir,
        summary: data.summary,
    })
}

/// Starts a proxy in front of every channel that has proxy faults (its
/// requests then go through it), and checks what the fault timeline needs
/// before any load starts.
fn setup_faults(
    scenario: &Scenario,
    target: &mut target::Resolved,
    shard: Shard,
) -> Result<(Arc<crate::faults::Driver>, Option<tokio::runtime::Runtime>), RunError> {
    use crate::faults::{Driver, FaultsError, Targets, through_proxy, upstream_of};
    use crate::scenario::refs::FaultOn;
    let mut targets = Targets {
        twin: target
            .twin
            .as_ref()
            .map(|(_, running)| running.twin.clone()),
        twin_admin: target.twin.is_none().then(|| target.default_base.clone()),
        proxies: Default::default(),
    };
    // Each proxied channel once, with the first fault on it (named as the
    // timeline names it) for an error to point at.
    let mut channels: Vec<(String, String)> = Vec::new();
    for w in &scenario.timeline.faults {
        if let FaultOn::Proxy(channel) = &scenario.file.faults[w.index].on {
            let key = channel.to_string();
            if !channels.iter().any(|(k, _)| *k == key) {
                channels.push((key, w.name.clone()));
            }
        }
    }
    if scenario.file.faults.is_empty() {
        return Ok((Arc::new(Driver::new(scenario, targets, shard.index)), None));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("surge-faults")
        .enable_all()
        .build()
        .map_err(io("cannot start the fault runtime"))?;
    for (channel, fault) in channels {
        let base = target
            .bases
            .get(&channel)
            .cloned()
            .unwrap_or_else(|| target.default_base.clone());
        let upstream = upstream_of(&base).map_err(|reason| FaultsError::NoUpstream {
            fault,
            channel: channel.clone(),
            reason,
        })?;
        let proxy = runtime
            .block_on(crate::proxy::Proxy::start(
                &channel,
                "127.0.0.1:0".parse().expect("an address"),
                upstream,
            ))
            .map_err(|source| FaultsError::Proxy {
                channel: channel.clone(),
                source,
            })?;
        target
            .bases
            .insert(channel.clone(), through_proxy(&base, proxy.addr()));
        targets.proxies.insert(channel, proxy);
    }
    let driver = Arc::new(Driver::new(scenario, targets, shard.index));
    runtime.block_on(driver.check())?;
    Ok((driver, Some(runtime)))
}

/// Cuts journeys still running when the drain ends, or a grace after
/// Ctrl-C.
async fn cut_at_end(control: Arc<Control>, drain_end: Duration) {
    let t0 = control.started().await;
    let end = t0 + drain_end;
    loop {
        if control.interrupted() {
            tokio::time::sleep(control::GRACE).await;
            break;
        }
        if tokio::time::Instant::now() >= end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    control.cut();
}

struct FlushJob {
    dir: PathBuf,
    names: crate::recorder::Names,
    recorder: Arc<Recorder>,
    control: Arc<Control>,
    phases: Vec<crate::scenario::PhaseWindow>,
    progress: bool,
    planned: Duration,
    initial: Summary,
    /// The fault driver, for the faults on at each second.
    faults: Option<Arc<crate::faults::Driver>>,
}

/// Once a second from the clock's start: drains the users and writes.
async fn flush_loop(job: FlushJob) -> std::io::Result<Flusher> {
    let t0 = job.control.started().await;
    let base = SystemTime::now() - t0.elapsed();
    finish::write(&job.dir, &job.initial)?;
    let comment = format!(
        "surge {} run of {}",
        env!("CARGO_PKG_VERSION"),
        job.initial.scenario.name
    );
    let mut flusher = Flusher::new(&job.dir, job.names, job.recorder, base, &comment)?;
    let mut line = progress::Line::new(job.progress, job.planned);
    // The faults on during a second, for its timeline row.
    let active = |second| {
        job.faults
            .as_ref()
            .map(|f| f.active_during(second))
            .unwrap_or_default()
    };
    let mut second = 0u64;
    loop {
        let tick = t0 + Duration::from_secs(second + 1);
        let done =
            job.control.is_cut() && tokio::time::Instant::now() >= t0 + Duration::from_secs(second);
        if !done {
            tokio::select! {
                _ = tokio::time::sleep_until(tick) => {}
                _ = wait_cut(&job.control) => {}
            }
        }
        let phase = phase_at(&job.phases, second);
        let view = flusher.flush(second, phase, &active(second))?;
        line.show(&view, phase);
        second += 1;
        if job.control.is_cut() && view.in_flight <= 0 {
            // One more pass picks up what users wrote while being cut.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let view = flusher.flush(second, phase_at(&job.phases, second), &active(second))?;
            line.show(&view, phase);
            break;
        }
    }
    line.finish();
    Ok(flusher)
}

async fn wait_cut(control: &Control) {
    while !control.is_cut() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn phase_at(phases: &[crate::scenario::PhaseWindow], second: u64) -> &str {
    let t = Duration::from_millis(second * 1000 + 500);
    phases
        .iter()
        .find(|p| p.start <= t && t < p.end)
        .map_or("drain", |p| p.name.as_str())
}

/// The users and what they serve from.
struct Pool {
    /// Users per journey.
    users: Vec<usize>,
    /// Each journey's queue of arrivals (`None` without users).
    receivers: Vec<Option<flume::Receiver<Dispatched>>>,
    shared: Arc<Shared>,
    idle: Arc<Vec<AtomicUsize>>,
}

/// The goose attack: one goose scenario per journey, weighted by its
/// users, each user serving its journey's arrivals until the queue closes.
fn attack(
    plan: &Plan,
    pool: Pool,
    host: &str,
    opts: &RunOptions,
    dir: &Path,
) -> Result<GooseAttack, RunError> {
    let goose = |e: goose::GooseError| RunError::Goose(e.to_string());
    let Pool {
        users,
        receivers,
        shared,
        idle,
    } = pool;
    let total: usize = users.iter().sum();
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_string());
    config.users = Some(total);
    // Launch the whole pool within about 100 ms; the clock waits for it.
    config.increase_rate = Some((total * 10).max(10).to_string());
    config.iterations = Some(1);
    config.no_telnet = true;
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_metrics = !opts.goose_metrics;
    if opts.goose_metrics {
        config.report_file = vec![dir.join("goose-report.html").display().to_string()];
        config.no_reset_metrics = true;
    }
    let client = GooseClientBuilder::new()
        .without_cookies()
        .timeout(Duration::from_secs(3600))
        .user_agent(concat!("surge/", env!("CARGO_PKG_VERSION")));
    let mut attack = GooseAttack::initialize_with_config(config)
        .map_err(goose)?
        .set_client_builder_without_cookies(client)
        .map_err(goose)?;
    let next_user = Arc::new(AtomicUsize::new(0));
    for (j, rx) in receivers.into_iter().enumerate() {
        let Some(rx) = rx else { continue };
        let serve = serve_transaction(j, rx, shared.clone(), idle.clone(), next_user.clone());
        let scenario = GooseScenario::new(&plan.journeys[j].name)
            .set_weight(users[j])
            .map_err(goose)?
            .register_transaction(Transaction::new(serve).set_name("serve"));
        attack = attack.register_scenario(scenario);
    }
    Ok(attack)
}

/// The one transaction each user runs: take the journey's next arrival,
/// serve it, until the queue closes.
fn serve_transaction(
    journey: usize,
    rx: flume::Receiver<Dispatched>,
    shared: Arc<Shared>,
    idle: Arc<Vec<AtomicUsize>>,
    next_user: Arc<AtomicUsize>,
) -> TransactionFunction {
    Arc::new(move |user: &mut GooseUser| {
        let (rx, shared, idle, next_user) =
            (rx.clone(), shared.clone(), idle.clone(), next_user.clone());
        Box::pin(async move {
            let n = next_user.fetch_add(1, Ordering::Relaxed);
            let buffer = shared.recorder.register();
            let mut ctx = UserCtx::new(journey, buffer, shared.clone(), n);
            shared.control.ready.fetch_add(1, Ordering::SeqCst);
            loop {
                idle[journey].fetch_add(1, Ordering::SeqCst);
                let next = rx.recv_async().await;
                idle[journey].fetch_sub(1, Ordering::SeqCst);
                match next {
                    Ok(arrival) => journey::serve(user, &mut ctx, arrival).await,
                    Err(_) => break,
                }
            }
            Ok(())
        })
    })
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

/// goose logs a warning per failed request; surge counts failures itself,
/// so goose's records go nowhere unless they are errors (to stderr). Set
/// once, before goose's own logger, which then declines to install.
fn install_logger() {
    struct Errors;
    impl log::Log for Errors {
        fn enabled(&self, m: &log::Metadata) -> bool {
            m.level() <= log::Level::Error
        }
        fn log(&self, r: &log::Record) {
            if self.enabled(r.metadata()) {
                eprintln!("goose: {}", r.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Errors = Errors;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
}

/// Points stdout at /dev/null while it lives: goose prints a "users
/// launched" line unconditionally, and surge keeps stdout for its results.
struct StdoutSilencer {
    #[cfg(unix)]
    saved: Option<i32>,
}

impl StdoutSilencer {
    fn new() -> StdoutSilencer {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        // SAFETY: plain descriptor calls; the saved descriptor is restored
        // and closed on drop.
        let saved = unsafe {
            let saved = libc::dup(1);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if saved >= 0 && null >= 0 {
                libc::dup2(null, 1);
                libc::close(null);
                Some(saved)
            } else {
                None
            }
        };
        StdoutSilencer {
            #[cfg(unix)]
            saved,
        }
    }
}

impl Drop for StdoutSilencer {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        if let Some(saved) = self.saved {
            // SAFETY: restores the descriptor saved in `new`.
            unsafe {
                libc::dup2(saved, 1);
                libc::close(saved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_split_by_share_with_at_least_one_each() {
        assert_eq!(
            allocate_users(&[0.3, 0.4, 0.15, 0.15], 100),
            vec![30, 40, 15, 15]
        );
        assert_eq!(allocate_users(&[0.5, 0.5], 3).iter().sum::<usize>(), 3);
        assert_eq!(allocate_users(&[0.98, 0.01, 0.01], 10), vec![10, 1, 1]);
        assert_eq!(allocate_users(&[1.0, 0.0], 4), vec![4, 0]);
    }

    #[test]
    fn a_compressed_replay_keeps_its_shape() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cpns-2024-deadline-eve.yaml");
        let (mut scenario, _) = crate::scenario::load(&path).expect("the shipped scenario loads");
        let before = scenario.timeline.clone();
        let mut opts = RunOptions::new(&path);
        opts.duration = Some(Duration::from_secs(90));
        let factor = apply_overrides(&mut scenario, &opts);
        assert!((factor - 0.15).abs() < 1e-12, "{factor}");
        assert_eq!(scenario.timeline.total, Duration::from_secs(90));
        let outage = |t: &crate::scenario::Timeline| t.fault("core-outage").unwrap().start;
        assert_eq!(outage(&scenario.timeline), outage(&before).mul_f64(0.15));

        // 90 s of arrivals drain 15% of what 10 minutes drain.
        let twin = scenario.file.target.twin.as_ref().unwrap();
        assert_eq!(twin.core.stock, 30_000);
        assert_eq!(twin.partners["reseller-a"].stock, 360);
        let b = &twin.partners["reseller-b"];
        let refill = b.refill.as_ref().unwrap();
        assert_eq!((b.stock, refill.below, refill.batch), (300, 75, 300));
        assert_eq!(twin.partners["pos"].stock, 0, "no stock stays no stock");
    }
}
