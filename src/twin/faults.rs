//! The twin's fault switches: what is switched on, on which component, and
//! what each switch does to a request, a signature, a callback or the
//! waiting room. The switches take the same `FaultKind` values as the
//! scenario format, so a timeline, `POST /admin/faults` and tests all speak
//! one language. Reads are on every request's path, so when nothing is
//! switched on they cost one atomic load and no lock.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::scenario::model::{Distribution, FaultKind, OutageMode, TwinConfig, WaitingRoomFault};
use crate::scenario::refs::{Channel, FaultOn};

/// A switch that is on.
#[derive(Clone, Debug)]
pub struct Active {
    pub id: u64,
    pub name: String,
    pub on: Channel,
    pub kind: FaultKind,
    pub since: Instant,
}

/// A switch as the admin API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct View {
    pub id: u64,
    pub name: String,
    pub on: String,
    pub fault: FaultKind,
    pub active_for_s: f64,
}

/// When each part of the platform comes back after a core outage that
/// recovers in stages.
#[derive(Clone, Copy, Debug)]
struct Recovery {
    stamping: Instant,
    credits: Instant,
    sales: Instant,
}

#[derive(Default)]
struct State {
    active: Vec<Active>,
    recovery: Option<Recovery>,
}

/// What the switches do to a channel's requests.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChannelEffect {
    pub outage: Option<OutageMode>,
    pub latency: Option<(Duration, Duration)>,
    /// Share of requests failed, and with what status.
    pub error: Option<(f64, u16)>,
}

/// What the switches do to the core.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoreEffect {
    /// The core's outage, while it lasts.
    pub down: Option<OutageMode>,
    /// Signing and serial issue work (no outage, recovery past its
    /// stamping stage).
    pub signing_open: bool,
    pub credits_open: bool,
    pub sales_open: bool,
    pub latency: Option<(Duration, Duration)>,
    pub error: Option<(f64, u16)>,
    pub stock_exhausted: bool,
}

impl Default for CoreEffect {
    fn default() -> Self {
        CoreEffect {
            down: None,
            signing_open: true,
            credits_open: true,
            sales_open: true,
            latency: None,
            error: None,
            stock_exhausted: false,
        }
    }
}

/// What the switches do to payment callbacks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CallbackEffect {
    pub drop: f64,
    pub duplicate: f64,
    pub delay: Option<Distribution>,
}

/// Whether a wait can end: now, at a known instant, or on a change.
pub enum Wait {
    Ready,
    Until(Instant),
    OnChange,
}

#[derive(Default)]
pub struct Faults {
    state: RwLock<State>,
    /// Switches on plus a pending recovery: zero means every query can
    /// answer "nothing" without the lock.
    live: AtomicUsize,
    next_id: AtomicU64,
    changed: Notify,
}

/// Why a switch could not be turned on or off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("{0}")]
    Invalid(String),
    #[error("a `{kind}` fault is already on for `{on}` (id {id}); turn it off first")]
    Conflict {
        kind: &'static str,
        on: String,
        id: u64,
    },
    #[error("no fault with id {0} is on")]
    Unknown(u64),
}

impl Faults {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().expect("fault lock")
    }

    fn quiet(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0
    }

    fn publish(&self, state: &State) {
        let live = state.active.len() + usize::from(state.recovery.is_some());
        self.live.store(live, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Turns a switch on; `config` tells resellers from pass-through
    /// partners and which partners exist.
    pub fn apply(
        &self,
        name: Option<String>,
        on: &FaultOn,
        kind: FaultKind,
        config: &TwinConfig,
        now: Instant,
    ) -> Result<u64, FaultError> {
        let FaultOn::Twin(channel) = on else {
            return Err(FaultError::Invalid(format!(
                "the twin switches `twin/...` faults, not `{on}`"
            )));
        };
        if let Channel::Partner(p) = channel
            && !config.partners.contains_key(p)
        {
            return Err(FaultError::Invalid(format!(
                "the twin has no partner named `{p}`"
            )));
        }
        kind.check_target(on, Some(config))
            .map_err(FaultError::Invalid)?;
        let mut state = self.state.write().expect("fault lock");
        if let Some(other) = state
            .active
            .iter()
            .find(|a| &a.on == channel && a.kind.name() == kind.name())
        {
            return Err(FaultError::Conflict {
                kind: kind.name(),
                on: on.to_string(),
                id: other.id,
            });
        }
        if matches!(kind, FaultKind::Outage(_)) && *channel == Channel::Core {
            state.recovery = None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let name = name.unwrap_or_else(|| format!("{} on {on}", kind.name()));
        state.active.push(Active {
            id,
            name,
            on: channel.clone(),
            kind,
            since: now,
        });
        self.publish(&state);
        Ok(id)
    }

    /// Turns a switch off. Ending a core outage with `recovery` starts its
    /// stages from `now`.
    pub fn clear(&self, id: u64, now: Instant) -> Result<Active, FaultError> {
        let mut state = self.state.write().expect("fault lock");
        let at = state
            .active
            .iter()
            .position(|a| a.id == id)
            .ok_or(FaultError::Unknown(id))?;
        let gone = state.active.remove(at);
        if let (Channel::Core, FaultKind::Outage(outage)) = (&gone.on, &gone.kind) {
            state.recovery = outage.recovery.as_ref().map(|r| Recovery {
                stamping: now + r.stamping.0,
                credits: now + r.credits.0,
                sales: now + r.sales.0,
            });
        }
        self.publish(&state);
        Ok(gone)
    }

    /// Turns every switch off and forgets any recovery in progress.
    pub fn clear_all(&self) -> usize {
        let mut state = self.state.write().expect("fault lock");
        let n = state.active.len();
        *state = State::default();
        self.publish(&state);
        n
    }

    pub fn list(&self, now: Instant) -> Vec<View> {
        self.read()
            .active
            .iter()
            .map(|a| View {
                id: a.id,
                name: a.name.clone(),
                on: FaultOn::Twin(a.on.clone()).to_string(),
                fault: a.kind.clone(),
                active_for_s: (now - a.since).as_secs_f64(),
            })
            .collect()
    }

    /// The effect on requests of `channel` (storefront, stamping, a
    /// partner).
    pub fn channel(&self, channel: &Channel) -> ChannelEffect {
        if self.quiet() {
            return ChannelEffect::default();
        }
        let mut effect = ChannelEffect::default();
        for a in self.read().active.iter().filter(|a| &a.on == channel) {
            match &a.kind {
                FaultKind::Outage(o) => effect.outage = Some(o.mode),
                FaultKind::Latency(l) => effect.latency = Some((l.delay.0, l.jitter.0)),
                FaultKind::ErrorRate(e) => effect.error = Some((e.rate.fraction(), e.status)),
                _ => {}
            }
        }
        effect
    }

    /// The effect on the core, including a recovery in progress.
    pub fn core(&self, now: Instant) -> CoreEffect {
        if self.quiet() {
            return CoreEffect::default();
        }
        let state = self.read();
        let mut effect = CoreEffect::default();
        for a in state.active.iter().filter(|a| a.on == Channel::Core) {
            match &a.kind {
                FaultKind::Outage(o) => effect.down = Some(o.mode),
                FaultKind::Latency(l) => effect.latency = Some((l.delay.0, l.jitter.0)),
                FaultKind::ErrorRate(e) => effect.error = Some((e.rate.fraction(), e.status)),
                FaultKind::StockExhausted(_) => effect.stock_exhausted = true,
                _ => {}
            }
        }
        let up = effect.down.is_none();
        let stage =
            |at: fn(&Recovery) -> Instant| state.recovery.as_ref().is_none_or(|r| now >= at(r));
        effect.signing_open = up && stage(|r| r.stamping);
        effect.credits_open = up && stage(|r| r.credits);
        effect.sales_open = up && stage(|r| r.sales);
        effect
    }

    /// When quota credits flow again: `Ready` now, at a known instant
    /// (recovery), or unknown until a switch changes (outage on).
    pub fn credits(&self, now: Instant) -> Wait {
        let effect = self.core(now);
        if effect.credits_open {
            return Wait::Ready;
        }
        match (effect.down, self.read().recovery) {
            (None, Some(r)) => Wait::Until(r.credits),
            _ => Wait::OnChange,
        }
    }

    /// Whether signing works now, will at a known instant, or waits for a
    /// switch to change.
    pub fn signing(&self, now: Instant) -> Wait {
        let effect = self.core(now);
        if effect.signing_open {
            return Wait::Ready;
        }
        match (effect.down, self.read().recovery) {
            (None, Some(r)) => Wait::Until(r.stamping),
            _ => Wait::OnChange,
        }
    }

    pub fn reseller_exhausted(&self, partner: &str) -> bool {
        !self.quiet()
            && self.read().active.iter().any(|a| {
                matches!(a.kind, FaultKind::StockExhausted(_)) && a.on.partner() == Some(partner)
            })
    }

    pub fn callbacks(&self) -> CallbackEffect {
        if self.quiet() {
            return CallbackEffect::default();
        }
        let mut effect = CallbackEffect::default();
        for a in &self.read().active {
            match &a.kind {
                FaultKind::CallbacksDropped(s) => effect.drop = s.rate.fraction(),
                FaultKind::CallbacksDuplicated(s) => effect.duplicate = s.rate.fraction(),
                FaultKind::CallbacksDelayed(d) => effect.delay = Some(d.delay),
                _ => {}
            }
        }
        effect
    }

    /// The waiting room as a switch sets it, if one does.
    pub fn waiting_room(&self) -> Option<WaitingRoomFault> {
        if self.quiet() {
            return None;
        }
        self.read().active.iter().find_map(|a| match &a.kind {
            FaultKind::WaitingRoom(w) => Some(w.clone()),
            _ => None,
        })
    }

    /// Waits until `check` says ready, or `deadline` passes (false).
    /// Sleeps on switch changes and known instants, never polls.
    pub async fn wait(
        &self,
        deadline: Option<Instant>,
        check: impl Fn(&Self, Instant) -> Wait,
    ) -> bool {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return matches!(check(self, now), Wait::Ready);
            }
            let wake = match check(self, now) {
                Wait::Ready => return true,
                Wait::Until(t) => Some(t),
                Wait::OnChange => None,
            };
            let wake = match (wake, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match wake {
                Some(t) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(t) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{Latency, Outage, Recovery as R, Share};
    use crate::scenario::units::Duration as D;

    fn cfg() -> TwinConfig {
        TwinConfig::default()
    }

    fn outage(recovery: Option<R>) -> FaultKind {
        FaultKind::Outage(Outage {
            mode: OutageMode::Unavailable,
            recovery,
        })
    }

    /// Turns on a core outage that recovers in these stages (seconds).
    fn core_outage(f: &Faults, [stamping, credits, sales]: [u64; 3], now: Instant) -> u64 {
        let stages = R {
            stamping: D::from_secs(stamping),
            credits: D::from_secs(credits),
            sales: D::from_secs(sales),
        };
        let on = FaultOn::Twin(Channel::Core);
        f.apply(None, &on, outage(Some(stages)), &cfg(), now)
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_on_means_no_effect() {
        let f = Faults::default();
        assert_eq!(f.channel(&Channel::Storefront), ChannelEffect::default());
        assert_eq!(f.core(Instant::now()), CoreEffect::default());
        assert_eq!(f.callbacks(), CallbackEffect::default());
    }

    #[tokio::test(start_paused = true)]
    async fn a_core_outage_recovers_in_stages() {
        let f = Faults::default();
        let t0 = Instant::now();
        let id = core_outage(&f, [0, 20, 40], t0);
        let down = f.core(t0);
        assert!(
            down.down.is_some() && !down.signing_open && !down.credits_open && !down.sales_open
        );
        let t1 = t0 + Duration::from_secs(60);
        f.clear(id, t1).unwrap();
        let e = f.core(t1);
        assert!(e.signing_open && !e.credits_open && !e.sales_open);
        let e = f.core(t1 + Duration::from_secs(20));
        assert!(e.signing_open && e.credits_open && !e.sales_open);
        let e = f.core(t1 + Duration::from_secs(40));
        assert!(e.signing_open && e.credits_open && e.sales_open);
    }

    #[tokio::test(start_paused = true)]
    async fn switches_refuse_wrong_targets_and_doubles() {
        let f = Faults::default();
        let now = Instant::now();
        let latency = FaultKind::Latency(Latency {
            delay: D::from_millis(100),
            jitter: D::ZERO,
        });
        let core = FaultOn::Twin(Channel::Core);
        let id = f.apply(None, &core, latency.clone(), &cfg(), now).unwrap();
        assert!(matches!(
            f.apply(None, &core, latency, &cfg(), now),
            Err(FaultError::Conflict { .. })
        ));
        let drop = FaultKind::CallbacksDropped(Share {
            rate: crate::scenario::units::Percent::from_fraction(1.0),
        });
        assert!(matches!(
            f.apply(None, &core, drop, &cfg(), now),
            Err(FaultError::Invalid(_))
        ));
        let ghost = FaultOn::Twin(Channel::Partner("ghost".into()));
        assert!(matches!(
            f.apply(None, &ghost, outage(None), &cfg(), now),
            Err(FaultError::Invalid(_))
        ));
        f.clear(id, now).unwrap();
        assert!(matches!(f.clear(id, now), Err(FaultError::Unknown(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_wake_on_change_and_at_known_instants() {
        let f = std::sync::Arc::new(Faults::default());
        let t0 = Instant::now();
        let id = core_outage(&f, [0, 5, 5], t0);
        let waiter = {
            let f = f.clone();
            tokio::spawn(async move {
                f.wait(None, |f, now| f.credits(now)).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(10)).await;
        f.clear(id, Instant::now()).unwrap();
        let woke = waiter.await.unwrap();
        // Credits return 5s after the outage ended at t0+10s.
        assert_eq!(woke - t0, Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_give_up_at_their_deadline() {
        let f = Faults::default();
        let t0 = Instant::now();
        f.apply(
            None,
            &FaultOn::Twin(Channel::Core),
            outage(None),
            &cfg(),
            t0,
        )
        .unwrap();
        let ok = f
            .wait(Some(t0 + Duration::from_secs(3)), |f, now| f.signing(now))
            .await;
        assert!(!ok);
        assert_eq!(Instant::now() - t0, Duration::from_secs(3));
    }
}
