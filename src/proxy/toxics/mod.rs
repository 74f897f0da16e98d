//! One file per toxic. `build` turns a fault of the scenario format (the
//! same enum the proxy's control API takes) into the toxic that carries it
//! out; HTTP-level faults are not toxics of the byte stream and are handled
//! by the proxy's request framing instead.

mod bandwidth;
mod latency;
mod limit_data;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

use std::sync::Arc;

pub use bandwidth::Bandwidth;
pub use latency::Latency;
pub use limit_data::LimitData;
pub use reset_peer::ResetPeer;
pub use slicer::Slicer;
pub use slow_close::SlowClose;
pub use timeout::Timeout;

use super::toxic::Toxic;
use crate::scenario::model::FaultKind;

/// The TCP toxic for `kind`, or `None` for kinds the proxy handles
/// otherwise (`down`, `error_rate`, `http_delay`) or not at all.
pub fn build(kind: &FaultKind) -> Option<Arc<dyn Toxic>> {
    Some(match kind {
        FaultKind::Latency(l) => Arc::new(Latency {
            delay: l.delay.0,
            jitter: l.jitter.0,
        }),
        FaultKind::Bandwidth(b) => Arc::new(Bandwidth {
            bytes_per_s: b.rate.0,
        }),
        FaultKind::SlowClose(d) => Arc::new(SlowClose { delay: d.delay.0 }),
        FaultKind::Timeout(a) => Arc::new(Timeout { after: a.after.0 }),
        FaultKind::ResetPeer(a) => Arc::new(ResetPeer { after: a.after.0 }),
        FaultKind::Slicer(s) => Arc::new(Slicer {
            average: s.average.0.max(1),
            variation: s.variation.0,
            delay: s.delay.0,
        }),
        FaultKind::LimitData(l) => Arc::new(LimitData { bytes: l.bytes.0 }),
        // Every kind is named, so a new one is decided here: the proxy
        // answers these in HTTP or by refusing (`proxy::Entry`), and the
        // rest are the twin's switches or hooks.
        FaultKind::Down(_)
        | FaultKind::ErrorRate(_)
        | FaultKind::HttpDelay(_)
        | FaultKind::Outage(_)
        | FaultKind::StockExhausted(_)
        | FaultKind::CallbacksDropped(_)
        | FaultKind::CallbacksDelayed(_)
        | FaultKind::CallbacksDuplicated(_)
        | FaultKind::WaitingRoom(_)
        | FaultKind::Hook(_) => return None,
    })
}
