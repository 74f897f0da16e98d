//! A map whose entries expire, so every per-applicant table of the twin
//! (tickets, sessions, documents, jobs) stays bounded however long it
//! runs. Expiry is lazy: each write prunes what has expired, oldest first,
//! from a queue of (expiry, key). Touching an entry (a ticket that is
//! polled) only moves its expiry in the map; when its old queue place comes
//! up it is put back at its new expiry, so a table polled 30,000 times a
//! second still holds about one queue place per entry. Time is passed in,
//! so tests control it exactly.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

pub struct Expiring<K, V> {
    map: HashMap<K, (V, Instant)>,
    /// (expiry, key), in order of expiry as far as inserts go; places of
    /// touched entries are early, never late, so nothing expires late by
    /// more than one pass.
    queue: VecDeque<(Instant, K)>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V> Expiring<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Expiring {
            map: HashMap::new(),
            queue: VecDeque::new(),
            ttl,
        }
    }

    /// Inserts `value`, living `ttl` from `now`; returns what expired.
    pub fn insert(&mut self, key: K, value: V, now: Instant) -> Vec<(K, V)> {
        let expired = self.prune(now);
        let until = now + self.ttl;
        self.queue.push_back((until, key.clone()));
        self.map.insert(key, (value, until));
        expired
    }

    /// The live value of `key`.
    pub fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.map
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v)
    }

    pub fn get_mut(&mut self, key: &K, now: Instant) -> Option<&mut V> {
        self.map
            .get_mut(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v)
    }

    /// Gives a live entry a full `ttl` again from `now`.
    pub fn touch(&mut self, key: &K, now: Instant) -> Option<&mut V> {
        let (value, until) = self.map.get_mut(key).filter(|(_, until)| *until > now)?;
        *until = now + self.ttl;
        Some(value)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(v, _)| v)
    }

    /// Removes and returns every expired entry.
    pub fn prune(&mut self, now: Instant) -> Vec<(K, V)> {
        let mut expired = Vec::new();
        while let Some((until, _)) = self.queue.front() {
            if *until > now {
                break;
            }
            let (until, key) = self.queue.pop_front().expect("front exists");
            match self.map.get(&key).map(|(_, u)| *u) {
                Some(u) if u <= now => {
                    let (value, _) = self.map.remove(&key).expect("checked");
                    expired.push((key, value));
                }
                // Touched since this place was queued: queue it again at
                // its real expiry.
                Some(u) if u > until => self.queue.push_back((u, key)),
                // Removed, or replaced with a place of its own.
                _ => {}
            }
        }
        expired
    }

    /// Removes the entry that expires first, live or not.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        let mut seen = 0;
        while let Some((until, key)) = self.queue.pop_front() {
            match self.map.get(&key).map(|(_, u)| *u) {
                // The front place is the entry's own: it is the oldest.
                Some(u) if u == until || seen > self.map.len() => {
                    let (value, _) = self.map.remove(&key).expect("checked");
                    return Some((key, value));
                }
                Some(u) => {
                    self.queue.push_back((u, key));
                    seen += 1;
                }
                None => {}
            }
        }
        None
    }

    /// Entries held, expired ones not yet pruned included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Places in the expiry queue, for tests of the memory bound.
    #[cfg(test)]
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_their_ttl() {
        let mut m = Expiring::new(Duration::from_secs(10));
        let t0 = Instant::now();
        m.insert("a", 1, t0);
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(9)), Some(&1));
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(10)), None);
        let expired = m.insert("b", 2, t0 + Duration::from_secs(11));
        assert_eq!(expired, vec![("a", 1)]);
        assert_eq!(m.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn touched_entries_live_longer_and_stale_places_are_skipped() {
        let mut m = Expiring::new(Duration::from_secs(10));
        let t0 = Instant::now();
        m.insert("a", 1, t0);
        m.touch(&"a", t0 + Duration::from_secs(8));
        assert!(m.prune(t0 + Duration::from_secs(12)).is_empty());
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(17)), Some(&1));
        assert_eq!(m.prune(t0 + Duration::from_secs(18)), vec![("a", 1)]);
        assert_eq!(m.queue_len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn polling_does_not_grow_the_queue() {
        let mut m = Expiring::new(Duration::from_secs(30));
        let t0 = Instant::now();
        for i in 0..100u64 {
            m.insert(i, (), t0);
        }
        for ms in 0..60_000u64 {
            let now = t0 + Duration::from_millis(ms);
            m.touch(&(ms % 100), now);
            m.prune(now);
        }
        assert_eq!(m.len(), 100);
        assert!(m.queue_len() <= 200, "{}", m.queue_len());
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_bounded_by_writes_per_ttl() {
        let mut m = Expiring::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..100_000u64 {
            m.insert(i, i, t0 + Duration::from_millis(i));
        }
        // One write per millisecond, one second of TTL: about 1000 live.
        assert!(
            m.len() <= 1001 && m.queue_len() <= 1001,
            "{} {}",
            m.len(),
            m.queue_len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pop_oldest_evicts_in_expiry_order() {
        let mut m = Expiring::new(Duration::from_secs(10));
        let t0 = Instant::now();
        m.insert("a", 1, t0);
        m.insert("b", 2, t0 + Duration::from_secs(1));
        m.touch(&"a", t0 + Duration::from_secs(2));
        assert_eq!(m.pop_oldest(), Some(("b", 2)));
        assert_eq!(m.pop_oldest(), Some(("a", 1)));
        assert_eq!(m.pop_oldest(), None);
    }
}
