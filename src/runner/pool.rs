//! The concurrency pool: goose users, `max_in_flight` in all, split across
//! journeys by the mix, each serving its journey's arrivals from a queue
//! the dispatcher fills. Here goose is configured (one goose scenario per
//! journey, weighted by its users; goose's telnet, metrics and printing
//! off) and the one transaction every user runs is defined.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goose::GooseAttack;
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::goose::{GooseUser, Scenario as GooseScenario, Transaction, TransactionFunction};

use super::dispatch::Dispatched;
use super::journey::{self, Shared, UserCtx};
use super::plan::Plan;
use super::{RunError, RunOptions};
use crate::scenario::Scenario;
use crate::schedule::Shard;

/// Users per journey of this shard: its part of the cap, split by the mix.
pub fn users_of(scenario: &Scenario, shard: Shard) -> Vec<usize> {
    let shares: Vec<f64> = scenario
        .file
        .journeys
        .keys()
        .map(|name| scenario.share(name))
        .collect();
    let cap = (scenario.file.load.max_in_flight as u64 / shard.count).max(1) as usize;
    allocate_users(&shares, cap)
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

/// The users and what they serve from.
pub struct Pool {
    /// Users per journey.
    users: Vec<usize>,
    /// Each journey's queue of arrivals (`None` without users).
    receivers: Vec<Option<flume::Receiver<Dispatched>>>,
    shared: Arc<Shared>,
    /// Idle users per journey, which the dispatcher reads to tell a late
    /// arrival.
    idle: Arc<Vec<AtomicUsize>>,
}

/// The sending ends of the pool's queues, one per journey, for the
/// dispatcher.
pub type Queues = Vec<Option<flume::Sender<Dispatched>>>;

/// Arrivals a journey's queue holds at the most: what its peak rate brings
/// within `max_lateness` (an arrival waiting longer is dropped anyway), and
/// a user's worth each, never fewer than [`MIN_QUEUE`]. Bounds memory when
/// the target stalls or the generator is overloaded.
pub fn queue_capacities(scenario: &Scenario, shard: Shard, users: &[usize]) -> Vec<usize> {
    let peak = scenario
        .timeline
        .phases
        .iter()
        .map(crate::scenario::PhaseWindow::peak)
        .fold(0.0, f64::max)
        * scenario.file.load.scale
        / shard.count.max(1) as f64;
    let lateness = scenario.file.load.max_lateness.0.as_secs_f64();
    scenario
        .file
        .journeys
        .keys()
        .zip(users)
        .map(|(name, u)| {
            let within = (peak * scenario.share(name) * lateness).ceil() as usize;
            (within + u).max(MIN_QUEUE)
        })
        .collect()
}

/// The smallest queue: short bursts at low rates wait rather than drop.
pub const MIN_QUEUE: usize = 1024;

/// Bytes one queued arrival takes.
pub const QUEUED_BYTES: usize = std::mem::size_of::<Dispatched>();

impl Pool {
    /// A queue for every journey with users, of its capacity.
    pub fn new(users: Vec<usize>, capacities: &[usize], shared: Arc<Shared>) -> (Pool, Queues) {
        let mut queues = Vec::new();
        let mut receivers = Vec::new();
        for (u, cap) in users.iter().zip(capacities) {
            let (tx, rx) = match u {
                0 => (None, None),
                _ => {
                    let (tx, rx) = flume::bounded::<Dispatched>(*cap);
                    (Some(tx), Some(rx))
                }
            };
            queues.push(tx);
            receivers.push(rx);
        }
        let idle = Arc::new(users.iter().map(|_| AtomicUsize::new(0)).collect());
        let pool = Pool {
            users,
            receivers,
            shared,
            idle,
        };
        (pool, queues)
    }

    /// Idle users per journey.
    pub fn idle(&self) -> Arc<Vec<AtomicUsize>> {
        self.idle.clone()
    }
}

/// The goose attack: one goose scenario per journey, weighted by its
/// users, each user serving its journey's arrivals until the queue closes.
pub fn attack(
    plan: &Plan,
    pool: Pool,
    host: &str,
    opts: &RunOptions,
    dir: &Path,
) -> Result<GooseAttack, RunError> {
    let goose = RunError::goose;
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
        // With `iterations` goose never resets its metrics, and refuses
        // `no_reset_metrics` beside it.
        config.report_file = vec![dir.join("goose-report.html").display().to_string()];
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
}
