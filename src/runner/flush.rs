//! The run's clock, once a second: the flusher folds each second of the
//! users' events into histograms and rows on disk (the recorder), shows the
//! progress line, and labels each row with its phase and the faults on;
//! the cutter ends journeys still running when the drain ends or a grace
//! after Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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

fn phase_at(phases: &[PhaseWindow], second: u64) -> &str {
    let t = Duration::from_millis(second * 1000 + 500);
    phases
        .iter()
        .find(|p| p.start <= t && t < p.end)
        .map_or("drain", |p| p.name.as_str())
}
