//! The dispatcher: a thread of its own that hands each arrival to its
//! journey's users at the arrival's intended instant. A tokio timer wakes
//! up to a millisecond late, which would add the generator's own lag to
//! every latency measured from the intended start; a plain thread sleeping
//! with a 1 µs timer slack hands arrivals out within tens of microseconds.
//! An arrival that finds no idle user is counted late at that moment and
//! waits in its journey's queue for the next free one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::time::Instant;

use super::control::Control;
use crate::recorder::Recorder;
use crate::schedule::{Arrival, Schedule};

/// An arrival as a user receives it.
#[derive(Clone, Copy, Debug)]
pub struct Dispatched {
    pub arrival: Arrival,
    pub intended: Instant,
}

/// Shortest time between two wakes of the dispatcher: above 5,000
/// arrivals/s, arrivals leave in batches at most this late.
const QUANTUM: Duration = Duration::from_micros(200);

/// Longest the dispatcher sleeps before looking at the stop flag again.
const SLICE: Duration = Duration::from_millis(50);

/// How long to wait for the users to be ready before starting anyway.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Dispatcher {
    pub schedule: Schedule,
    /// One queue per journey (`None` for journeys without users).
    pub queues: Vec<Option<flume::Sender<Dispatched>>>,
    /// Users waiting for an arrival, per journey.
    pub idle: Arc<Vec<AtomicUsize>>,
    pub recorder: Arc<Recorder>,
    pub control: Arc<Control>,
    pub users: usize,
    /// The wall-clock instant the schedule starts at (`--start-at`), so
    /// shards on different machines begin together.
    pub start_at: Option<std::time::SystemTime>,
}

impl Dispatcher {
    /// Starts the thread. It starts the run's clock once the users are
    /// ready, hands out the whole schedule (or until stopped), then closes
    /// the queues so users finish.
    pub fn spawn(self) -> std::io::Result<JoinHandle<u64>> {
        std::thread::Builder::new()
            .name("surge-dispatch".into())
            .spawn(move || self.run())
    }

    fn run(mut self) -> u64 {
        precise_timers();
        let waited = std::time::Instant::now();
        while self.control.ready.load(Ordering::SeqCst) < self.users
            && waited.elapsed() < READY_TIMEOUT
        {
            if self.control.stopped() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // A short lead, so the first arrivals are not late by the time it
        // takes to read the clock and start the flusher.
        let lead = Duration::from_millis(20);
        let t0 = match self
            .start_at
            .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
        {
            Some(wait) if wait > lead => Instant::now() + wait,
            _ => Instant::now() + lead,
        };
        self.control.start(t0);
        let mut handed = 0;
        let mut last_wake = Instant::now();
        for arrival in self.schedule.by_ref() {
            // Behind schedule (offered more than the users can take) the
            // dispatcher never sleeps, so it looks at the stop flag here too:
            // Ctrl-C reaches it at any rate.
            if self.control.stopped() {
                break;
            }
            let intended = t0 + arrival.at;
            // Sleep only when the arrival is not yet due, and never for less
            // than a quantum after the last wake: dense arrivals go out in
            // small batches instead of costing a timer interrupt each.
            if intended > Instant::now() {
                if !sleep_until(intended.max(last_wake + QUANTUM), &self.control) {
                    break;
                }
                last_wake = Instant::now();
            }
            let Some(queue) = &self.queues[arrival.journey] else {
                continue;
            };
            let late = self.idle[arrival.journey].load(Ordering::SeqCst) == 0;
            self.recorder.scheduled(arrival.journey, late);
            match queue.try_send(Dispatched { arrival, intended }) {
                Ok(()) => handed += 1,
                // The queue holds more than can start within max_lateness:
                // this one could not either, and must not grow memory.
                Err(flume::TrySendError::Full(_)) => self.recorder.dropped(arrival.journey),
                Err(flume::TrySendError::Disconnected(_)) => break,
            }
        }
        handed
    }
}

/// Sleeps until `t`, in slices so a stop is noticed; false if stopped.
fn sleep_until(t: Instant, control: &Control) -> bool {
    loop {
        if control.stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= t {
            return true;
        }
        std::thread::sleep((t - now).min(SLICE));
    }
}

/// Asks the kernel to wake this thread within a microsecond of its
/// deadline instead of the default 50 µs slack.
fn precise_timers() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the
    // calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0);
    }
}
