//! The toxic contract. A toxic sees the data of one direction of one
//! connection, chunk by chunk, and turns each chunk into steps (write,
//! wait, hold, close, reset) that the connection's pipe carries out in
//! order. Chained toxics each transform the steps of the one before, so a
//! chunk can be sliced, then delayed, then throttled. Toxics are plain
//! data: no I/O, no clock of their own, so they are tested without sockets.

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

/// What the pipe does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes on.
    Write(Vec<u8>),
    /// Pause the direction.
    Wait(Duration),
    /// Let no more data through (it is read and dropped) until the toxic
    /// is removed or the connection ends.
    Hold,
    /// Close the connection (both directions) cleanly.
    Close,
    /// Reset the connection: the client sees "connection reset by peer".
    Reset,
    /// Answer the client with this HTTP status in place of the target, and
    /// close (HTTP faults only).
    Abort(u16),
}

/// One direction of one connection, as toxics see it.
#[derive(Debug)]
pub struct Link {
    /// When the connection was accepted.
    pub started: Instant,
    /// Bytes already let through in this direction.
    pub passed: u64,
    pub rng: SmallRng,
}

impl Link {
    pub fn new(started: Instant, seed: u64) -> Link {
        Link {
            started,
            passed: 0,
            rng: rand::SeedableRng::seed_from_u64(seed),
        }
    }

    /// `base` spread uniformly by up to `jitter` either way, never below 0.
    pub fn jittered(&mut self, base: Duration, jitter: Duration) -> Duration {
        if jitter.is_zero() {
            return base;
        }
        let j = jitter.as_secs_f64();
        let d = base.as_secs_f64() + self.rng.random_range(-j..=j);
        Duration::from_secs_f64(d.max(0.0))
    }
}

/// A TCP-level toxic.
pub trait Toxic: Send + Sync + std::fmt::Debug {
    /// Turns one chunk into steps, appended to `out`.
    fn chunk(&self, link: &mut Link, data: Vec<u8>, out: &mut Vec<Step>);

    /// Something that happens at an instant whether data flows or not
    /// (a reset or a timeout's close), measured from the connection's
    /// start.
    fn deadline(&self, _link: &Link) -> Option<(Instant, Step)> {
        None
    }

    /// A pause before the connection closes normally.
    fn before_close(&self) -> Duration {
        Duration::ZERO
    }
}

/// Runs `data` through `toxics` in order.
pub fn through(toxics: &[&dyn Toxic], link: &mut Link, data: Vec<u8>) -> Vec<Step> {
    let mut steps = vec![Step::Write(data)];
    for toxic in toxics {
        let mut next = Vec::with_capacity(steps.len() + 2);
        for step in steps {
            match step {
                Step::Write(d) => toxic.chunk(link, d, &mut next),
                other => next.push(other),
            }
        }
        steps = next;
    }
    steps
}
