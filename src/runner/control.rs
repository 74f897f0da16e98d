//! A run's controls: when its clock starts, when the schedule stops
//! handing out arrivals, and when journeys still running are cut. Ctrl-C
//! and SIGTERM stop the schedule and cut what is left after a short grace;
//! a second Ctrl-C exits at once (what was written so far stays on disk).
//! surge owns the signal handler: it is installed before goose's, which
//! then declines to install its own.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long journeys in flight get to finish after Ctrl-C or SIGTERM.
pub const GRACE: Duration = Duration::from_secs(5);

pub struct Control {
    t0: OnceLock<Instant>,
    started: Notify,
    stop: AtomicBool,
    interrupted: AtomicBool,
    cut: AtomicBool,
    cut_now: Notify,
    /// Every user has left the pool (the goose attack returned).
    users_done: AtomicBool,
    /// Users ready to serve, so the clock starts with the pool in place.
    pub ready: AtomicUsize,
    /// The objective decided missed that stopped the run.
    early: OnceLock<crate::summary::StoppedEarly>,
}

impl Control {
    pub fn new() -> Arc<Control> {
        Arc::new(Control {
            t0: OnceLock::new(),
            started: Notify::new(),
            stop: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            cut_now: Notify::new(),
            users_done: AtomicBool::new(false),
            ready: AtomicUsize::new(0),
            early: OnceLock::new(),
        })
    }

    /// Starts the schedule's clock (once).
    pub fn start(&self, t0: Instant) {
        if self.t0.set(t0).is_ok() {
            self.started.notify_waiters();
        }
    }

    pub fn t0(&self) -> Option<Instant> {
        self.t0.get().copied()
    }

    /// Waits for the clock to start.
    pub async fn started(&self) -> Instant {
        loop {
            let notified = self.started.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t0) = self.t0() {
                return t0;
            }
            notified.await;
        }
    }

    /// Stops handing out arrivals.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Ctrl-C or SIGTERM: stop the schedule, cut after the grace.
    pub fn interrupt(self: &Arc<Self>) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.stop();
    }

    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// An objective was decided missed: the run stops at once, journeys
    /// in flight cut (they could not change the verdict). Ignored once
    /// the run is stopping for another reason. True when it stopped the
    /// run.
    pub fn stop_early(&self, why: crate::summary::StoppedEarly) -> bool {
        if self.stopped() {
            return false;
        }
        let first = self.early.set(why).is_ok();
        self.cut();
        first
    }

    /// What stopped the run early, if anything did.
    pub fn stopped_early(&self) -> Option<crate::summary::StoppedEarly> {
        self.early.get().cloned()
    }

    /// Ends every journey still running; no arrival is handed out after.
    pub fn cut(&self) {
        self.stop();
        self.cut.store(true, Ordering::SeqCst);
        self.cut_now.notify_waiters();
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// The pool is empty: no user will record anything more.
    pub fn set_users_done(&self) {
        self.users_done.store(true, Ordering::SeqCst);
    }

    pub fn users_done(&self) -> bool {
        self.users_done.load(Ordering::SeqCst)
    }

    /// Completes `after` the run is cut.
    pub async fn cut_for(&self, after: Duration) {
        self.unless_cut(std::future::pending::<()>()).await;
        tokio::time::sleep(after).await;
    }

    /// Runs `work` unless the run is cut first (`None`).
    pub async fn unless_cut<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let cut = self.cut_now.notified();
        tokio::pin!(cut);
        cut.as_mut().enable();
        if self.is_cut() {
            return None;
        }
        tokio::select! {
            v = work => Some(v),
            _ = cut => None,
        }
    }
}

static CURRENT: Mutex<Option<Arc<Control>>> = Mutex::new(None);
static PRESSES: AtomicU8 = AtomicU8::new(0);

/// Routes Ctrl-C and SIGTERM to `control` for the run's duration. The
/// handler is installed once per process, before goose installs its own.
pub fn route_signals(control: &Arc<Control>) {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            if PRESSES.fetch_add(1, Ordering::SeqCst) > 0 {
                eprintln!("\nsurge: interrupted again; exiting now (the run folder keeps what was written)");
                std::process::exit(3);
            }
            eprintln!("\nsurge: stopping: no new arrivals; journeys in flight get {}s", GRACE.as_secs());
            if let Some(c) = CURRENT.lock().expect("signal lock").as_ref() {
                c.interrupt();
            }
        })
        .is_ok()
    });
    PRESSES.store(0, Ordering::SeqCst);
    *CURRENT.lock().expect("signal lock") = Some(control.clone());
}

/// Whether Ctrl-C or SIGTERM came since the last run began routing them
/// (also after it ended): a sequence of runs (`surge whatif`) starts no
/// other.
pub fn interrupted_since_last_run() -> bool {
    PRESSES.load(Ordering::SeqCst) > 0
}

/// The run is over: signals no longer reach it.
pub fn release_signals() {
    *CURRENT.lock().expect("signal lock") = None;
}
