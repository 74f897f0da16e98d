//! The first few distinct examples of each error, per step and class: what
//! was sent and what was wrong, so a report says *what* was unexpected and
//! not only how often. Users ask `wants` before building an example (a
//! relaxed atomic read: the words are only written for the few kept), and
//! `offer` it; the flusher takes the new ones each second and appends them
//! to `errors.jsonl` in the run folder, from which the summary is built.
//! Bounded: at most `PER_SLOT` kept and `OFFERS` built per step and class.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::scenario::model::ErrorClass;

use crate::folder::EXAMPLES_PER_SLOT as PER_SLOT;

/// Examples built per step and class, kept or not: a class whose failures
/// all read alike stops costing anything after these.
const OFFERS: u32 = 64;

use crate::folder::admits;

/// One failed request, in words; secrets already masked.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub step: u32,
    pub class: ErrorClass,
    /// `POST /accounts/{accounts.phone}/otp`, secrets as `${NAME}`.
    pub request: String,
    /// `expected status 404, got 200`.
    pub what: String,
    /// The start of the response body, when there was one.
    pub body: Option<String>,
}

pub struct Examples {
    offered: Vec<AtomicU32>,
    kept: Vec<AtomicU32>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each slot's kept words (what was wrong, and the body), to keep
    /// only distinct ones.
    whats: Vec<Vec<(String, Option<String>)>>,
    /// Kept since the flusher last took them.
    new: Vec<Example>,
}

impl Examples {
    pub fn new(steps: usize) -> Examples {
        let slots = steps * ErrorClass::ALL.len();
        Examples {
            offered: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            kept: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            inner: Mutex::new(Inner {
                whats: vec![Vec::new(); slots],
                new: Vec::new(),
            }),
        }
    }

    fn slot(step: u32, class: ErrorClass) -> usize {
        step as usize * ErrorClass::ALL.len() + class.index()
    }

    /// Whether an example of this failure is worth building.
    pub fn wants(&self, step: u32, class: ErrorClass) -> bool {
        let slot = Self::slot(step, class);
        self.kept
            .get(slot)
            .is_some_and(|k| k.load(Ordering::Relaxed) < PER_SLOT)
            && self.offered[slot].fetch_add(1, Ordering::Relaxed) < OFFERS
    }

    /// Keeps `example` unless its slot is full or already holds its words.
    pub fn offer(&self, example: Example) {
        let slot = Self::slot(example.step, example.class);
        let mut inner = self.inner.lock().expect("examples lock");
        let whats = &mut inner.whats[slot];
        let kept = whats.iter().map(|(w, b)| (w.as_str(), b.as_deref()));
        if !admits(kept, &example.what, example.body.as_deref()) {
            return;
        }
        whats.push((example.what.clone(), example.body.clone()));
        self.kept[slot].store(whats.len() as u32, Ordering::Relaxed);
        inner.new.push(example);
    }

    /// The examples kept since the last call.
    pub fn take(&self) -> Vec<Example> {
        std::mem::take(&mut self.inner.lock().expect("examples lock").new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(what: &str) -> Example {
        Example {
            step: 1,
            class: ErrorClass::Expectation,
            request: "GET /".into(),
            what: what.into(),
            body: None,
        }
    }

    #[test]
    fn keeps_five_distinct_per_slot_and_stops_building_after_that() {
        let e = Examples::new(2);
        for i in 0..10 {
            assert!(e.wants(1, ErrorClass::Expectation), "{i}");
            e.offer(example("same"));
        }
        for i in 0..10 {
            if e.wants(1, ErrorClass::Expectation) {
                e.offer(example(&format!("distinct {i}")));
            }
        }
        let kept = e.take();
        let whats: Vec<&str> = kept.iter().map(|x| x.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "same",
                "distinct 0",
                "distinct 1",
                "distinct 2",
                "distinct 3"
            ]
        );
        assert!(!e.wants(1, ErrorClass::Expectation), "the slot is full");
        assert!(e.wants(1, ErrorClass::Http5xx), "other classes still want");
        assert!(
            e.wants(0, ErrorClass::Expectation),
            "other steps still want"
        );
        assert!(e.take().is_empty(), "taken once");
        // A class whose failures all read alike stops building examples.
        for _ in 0..OFFERS {
            e.wants(0, ErrorClass::Tls);
        }
        assert!(!e.wants(0, ErrorClass::Tls));
    }
}
