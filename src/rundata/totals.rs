//! The whole-run totals of `summary.json` (load, journeys, steps, channels,
//! errors), built from a run folder's per-second files. This is the one
//! place they are built: a finished run, a run killed midway, a merge of
//! shards and `surge report --rebuild` all total the same way, so their
//! figures cannot drift apart. Sums of per-second counts and HDR
//! histograms are exact, so nothing is lost by totalling from the files.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;

use super::{RunData, Window};
use crate::folder::{
    JourneyCounts, Outcome, StepCounts, admits, connect_tag, histogram, journey_tag, lag_tag,
    step_tag,
};
use crate::scenario::model::ErrorClass;
use crate::summary::{
    ChannelSummary, ErrorExample, ErrorSummary, JourneySummary, Latency, Outcomes, Status,
    StepSummary, ratio, round,
};

/// Per error class: first second, last second, count.
type FirstLast = [Option<(u64, u64, u64)>; ErrorClass::ALL.len()];

impl RunData {
    /// Whether the summary lacks its totals: the run was killed before it
    /// could write them (`status: running`).
    pub fn needs_rebuild(&self) -> bool {
        self.summary.status == Status::Running
    }

    /// Fills the summary's totals from the per-second files.
    ///
    /// The journeys and steps the summary already lists keep their order,
    /// channel and users (a run lists them, from its plan, before it
    /// totals them); names found only in the files follow in the order they
    /// first appear, with the channel `channel_of` gives for a journey name
    /// or a step label (`JOURNEY.STEP`; a step not mapped takes its
    /// journey's). Journeys started but not ended count as unfinished. A
    /// summary that never recorded its elapsed time (a run killed midway)
    /// gets the seconds recorded. The ledger and the generator's CPU are
    /// not in the per-second files and stay as they are.
    pub fn rebuild_totals(&mut self, channel_of: impl Fn(&str) -> Option<String>) {
        let journeys = self.journey_totals(&channel_of);
        let steps = self.step_totals(&journeys, &channel_of);
        let mut lag = histogram();
        for name in journeys.iter().map(|j| &j.name) {
            let _ = lag.add(self.tag(&lag_tag(name)));
        }
        let channels = channel_totals(&steps, |label| self.tag(&step_tag(label)));
        let recorded = self
            .steps
            .iter()
            .map(|r| r.0)
            .chain(self.journeys.iter().map(|r| r.0))
            .max()
            .map_or(0.0, |s| s as f64 + 1.0);
        let errors = self.error_totals();
        let s = &mut self.summary;
        if s.run.elapsed_s == 0.0 {
            s.run.elapsed_s = recorded;
        }
        s.load.scheduled = journeys.iter().map(|j| j.scheduled).sum();
        s.load.started = journeys.iter().map(|j| j.started).sum();
        s.load.late = journeys.iter().map(|j| j.late).sum();
        s.load.dropped = journeys.iter().map(|j| j.dropped).sum();
        s.load.data_exhausted = journeys.iter().map(|j| j.data_exhausted).sum();
        s.load.lag = Latency::of(&lag);
        s.channels = channels;
        s.journeys = journeys;
        s.steps = steps;
        s.errors = errors;
    }

    /// One tag's histogram over the whole run.
    pub fn tag(&self, tag: &str) -> Histogram<u64> {
        self.histogram(|t| t == tag, &Window::all())
    }

    fn journey_totals(&self, channel_of: &impl Fn(&str) -> Option<String>) -> Vec<JourneySummary> {
        let listed: HashMap<&str, &JourneySummary> = self
            .summary
            .journeys
            .iter()
            .map(|j| (j.name.as_str(), j))
            .collect();
        let names = in_order(
            self.summary.journeys.iter().map(|j| &j.name),
            self.journeys.iter().map(|r| &r.1),
        );
        names
            .into_iter()
            .map(|name| {
                let (channel, users) = match listed.get(name.as_str()) {
                    Some(j) => (j.channel.clone(), j.users),
                    None => (channel_of(&name).unwrap_or_else(|| "unknown".into()), 0),
                };
                self.journey(name, channel, users)
            })
            .collect()
    }

    fn journey(&self, name: String, channel: String, users: usize) -> JourneySummary {
        let all = Window::all();
        let c = self.journey_counts(|j| j == name, &all);
        let fin = |o: Outcome| c.finished[o.index()];
        let ended: u64 = c.finished.iter().sum();
        let prefix = format!("{name}.");
        let requests = self.step_counts(|s| s.starts_with(&prefix), &all).requests;
        JourneySummary {
            channel,
            users,
            scheduled: c.scheduled,
            started: c.started,
            late: c.late,
            dropped: c.dropped,
            outcomes: outcomes(&c, ended),
            goodput: ratio(fin(Outcome::CompletedInTime), c.servable()),
            data_exhausted: c.data_exhausted,
            requests,
            retries: c.retries,
            retry_amplification: ratio(requests, c.started),
            time: Latency::of(&self.tag(&journey_tag(&name))),
            lag: Latency::of(&self.tag(&lag_tag(&name))),
            name,
        }
    }

    fn step_totals(
        &self,
        journeys: &[JourneySummary],
        channel_of: &impl Fn(&str) -> Option<String>,
    ) -> Vec<StepSummary> {
        let listed: HashMap<&str, &str> = self
            .summary
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.channel.as_str()))
            .collect();
        let journey_channel = |journey: &str| {
            journeys
                .iter()
                .find(|j| j.name == journey)
                .map(|j| j.channel.clone())
                .or_else(|| channel_of(journey))
                .unwrap_or_else(|| "unknown".into())
        };
        let planned = self.summary.run.planned_s.max(1e-9);
        let names = in_order(
            self.summary.steps.iter().map(|s| &s.name),
            self.steps.iter().map(|r| &r.1),
        );
        names
            .into_iter()
            .map(|label| {
                let (journey, step) = label.split_once('.').unwrap_or((label.as_str(), ""));
                let channel = match listed.get(label.as_str()) {
                    Some(c) => c.to_string(),
                    None => channel_of(&label).unwrap_or_else(|| journey_channel(journey)),
                };
                let c = self.step_counts(|s| s == label, &Window::all());
                let latency = self.tag(&step_tag(&label));
                StepSummary {
                    journey: journey.to_string(),
                    step: step.to_string(),
                    channel,
                    requests: c.requests,
                    ok: c.ok,
                    errors: by_class(&c),
                    error_rate: ratio(c.requests - c.ok.min(c.requests), c.requests),
                    throughput_per_s: round(c.ok as f64 / planned, 3),
                    latency: Latency::of(&latency),
                    connect: Latency::of(&self.tag(&connect_tag(&label))),
                    name: label,
                }
            })
            .collect()
    }

    /// A class's examples: per step, the first `PER_SLOT` distinct ones
    /// (a merge brings each shard's).
    fn examples_of(&self, class: &str) -> Vec<ErrorExample> {
        let mut out: Vec<ErrorExample> = Vec::new();
        for e in self.examples.iter().filter(|e| e.class == class) {
            let kept = out
                .iter()
                .filter(|o| o.step == e.step)
                .map(|o| (o.what.as_str(), o.body.as_deref()));
            if admits(kept, &e.what, e.body.as_deref()) {
                out.push(e.clone());
            }
        }
        out
    }

    /// Failures by class over the run, with the first and last second each
    /// was seen, most frequent first.
    fn error_totals(&self) -> Vec<ErrorSummary> {
        let mut seen: FirstLast = [None; ErrorClass::ALL.len()];
        for (second, _, row) in &self.steps {
            for (i, n) in row.failures.into_iter().enumerate() {
                if n > 0 {
                    let e = seen[i].get_or_insert((*second, *second, 0));
                    e.0 = e.0.min(*second);
                    e.1 = e.1.max(*second);
                    e.2 += n;
                }
            }
        }
        let mut errors: Vec<ErrorSummary> = ErrorClass::ALL
            .iter()
            .filter_map(|k| {
                seen[k.index()].map(|(first, last, count)| ErrorSummary {
                    class: k.name().into(),
                    count,
                    first_s: first as f64,
                    last_s: last as f64,
                    examples: self.examples_of(k.name()),
                })
            })
            .collect();
        errors.sort_by_key(|e| std::cmp::Reverse(e.count));
        errors
    }
}

/// The names listed first, then those found only in the rows, each once,
/// in the order they first appear.
fn in_order<'a>(
    listed: impl Iterator<Item = &'a String>,
    rows: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in listed.chain(rows) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn outcomes(c: &JourneyCounts, ended: u64) -> Outcomes {
    let fin = |o: Outcome| c.finished[o.index()];
    Outcomes {
        completed_in_time: fin(Outcome::CompletedInTime),
        completed_late: fin(Outcome::CompletedLate),
        abandoned: fin(Outcome::Abandoned),
        failed: fin(Outcome::Failed),
        unfinished: fin(Outcome::Unfinished) + c.started.saturating_sub(ended),
    }
}

fn by_class(c: &StepCounts) -> BTreeMap<String, u64> {
    ErrorClass::ALL
        .iter()
        .filter(|k| c.failures[k.index()] > 0)
        .map(|k| (k.name().to_string(), c.failures[k.index()]))
        .collect()
}

/// One line per channel, from its steps' counts and latency histograms.
fn channel_totals(
    steps: &[StepSummary],
    latency_of: impl Fn(&str) -> Histogram<u64>,
) -> Vec<ChannelSummary> {
    let mut channels: BTreeMap<&str, (u64, u64, Histogram<u64>)> = BTreeMap::new();
    for st in steps {
        let entry = channels
            .entry(st.channel.as_str())
            .or_insert_with(|| (0, 0, histogram()));
        entry.0 += st.requests;
        entry.1 += st.ok;
        let _ = entry.2.add(latency_of(&st.name));
    }
    channels
        .into_iter()
        .map(|(name, (requests, ok, h))| ChannelSummary::of(name.to_string(), requests, ok, &h))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn json(v: &impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }

    fn fixture() -> RunData {
        RunData::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run")).unwrap()
    }

    /// A finished run's totals, built again from its per-second files, are
    /// the totals the run wrote, users and order included.
    #[test]
    fn rebuilt_totals_equal_the_run_s_own() {
        let mut data = fixture();
        let want = data.summary.clone();
        data.rebuild_totals(|_| None);
        assert_eq!(json(&data.summary), json(&want));
    }

    /// A run killed before it listed anything: every journey and step
    /// comes from the files, with the channels the scenario gives.
    #[test]
    fn a_killed_run_s_totals_come_from_the_files_alone() {
        let mut data = fixture();
        let want = data.summary.clone();
        let channels: BTreeMap<String, String> = want
            .journeys
            .iter()
            .map(|j| (j.name.clone(), j.channel.clone()))
            .chain(
                want.steps
                    .iter()
                    .map(|s| (s.name.clone(), s.channel.clone())),
            )
            .collect();
        data.summary.status = Status::Running;
        data.summary.journeys.clear();
        data.summary.steps.clear();
        data.summary.errors.clear();
        data.rebuild_totals(|j| channels.get(j).cloned());
        let got = &data.summary;
        assert_eq!(json(&got.channels), json(&want.channels));
        assert_eq!(json(&got.errors), json(&want.errors));
        assert_eq!(json(&got.load), json(&want.load));
        let mut steps: Vec<_> = got.steps.iter().map(json).collect();
        let mut want_steps: Vec<_> = want
            .steps
            .iter()
            .filter(|s| s.requests > 0)
            .map(json)
            .collect();
        let key = |v: &serde_json::Value| v["name"].to_string();
        steps.sort_by_key(key);
        want_steps.sort_by_key(key);
        assert_eq!(steps, want_steps);
        assert_eq!(got.journeys.len(), want.journeys.len());
        for (g, w) in got.journeys.iter().zip(&want.journeys) {
            let mut w = w.clone();
            w.users = 0;
            assert_eq!(json(g), json(&w));
        }
    }
}
