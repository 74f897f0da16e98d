//! Error budgets judged by their burn rate, as SREs page on them: a burn
//! rate is a window's error rate over the budget (`1 - slo`), so 1 spends
//! the budget exactly and 14.4 spends it 14.4 times as fast. A pair of
//! windows is breached at a second when both its long window (the burn is
//! sustained) and its short one (it is still going on) burn faster than
//! the pair's threshold. Windows end at the second judged and reach back
//! their length, or to the run's start when the run is younger; their
//! lengths scale with `--duration` like the timeline. The run's gate and
//! the live decider (`early`) both feed a [`Burner`] second by second, so
//! a run stopped for a breach and its report agree on it.

use crate::scenario::model::ErrorBudgetObjective;

/// One pair of windows, in seconds of this run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    pub long_s: u64,
    pub short_s: u64,
    pub burn: f64,
}

/// The first second at which a pair burned over its threshold in both
/// windows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Breach {
    pub second: u64,
    /// Index into the objective's `windows`.
    pub pair: usize,
    pub long: f64,
    pub short: f64,
}

/// The window pairs of `o` in a run whose timeline was scaled by
/// `time_factor`: at least one second each.
pub fn pairs(o: &ErrorBudgetObjective, time_factor: f64) -> Vec<Pair> {
    let seconds = |d: crate::scenario::units::Duration| {
        (d.0.as_secs_f64() * time_factor).round().max(1.0) as u64
    };
    o.windows
        .iter()
        .map(|w| Pair {
            long_s: seconds(w.long),
            short_s: seconds(w.short),
            burn: w.burn,
        })
        .collect()
}

/// The events a short window must hold before its pair is judged.
pub fn min_events(o: &ErrorBudgetObjective) -> u64 {
    o.min_events.unwrap_or_else(|| {
        let budget = 1.0 - o.slo.fraction();
        if budget > 0.0 {
            (1.0 / budget - 1e-9).ceil().max(1.0) as u64
        } else {
            1
        }
    })
}

/// Burn rates of one error budget, fed one second at a time in order.
#[derive(Clone, Debug)]
pub struct Burner {
    budget: f64,
    pairs: Vec<Pair>,
    min_events: u64,
    /// Cumulative (bad, total) up to the end of each second fed.
    prefix: Vec<(u64, u64)>,
    breach: Option<Breach>,
    /// The highest share of its threshold a pair reached in both windows
    /// at once (judged seconds only), with that pair and second.
    worst: Option<(f64, Breach)>,
    judged: bool,
}

impl Burner {
    pub fn new(o: &ErrorBudgetObjective, time_factor: f64) -> Burner {
        Burner {
            budget: (1.0 - o.slo.fraction()).max(f64::MIN_POSITIVE),
            pairs: pairs(o, time_factor),
            min_events: min_events(o),
            prefix: Vec::new(),
            breach: None,
            worst: None,
            judged: false,
        }
    }

    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Adds second `second`'s events (seconds skipped had none) and
    /// judges each pair at it; the first breach, once there is one.
    pub fn push(&mut self, second: u64, bad: u64, total: u64) -> Option<Breach> {
        let last = self.prefix.last().copied().unwrap_or((0, 0));
        while (self.prefix.len() as u64) < second {
            self.prefix.push(last);
        }
        let (b, t) = self.prefix.last().copied().unwrap_or((0, 0));
        if self.prefix.len() as u64 == second {
            self.prefix.push((b + bad, t + total));
        } else {
            // The same second again (a row split in two): add to it.
            let end = self.prefix.last_mut().expect("fed before");
            end.0 += bad;
            end.1 += total;
        }
        let at = self.prefix.len() as u64 - 1;
        for (i, pair) in self.pairs.clone().into_iter().enumerate() {
            let (long, short, events) = self.burns(at, pair);
            if events < self.min_events {
                continue;
            }
            self.judged = true;
            let seen = Breach {
                second: at,
                pair: i,
                long,
                short,
            };
            let share = long.min(short) / pair.burn;
            if self.worst.is_none_or(|(w, _)| share > w) {
                self.worst = Some((share, seen));
            }
            if self.breach.is_none() && long > pair.burn && short > pair.burn {
                self.breach = Some(seen);
            }
        }
        self.breach
    }

    /// The (long, short) burn rates of `pair` at second `at`, and the
    /// short window's events.
    fn burns(&self, at: u64, pair: Pair) -> (f64, f64, u64) {
        let window = |len: u64| {
            let end = self.prefix[at as usize];
            let start = if at + 1 > len {
                self.prefix[(at - len) as usize]
            } else {
                (0, 0)
            };
            (end.0 - start.0, end.1 - start.1)
        };
        let rate = |(bad, total): (u64, u64)| {
            if total == 0 {
                0.0
            } else {
                bad as f64 / total as f64 / self.budget
            }
        };
        let (long, short) = (window(pair.long_s), window(pair.short_s));
        (rate(long), rate(short), short.1)
    }

    /// Each pair's (long, short) burn at every second fed, for charts.
    pub fn series(&self) -> Vec<Vec<(f64, f64)>> {
        (0..self.prefix.len() as u64)
            .map(|at| {
                self.pairs
                    .iter()
                    .map(|p| {
                        let (l, s, _) = self.burns(at, *p);
                        (l, s)
                    })
                    .collect()
            })
            .collect()
    }

    pub fn breach(&self) -> Option<Breach> {
        self.breach
    }

    /// The judged second where a pair came closest to (or furthest past)
    /// its threshold in both windows, and its share of the threshold.
    pub fn worst(&self) -> Option<(f64, Breach)> {
        self.worst
    }

    /// Whether any second had enough events to judge a pair.
    pub fn judged(&self) -> bool {
        self.judged
    }

    pub fn min_events(&self) -> u64 {
        self.min_events
    }
}

/// What an error budget counts, as verdicts name it.
pub(crate) fn selector(o: &ErrorBudgetObjective) -> super::Selector<'_> {
    let of = o.of.as_ref();
    super::Selector::of(
        of.and_then(|x| x.step.as_ref()),
        of.and_then(|x| x.journey.as_deref()),
        of.and_then(|x| x.channel.as_ref()),
    )
}

/// Per second, the (bad, total) events of an error budget in a run: a
/// journey's ends (abandoned, failed and unfinished are bad), or
/// requests (any failure is bad).
pub(crate) fn events(
    o: &ErrorBudgetObjective,
    data: &crate::rundata::RunData,
) -> std::collections::BTreeMap<u64, (u64, u64)> {
    let s = &data.summary;
    let sel = selector(o);
    let mut out: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    match &sel {
        super::Selector::Journey(j) => {
            for (second, name, c) in &data.journeys {
                if name == j {
                    let (bad, ended) = super::journey_ends(c);
                    let e = out.entry(*second).or_default();
                    e.0 += bad;
                    e.1 += ended;
                }
            }
        }
        _ => {
            for (second, label, c) in &data.steps {
                if sel.step(label, s) {
                    let e = out.entry(*second).or_default();
                    e.0 += c.failures.iter().sum::<u64>();
                    e.1 += c.requests;
                }
            }
        }
    }
    out
}

/// A run's burner for `o`, fed with every second of the run.
pub(crate) fn burner(o: &ErrorBudgetObjective, data: &crate::rundata::RunData) -> Burner {
    let mut b = Burner::new(o, data.summary.scenario.time_factor);
    for (second, (bad, total)) in events(o, data) {
        b.push(second, bad, total);
    }
    b
}

/// How a pair's windows read in verdicts: `6m/30s`.
pub fn pair_label(p: &Pair) -> String {
    let d =
        |s: u64| crate::scenario::units::Duration(std::time::Duration::from_secs(s)).to_string();
    format!("{}/{}", d(p.long_s), d(p.short_s))
}

/// What an error budget measures, as verdicts name it.
pub(crate) fn what(o: &ErrorBudgetObjective) -> String {
    format!("error budget of {} (SLO {})", selector(o).describe(), o.slo)
}

/// The verdict of an error budget on a run.
pub(super) fn judge(o: &ErrorBudgetObjective, data: &crate::rundata::RunData) -> super::Judged {
    let b = burner(o, data);
    verdict(o, &b, data.summary.scenario.time_factor)
}

/// The verdict of an error budget from its burner: missed at its first
/// breach; otherwise met, with the pair that came closest.
pub(super) fn verdict(o: &ErrorBudgetObjective, b: &Burner, time_factor: f64) -> super::Judged {
    let what = what(o);
    let scaled = if (time_factor - 1.0).abs() > 1e-9 {
        format!(", windows scaled by {time_factor:.3} with the timeline")
    } else {
        String::new()
    };
    let pairs = b.pairs();
    // Named as the live decider names it, so a run stopped for it and
    // its verdict say the same objective.
    let name = what.clone();
    let first = pairs.first().map_or(1.0, |p| p.burn);
    if let Some(x) = b.breach() {
        let p = pairs[x.pair];
        let judging = super::Judging::new(p.burn, "burn", name);
        let detail = format!(
            "{what}: at {}s both {} windows burned over {}x ({:.1}x and {:.1}x){scaled}",
            x.second + 1,
            pair_label(&p),
            p.burn,
            x.long,
            x.short
        );
        return judging.verdict(false, Some(x.long.min(x.short)), None, detail);
    }
    let Some((_, w)) = b.worst() else {
        let judging = super::Judging::new(first, "burn", name);
        return judging.unjudged(
            None,
            Some(0),
            format!(
                "{what}: no short window held the {} events needed to judge a burn{scaled}",
                b.min_events()
            ),
        );
    };
    let p = pairs[w.pair];
    let judging = super::Judging::new(p.burn, "burn", name);
    let detail = format!(
        "{what}: at most {:.1}x in both {} windows at once (at {}s) ≤ {}x{scaled}",
        w.long.min(w.short),
        pair_label(&p),
        w.second + 1,
        p.burn
    );
    judging.verdict(true, Some(w.long.min(w.short)), None, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::BurnWindows;
    use crate::scenario::units::{Duration, parse_percent};

    fn budget(slo: &str, windows: &[(u64, u64, f64)]) -> ErrorBudgetObjective {
        ErrorBudgetObjective {
            name: None,
            slo: parse_percent(slo).unwrap(),
            of: None,
            windows: windows
                .iter()
                .map(|(l, s, b)| BurnWindows {
                    long: Duration(std::time::Duration::from_secs(*l)),
                    short: Duration(std::time::Duration::from_secs(*s)),
                    burn: *b,
                })
                .collect(),
            min_events: None,
            stop_early: false,
            not_before: None,
        }
    }

    #[test]
    fn a_burst_breaches_a_pair_only_once_both_windows_burn() {
        // 99% SLO: budget 1%; 100 events a second.
        let o = budget("99%", &[(60, 5, 2.0)]);
        let mut b = Burner::new(&o, 1.0);
        for s in 0..30 {
            assert_eq!(b.push(s, 0, 100), None);
        }
        // 10% errors: the short window burns 10x at once, the long one
        // (30 quiet seconds before) only after enough of the burst.
        let mut first = None;
        for s in 30..40 {
            if let Some(x) = b.push(s, 10, 100) {
                first.get_or_insert(x);
            }
        }
        let x = first.expect("breached");
        assert_eq!(x.pair, 0);
        assert!(x.short > 2.0 && x.long > 2.0, "{x:?}");
        // The long window at second s covers seconds 0..=s (the run is
        // younger than 60 s): 10*(s-29) bad of 100*(s+1), over 2% (a 2x
        // burn) first at s = 37.
        assert_eq!(x.second, 37, "{x:?}");
        let long_at = |s: u64| 10.0 * (s - 29) as f64 / (100.0 * (s + 1) as f64) / 0.01;
        assert!((x.long - long_at(37)).abs() < 1e-9);
    }

    #[test]
    fn a_steady_burn_under_the_threshold_never_breaches_and_few_events_are_not_judged() {
        let o = budget("99.5%", &[(3600, 300, 14.4), (21600, 1800, 6.0)]);
        assert_eq!(min_events(&o), 200);
        let mut b = Burner::new(&o, 0.1);
        assert_eq!(
            b.pairs()[0],
            Pair {
                long_s: 360,
                short_s: 30,
                burn: 14.4
            }
        );
        // One failure in the first second of 10 events: a 20x burn, but
        // too few events to judge.
        assert_eq!(b.push(0, 1, 10), None);
        assert!(!b.judged());
        // 0.3% from then on: 0.6x.
        for s in 1..600 {
            let bad = u64::from(s % 10 == 0) * 3;
            assert_eq!(b.push(s, bad, 100), None, "second {s}");
        }
        assert!(b.judged());
        let (share, _) = b.worst().unwrap();
        assert!(share < 1.0, "{share}");
    }

    #[test]
    fn skipped_seconds_count_as_quiet() {
        let o = budget("90%", &[(10, 2, 2.0)]);
        let mut b = Burner::new(&o, 1.0);
        b.push(0, 0, 10);
        // Seconds 1..=4 had no events: the short window at 5 holds only 5.
        assert!(b.push(5, 10, 10).is_some());
        assert_eq!(b.series().len(), 6);
        let (long, short) = b.series()[5][0];
        assert!((short - 10.0).abs() < 1e-9, "{short}");
        assert!((long - 10.0 / 20.0 / 0.1).abs() < 1e-9, "{long}");
    }
}
