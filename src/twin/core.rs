//! The vendor's core: the inventory of serial numbers and the signing
//! service every stamp goes through. Signing is a pool of a few workers
//! with a bounded queue in front: beyond the queue the core refuses at once
//! (503 with Retry-After), and a request that waits too long for a worker
//! fails. That pool, not the HTTP server, is where the twin's capacity
//! lives, as it did in 2024.

use std::sync::Arc;
use std::sync::Mutex;

use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::api::ApiError;
use super::faults::Faults;
use super::ledger::Ledger;
use super::pool::Pool;
use super::random;
use crate::scenario::model::{Distribution, OutageMode, PartnerKind, TwinConfig};

/// A serial number: `EM2024` and twelve digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(pub u64);

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EM2024{:012}", self.0)
    }
}

impl std::str::FromStr for Serial {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let digits = s.strip_prefix("EM2024").ok_or(())?;
        if digits.len() != 12 {
            return Err(());
        }
        digits.parse().map(Serial).map_err(|_| ())
    }
}

/// Why the core could not serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreError {
    Unavailable,
    Exhausted,
    QueueFull,
    Timeout,
    Failed(u16),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> ApiError {
        match e {
            CoreError::Unavailable => ApiError::unavailable("the core is down; try again later"),
            CoreError::Exhausted => ApiError::new(
                StatusCode::CONFLICT,
                "stock_exhausted",
                "stok habis: the core has no serial numbers left",
            ),
            CoreError::QueueFull => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "the signing service is full; try again shortly",
            )
            .retry_after(1),
            CoreError::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "signing_timeout",
                "no signing worker became free in time",
            ),
            CoreError::Failed(status) => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "signing_failed",
                "the signing service failed",
            ),
        }
    }
}

/// One bit per serial number that can exist.
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(bits: u64) -> Self {
        BitSet(vec![0; (bits / 64 + 1) as usize])
    }

    /// Sets bit `n`; false when it was set already (or out of range).
    fn insert(&mut self, n: u64) -> bool {
        let Some(word) = self.0.get_mut((n / 64) as usize) else {
            return false;
        };
        let mask = 1u64 << (n % 64);
        let fresh = *word & mask == 0;
        *word |= mask;
        fresh
    }

    fn contains(&self, n: u64) -> bool {
        self.0
            .get((n / 64) as usize)
            .is_some_and(|w| w & (1 << (n % 64)) != 0)
    }
}

struct Stock {
    /// What the core may still issue.
    remaining: u64,
    next: u64,
    issued: BitSet,
    used: BitSet,
}

pub struct Core {
    stock: Mutex<Stock>,
    pool: Arc<Pool>,
    /// The signing service's time per signature.
    service: Distribution,
    secret: u128,
}

pub use super::pool::Slot;

impl Core {
    pub fn new(config: &TwinConfig) -> Core {
        let resellers: u64 = config
            .partners
            .values()
            .filter(|p| p.kind == PartnerKind::Reseller)
            .map(|p| p.stock)
            .sum();
        let bits = config.core.stock + resellers + 1;
        let signing = &config.core.signing;
        Core {
            stock: Mutex::new(Stock {
                remaining: config.core.stock,
                next: 1,
                issued: BitSet::new(bits),
                used: BitSet::new(bits),
            }),
            pool: Pool::new(signing.workers, signing.queue, signing.timeout.0),
            service: signing.service_time,
            secret: rand::random(),
        }
    }

    /// Waits while a core outage hangs requests, up to the signing timeout;
    /// fails at once while it answers 503 or while recovery keeps signing
    /// closed.
    pub async fn gate(&self, faults: &Faults) -> Result<(), CoreError> {
        let now = Instant::now();
        let effect = faults.core(now);
        if effect.signing_open {
            return Ok(());
        }
        if effect.down != Some(OutageMode::Hang) {
            return Err(CoreError::Unavailable);
        }
        let deadline = now + self.pool.timeout();
        match faults.wait(Some(deadline), |f, now| f.signing(now)).await {
            true => Ok(()),
            false => Err(CoreError::Timeout),
        }
    }

    /// Issues `n` serial numbers from the core's stock.
    pub fn issue(
        &self,
        n: u64,
        faults: &Faults,
        ledger: &Ledger,
    ) -> Result<Vec<Serial>, CoreError> {
        let effect = faults.core(Instant::now());
        if !effect.signing_open {
            return Err(CoreError::Unavailable);
        }
        let mut stock = self.stock.lock().expect("stock lock");
        if effect.stock_exhausted || stock.remaining < n {
            return Err(CoreError::Exhausted);
        }
        stock.remaining -= n;
        Ok(Self::take(&mut stock, n, ledger))
    }

    /// Serial numbers a reseller already held when the twin started: they
    /// do not come out of the core's remaining stock.
    pub fn issue_initial(&self, n: u64, ledger: &Ledger) -> Vec<Serial> {
        Self::take(&mut self.stock.lock().expect("stock lock"), n, ledger)
    }

    fn take(stock: &mut Stock, n: u64, ledger: &Ledger) -> Vec<Serial> {
        let mut out = Vec::with_capacity(n as usize);
        let mut reissued = 0;
        for _ in 0..n {
            let serial = stock.next;
            stock.next += 1;
            if !stock.issued.insert(serial) {
                reissued += 1;
            }
            out.push(Serial(serial));
        }
        ledger.record(|c| {
            c.serials_issued += n;
            c.serials_reissued += reissued;
        });
        out
    }

    /// Marks a serial spent on a stamp; false if it was never issued or is
    /// spent already.
    pub fn spend(&self, serial: Serial) -> bool {
        let mut stock = self.stock.lock().expect("stock lock");
        stock.issued.contains(serial.0) && stock.used.insert(serial.0)
    }

    pub fn remaining(&self) -> u64 {
        self.stock.lock().expect("stock lock").remaining
    }

    /// Takes a place in the signing queue, or refuses when it is full.
    pub fn enter(&self) -> Result<Slot, CoreError> {
        self.pool.enter().ok_or(CoreError::QueueFull)
    }

    /// Requests waiting for a worker, and workers signing.
    pub fn load(&self) -> (usize, usize) {
        self.pool.load()
    }

    /// Signs `digest` under `serial`: waits for a worker (up to the
    /// timeout), then takes a service time (plus any latency switch).
    pub async fn sign(
        &self,
        slot: Slot,
        faults: &Faults,
        serial: Serial,
        digest: &str,
    ) -> Result<String, CoreError> {
        self.gate(faults).await?;
        let work = || async {
            let effect = faults.core(Instant::now());
            let mut service = random::sample(&self.service);
            if let Some((delay, jitter)) = effect.latency {
                service += random::jittered(delay, jitter);
            }
            tokio::time::sleep(service).await;
            effect
        };
        let effect = self
            .pool
            .serve(slot, work)
            .await
            .map_err(|_| CoreError::Timeout)?;
        if let Some((rate, status)) = effect.error
            && random::chance(rate)
        {
            return Err(CoreError::Failed(status));
        }
        Ok(self.signature(serial, digest))
    }

    fn signature(&self, serial: Serial, digest: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.secret.to_le_bytes());
        h.update(serial.to_string());
        h.update(digest);
        hex(&h.finalize()[..16])
    }
}

pub use crate::human::hex;

/// SHA-256 of a document, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scenario::units::Duration as D;

    fn core(workers: u32, queue: u32, ms: u64, stock: u64) -> Core {
        let mut cfg = TwinConfig::default();
        cfg.partners.clear();
        cfg.core.stock = stock;
        cfg.core.signing.workers = workers;
        cfg.core.signing.queue = queue;
        cfg.core.signing.timeout = D::from_secs(1);
        cfg.core.signing.service_time = Distribution::new(D::from_millis(ms), D::from_millis(ms));
        Core::new(&cfg)
    }

    #[test]
    fn serials_print_and_parse() {
        let s = Serial(42);
        assert_eq!(s.to_string(), "EM2024000000000042");
        assert_eq!("EM2024000000000042".parse::<Serial>(), Ok(s));
        assert!("EM20240042".parse::<Serial>().is_err());
    }

    #[test]
    fn stock_runs_out_exactly_and_is_spent_once() {
        let (c, f, l) = (core(1, 1, 1, 3), Faults::default(), Ledger::default());
        let got = c.issue(2, &f, &l).unwrap();
        assert_eq!(got, vec![Serial(1), Serial(2)]);
        assert_eq!(c.issue(2, &f, &l), Err(CoreError::Exhausted));
        assert_eq!(c.issue(1, &f, &l).unwrap(), vec![Serial(3)]);
        assert!(c.spend(Serial(1)) && !c.spend(Serial(1)) && !c.spend(Serial(99)));
        assert_eq!(l.counters().serials_issued, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_at_once_and_workers_bound_throughput() {
        let small = core(2, 2, 100, 100);
        let slots: Vec<Slot> = (0..2).map(|_| small.enter().unwrap()).collect();
        assert!(
            matches!(small.enter(), Err(CoreError::QueueFull)),
            "two waiting is the bound"
        );
        drop(slots);
        assert!(small.enter().is_ok(), "leaving the queue frees a place");

        let c = Arc::new(core(2, 4, 100, 100));
        let f = Arc::new(Faults::default());
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let (c, f) = (c.clone(), f.clone());
                let slot = c.enter().unwrap_or_else(|_| panic!("slot {i}"));
                tokio::spawn(async move { c.sign(slot, &f, Serial(i), "d").await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // Four signatures of 100ms on two workers take 200ms.
        assert_eq!(Instant::now() - t0, Duration::from_millis(200));
        assert_eq!(c.load(), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_past_the_timeout_fails() {
        let c = Arc::new(core(1, 10, 5000, 10));
        let f = Arc::new(Faults::default());
        let first = {
            let (c, f, slot) = (c.clone(), f.clone(), c.enter().unwrap());
            tokio::spawn(async move { c.sign(slot, &f, Serial(1), "d").await })
        };
        tokio::task::yield_now().await;
        let second = c.sign(c.enter().unwrap(), &f, Serial(2), "d").await;
        assert_eq!(second, Err(CoreError::Timeout));
        assert!(first.await.unwrap().is_ok());
    }
}
