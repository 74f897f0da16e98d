//! Test data handed to arrivals. Each arrival of a journey that `feed`s on
//! a `data` table takes one row of it, chosen by the table's `pick`:
//!
//! - `sequential`: row `index mod rows`, with `index` the arrival's place
//!   among its journey's arrivals in the whole run, so shards together walk
//!   the rows in order;
//! - `random`: a hash of the seed, the table, the journey and that index:
//!   the same seed gives every arrival the same row, whatever the timing;
//! - `unique`: a table fed on by one journey gives arrival `index` row
//!   `index` (shards take disjoint arrivals, so disjoint rows); one shared
//!   by several journeys is dealt from a counter, shard K taking the rows
//!   K, K+N, K+2N... of N shards. Past the last row there is none.
//!
//! Nothing here allocates per arrival beyond the row numbers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scenario::Scenario;
use crate::scenario::data::Table;
use crate::scenario::model::{OnExhausted, Pick};
use crate::schedule::{Arrival, Shard, stream_seed};

/// One table as one journey reads it.
pub struct Feed {
    pub name: Arc<str>,
    pub table: Arc<Table>,
    /// Columns never shown (`secret_columns`).
    pub secret: Vec<usize>,
    /// Running out makes the run invalid (`on_exhausted: fail`).
    pub must_last: bool,
    picker: Picker,
}

enum Picker {
    Sequential,
    Random { seed: u64 },
    ByIndex,
    Dealt { next: Arc<AtomicU64>, shard: Shard },
}

impl Feed {
    /// The row `arrival` takes, or `None` when unique rows ran out.
    pub fn row(&self, arrival: &Arrival) -> Option<usize> {
        let rows = self.table.rows() as u64;
        let row = match &self.picker {
            Picker::Sequential => arrival.index % rows,
            Picker::Random { seed } => mix(seed ^ arrival.index) % rows,
            Picker::ByIndex => arrival.index,
            Picker::Dealt { next, shard } => {
                let k = next.fetch_add(1, Ordering::Relaxed);
                k.checked_mul(shard.count)?.checked_add(shard.index)?
            }
        };
        (row < rows).then_some(row as usize)
    }
}

/// splitmix64's finaliser: neighbouring indices land on unrelated rows.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every journey's feeds, in the plan's journey order.
pub fn feeds(scenario: &Scenario, shard: Shard) -> Vec<Vec<Feed>> {
    let file = &scenario.file;
    let counters: Vec<Arc<AtomicU64>> = file.data.keys().map(|_| Arc::default()).collect();
    file.journeys
        .iter()
        .map(|(journey, j)| {
            j.feed
                .names()
                .iter()
                .filter_map(|name| {
                    let (i, _, source) = file.data.get_full(name)?;
                    let table = scenario.data.get(name)?.clone();
                    let fed_by = file
                        .journeys
                        .values()
                        .filter(|other| other.feed.names().contains(name))
                        .count();
                    let picker = match source.pick {
                        Pick::Sequential => Picker::Sequential,
                        Pick::Random => Picker::Random {
                            seed: stream_seed(file.seed, &format!("data-{name}-{journey}")),
                        },
                        Pick::Unique if fed_by == 1 => Picker::ByIndex,
                        Pick::Unique => Picker::Dealt {
                            next: counters[i].clone(),
                            shard,
                        },
                    };
                    Some(Feed {
                        name: name.as_str().into(),
                        secret: source
                            .secret_columns
                            .iter()
                            .filter_map(|c| table.column(c))
                            .collect(),
                        table,
                        must_last: source.on_exhausted == Some(OnExhausted::Fail),
                        picker,
                    })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn scenario(dir: &std::path::Path, pick: &str, journeys: &str) -> Scenario {
        let mut rows = String::from("phone\n");
        for i in 0..10 {
            rows.push_str(&format!("08{i}\n"));
        }
        std::fs::write(dir.join("a.csv"), rows).unwrap();
        let text = format!(
            "version: 1\nname: s\ntarget: {{twin: {{}}}}\n\
             load: {{phases: [{{name: p, duration: 10s, rate: 1/s}}]}}\n\
             data: {{accounts: {{file: a.csv, pick: {pick}}}}}\njourneys:\n{journeys}"
        );
        let checked = crate::scenario::check_text(&text, dir);
        checked
            .scenario
            .unwrap_or_else(|| panic!("{:?}", checked.problems))
    }

    fn arrival(journey: usize, index: u64) -> Arrival {
        Arrival {
            id: index,
            journey,
            index,
            at: Duration::ZERO,
        }
    }

    const ONE: &str = "  a: {channel: storefront, feed: accounts, steps: [{name: x, path: '/{accounts.phone}'}]}\n";
    const TWO: &str = "  a: {channel: storefront, feed: accounts, steps: [{name: x, path: /}]}\n  \
                       b: {channel: stamping, feed: [accounts], steps: [{name: y, path: /}]}\n";

    #[test]
    fn sequential_wraps_and_random_repeats_with_its_seed() {
        let dir = tempfile::tempdir().unwrap();
        let s = scenario(dir.path(), "sequential", ONE);
        let f = &feeds(&s, Shard::WHOLE)[0][0];
        assert_eq!(f.row(&arrival(0, 3)), Some(3));
        assert_eq!(f.row(&arrival(0, 13)), Some(3));
        let s = scenario(dir.path(), "random", ONE);
        let once: Vec<_> = (0..50)
            .map(|i| feeds(&s, Shard::WHOLE)[0][0].row(&arrival(0, i)))
            .collect();
        let again: Vec<_> = (0..50)
            .map(|i| feeds(&s, Shard::WHOLE)[0][0].row(&arrival(0, i)))
            .collect();
        assert_eq!(once, again);
        let distinct: std::collections::HashSet<_> = once.iter().collect();
        assert!(distinct.len() > 5, "{once:?}");
    }

    #[test]
    fn unique_rows_are_disjoint_across_journeys_and_shards_and_run_out() {
        let dir = tempfile::tempdir().unwrap();
        let s = scenario(dir.path(), "unique", ONE);
        let f = &feeds(&s, Shard::WHOLE)[0][0];
        assert_eq!(f.row(&arrival(0, 9)), Some(9));
        assert_eq!(f.row(&arrival(0, 10)), None);
        let s = scenario(dir.path(), "unique", TWO);
        let mut seen = Vec::new();
        for index in 0..2 {
            let shard = Shard { index, count: 2 };
            let f = feeds(&s, shard);
            for i in 0..10 {
                seen.extend(f[i % 2][0].row(&arrival(i % 2, i as u64)));
            }
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }
}
