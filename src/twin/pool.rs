//! A pool of workers with a bounded waiting line in front: beyond the line
//! a request is refused at once, and one that waits too long for a worker
//! fails. The core's signing service is one; so is each pool of a fitted
//! platform (`target.twin.fitted`). Capacity lives here, never in the HTTP
//! server.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

pub struct Pool {
    permits: Semaphore,
    /// Requests waiting for a worker.
    waiting: AtomicUsize,
    /// Workers busy.
    busy: AtomicUsize,
    queue: usize,
    timeout: Duration,
}

/// A place in the waiting line. Dropping it leaves the line.
pub struct Slot {
    pool: Arc<Pool>,
    queued: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.queued {
            self.pool.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// No worker became free within the pool's timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

/// Marks a worker busy while it works.
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    pub fn new(workers: u32, queue: u32, timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            permits: Semaphore::new(workers.max(1) as usize),
            waiting: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            queue: queue as usize,
            timeout,
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Takes a place in the line; `None` when it is full.
    pub fn enter(self: &Arc<Self>) -> Option<Slot> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot {
            pool: self.clone(),
            queued: true,
        })
    }

    /// Requests waiting for a worker, and workers busy.
    pub fn load(&self) -> (usize, usize) {
        (
            self.waiting.load(Ordering::Acquire),
            self.busy.load(Ordering::Acquire),
        )
    }

    /// Waits for a worker (up to the timeout), then holds it while the
    /// work `start` makes runs. The work is made only once a worker is
    /// free: a timer made before would run its time down in the line.
    pub async fn serve<T, F: Future<Output = T>>(
        &self,
        mut slot: Slot,
        start: impl FnOnce() -> F,
    ) -> Result<T, TimedOut> {
        let permit = tokio::time::timeout(self.timeout, self.permits.acquire())
            .await
            .map_err(|_| TimedOut)?
            .expect("the semaphore is never closed");
        slot.queued = false;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.busy.fetch_add(1, Ordering::AcqRel);
        let _busy = Busy(&self.busy);
        let out = start().await;
        drop(permit);
        Ok(out)
    }
}
