//! The model of a scenario against the twin, built once: the journeys as
//! lists of demands (from [`super::work`]), the timeline cut into
//! stretches of near-constant rate, and the twin's capped resources as
//! queueing stations. Holds no results; [`super::simulate`] evaluates it
//! at a scale.

use crate::scenario::Scenario;
use crate::scenario::model::{Distribution, ErrorClass, PartnerKind, TwinConfig};
use crate::scenario::refs::Channel;

use super::queue::{LogNormal, Station};
use super::work::{self, Work};

/// Time a request takes on loopback through the twin's HTTP stack when
/// nothing waits: 150 µs (median of uncapped steps in capacity trials on
/// a 2-core machine, generator and twin sharing it), plus the body.
pub const RTT: f64 = 150e-6;
/// Seconds per byte of request body (a 50 KB upload: ~100 µs more).
pub const PER_BYTE: f64 = 2e-9;
/// The twin sleeps its service times on tokio's timer, which wakes on
/// whole milliseconds: a draw ends up to 1 ms later, 0.5 ms on average.
pub const TIMER_TICK: f64 = 1e-3;
/// Most stretches one phase is cut into (a ramp by its rate, a curve by
/// its bins merged).
const MAX_STRETCHES: usize = 12;

#[derive(Debug)]
pub struct StepModel {
    /// `JOURNEY.STEP`.
    pub label: String,
    pub channel: String,
    pub work: Work,
    /// The pool (index in [`Model::pools`]) whose worker serves it.
    pub pool: Option<usize>,
    /// Its own service time (at its pool, or as a fitted route's delay).
    pub service: Option<LogNormal>,
    /// The resource whose wait shows in it, for reports.
    pub resource: String,
    /// `(every, timeout)` of a polling step.
    pub poll: Option<(f64, f64)>,
    pub think: f64,
    pub timeout: f64,
    pub body_bytes: f64,
    /// The stock a signature here takes its serial from.
    pub stock: Option<usize>,
}

#[derive(Debug)]
pub struct JourneyModel {
    pub name: String,
    pub share: f64,
    pub steps: Vec<StepModel>,
    pub attempts: u32,
    pub backoff: (f64, f64, f64),
    pub give_up: Option<f64>,
    pub retry_on: Vec<ErrorClass>,
}

impl JourneyModel {
    /// Seconds to wait before try `n + 1` of a step (the mean of the
    /// jittered backoff).
    pub fn backoff(&self, n: u32) -> f64 {
        let (initial, max, factor) = self.backoff;
        (initial * factor.powi(n as i32 - 1)).min(max)
    }
}

/// A stretch of the timeline at one rate (arrivals per second at scale 1).
#[derive(Clone, Debug)]
pub struct Stretch {
    pub start: f64,
    pub end: f64,
    pub rate: f64,
    pub phase: usize,
}

impl Stretch {
    pub fn seconds(&self) -> f64 {
        self.end - self.start
    }
}

/// A pool of workers as a queueing station.
#[derive(Clone, Debug)]
pub struct PoolModel {
    pub name: String,
    pub station: Station,
}

/// A finite stock of serial numbers.
#[derive(Clone, Debug)]
pub struct Stock {
    pub name: String,
    pub size: f64,
    /// A reseller that restocks from the core below this (index of the
    /// core's stock, the level).
    pub refill_below: Option<f64>,
}

#[derive(Debug)]
pub struct Model {
    pub journeys: Vec<JourneyModel>,
    pub stretches: Vec<Stretch>,
    pub phases: Vec<String>,
    pub deadline: f64,
    /// Pools of workers: the core's signing service, or a fitted
    /// platform's pools.
    pub pools: Vec<PoolModel>,
    pub room: Option<Station>,
    pub otp: LogNormal,
    pub callback: LogNormal,
    /// The generator's users of each journey (`max_in_flight` split by
    /// the mix, as the runner splits it).
    pub users: Vec<u32>,
    pub max_lateness: f64,
    /// The core's stock first, then each reseller's.
    pub stocks: Vec<Stock>,
}

/// Why a scenario cannot be predicted.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "this scenario targets {0}, not the built-in twin: `surge predict` models the twin's \
         configuration. Fit a twin to that platform first (`surge fit SCENARIO --out FITTED.yaml`), \
         then predict FITTED.yaml"
    )]
    NotTheTwin(String),
}

fn lognormal(d: &Distribution) -> LogNormal {
    LogNormal::from_median_p99(d.median.0.as_secs_f64(), d.p99.0.as_secs_f64())
}

impl Model {
    pub fn of(scenario: &Scenario) -> Result<Model, ModelError> {
        let file = &scenario.file;
        let Some(twin) = &file.target.twin else {
            let target = file
                .target
                .base_url
                .as_ref()
                .map_or("a platform of its own".to_string(), |u| u.to_string());
            return Err(ModelError::NotTheTwin(target));
        };
        let stocks = stocks(twin);
        let signing = &twin.core.signing;
        let station = |workers: u32, queue: u32, timeout: f64| Station {
            servers: workers.max(1),
            service: 0.0,
            cs2: 0.0,
            bound: Some(queue as f64),
            timeout: Some(timeout),
        };
        let mut pools = match &twin.fitted {
            Some(f) => f
                .pools
                .iter()
                .map(|(name, p)| PoolModel {
                    name: name.clone(),
                    station: station(p.workers, p.queue, p.timeout.0.as_secs_f64()),
                })
                .collect(),
            None => vec![PoolModel {
                name: "signing".into(),
                station: station(
                    signing.workers,
                    signing.queue,
                    signing.timeout.0.as_secs_f64(),
                ),
            }],
        };
        let journeys: Vec<JourneyModel> = scenario
            .mix
            .iter()
            .filter(|(_, share)| *share > 0.0)
            .filter_map(|(name, share)| {
                let j = file.journeys.get(name)?;
                let steps = j
                    .steps
                    .iter()
                    .map(|s| {
                        let channel = s.channel.clone().unwrap_or_else(|| j.channel.clone());
                        let (work, pool, service) = match &twin.fitted {
                            Some(f) => fitted_work(f, &pools, s),
                            None => {
                                let work = work::of(s);
                                let signs = matches!(work, Work::Sign | Work::SignJob);
                                let service = lognormal(&signing.service_time);
                                (work, signs.then_some(0), signs.then_some(service))
                            }
                        };
                        let stock = (twin.fitted.is_none() && work.spends_serial())
                            .then(|| stock_of(twin, &stocks, &channel, s));
                        let resource = match pool {
                            Some(p) => pools[p].name.clone(),
                            None => work.resource().to_string(),
                        };
                        StepModel {
                            label: format!("{name}.{}", s.name),
                            channel: channel.to_string(),
                            work,
                            pool,
                            service,
                            resource,
                            poll: s
                                .poll
                                .as_ref()
                                .filter(|_| s.until.is_some())
                                .map(|p| (p.every.0.as_secs_f64(), p.timeout.0.as_secs_f64())),
                            think: s.think.map_or(0.0, |t| t.0.as_secs_f64()),
                            timeout: s.timeout.0.as_secs_f64(),
                            body_bytes: s.pdf.map_or(0.0, |p| p.0 as f64),
                            stock,
                        }
                    })
                    .collect();
                let b = &j.patience.backoff;
                Some(JourneyModel {
                    name: name.clone(),
                    share: *share,
                    steps,
                    attempts: j.patience.attempts.max(1),
                    backoff: (b.initial.0.as_secs_f64(), b.max.0.as_secs_f64(), b.factor),
                    give_up: j.patience.give_up.map(|g| g.0.as_secs_f64()),
                    retry_on: j.patience.retry_on.clone(),
                })
            })
            .collect();
        for (i, pool) in pools.iter_mut().enumerate() {
            service_of(&mut pool.station, i, &journeys);
        }
        let room = &twin.waiting_room;
        let users = {
            let per = crate::runner::users_of(scenario, crate::schedule::Shard::WHOLE);
            let names: Vec<&String> = file.journeys.keys().collect();
            journeys
                .iter()
                .map(|j| {
                    names
                        .iter()
                        .position(|n| **n == j.name)
                        .map_or(1, |i| per[i].max(1) as u32)
                })
                .collect()
        };
        Ok(Model {
            journeys,
            stretches: stretches(scenario),
            phases: scenario
                .timeline
                .phases
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            deadline: scenario.timeline.deadline.as_secs_f64(),
            pools,
            room: (twin.fitted.is_none() && room.enabled && room.admit.as_per_second() > 0.0).then(
                || Station {
                    servers: 1,
                    service: 1.0 / room.admit.as_per_second(),
                    cs2: 0.0,
                    bound: Some(room.queue as f64),
                    timeout: None,
                },
            ),
            otp: lognormal(&twin.accounts.otp_delay),
            callback: lognormal(&twin.payments.callback_delay),
            users,
            max_lateness: file.load.max_lateness.0.as_secs_f64(),
            stocks,
        })
    }
}

/// A pool's mean service time and its variation, over the steps it
/// serves weighted by how often an arrival sends each (the twin's timer
/// adds up to a millisecond to each).
fn service_of(station: &mut Station, pool: usize, journeys: &[JourneyModel]) {
    let (mut w, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for j in journeys {
        for s in j.steps.iter().filter(|s| s.pool == Some(pool)) {
            let Some(d) = s.service else { continue };
            let mean = d.mean() + TIMER_TICK / 2.0;
            let var = d.cs2() * d.mean().powi(2) + TIMER_TICK * TIMER_TICK / 12.0;
            w += j.share;
            m1 += j.share * mean;
            m2 += j.share * (var + mean * mean);
        }
    }
    if w > 0.0 {
        let mean = m1 / w;
        station.service = mean;
        station.cs2 = (m2 / w / (mean * mean) - 1.0).max(0.0);
    }
}

/// What a step asks of a fitted platform: its route's pool and service
/// time (polls of a fitted route end at their first answer).
fn fitted_work(
    fitted: &crate::scenario::model::Fitted,
    pools: &[PoolModel],
    step: &crate::scenario::model::Step,
) -> (Work, Option<usize>, Option<LogNormal>) {
    let shape = work::shape(step);
    let parts: Vec<&str> = shape.trim_start_matches('/').split('/').collect();
    let route = fitted.routes.iter().find(|r| {
        let want: Vec<&str> = r.path.trim_matches('/').split('/').collect();
        r.method == step.method
            && want.len() == parts.len()
            && want
                .iter()
                .zip(&parts)
                .all(|(w, p)| (w.starts_with('{') && w.ends_with('}')) || (w == p && *p != "*"))
    });
    let Some(route) = route else {
        return (Work::Plain, None, None);
    };
    let service = route.service_time.as_ref().map(lognormal);
    match route
        .pool
        .as_ref()
        .and_then(|p| pools.iter().position(|x| &x.name == p))
    {
        Some(pool) => (Work::Sign, Some(pool), service),
        None if service.is_some() => (Work::Delay, None, service),
        None => (Work::Plain, None, None),
    }
}

fn stocks(twin: &TwinConfig) -> Vec<Stock> {
    let mut out = vec![Stock {
        name: "core".into(),
        size: twin.core.stock as f64,
        refill_below: None,
    }];
    for (name, p) in &twin.partners {
        if p.kind == PartnerKind::Reseller {
            out.push(Stock {
                name: name.clone(),
                size: p.stock as f64,
                refill_below: p.refill.as_ref().map(|r| r.below as f64),
            });
        }
    }
    out
}

/// The stock a signing step's serial comes from: a reseller's own when
/// the step is on (or names) a reseller, else the core's.
fn stock_of(
    twin: &TwinConfig,
    stocks: &[Stock],
    channel: &Channel,
    step: &crate::scenario::model::Step,
) -> usize {
    let partner = work::partner(step).or(match channel {
        Channel::Partner(p) => Some(p.clone()),
        _ => None,
    });
    partner
        .filter(|p| {
            twin.partners
                .get(p)
                .is_some_and(|c| c.kind == PartnerKind::Reseller)
        })
        .and_then(|p| stocks.iter().position(|s| s.name == p))
        .unwrap_or(0)
}

/// The timeline as stretches of near-constant rate: a constant phase is
/// one, a ramp is cut in even pieces at their middle rate, a curve's bins
/// are merged to at most [`MAX_STRETCHES`].
fn stretches(scenario: &Scenario) -> Vec<Stretch> {
    let mut out = Vec::new();
    for (phase, window) in scenario.timeline.phases.iter().enumerate() {
        let (start, end) = (window.start.as_secs_f64(), window.end.as_secs_f64());
        if end <= start {
            continue;
        }
        let flat = window.curve.is_none() && window.from == window.to;
        let n = if flat { 1 } else { MAX_STRETCHES };
        let width = (end - start) / n as f64;
        for i in 0..n {
            let (a, b) = (start + i as f64 * width, start + (i + 1) as f64 * width);
            out.push(Stretch {
                start: a,
                end: b,
                rate: window.arrivals_between(a, b) / (b - a),
                phase,
            });
        }
    }
    out
}
