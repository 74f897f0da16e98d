//! Evaluates the model at one scale: each resource's queue stretch by
//! stretch (a backlog carried over from an overloaded stretch to the
//! next), then a sample of applicants per journey and stretch walked
//! through their steps against those queues (waits, refusals, timeouts,
//! retries with backoff, polls, patience), so that sums and percentiles
//! of whole journeys come out without closed forms. Seeded: the same
//! model at the same scale gives the same figures, and nearby scales
//! share their random draws, so a search over scale sees a smooth curve.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::scenario::model::ErrorClass;

use super::model::{JourneyModel, Model, PER_BYTE, RTT, StepModel, TIMER_TICK};
use super::queue::{self, LogNormal, Station};
use super::work::{Event, Work};

/// What the requests of one step did in one stretch.
#[derive(Clone, Debug, Default)]
pub struct StepTally {
    /// Latency of each sampled request, in seconds.
    pub latencies: Vec<f32>,
    /// Requests one sample stands for.
    pub weight: f64,
    pub requests: f64,
    pub errors: f64,
    pub by_class: Vec<(ErrorClass, f64)>,
}

impl StepTally {
    fn record(&mut self, seconds: f64, failed: Option<ErrorClass>) {
        self.latencies.push(seconds as f32);
        self.requests += self.weight;
        if let Some(class) = failed {
            self.errors += self.weight;
            match self.by_class.iter_mut().find(|(c, _)| *c == class) {
                Some((_, n)) => *n += self.weight,
                None => self.by_class.push((class, self.weight)),
            }
        }
    }
}

/// How the applicants of one journey ended in one stretch (in expected
/// arrivals at the evaluated scale).
#[derive(Clone, Debug, Default)]
pub struct JourneyTally {
    /// Time from the intended start to the end, of each sampled
    /// applicant who completed, in seconds.
    pub durations: Vec<f32>,
    pub weight: f64,
    pub arrivals: f64,
    pub in_time: f64,
    pub late: f64,
    pub failed: f64,
    pub abandoned: f64,
    pub dropped: f64,
}

/// One stretch evaluated.
#[derive(Clone, Debug)]
pub struct StretchResult {
    pub index: usize,
    /// Each pool of [`Model::pools`].
    pub pools: Vec<queue::Stretch>,
    pub room: Option<queue::Stretch>,
    /// The generator's users, per journey.
    pub users: Vec<queue::Stretch>,
    /// Per journey, per step.
    pub steps: Vec<Vec<StepTally>>,
    pub journeys: Vec<JourneyTally>,
}

/// The model at one scale.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub scale: f64,
    pub stretches: Vec<StretchResult>,
    /// When each stock (the model's order) runs out, in seconds.
    pub stock_out: Vec<Option<f64>>,
}

/// Applicants sampled per journey over the whole timeline.
pub const SAMPLES: usize = 20_000;

/// Evaluates `model` at `scale` with `samples` applicants per journey.
pub fn evaluate(model: &Model, scale: f64, samples: usize, seed: u64) -> Evaluation {
    let total: f64 = model.stretches.iter().map(|s| s.rate * s.seconds()).sum();
    // First pass without the generator's own limit, for journey times.
    let mut first = pass(model, scale, samples, seed, total, None, &[]);
    first.stock_out = stock_out(model, &first);
    let users = users_station(model, scale, &first);
    let mut eval = pass(
        model,
        scale,
        samples,
        seed,
        total,
        Some(&users),
        &first.stock_out,
    );
    eval.stock_out = first.stock_out;
    eval
}

/// The generator's users of each journey as a station: as many servers
/// as the journey has users, each busy for the journey's mean time; per
/// stretch, per journey.
fn users_station(model: &Model, scale: f64, first: &Evaluation) -> Vec<Vec<queue::Stretch>> {
    let mut backlog = vec![0.0; model.journeys.len()];
    model
        .stretches
        .iter()
        .zip(&first.stretches)
        .map(|(s, r)| {
            model
                .journeys
                .iter()
                .enumerate()
                .map(|(ji, j)| {
                    let d = &r.journeys[ji].durations;
                    let mean = if d.is_empty() {
                        0.0
                    } else {
                        d.iter().map(|x| *x as f64).sum::<f64>() / d.len() as f64
                    };
                    let station = Station {
                        servers: model.users[ji],
                        service: mean,
                        cs2: 1.0,
                        bound: None,
                        timeout: Some(model.max_lateness),
                    };
                    let st = station.stretch(s.rate * scale * j.share, s.seconds(), backlog[ji]);
                    backlog[ji] = st.backlog_end;
                    st
                })
                .collect()
        })
        .collect()
}

fn pass(
    model: &Model,
    scale: f64,
    samples: usize,
    seed: u64,
    total: f64,
    users: Option<&[Vec<queue::Stretch>]>,
    stock_out: &[Option<f64>],
) -> Evaluation {
    let mut pool_backlog = vec![0.0; model.pools.len()];
    let mut room_backlog = 0.0;
    let per_arrival: Vec<f64> = (0..model.pools.len())
        .map(|p| {
            model
                .journeys
                .iter()
                .map(|j| j.share * j.steps.iter().filter(|s| s.pool == Some(p)).count() as f64)
                .sum()
        })
        .collect();
    let join_per_arrival: f64 = model
        .journeys
        .iter()
        .map(|j| j.share * count(j, |w| w == Work::Start(Event::Admission)))
        .sum();
    let mut stretches = Vec::with_capacity(model.stretches.len());
    for (index, s) in model.stretches.iter().enumerate() {
        let rate = s.rate * scale;
        let pools: Vec<queue::Stretch> = model
            .pools
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let st = p
                    .station
                    .stretch(rate * per_arrival[i], s.seconds(), pool_backlog[i]);
                pool_backlog[i] = st.backlog_end;
                st
            })
            .collect();
        let room = model.room.map(|r| {
            let st = r.stretch(rate * join_per_arrival, s.seconds(), room_backlog);
            room_backlog = st.backlog_end;
            st
        });
        let users = users.map_or_else(
            || vec![queue::Stretch::default(); model.journeys.len()],
            |u| u[index].clone(),
        );
        let share_of_time = s.rate * s.seconds() / total.max(f64::MIN_POSITIVE);
        let n = ((samples as f64 * share_of_time).ceil() as usize).clamp(64, samples);
        let env = Env {
            model,
            pools: &pools,
            room: room.as_ref(),
            users: &users,
            stock_out,
            start: s.start,
            end: s.end,
        };
        let mut steps = Vec::new();
        let mut journeys = Vec::new();
        for (ji, j) in model.journeys.iter().enumerate() {
            let arrivals = rate * s.seconds() * j.share;
            let weight = arrivals / n as f64;
            let mut tallies = vec![
                StepTally {
                    weight,
                    ..StepTally::default()
                };
                j.steps.len()
            ];
            let mut jt = JourneyTally {
                weight,
                arrivals,
                ..JourneyTally::default()
            };
            let mut rng = SmallRng::seed_from_u64(
                seed ^ ((index as u64) << 32) ^ (ji as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            for _ in 0..n {
                env.applicant(ji, j, &mut rng, &mut tallies, &mut jt);
            }
            steps.push(tallies);
            journeys.push(jt);
        }
        stretches.push(StretchResult {
            index,
            pools,
            room,
            users,
            steps,
            journeys,
        });
    }
    Evaluation {
        scale,
        stretches,
        stock_out: Vec::new(),
    }
}

fn count(j: &JourneyModel, pick: impl Fn(Work) -> bool) -> f64 {
    j.steps.iter().filter(|s| pick(s.work)).count() as f64
}

/// When each stock runs out: serials taken at the rate signatures were
/// made (a reseller with a refill rule takes from the core once it is
/// down to its level).
fn stock_out(model: &Model, eval: &Evaluation) -> Vec<Option<f64>> {
    let mut left: Vec<f64> = model.stocks.iter().map(|s| s.size).collect();
    let mut out = vec![None; left.len()];
    for (s, r) in model.stretches.iter().zip(&eval.stretches) {
        let mut taken = vec![0.0; left.len()];
        for (j, tallies) in model.journeys.iter().zip(&r.steps) {
            for (step, t) in j.steps.iter().zip(tallies) {
                if let Some(stock) = step.stock {
                    taken[stock] += t.requests - t.errors;
                }
            }
        }
        // Resellers first: what they restock comes out of the core's.
        for i in (1..left.len()).chain([0]) {
            let mut need = taken[i];
            if let Some(level) = model.stocks[i].refill_below {
                let own = (left[i] - level).max(0.0).min(need);
                left[i] -= own;
                taken[0] += need - own;
                need = 0.0;
            }
            if need <= 0.0 || out[i].is_some() {
                continue;
            }
            if need >= left[i] {
                out[i] = Some(s.start + s.seconds() * (left[i] / need));
                left[i] = 0.0;
            } else {
                left[i] -= need;
            }
        }
    }
    out
}

/// What one applicant meets in a stretch.
struct Env<'a> {
    model: &'a Model,
    pools: &'a [queue::Stretch],
    room: Option<&'a queue::Stretch>,
    users: &'a [queue::Stretch],
    stock_out: &'a [Option<f64>],
    start: f64,
    end: f64,
}

/// How one try of a step ended.
type Tried = Result<(), ErrorClass>;

fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn draws(rng: &mut SmallRng) -> [f64; 3] {
    [rng.random(), rng.random(), rng.random()]
}

impl Env<'_> {
    fn applicant(
        &self,
        ji: usize,
        j: &JourneyModel,
        rng: &mut SmallRng,
        tallies: &mut [StepTally],
        out: &mut JourneyTally,
    ) {
        let x: f64 = rng.random();
        let arrival = self.start + x * (self.end - self.start);
        let mut t = self.users[ji].draw(x, draws(rng)).unwrap_or(0.0);
        if t > self.model.max_lateness {
            out.dropped += out.weight;
            return;
        }
        let mut events: [Option<(f64, bool)>; 4] = [None; 4];
        for (step, tally) in j.steps.iter().zip(tallies.iter_mut()) {
            let mut tries = 0;
            loop {
                tries += 1;
                let stock_out = step.stock.is_some_and(|s| self.stocked_out(s, arrival + t));
                let tried = match stock_out {
                    true => {
                        tally.record(RTT, Some(ErrorClass::Http4xx));
                        Err(ErrorClass::Http4xx)
                    }
                    false => self.try_step(step, rng, x, &mut t, &mut events, tally),
                };
                match tried {
                    Ok(()) => break,
                    Err(class) if tries < j.attempts && j.retry_on.contains(&class) => {
                        t += j.backoff(tries);
                    }
                    Err(_) => {
                        out.failed += out.weight;
                        return;
                    }
                }
                if j.give_up.is_some_and(|g| t > g) {
                    out.abandoned += out.weight;
                    return;
                }
            }
            t += step.think;
            if j.give_up.is_some_and(|g| t > g) {
                out.abandoned += out.weight;
                return;
            }
        }
        out.durations.push(t as f32);
        // Arrivals spread over the stretch: the share of them that end
        // after the deadline.
        let (a, b, d) = (self.start, self.end, self.model.deadline);
        let late = if b <= a {
            f64::from(arrival + t > d)
        } else {
            ((b - (d - t).max(a)) / (b - a)).clamp(0.0, 1.0)
        };
        out.late += out.weight * late;
        out.in_time += out.weight * (1.0 - late);
    }

    fn stocked_out(&self, stock: usize, at: f64) -> bool {
        self.stock_out
            .get(stock)
            .copied()
            .flatten()
            .is_some_and(|out| at >= out)
    }

    fn try_step(
        &self,
        step: &StepModel,
        rng: &mut SmallRng,
        arrival_x: f64,
        t: &mut f64,
        events: &mut [Option<(f64, bool)>; 4],
        tally: &mut StepTally,
    ) -> Tried {
        let rtt = RTT + step.body_bytes * PER_BYTE;
        // Where in the stretch this request is: queues change along it.
        let x = (arrival_x + *t / (self.end - self.start).max(1e-9)).min(1.0);
        let slot = |e: Event| match e {
            Event::Otp => 0,
            Event::Callback => 1,
            Event::Admission => 2,
            Event::Job => 3,
        };
        let delay = |d: &LogNormal, rng: &mut SmallRng| d.at(normal(rng));
        match step.work {
            Work::Plain => {
                tally.record(rtt, None);
                *t += rtt;
                Ok(())
            }
            Work::Delay => {
                let took = rtt + step.service.map_or(0.0, |d| delay(&d, rng));
                tally.record(took, None);
                *t += took;
                Ok(())
            }
            Work::Start(e) => {
                let ready = match e {
                    Event::Otp => *t + delay(&self.model.otp, rng),
                    Event::Callback => *t + delay(&self.model.callback, rng),
                    Event::Job => *t,
                    Event::Admission => match self.room.map(|r| r.draw(x, draws(rng))) {
                        None => *t,
                        Some(Some(wait)) => *t + wait,
                        Some(None) => {
                            tally.record(rtt, Some(ErrorClass::Unavailable));
                            *t += rtt;
                            return Err(ErrorClass::Unavailable);
                        }
                    },
                };
                events[slot(e)] = Some((ready, true));
                tally.record(rtt, None);
                *t += rtt;
                Ok(())
            }
            Work::Sign | Work::SignJob => {
                let Some((wait, failed)) = self.at_pool(step, rng, x) else {
                    tally.record(rtt, Some(ErrorClass::Unavailable));
                    *t += rtt;
                    return Err(ErrorClass::Unavailable);
                };
                if step.work == Work::SignJob {
                    events[slot(Event::Job)] = Some((*t + wait, !failed));
                    tally.record(rtt, None);
                    *t += rtt;
                    return Ok(());
                }
                let took = wait + rtt;
                if took > step.timeout {
                    tally.record(step.timeout, Some(ErrorClass::Timeout));
                    *t += step.timeout;
                    return Err(ErrorClass::Timeout);
                }
                tally.record(took, failed.then_some(ErrorClass::Http5xx));
                *t += took;
                if failed {
                    Err(ErrorClass::Http5xx)
                } else {
                    Ok(())
                }
            }
            Work::Await(e) => {
                let Some((every, timeout)) = step.poll else {
                    tally.record(rtt, None);
                    *t += rtt;
                    return Ok(());
                };
                let (ready, ok) = events[slot(e)].unwrap_or((*t, true));
                let began = *t;
                loop {
                    let sent = *t;
                    if sent + rtt / 2.0 >= ready {
                        let failed = (!ok).then_some(ErrorClass::Expectation);
                        tally.record(rtt, failed);
                        *t += rtt;
                        return failed.map_or(Ok(()), Err);
                    }
                    tally.record(rtt, None);
                    let next = sent + every.max(1e-3);
                    if next - began > timeout {
                        *t += rtt;
                        return Err(ErrorClass::Expectation);
                    }
                    *t = next;
                }
            }
        }
    }

    /// A request at the step's pool: its time from the request to the
    /// answer (wait and service), and whether it failed (a wait past the
    /// pool's timeout); `None` when the line refused it.
    fn at_pool(&self, step: &StepModel, rng: &mut SmallRng, x: f64) -> Option<(f64, bool)> {
        let Some(pool) = step.pool else {
            return Some((0.0, false));
        };
        let wait = self.pools[pool].draw(x, draws(rng))?;
        let timeout = self.model.pools[pool]
            .station
            .timeout
            .unwrap_or(f64::INFINITY);
        if wait > timeout {
            return Some((timeout, true));
        }
        let tick: f64 = rng.random::<f64>() * TIMER_TICK;
        let service = step.service.map_or(0.0, |d| d.at(normal(rng)));
        Some((wait + service + tick, false))
    }
}
