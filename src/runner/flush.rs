//! The run's clock, once a second: the flusher folds each second of the
//! users' events into histograms and rows on disk (the recorder), shows the
//! progress line, and labels each row with its phase and the faults on;
//! the cutter ends journeys still running when the drain ends or a grace
//! after Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::control::{self, Control};
use super::progress;
use crate::recorder::{Flusher, Names, Recorder};
use crate::scenario::PhaseWindow;
use crate::summary::Summary;

/// Cuts journeys still running when the drain ends, or a grace after
/// Ctrl-C.
pub async fn cut_at_end(control: Arc<Control>, drain_end: Duration) {
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

pub struct FlushJob {
    pub dir: PathBuf,
    pub names: Names,
    pub recorder: Arc<Recorder>,
    pub control: Arc<Control>,
    pub phases: Vec<PhaseWindow>,
    pub progress: bool,
    pub planned: Duration,
    pub initial: Summary,
    /// The fault driver, for the faults on at each second.
    pub faults: Option<Arc<crate::faults::Driver>>,
    /// Live views fed each second (remote write).
    pub observers: Vec<Box<dyn crate::recorder::observe::Observer>>,
    /// Our side of the books' reconciliations, appended to `ids.csv`.
    pub ids: Option<Arc<crate::books::ids::IdLog>>,
    /// The books' latest counters, for the live views.
    pub books: Option<Arc<crate::books::Watch>>,
}

/// Once a second from the clock's start: drains the users and writes.
pub async fn flush_loop(job: FlushJob) -> std::io::Result<Flusher> {
    let t0 = job.control.started().await;
    let base = SystemTime::now() - t0.elapsed();
    job.initial.write(&job.dir)?;
    let comment = format!(
        "surge {} run of {}",
        env!("CARGO_PKG_VERSION"),
        job.initial.scenario.name
    );
    let mut flusher = Flusher::new(&job.dir, job.names, job.recorder, base, &comment)?;
    for observer in job.observers {
        flusher.observe(observer);
    }
    let mut line = progress::Line::new(job.progress, job.planned);
    // The faults on during a second, for its timeline row.
    let active = |second| {
        job.faults
            .as_ref()
            .map(|f| f.active_during(second))
            .unwrap_or_default()
    };
    let mut second = 0u64;
    let mut cut_at = None;
    loop {
        let tick = t0 + Duration::from_secs(second + 1);
        let last = wait_second(&job.control, &mut flusher, tick, &mut cut_at).await;
        let phase = phase_at(&job.phases, second);
        if let Some(books) = &job.books {
            flusher.books_now(books.latest());
        }
        let view = flusher.flush(second, phase, &active(second))?;
        line.show(&view, phase);
        if let Some(ids) = &job.ids {
            ids.append(t0)?;
        }
        if last {
            break;
        }
        second += 1;
    }
    line.finish();
    for line in flusher.end_observers() {
        eprintln!("surge: WARNING: {line}");
    }
    Ok(flusher)
}

/// How long the journeys still running when the run is cut get to notice
/// it and end. A user that does not (a stuck task) must not hold the run
/// open: after this the last row is written without it, and its journey
/// counts as unfinished.
pub const SETTLE: Duration = Duration::from_secs(2);

/// How often the clock looks for the run's end while it waits.
const POLL: Duration = Duration::from_millis(50);

/// Waits until second `tick` has passed, or, once the run is cut, until
/// every user has left the pool (at most [`SETTLE`] after the cut). True
/// when the run is over and the row about to be written is the last. A row
/// is never written before its second has begun, and the clock waits by
/// sleeping, never by spinning, so it never takes a worker from the users.
async fn wait_second(
    control: &Control,
    flusher: &mut Flusher,
    tick: Instant,
    cut_at: &mut Option<Instant>,
) -> bool {
    loop {
        let now = Instant::now();
        if control.is_cut() {
            let since = *cut_at.get_or_insert(now);
            flusher.absorb();
            if control.users_done() || now >= since + SETTLE {
                return true;
            }
        }
        if now >= tick {
            return false;
        }
        tokio::time::sleep((tick - now).min(POLL)).await;
    }
}

fn phase_at(phases: &[PhaseWindow], second: u64) -> &str {
    let t = Duration::from_millis(second * 1000 + 500);
    phases
        .iter()
        .find(|p| p.start <= t && t < p.end)
        .map_or("drain", |p| p.name.as_str())
}
