//! The twin's ledger as `summary.json` and `GET /admin/ledger` carry it:
//! its counters, the invariants judged on them, and a snapshot of both.
//! Part of the contract, so the summary, the gate and the twin share these
//! types without the contract importing the twin; the twin's `Ledger`
//! (the lock and the bookkeeping) fills them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::model::{Invariant, LedgerCounter};

/// The raw counters, changed together under the ledger's lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counters {
    /// Payments captured (one per order paid).
    pub payments_captured: u64,
    /// Payments whose callback credited the quota.
    pub payments_credited: u64,
    /// Quota units credited by those callbacks.
    pub quota_credited: u64,
    /// Callbacks on their way, or held while credits are suspended.
    pub credits_pending: u64,
    /// Callbacks lost: paid, never credited.
    pub credits_lost: u64,
    /// Second deliveries of a callback, recognised by payment id and
    /// ignored.
    pub duplicate_callbacks_ignored: u64,
    /// Quota units spent on stamps.
    pub quota_consumed: u64,
    /// Quota units given back after a failed stamp.
    pub refunds: u64,
    /// Stamps paid with quota that completed.
    pub quota_stamps_completed: u64,
    /// Stamps paid with quota still being signed.
    pub quota_stamps_in_progress: u64,
    /// Stamps made through a partner.
    pub partner_stamps_completed: u64,
    /// Stamps that failed (applicants' and partners').
    pub stamps_failed: u64,
    /// Serial numbers issued (by the core, to applicants and partners).
    pub serials_issued: u64,
    /// Serial numbers spent on a stamp that failed.
    pub serials_wasted: u64,
    /// Serial numbers found issued a second time.
    pub serials_reissued: u64,
}

impl Counters {
    /// A counter as the scenario format names it.
    pub fn get(&self, counter: LedgerCounter) -> u64 {
        use LedgerCounter::*;
        match counter {
            PaymentsCaptured => self.payments_captured,
            QuotaCredited => self.quota_credited,
            CreditsPending => self.credits_pending,
            CreditsLost => self.credits_lost,
            PaidNotCredited => self.credits_pending + self.credits_lost,
            QuotaConsumed => self.quota_consumed,
            StampsCompleted => self.quota_stamps_completed + self.partner_stamps_completed,
            StampsFailed => self.stamps_failed,
            SerialsIssued => self.serials_issued,
            SerialsWasted => self.serials_wasted,
            Refunds => self.refunds,
        }
    }

    /// The verdict on one invariant.
    pub fn verdict(&self, invariant: Invariant) -> Verdict {
        let c = self;
        let (holds, detail) = match invariant {
            Invariant::All => {
                let parts: Vec<Verdict> = [
                    Invariant::PaymentsCredited,
                    Invariant::QuotaAccounted,
                    Invariant::SerialsUnique,
                ]
                .into_iter()
                .map(|i| c.verdict(i))
                .collect();
                let broken: Vec<&str> = parts
                    .iter()
                    .filter(|v| !v.holds)
                    .map(|v| v.detail.as_str())
                    .collect();
                (
                    broken.is_empty(),
                    if broken.is_empty() {
                        "every invariant holds".into()
                    } else {
                        broken.join("; ")
                    },
                )
            }
            Invariant::PaymentsCredited => {
                let accounted = c.payments_credited + c.credits_pending + c.credits_lost;
                let detail = format!(
                    "{} payments captured: {} credited, {} pending, {} lost",
                    c.payments_captured, c.payments_credited, c.credits_pending, c.credits_lost
                );
                (
                    accounted == c.payments_captured && c.credits_lost == 0,
                    detail,
                )
            }
            Invariant::QuotaAccounted => {
                let accounted = c.quota_stamps_completed + c.refunds + c.quota_stamps_in_progress;
                let detail = format!(
                    "{} quota units consumed: {} stamped, {} refunded, {} in progress",
                    c.quota_consumed,
                    c.quota_stamps_completed,
                    c.refunds,
                    c.quota_stamps_in_progress
                );
                (accounted == c.quota_consumed, detail)
            }
            Invariant::SerialsUnique => (
                c.serials_reissued == 0,
                format!(
                    "{} serial numbers issued, {} issued twice",
                    c.serials_issued, c.serials_reissued
                ),
            ),
        };
        Verdict {
            invariant,
            holds,
            detail,
        }
    }
}

/// Whether an invariant holds, and the figures behind the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    pub invariant: Invariant,
    pub holds: bool,
    pub detail: String,
}

/// The ledger as `GET /admin/ledger` and a run's summary show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    pub counters: Counters,
    /// Captured payments not credited at this moment (pending + lost).
    pub paid_not_credited: u64,
    pub stamps_completed: u64,
    pub invariants: Vec<Verdict>,
    /// Each reseller whose own stock ran out ("stok habis"), in the order
    /// it happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stock_outs: Vec<StockOut>,
}

/// A reseller that refused sales for want of stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockOut {
    pub partner: String,
    /// When it first refused, in ms since the twin started (about the
    /// run's clock: the twin starts just before the schedule).
    pub first_ms: u64,
    /// Sales and stamps it refused for want of stock.
    pub refused: u64,
}
