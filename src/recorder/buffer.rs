//! Where a user writes what it measured, without a lock or a channel send
//! per request: each user owns a pair of event lists. The user appends to
//! the active one; once a second the flusher flips which one is active and
//! takes the other, after waiting (nanoseconds) for an append already under
//! way to finish. This is HdrHistogram's writer-reader phaser reduced to
//! its single-writer case, and the only `unsafe` code in surge.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use crate::scenario::model::ErrorClass;

pub use crate::folder::Outcome;

/// One thing a user measured. Steps and journeys are indices into the
/// run's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request answered (or failed), timed from send to the end of its
    /// body.
    Request { step: u32, micros: u64, ok: bool },
    /// A try of a step that failed, and why.
    Failure { step: u32, class: ErrorClass },
    /// A step tried again after a failure.
    Retry { step: u32 },
    /// An applicant's first request is going out, `lag_micros` after its
    /// intended start.
    Started { journey: u32, lag_micros: u64 },
    /// An applicant's journey ended, `micros` after its intended start.
    Finished {
        journey: u32,
        outcome: Outcome,
        micros: u64,
    },
    /// An applicant that waited past `max_lateness` for a free user.
    Dropped { journey: u32 },
    /// A request of `step` opened a connection, which took `micros` (TCP
    /// connect and TLS handshake).
    Connect { step: u32, micros: u64 },
    /// An applicant dropped because its test data ran out (`pick: unique`).
    Exhausted { journey: u32 },
}

/// Spins of the flusher waiting for an append before it yields the core.
const SPINS_BEFORE_YIELD: u32 = 128;

/// A user's pair of event lists.
///
/// Safety protocol. `push` is called only by the user that owns the
/// buffer, never from two places at once; `drain` only by the flusher.
/// The writer raises `writing`, reads `active`, appends to that list and
/// lowers `writing`. The reader flips `active`, then waits until `writing`
/// is low, then takes the list that was active. With every access
/// sequentially consistent, a writer that read the old index raised
/// `writing` before the reader flipped, so the reader sees it raised and
/// waits; a writer that read the new index touches only the other list.
/// Either way the two never touch one list at once.
pub struct UserBuffer {
    lists: [UnsafeCell<Vec<Event>>; 2],
    active: AtomicUsize,
    writing: AtomicBool,
}

// SAFETY: access to `lists` is serialized by the protocol above.
unsafe impl Sync for UserBuffer {}

impl Default for UserBuffer {
    fn default() -> Self {
        UserBuffer {
            lists: [UnsafeCell::new(Vec::new()), UnsafeCell::new(Vec::new())],
            active: AtomicUsize::new(0),
            writing: AtomicBool::new(false),
        }
    }
}

impl UserBuffer {
    /// Appends an event. Only the buffer's owner may call this.
    pub fn push(&self, event: Event) {
        self.writing.store(true, SeqCst);
        let i = self.active.load(SeqCst);
        // SAFETY: the reader does not touch list `i` while `writing` is
        // raised and `i` is active (see the type's documentation).
        unsafe { (*self.lists[i].get()).push(event) };
        self.writing.store(false, SeqCst);
    }

    /// Moves every event recorded since the last drain into `into`. Only
    /// the flusher may call this.
    pub fn drain(&self, into: &mut Vec<Event>) {
        let old = self.active.fetch_xor(1, SeqCst);
        // An append holds the flag for nanoseconds; a writer the kernel
        // took off the CPU mid-append holds it for a time slice, which
        // spinning would burn on a core it may share: after a short spin,
        // give the core away.
        let mut spins = 0;
        while self.writing.load(SeqCst) {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: list `old` is no longer active and no append to it is
        // under way; the writer only reaches it again after the next flip.
        // `append` keeps the list's capacity, so steady state allocates
        // nothing.
        unsafe { into.append(&mut *self.lists[old].get()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn every_event_is_drained_exactly_once_under_concurrency() {
        const N: u64 = 2_000_000;
        let buffer = Arc::new(UserBuffer::default());
        let writer = {
            let b = buffer.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    b.push(Event::Request {
                        step: 0,
                        micros: i,
                        ok: true,
                    });
                }
            })
        };
        let mut seen = Vec::new();
        let mut drains = 0;
        while !writer.is_finished() {
            buffer.drain(&mut seen);
            drains += 1;
        }
        writer.join().unwrap();
        buffer.drain(&mut seen);
        buffer.drain(&mut seen);
        assert!(
            drains > 10,
            "the reader drained while the writer wrote ({drains} times)"
        );
        assert_eq!(seen.len() as u64, N);
        // Order within one writer is kept across drains.
        for (i, e) in seen.iter().enumerate() {
            assert_eq!(
                *e,
                Event::Request {
                    step: 0,
                    micros: i as u64,
                    ok: true
                }
            );
        }
    }
}
