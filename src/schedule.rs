//! The arrival schedule: when each applicant of each journey is meant to
//! start, as offsets from the start of the run. It is data, reproducible
//! from the scenario's seed: the same scenario and seed give the same
//! instants, whatever the machine or the target does. Each journey's
//! arrivals follow the phases' rate (constant or a linear ramp), times
//! `scale`, times the journey's share of the mix, as a Poisson process (or
//! evenly spaced). Arrivals are generated lazily, so a schedule of millions
//! costs no memory; nothing here waits, sends or measures.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::scenario::model::Arrivals;
use crate::scenario::{PhaseWindow, RatePiece, Scenario};

/// One applicant's intended start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Unique in the run (and across the shards of a split run).
    pub id: u64,
    /// Index of the journey in the scenario's `journeys`.
    pub journey: usize,
    /// Its position among the journey's arrivals (0-based).
    pub index: u64,
    /// When it is meant to start, from the start of the run.
    pub at: Duration,
}

/// Which part of a split run this process serves: arrival `i` of every
/// journey belongs to shard `i % count`. `Shard::WHOLE` serves everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    fn takes(&self, i: u64) -> bool {
        i % self.count == self.index
    }
}

/// A piece of the rate curve: `from` to `to` arrivals/s over `[start,
/// end)`: the timeline's own pieces, times the journey's share and `scale`.
/// Inverting its integral is the schedule's business, so those methods
/// live here.
type Piece = RatePiece;

impl RatePiece {
    fn len(&self) -> f64 {
        self.end - self.start
    }

    /// Expected arrivals in the piece (the integral of its rate).
    fn mass(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len()
    }

    /// The offset `u` into the piece where the integral reaches `m`
    /// (0 ≤ m ≤ mass): the root of `from·u + k·u²/2 = m`, written in the
    /// form that stays exact for flat, rising and falling pieces.
    fn invert(&self, m: f64) -> f64 {
        let k = (self.to - self.from) / self.len();
        let disc = (self.from * self.from + 2.0 * k * m).max(0.0);
        let denom = self.from + disc.sqrt();
        if denom <= 0.0 {
            0.0
        } else {
            (2.0 * m / denom).min(self.len())
        }
    }
}

/// The arrivals of one journey, in time order.
pub struct JourneyArrivals {
    pieces: Vec<Piece>,
    piece: usize,
    /// Expected arrivals before the current piece.
    mass_before: f64,
    /// Position on the unit-rate axis (the integrated rate).
    cursor: f64,
    rng: StdRng,
    arrivals: Arrivals,
    index: u64,
}

impl JourneyArrivals {
    /// The arrivals of a journey whose rate is `share · scale · rate(t)`,
    /// over `phases`, seeded by `seed`.
    pub fn new(
        phases: &[PhaseWindow],
        share: f64,
        scale: f64,
        arrivals: Arrivals,
        seed: u64,
    ) -> Self {
        let factor = share * scale;
        let pieces = phases
            .iter()
            .flat_map(PhaseWindow::pieces)
            .map(|p| Piece {
                from: p.from * factor,
                to: p.to * factor,
                ..p
            })
            .filter(|p| p.len() > 0.0)
            .collect();
        JourneyArrivals {
            pieces,
            piece: 0,
            mass_before: 0.0,
            cursor: 0.0,
            rng: StdRng::seed_from_u64(seed),
            arrivals,
            index: 0,
        }
    }

    /// Expected arrivals over the whole schedule.
    pub fn expected(&self) -> f64 {
        self.pieces.iter().map(Piece::mass).sum()
    }
}

impl Iterator for JourneyArrivals {
    /// (position among the journey's arrivals, offset from the start).
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        // Arrivals of a Poisson process of rate λ(t) are the images, under
        // the inverse of Λ(t) = ∫λ, of a unit-rate process: exponential
        // gaps of mean 1. Uniform arrivals take the midpoints instead.
        self.cursor += match self.arrivals {
            Arrivals::Poisson => -(1.0 - self.rng.random::<f64>()).ln(),
            Arrivals::Uniform if self.index == 0 => 0.5,
            Arrivals::Uniform => 1.0,
        };
        loop {
            let piece = self.pieces.get(self.piece)?;
            let into = self.cursor - self.mass_before;
            if into <= piece.mass() {
                let at = piece.start + piece.invert(into);
                let index = self.index;
                self.index += 1;
                return Some((index, Duration::from_secs_f64(at)));
            }
            self.mass_before += piece.mass();
            self.piece += 1;
        }
    }
}

/// A stable 64-bit mix of a seed and a name (FNV-1a, then SplitMix64), so
/// each journey has its own random stream that does not move when journeys
/// are reordered or added.
pub fn stream_seed(seed: u64, name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every journey's arrivals merged in time order, for one shard.
pub struct Schedule {
    streams: Vec<JourneyArrivals>,
    heap: BinaryHeap<Reverse<(Duration, usize, u64)>>,
    shard: Shard,
    next_id: u64,
}

impl Schedule {
    /// The schedule of `scenario` (with its `scale` and `seed`, which the
    /// caller may have overridden in the scenario).
    pub fn new(scenario: &Scenario, shard: Shard) -> Schedule {
        let file = &scenario.file;
        let streams: Vec<JourneyArrivals> = scenario
            .file
            .journeys
            .keys()
            .map(|name| {
                let share = scenario.share(name);
                let seed = stream_seed(file.seed, name);
                JourneyArrivals::new(
                    &scenario.timeline.phases,
                    share,
                    file.load.scale,
                    file.load.arrivals,
                    seed,
                )
            })
            .collect();
        let mut schedule = Schedule {
            streams,
            heap: BinaryHeap::new(),
            shard,
            next_id: 0,
        };
        for j in 0..schedule.streams.len() {
            schedule.advance(j);
        }
        schedule
    }

    /// Expected arrivals of each journey (whole run, before sharding).
    pub fn expected(&self) -> Vec<f64> {
        self.streams.iter().map(JourneyArrivals::expected).collect()
    }

    /// Queues journey `j`'s next arrival that belongs to this shard.
    fn advance(&mut self, j: usize) {
        for (index, at) in self.streams[j].by_ref() {
            if self.shard.takes(index) {
                self.heap.push(Reverse((at, j, index)));
                return;
            }
        }
    }
}

/// Arrivals per (second, journey name), in order.
pub type PerSecond = Vec<(u64, String, u64)>;

/// Arrivals per (second, journey) of the whole schedule of `scenario`, in
/// order: what two runs must share to have met the same applicants.
pub fn per_second(scenario: &Scenario) -> PerSecond {
    let names: Vec<&String> = scenario.file.journeys.keys().collect();
    let mut bins: std::collections::BTreeMap<(u64, usize), u64> = Default::default();
    for a in Schedule::new(scenario, Shard::WHOLE) {
        *bins.entry((a.at.as_secs(), a.journey)).or_default() += 1;
    }
    bins.into_iter()
        .map(|((s, j), n)| (s, names[j].clone(), n))
        .collect()
}

impl Iterator for Schedule {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        let Reverse((at, journey, index)) = self.heap.pop()?;
        self.advance(journey);
        // Ids count this shard's arrivals and stay unique across shards.
        let id = self.next_id * self.shard.count + self.shard.index;
        self.next_id += 1;
        Some(Arrival {
            id,
            journey,
            index,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::check_text;

    fn scenario(load: &str, mix: &str) -> Scenario {
        let text = format!(
            "version: 1\nname: s\nseed: 11\ntarget: {{twin: {{}}}}\n{load}\n{mix}\n\
             journeys:\n  a: {{channel: storefront, steps: [{{name: x, path: /}}]}}\n  \
             b: {{channel: stamping, steps: [{{name: y, path: /}}]}}\n"
        );
        let checked = check_text(&text, std::path::Path::new("."));
        checked
            .scenario
            .unwrap_or_else(|| panic!("{:?}", checked.problems))
    }

    fn window(from: f64, to: f64, secs: f64) -> PhaseWindow {
        PhaseWindow {
            name: "p".into(),
            start: Duration::ZERO,
            end: Duration::from_secs_f64(secs),
            from,
            to,
            curve: None,
        }
    }

    #[test]
    fn inverting_a_ramp_lands_on_the_integral() {
        for (from, to) in [(10.0, 10.0), (0.0, 40.0), (40.0, 0.0), (5.0, 25.0)] {
            let p = Piece {
                start: 0.0,
                end: 10.0,
                from,
                to,
            };
            for m in [0.0, 1.0, p.mass() / 3.0, p.mass()] {
                let u = p.invert(m);
                let integral = from * u + (to - from) / 10.0 * u * u / 2.0;
                assert!(
                    (integral - m).abs() < 1e-6,
                    "from {from} to {to}: m {m}, u {u}, ∫ {integral}"
                );
            }
        }
    }

    #[test]
    fn poisson_counts_per_phase_match_the_integral() {
        let s = scenario(
            "load: {phases: [{name: flat, duration: 60s, rate: 50/s}, {name: ramp, duration: 60s, from: 50/s, to: 150/s}, {name: down, duration: 30s, from: 150/s, to: 0/s}]}",
            "mix: {a: 3, b: 1}",
        );
        let arrivals: Vec<Arrival> = Schedule::new(&s, Shard::WHOLE).collect();
        for (phase, lo, hi) in [(0usize, 0.0, 60.0), (1, 60.0, 120.0), (2, 120.0, 150.0)] {
            let w = &s.timeline.phases[phase];
            for (j, share) in [(0usize, 0.75), (1, 0.25)] {
                let expected = w.arrivals() * share;
                let n = arrivals
                    .iter()
                    .filter(|a| a.journey == j && (lo..hi).contains(&a.at.as_secs_f64()))
                    .count() as f64;
                // Five standard deviations of a Poisson count.
                let bound = 5.0 * expected.sqrt();
                assert!(
                    (n - expected).abs() <= bound,
                    "phase {phase} journey {j}: {n} vs {expected:.0} ± {bound:.0}"
                );
            }
        }
        assert!(
            arrivals.windows(2).all(|w| w[0].at <= w[1].at),
            "in time order"
        );
        assert!(arrivals.iter().all(|a| a.at <= Duration::from_secs(150)));
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_does_not() {
        let s = scenario("load: {phases: [{name: p, duration: 20s, rate: 40/s}]}", "");
        let one: Vec<Arrival> = Schedule::new(&s, Shard::WHOLE).collect();
        let two: Vec<Arrival> = Schedule::new(&s, Shard::WHOLE).collect();
        assert_eq!(one, two);
        let mut other = s.clone();
        other.file.seed = 12;
        let three: Vec<Arrival> = Schedule::new(&other, Shard::WHOLE).collect();
        assert_ne!(one, three);
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced_and_exact_in_count() {
        let s = scenario(
            "load: {arrivals: uniform, phases: [{name: p, duration: 10s, rate: 20/s}]}",
            "mix: {a: 1, b: 1}",
        );
        let a: Vec<Duration> = Schedule::new(&s, Shard::WHOLE)
            .filter(|x| x.journey == 0)
            .map(|x| x.at)
            .collect();
        assert_eq!(a.len(), 100);
        assert!((a[0].as_secs_f64() - 0.05).abs() < 1e-9);
        assert!(
            a.windows(2)
                .all(|w| ((w[1] - w[0]).as_secs_f64() - 0.1).abs() < 1e-9)
        );
    }

    #[test]
    fn scale_multiplies_every_rate() {
        let mut s = scenario(
            "load: {arrivals: uniform, phases: [{name: p, duration: 10s, rate: 10/s}]}",
            "",
        );
        s.file.load.scale = 2.5;
        assert_eq!(Schedule::new(&s, Shard::WHOLE).count(), 250);
    }

    #[test]
    fn shards_split_every_journey_disjointly_and_completely() {
        let s = scenario(
            "load: {phases: [{name: p, duration: 30s, rate: 30/s}]}",
            "mix: {a: 2, b: 1}",
        );
        let whole: Vec<Arrival> = Schedule::new(&s, Shard::WHOLE).collect();
        let mut parts: Vec<(usize, u64, Duration)> = (0..3)
            .flat_map(|k| {
                Schedule::new(&s, Shard { index: k, count: 3 }).map(|a| (a.journey, a.index, a.at))
            })
            .collect();
        parts.sort_by_key(|p| (p.2, p.0, p.1));
        let whole: Vec<(usize, u64, Duration)> =
            whole.iter().map(|a| (a.journey, a.index, a.at)).collect();
        assert_eq!(parts, whole);
    }

    #[test]
    fn a_zero_rate_schedules_nothing() {
        let phases = [window(0.0, 0.0, 60.0)];
        assert_eq!(
            JourneyArrivals::new(&phases, 1.0, 1.0, Arrivals::Poisson, 1).count(),
            0
        );
        assert_eq!(
            JourneyArrivals::new(&phases, 1.0, 1.0, Arrivals::Uniform, 1).count(),
            0
        );
    }

    /// A scenario whose load is the curve `counts` (per second), written
    /// beside it.
    fn curve_scenario(counts: &[u64], arrivals: &str, mix: &str) -> (tempfile::TempDir, Scenario) {
        let dir = tempfile::tempdir().unwrap();
        crate::scenario::curve::write(&dir.path().join("eve.csv"), counts).unwrap();
        let text = format!(
            "version: 1\nname: s\nseed: 11\ntarget: {{twin: {{}}}}\n\
             load: {{arrivals: {arrivals}, curve: {{file: eve.csv}}}}\n{mix}\n\
             journeys:\n  a: {{channel: storefront, steps: [{{name: x, path: /}}]}}\n  \
             b: {{channel: stamping, steps: [{{name: y, path: /}}]}}\n"
        );
        let checked = check_text(&text, dir.path());
        let s = checked
            .scenario
            .unwrap_or_else(|| panic!("{:?}", checked.problems));
        (dir, s)
    }

    #[test]
    fn a_curve_with_uniform_arrivals_gives_each_second_its_count() {
        let counts: Vec<u64> = (0..120).map(|i| (i * 7 % 23) as u64).collect();
        // One journey takes every arrival (b is left out of the mix).
        let (_dir, s) = curve_scenario(&counts, "uniform", "mix: {a: 1}");
        assert_eq!(s.timeline.total, Duration::from_secs(120));
        let mut per = vec![0u64; 120];
        for a in Schedule::new(&s, Shard::WHOLE) {
            per[a.at.as_secs() as usize] += 1;
        }
        assert_eq!(per, counts);
        // `scale` and compression (`--duration`) apply as to phases.
        let mut scaled = s.clone();
        scaled.file.load.scale = 2.0;
        scaled.timeline.stretch(0.5);
        let n = Schedule::new(&scaled, Shard::WHOLE).count() as u64;
        assert_eq!(n, counts.iter().sum::<u64>());
        assert!(Schedule::new(&scaled, Shard::WHOLE).all(|a| a.at <= Duration::from_secs(60)));
    }

    #[test]
    fn a_curve_may_be_one_phase_among_others_and_be_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        crate::scenario::curve::write(&dir.path().join("eve.csv"), &[4, 4, 8, 8, 8]).unwrap();
        let text = "version: 1\nname: s\ntarget: {twin: {}}\nload: {arrivals: uniform, phases: [\
                    {name: calm, duration: 2s, rate: 1/s}, {name: eve, curve: {file: eve.csv}, duration: 4s}, \
                    {name: after, duration: 1s, rate: 2/s}]}\n\
                    journeys:\n  a: {channel: storefront, steps: [{name: x, path: /}]}\n";
        let checked = check_text(text, dir.path());
        let s = checked
            .scenario
            .unwrap_or_else(|| panic!("{:?}", checked.problems));
        assert_eq!(s.timeline.total, Duration::from_secs(7));
        assert_eq!(s.timeline.phase("eve").unwrap().peak(), 8.0);
        let mut per = vec![0u64; 7];
        for a in Schedule::new(&s, Shard::WHOLE) {
            per[a.at.as_secs() as usize] += 1;
        }
        assert_eq!(
            per,
            vec![1, 1, 4, 4, 8, 8, 2],
            "the curve's fifth second is cut"
        );
    }

    #[test]
    fn a_curve_with_poisson_arrivals_follows_its_counts_within_noise() {
        let counts: Vec<u64> = (0..60).map(|i| if i < 30 { 40 } else { 200 }).collect();
        let (_dir, s) = curve_scenario(&counts, "poisson", "mix: {a: 1, b: 1}");
        let mut halves = [0.0f64; 2];
        for a in Schedule::new(&s, Shard::WHOLE) {
            halves[(a.at.as_secs() >= 30) as usize] += 1.0;
        }
        for (n, expected) in halves.iter().zip([1200.0f64, 6000.0]) {
            let bound = 5.0 * expected.sqrt();
            assert!((n - expected).abs() <= bound, "{n} vs {expected} ± {bound}");
        }
    }

    #[test]
    fn stream_seeds_depend_on_seed_and_name_only() {
        assert_eq!(stream_seed(1, "buy"), stream_seed(1, "buy"));
        assert_ne!(stream_seed(1, "buy"), stream_seed(2, "buy"));
        assert_ne!(stream_seed(1, "buy"), stream_seed(1, "stamp"));
    }
}
