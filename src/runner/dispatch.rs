//! The dispatcher: a task on the generator's runtime that hands each
//! arrival to its journey's users at the arrival's intended instant. A
//! tokio timer wakes up to a millisecond late, which would add the
//! generator's own lag to every latency measured from the intended start;
//! the dispatcher sleeps on a kernel timer of its own (a timerfd, which
//! fires to the microsecond) registered with the runtime, so an arrival
//! costs the worker one wake and no thread hand-over: a dispatcher thread
//! beside the runtime cost a wake of its own and a cross-thread wake of the
//! worker per arrival. An arrival that finds no idle user is counted late
//! at that moment and waits in its journey's queue for the next free one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// An arrival not yet due waits for the next one when that one is due
/// within this, and both leave on one wake at the second one's instant:
/// each wake of the worker (about 20 µs of CPU on a virtual machine, and
/// colder caches for the work after it) then serves two arrivals at
/// 2,000/s instead of one, and their answers tend to come back on one
/// wake too. An arrival is at most this late for it, and its latency is
/// still measured from its intended start; one with none due this close
/// after it leaves on time. Pairs, not longer runs: above 5,000/s the
/// quantum batches anyway, and a longer run would add its whole window to
/// start lag where the machine's stalls leave little room under 1 ms
/// (`bench/runner.sh`).
pub const BATCH: Duration = Duration::from_micros(600);

/// Longest the dispatcher sleeps before looking at the stop flag again.
const SLICE: Duration = Duration::from_millis(50);

/// How long to wait for the users to be ready before starting anyway.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Arrivals handed out in a row before the dispatcher lets the users run:
/// behind schedule it never sleeps, and must not hold the worker while the
/// users it feeds wait.
const RUN_OF: usize = 64;

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
    /// Waits for the users to be ready, starts the run's clock, hands out
    /// the whole schedule (or until stopped), then closes the queues so
    /// users finish. Runs on the generator's runtime.
    pub async fn run(mut self) -> std::io::Result<u64> {
        let mut alarm = Alarm::new()?;
        let waited = Instant::now();
        while self.control.ready.load(Ordering::SeqCst) < self.users
            && waited.elapsed() < READY_TIMEOUT
        {
            if self.control.stopped() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
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
        let mut in_a_row = 0;
        let mut batch: Vec<Arrival> = Vec::new();
        let mut ahead: Option<Arrival> = None;
        while let Some(arrival) = ahead.take().or_else(|| self.schedule.next()) {
            // Behind schedule (offered more than the users can take) the
            // dispatcher never sleeps, so it looks at the stop flag here too:
            // Ctrl-C reaches it at any rate.
            if self.control.stopped() {
                break;
            }
            let intended = t0 + arrival.at;
            if intended <= Instant::now() {
                if in_a_row == RUN_OF {
                    tokio::task::yield_now().await;
                    in_a_row = 0;
                }
                in_a_row += 1;
                if !self.hand(arrival, intended, &mut handed) {
                    break;
                }
                continue;
            }
            // Not yet due: sleep until the last arrival of its pair is,
            // and never for less than a quantum after the last wake.
            batch.push(arrival);
            let mut wake = intended;
            if let Some(next) = self.schedule.next() {
                let due = t0 + next.at;
                if due.saturating_duration_since(intended) <= BATCH {
                    batch.push(next);
                    wake = due;
                } else {
                    ahead = Some(next);
                }
            }
            if !sleep_until(&mut alarm, wake.max(last_wake + QUANTUM), &self.control).await? {
                break;
            }
            last_wake = Instant::now();
            in_a_row = 0;
            for arrival in batch.drain(..) {
                if !self.hand(arrival, t0 + arrival.at, &mut handed) {
                    return Ok(handed);
                }
            }
        }
        Ok(handed)
    }

    /// Hands an arrival to its journey's queue; false once the users are
    /// gone.
    fn hand(&self, arrival: Arrival, intended: Instant, handed: &mut u64) -> bool {
        let Some(queue) = &self.queues[arrival.journey] else {
            return true;
        };
        let late = self.idle[arrival.journey].load(Ordering::SeqCst) == 0;
        self.recorder.scheduled(arrival.journey, late);
        match queue.try_send(Dispatched { arrival, intended }) {
            Ok(()) => *handed += 1,
            // The queue holds more than can start within max_lateness:
            // this one could not either, and must not grow memory.
            Err(flume::TrySendError::Full(_)) => self.recorder.dropped(arrival.journey),
            Err(flume::TrySendError::Disconnected(_)) => return false,
        }
        true
    }
}

/// Sleeps until `t`, in slices so a stop is noticed; false if stopped.
async fn sleep_until(alarm: &mut Alarm, t: Instant, control: &Control) -> std::io::Result<bool> {
    loop {
        if control.stopped() {
            return Ok(false);
        }
        let now = Instant::now();
        if now >= t {
            return Ok(true);
        }
        alarm.sleep((t - now).min(SLICE)).await?;
    }
}

/// A timer that fires to the microsecond: a timerfd the runtime's poller
/// watches (Linux); elsewhere tokio's millisecond timer.
struct Alarm {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<TimerFd>,
}

#[cfg(target_os = "linux")]
struct TimerFd(nix::sys::timerfd::TimerFd);

#[cfg(target_os = "linux")]
impl std::os::fd::AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(target_os = "linux")]
impl Alarm {
    fn new() -> std::io::Result<Alarm> {
        use nix::sys::timerfd::{ClockId, TimerFd as Fd, TimerFlags};
        let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
        let fd = Fd::new(ClockId::CLOCK_MONOTONIC, flags)?;
        let readable = tokio::io::Interest::READABLE;
        // SAFETY: the timerfd owns its descriptor, which stays open and the
        // same until the AsyncFd holding it is dropped.
        let fd =
            unsafe { tokio::io::unix::AsyncFd::register_with_interest(TimerFd(fd), readable)? };
        Ok(Alarm { fd })
    }

    /// Sleeps for `d`.
    async fn sleep(&mut self, d: Duration) -> std::io::Result<()> {
        use nix::sys::time::TimeSpec;
        use nix::sys::timerfd::{Expiration, TimerSetTimeFlags};
        // A zero expiry would disarm the timer instead of firing at once.
        let d = TimeSpec::from_duration(d.max(Duration::from_nanos(1)));
        let timer = &self.fd.get_ref().0;
        timer.set(Expiration::OneShot(d), TimerSetTimeFlags::empty())?;
        loop {
            let mut ready = self.fd.readable().await?;
            // Reading the expiry count clears the readiness; a wake that
            // finds the timer not yet expired (EAGAIN) waits again.
            match ready.try_io(|fd| fd.get_ref().0.wait().map_err(std::io::Error::from)) {
                Ok(result) => {
                    // Read, the timer is not readable until it is set and
                    // fires again: without this the next sleep would read
                    // it once more only to find it empty (a system call a
                    // wake).
                    ready.clear_ready();
                    return result;
                }
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Alarm {
    fn new() -> std::io::Result<Alarm> {
        Ok(Alarm {})
    }

    async fn sleep(&mut self, d: Duration) -> std::io::Result<()> {
        tokio::time::sleep(d).await;
        Ok(())
    }
}
