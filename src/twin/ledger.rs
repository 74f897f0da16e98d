//! The twin's books: what was paid, credited, consumed, stamped, issued and
//! wasted, and the invariants that must reconcile at the end of a run.
//! Every state change that the invariants compare is made under one lock,
//! in one step, so a snapshot taken under load is always consistent: a
//! broken invariant means the platform (or a fault) lost something, never
//! that two counters were read a moment apart.

use std::sync::Mutex;

use crate::scenario::model::{Invariant, LedgerCounter};
pub use crate::summary::ledger::{Counters, Snapshot, StockOut, Verdict};

#[derive(Default)]
pub struct Ledger {
    counters: Mutex<Counters>,
    stock_outs: Mutex<Vec<StockOut>>,
    /// Orders whose payment was credited, in the order they were: what a
    /// books `records` query reads from the twin.
    credited: Mutex<Vec<String>>,
}

impl Ledger {
    /// Applies one state change to the counters, atomically.
    pub fn record<R>(&self, change: impl FnOnce(&mut Counters) -> R) -> R {
        change(&mut self.counters.lock().expect("ledger lock"))
    }

    /// A reseller refused a sale for want of stock, `at_ms` after the twin
    /// started.
    pub fn stock_out(&self, partner: &str, at_ms: u64) {
        let mut outs = self.stock_outs.lock().expect("stock-outs lock");
        match outs.iter_mut().find(|s| s.partner == partner) {
            Some(s) => s.refused += 1,
            None => outs.push(StockOut {
                partner: partner.to_string(),
                first_ms: at_ms,
                refused: 1,
            }),
        }
    }

    /// `order`'s payment was credited.
    pub fn credited(&self, order: &str) {
        self.credited
            .lock()
            .expect("credited lock")
            .push(order.to_string());
    }

    /// The orders credited so far.
    pub fn credited_orders(&self) -> Vec<String> {
        self.credited.lock().expect("credited lock").clone()
    }

    pub fn counters(&self) -> Counters {
        *self.counters.lock().expect("ledger lock")
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = self.counters();
        Snapshot {
            counters: c,
            paid_not_credited: c.get(LedgerCounter::PaidNotCredited),
            stamps_completed: c.get(LedgerCounter::StampsCompleted),
            invariants: [
                Invariant::PaymentsCredited,
                Invariant::QuotaAccounted,
                Invariant::SerialsUnique,
            ]
            .into_iter()
            .map(|i| c.verdict(i))
            .collect(),
            stock_outs: self.stock_outs.lock().expect("stock-outs lock").clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invariants_read_the_counters() {
        let mut c = Counters {
            payments_captured: 10,
            payments_credited: 7,
            credits_pending: 3,
            quota_consumed: 5,
            quota_stamps_completed: 3,
            refunds: 1,
            quota_stamps_in_progress: 1,
            ..Counters::default()
        };
        assert!(c.verdict(Invariant::All).holds);
        c.credits_pending = 1;
        c.credits_lost = 2;
        let v = c.verdict(Invariant::PaymentsCredited);
        assert!(!v.holds && v.detail.contains("2 lost"), "{v:?}");
        assert_eq!(c.get(LedgerCounter::PaidNotCredited), 3);
        c.quota_stamps_in_progress = 0;
        assert!(!c.verdict(Invariant::QuotaAccounted).holds);
        assert!(!c.verdict(Invariant::All).holds);
    }
}
