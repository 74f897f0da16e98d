//! The storefront's waiting room, as plain logic on explicit instants:
//! applicants join a line and get a ticket, tickets are admitted in order
//! at a fixed rate, a ticket that is not polled for a while loses its
//! place, and an admission token expires if it is not used in time. Work
//! happens lazily on each join or poll (no timer task), in proportion to
//! the admissions due since the last one.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::expiring::Expiring;
use super::random;

/// The waiting room's settings at a moment (the configured ones, or a
/// switch's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub enabled: bool,
    pub admit_per_s: f64,
    pub queue: u32,
}

/// What a ticket holder sees.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TicketView {
    pub ticket: String,
    /// Applicants ahead, this one included; 0 once admitted.
    pub position: u64,
    pub estimated_wait_s: f64,
    pub admitted: bool,
    /// The admission token for orders, once admitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<String>,
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RoomStats {
    pub joined: u64,
    pub admitted: u64,
    pub refused: u64,
    /// Tickets that lost their place by not polling.
    pub lost: u64,
    pub waiting: u64,
}

pub struct WaitingRoom {
    /// Waiting tickets: id → place in line. Expires when not polled.
    waiting: Expiring<String, u64>,
    /// Admitted tickets: id → admission token.
    admitted: Expiring<String, String>,
    /// Live admission tokens.
    tokens: Expiring<String, ()>,
    /// Tickets in order of arrival (some may have lost their place).
    line: VecDeque<(u64, String)>,
    next_seq: u64,
    /// Admissions due but not yet made (fractional).
    budget: f64,
    last: Instant,
    stats: RoomStats,
}

impl WaitingRoom {
    pub fn new(admission_ttl: Duration, idle_timeout: Duration, now: Instant) -> Self {
        WaitingRoom {
            waiting: Expiring::new(idle_timeout),
            admitted: Expiring::new(admission_ttl),
            tokens: Expiring::new(admission_ttl),
            line: VecDeque::new(),
            next_seq: 0,
            // An idle room lets its first arrival straight in.
            budget: 1.0,
            last: now,
            stats: RoomStats::default(),
        }
    }

    /// Joins the line, or `None` when it is full. With the room off, the
    /// ticket is admitted at once (so clients follow one path either way).
    pub fn join(&mut self, now: Instant, p: Params) -> Option<TicketView> {
        self.advance(now, p);
        if p.enabled && self.waiting.len() as u64 >= u64::from(p.queue) {
            self.stats.refused += 1;
            return None;
        }
        self.stats.joined += 1;
        let id = format!("T{:x}{}", self.next_seq, &random::token()[..8]);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.waiting.insert(id.clone(), seq, now);
        self.line.push_back((seq, id.clone()));
        self.advance(now, p);
        self.poll(&id, now, p)
    }

    /// A ticket's state; polling keeps its place. `None` for tickets that
    /// are unknown or lost.
    pub fn poll(&mut self, id: &String, now: Instant, p: Params) -> Option<TicketView> {
        self.advance(now, p);
        if let Some(token) = self.admitted.get(id, now) {
            return Some(TicketView {
                ticket: id.clone(),
                position: 0,
                estimated_wait_s: 0.0,
                admitted: true,
                admission: Some(token.clone()),
            });
        }
        let seq = *self.waiting.touch(id, now)?;
        let front = self.line.front().map_or(seq, |(s, _)| *s);
        let position = seq - front + 1;
        Some(TicketView {
            ticket: id.clone(),
            position,
            estimated_wait_s: if p.admit_per_s > 0.0 {
                position as f64 / p.admit_per_s
            } else {
                f64::INFINITY
            },
            admitted: false,
            admission: None,
        })
    }

    /// Whether `token` admits its holder now.
    pub fn admits(&mut self, token: &String, now: Instant) -> bool {
        self.tokens.get(token, now).is_some()
    }

    pub fn stats(&mut self, now: Instant) -> RoomStats {
        self.waiting.prune(now);
        RoomStats {
            waiting: self.waiting.len() as u64,
            ..self.stats
        }
    }

    /// Makes the admissions due since the last call.
    fn advance(&mut self, now: Instant, p: Params) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.stats.lost += self.waiting.prune(now).len() as u64;
        self.budget = if p.enabled {
            self.budget + elapsed * p.admit_per_s
        } else {
            f64::INFINITY
        };
        while self.budget >= 1.0 {
            let Some((_, id)) = self.line.pop_front() else {
                break;
            };
            // A ticket that lost its place takes no admission.
            if self.waiting.remove(&id).is_none() {
                continue;
            }
            let token = random::token();
            self.tokens.insert(token.clone(), (), now);
            self.admitted.insert(id, token, now);
            self.stats.admitted += 1;
            self.budget -= 1.0;
        }
        // Admissions do not pile up while nobody waits.
        if self.line.is_empty() {
            self.budget = self.budget.min(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Params = Params {
        enabled: true,
        admit_per_s: 10.0,
        queue: 1000,
    };

    fn room(now: Instant) -> WaitingRoom {
        WaitingRoom::new(Duration::from_secs(60), Duration::from_secs(30), now)
    }

    #[tokio::test(start_paused = true)]
    async fn admits_at_the_configured_rate_in_order() {
        let t0 = Instant::now();
        let mut r = room(t0);
        let ids: Vec<String> = (0..100).map(|_| r.join(t0, ON).unwrap().ticket).collect();
        let t = t0 + Duration::from_secs(5);
        let views: Vec<TicketView> = ids.iter().map(|id| r.poll(id, t, ON).unwrap()).collect();
        // 10 per second for 5 seconds, plus the first admitted on arrival.
        let admitted = views.iter().filter(|v| v.admitted).count();
        assert!((50..=51).contains(&admitted), "{admitted}");
        assert!(
            views[..admitted].iter().all(|v| v.admitted),
            "admission follows the line"
        );
        let next = &views[admitted];
        assert_eq!(next.position, 1);
        assert_eq!(views[admitted + 9].position, 10);
        assert!((views[admitted + 9].estimated_wait_s - 1.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_when_full_and_admits_at_once_when_off() {
        let t0 = Instant::now();
        let mut r = room(t0);
        let small = Params {
            queue: 3,
            admit_per_s: 0.001,
            ..ON
        };
        // The first admission is due at once; the next three wait.
        for _ in 0..4 {
            assert!(r.join(t0, small).is_some());
        }
        assert!(r.join(t0, small).is_none());
        assert_eq!(r.stats(t0).refused, 1);
        let off = Params {
            enabled: false,
            ..ON
        };
        let v = r.join(t0, off).unwrap();
        assert!(v.admitted && v.admission.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_tickets_lose_their_place_and_take_no_admission() {
        let t0 = Instant::now();
        let mut r = room(t0);
        // One admission every 50s; the first arrival walks straight in.
        let slow = Params {
            admit_per_s: 0.02,
            ..ON
        };
        assert!(r.join(t0, slow).unwrap().admitted);
        let idle = r.join(t0, slow).unwrap().ticket;
        let keen = r.join(t0, slow).unwrap().ticket;
        for s in [10, 20, 30, 40] {
            assert!(
                !r.poll(&keen, t0 + Duration::from_secs(s), slow)
                    .unwrap()
                    .admitted
            );
        }
        let t = t0 + Duration::from_secs(41);
        assert!(r.poll(&idle, t, slow).is_none(), "not polled for 30s");
        assert_eq!(r.stats(t).lost, 1);
        // The admission due at 50s skips the lost ticket ahead of `keen`.
        let v = r.poll(&keen, t0 + Duration::from_secs(50), slow).unwrap();
        assert!(v.admitted);
    }

    #[tokio::test(start_paused = true)]
    async fn admissions_expire_if_unused() {
        let t0 = Instant::now();
        let mut r = room(t0);
        let token = r.join(t0, ON).unwrap().admission.unwrap();
        assert!(r.admits(&token, t0 + Duration::from_secs(59)));
        assert!(!r.admits(&token, t0 + Duration::from_secs(60)));
    }
}
