//! `report.html`: one self-contained page an SRE opens after a rehearsal.
//! No script, stylesheet, font or image is fetched: the style is inline and
//! the charts are inline SVG. Reading order follows the questions asked
//! after a rehearsal: did it pass (and can the run be trusted), what load
//! arrived, how slow, what failed and when, who got through, and what the
//! platform's books say.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;

use super::charts::{self, Frame, Line, Scale, clock, color, hex};
use super::{Format, esc, value};
use crate::folder::{Outcome, histogram, journey_tag, lag_tag, step_tag};
use crate::human::ms;
use crate::rundata::RunData;
use crate::scenario::model::ErrorClass;
use crate::summary::{Judgement, Latency, Summary, Verdict};

pub struct Html;

impl Format for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, run: &RunData) -> Vec<u8> {
        page(run).into_bytes()
    }
}

/// Most points per time series: long runs are grouped into buckets of
/// whole seconds (histograms and counts add, so a bucket is exact).
const MAX_POINTS: f64 = 480.0;

pub(crate) const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1000px;margin:0 auto;padding:16px 20px 60px;background:#fff}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 4px}
.verdict{padding:10px 14px;border-radius:6px;font-size:17px;font-weight:600;margin:10px 0}
.pass{background:#e3f4e1;color:#1e6b1a}.fail{background:#fbe3e3;color:#9b1c1c}.invalid{background:#fff1d6;color:#8a5300}.running{background:#eee}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f5f5f5;font-weight:600}td:first-child,th:first-child{text-align:left}
td.l,th.l{text-align:left;white-space:normal}
.met{color:#1e6b1a}.missed{color:#9b1c1c;font-weight:600}.unjudged{color:#8a5300;font-weight:600}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:baseline}
.legend{font-size:12px;color:#444;margin:2px 0 0}.legend span{margin-right:14px;white-space:nowrap}
.note{color:#666;font-size:12px}
.bar{display:flex;width:220px;height:12px;background:#eee;border-radius:2px;overflow:hidden}
.bar div{height:12px}
svg{width:100%;height:auto}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}dt{color:#666}dd{margin:0}
";

/// Colours of the percentile lines on latency charts.
fn percentile_colors() -> [(&'static str, plotters::style::RGBColor, bool); 4] {
    [
        ("p50", plotters::style::RGBColor(0x59, 0xa1, 0x4f), false),
        ("p90", plotters::style::RGBColor(0x4e, 0x79, 0xa7), false),
        ("p99", plotters::style::RGBColor(0xf2, 0x8e, 0x2b), false),
        ("max", plotters::style::RGBColor(0x79, 0x70, 0x6e), true),
    ]
}

/// Outcome colours: green in time, yellow late, orange abandoned, red
/// failed, grey unfinished.
fn outcome_colors() -> [(Outcome, &'static str, &'static str); 5] {
    [
        (Outcome::CompletedInTime, "in time", "#59a14f"),
        (Outcome::CompletedLate, "late", "#edc948"),
        (Outcome::Abandoned, "abandoned", "#f28e2b"),
        (Outcome::Failed, "failed", "#e15759"),
        (Outcome::Unfinished, "unfinished", "#bab0ac"),
    ]
}

/// The seconds the run covers and the bucket width of its time series.
struct Axis {
    seconds: f64,
    bucket: u64,
}

impl Axis {
    fn of(run: &RunData) -> Axis {
        let s = &run.summary;
        let recorded = run
            .steps
            .iter()
            .map(|r| r.0)
            .chain(run.journeys.iter().map(|r| r.0))
            .chain(
                run.series
                    .values()
                    .filter_map(|m| m.keys().next_back().copied()),
            )
            .max()
            .map_or(0.0, |x| x as f64 + 1.0);
        let seconds = recorded.max(s.run.planned_s).max(1.0);
        Axis {
            seconds,
            bucket: (seconds / MAX_POINTS).ceil().max(1.0) as u64,
        }
    }

    fn buckets(&self) -> u64 {
        (self.seconds / self.bucket as f64).ceil() as u64
    }

    /// The middle of bucket `b`, in seconds.
    fn x(&self, b: u64) -> f64 {
        ((b * self.bucket) as f64 + self.bucket as f64 / 2.0).min(self.seconds)
    }

    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.bucket as f64
    }

    /// The bucket that second `sec` of the run falls in.
    fn bucket_of(&self, sec: u64) -> usize {
        ((sec / self.bucket) as usize).min(self.buckets() as usize - 1)
    }

    /// Counts per bucket, drawn as a rate per second.
    fn rate_line(
        &self,
        name: &str,
        color: plotters::style::RGBColor,
        counts: &[u64],
        dashed: bool,
    ) -> Line {
        Line {
            name: name.into(),
            color,
            points: counts
                .iter()
                .enumerate()
                .map(|(b, c)| (self.x(b as u64), self.per_second(*c)))
                .collect(),
            dashed,
        }
    }
}

fn page(run: &RunData) -> String {
    let s = &run.summary;
    let axis = Axis::of(run);
    let frame = Frame {
        seconds: axis.seconds,
        phases: &s.timeline.phases,
        faults: &s.timeline.faults,
        deadline_s: s.timeline.deadline_s,
    };
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>surge: {}</title><style>{STYLE}</style></head><body><main>\n",
        esc(&s.scenario.name)
    );
    header(&mut out, s);
    objectives(&mut out, s);
    faults(&mut out, s);
    load(&mut out, run, &axis, &frame);
    latency(&mut out, run, &axis, &frame);
    errors(&mut out, run, &axis, &frame);
    budgets(&mut out, run, &frame);
    spectrum(&mut out, run);
    journeys(&mut out, s);
    generator(&mut out, run, &axis, &frame);
    ledger(&mut out, s);
    books(&mut out, run, &frame);
    steps(&mut out, s);
    history(&mut out, run);
    let _ = write!(
        out,
        "<p class=\"note\">Written by surge {} from the run folder's summary.json, latency.hlog, \
         steps.csv and journeys.csv; <code>surge report DIR</code> writes it again.</p>\n\
         </main></body></html>\n",
        esc(&s.surge_version)
    );
    out
}

fn header(out: &mut String, s: &Summary) {
    let (class, text) = match s.gate.as_ref().map(|g| g.verdict) {
        Some(Verdict::Pass) => ("pass", "✅ Every objective met"),
        Some(Verdict::Fail) => ("fail", "❌ Objectives missed"),
        Some(Verdict::Invalid) => (
            "invalid",
            "⚠️ Invalid run: the load was not delivered as scheduled",
        ),
        None => ("running", "… Not judged (the run has no verdict yet)"),
    };
    let _ = writeln!(out, "<h1>surge: {}</h1>", esc(&s.scenario.name));
    if !s.scenario.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&s.scenario.description));
    }
    let _ = writeln!(out, "<div class=\"verdict {class}\">{text}");
    if let Some(g) = &s.gate {
        let missed: Vec<&str> = g
            .objectives
            .iter()
            .filter(|o| o.judgement != Judgement::Met)
            .map(|o| o.name.as_str())
            .collect();
        if !missed.is_empty() && g.verdict == Verdict::Fail {
            let _ = write!(out, ": {}", esc(&missed.join(", ")));
        }
        if let Some(line) = super::rows::stopped_early(s) {
            let _ = write!(out, "<p class=\"stopped\">{}</p>", esc(&line));
        }
        if !g.validity.reasons.is_empty() {
            let _ = write!(out, "<ul>");
            for r in &g.validity.reasons {
                let _ = write!(out, "<li>{}</li>", esc(r));
            }
            let _ = write!(out, "</ul>");
        }
    }
    let _ = writeln!(out, "</div>");
    let g = &s.run.generator;
    let shard = s.run.shard.as_ref().map_or(String::new(), |sh| {
        format!(" (shard {} of {})", sh.index, sh.count)
    });
    let _ = writeln!(
        out,
        "<dl><dt>scenario</dt><dd>{} (seed {}, scale {}{})</dd>\
         <dt>target</dt><dd>{} ({}){}</dd>\
         <dt>started</dt><dd>{}</dd>\
         <dt>duration</dt><dd>{} planned + {} drain; ran {}; status {}</dd>\
         <dt>generator</dt><dd>{}, {} cores, {}, {} users{}</dd></dl>",
        esc(&s.scenario.file),
        s.scenario.seed,
        s.scenario.scale,
        shard,
        esc(&s.target.base_url),
        esc(&s.target.kind),
        if s.target.tls_unverified.is_empty() {
            String::new()
        } else {
            format!(
                " <strong class=\"warn\">TLS certificates NOT verified: {}</strong>",
                esc(&s.target.tls_unverified.join(", "))
            )
        },
        esc(&s.run.started_at),
        clock(s.run.planned_s),
        clock(s.run.drain_s),
        clock(s.run.elapsed_s),
        s.status.as_str(),
        esc(&g.hostname),
        g.cpus,
        esc(&g.os),
        g.users,
        g.cpu_max_pct
            .map_or(String::new(), |c| format!(", CPU busiest second {c:.0}%")),
    );
}

fn objectives(out: &mut String, s: &Summary) {
    let Some(g) = &s.gate else { return };
    if g.objectives.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2>Objectives</h2><table><tr><th>objective</th><th>verdict</th><th>measured</th>\
         <th>bound</th><th>samples</th><th class=\"l\">detail</th></tr>"
    );
    for o in &g.objectives {
        let (class, text) = match o.judgement {
            Judgement::Met => ("met", "met"),
            Judgement::Missed => ("missed", "missed"),
            Judgement::Unjudged => ("unjudged", "too few samples"),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{class}\">{text}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\">{}</td></tr>",
            esc(&o.name),
            esc(&value(o.measured, &o.unit)),
            esc(&value(Some(o.bound), &o.unit)),
            o.samples.map_or(String::new(), |n| n.to_string()),
            esc(&o.detail)
        );
    }
    let _ = writeln!(out, "</table>");
}

fn faults(out: &mut String, s: &Summary) {
    let f = &s.timeline.faults;
    if f.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2>Faults</h2><p class=\"note\">Shaded red and named on every time chart.</p>\
         <table><tr><th>fault</th><th>on</th><th>kind</th><th>planned</th><th>carried out</th>\
         <th class=\"l\">problem</th></tr>"
    );
    for x in f {
        let done = match (x.applied_s, x.removed_s) {
            (Some(a), Some(r)) => format!("{}–{}", clock(a), clock(r)),
            (Some(a), None) => format!("from {}", clock(a)),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}–{}</td><td>{done}</td><td class=\"l\">{}</td></tr>",
            esc(&x.name),
            esc(&x.on),
            esc(&x.kind),
            clock(x.start_s),
            clock(x.end_s),
            esc(x.error.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(out, "</table>");
}

fn legend(out: &mut String, items: &[(String, String)]) {
    let _ = write!(out, "<p class=\"legend\">");
    for (name, color) in items {
        let _ = write!(
            out,
            "<span><i class=\"sw\" style=\"background:{color}\"></i>{}</span>",
            esc(name)
        );
    }
    let _ = writeln!(out, "</p>");
}

fn line_legend(lines: &[Line]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| (l.name.clone(), hex(l.color)))
        .collect()
}

fn load(out: &mut String, run: &RunData, axis: &Axis, frame: &Frame) {
    let n = axis.buckets() as usize;
    let mut scheduled = vec![0u64; n];
    let mut started = vec![0u64; n];
    let mut completed = vec![0u64; n];
    let mut abandoned = vec![0u64; n];
    let mut failed = vec![0u64; n];
    for (sec, _, c) in &run.journeys {
        let b = axis.bucket_of(*sec);
        scheduled[b] += c.scheduled;
        started[b] += c.started;
        completed[b] += c.finished[Outcome::CompletedInTime.index()]
            + c.finished[Outcome::CompletedLate.index()];
        abandoned[b] += c.finished[Outcome::Abandoned.index()];
        failed[b] += c.finished[Outcome::Failed.index()];
    }
    let series =
        |name: &str, i: usize, v: &[u64], dashed: bool| axis.rate_line(name, color(i), v, dashed);
    // The schedule is drawn last, dashed, so it shows where the started
    // line departs from it.
    let lines = [
        series("started", 0, &started, false),
        series("completed", 2, &completed, false),
        series("abandoned", 1, &abandoned, false),
        series("failed", 3, &failed, false),
        series("scheduled", 9, &scheduled, true),
    ];
    let _ = writeln!(
        out,
        "<h2>1. Load over time</h2><p class=\"note\">Journeys per second{}: arrivals the \
         schedule asked for, arrivals started, and journeys that ended (completed, abandoned, \
         failed) in each second. Grey and white bands are the phases.</p>",
        bucket_note(axis)
    );
    out.push_str(&charts::time_lines(
        frame,
        "journeys per second",
        Scale::Linear,
        charts::HEIGHT,
        &lines,
    ));
    legend(out, &line_legend(&lines));
}

fn bucket_note(axis: &Axis) -> String {
    if axis.bucket > 1 {
        format!(" (averaged over {}-second buckets)", axis.bucket)
    } else {
        String::new()
    }
}

/// The percentiles of one bucket of the axis.
#[derive(Clone, Copy, Debug)]
struct Quantiles {
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
}

/// Merges the per-second histograms of `tags` into the axis's buckets and
/// keeps each bucket's percentiles, one scratch histogram at a time: a
/// histogram per bucket would hold its whole range of counts (some
/// hundred kilobytes each) for every bucket of a long run at once.
fn bucketed(run: &RunData, tags: &[String], axis: &Axis) -> BTreeMap<u64, Quantiles> {
    let series: Vec<_> = tags.iter().filter_map(|t| run.series.get(t)).collect();
    let keys: std::collections::BTreeSet<u64> = series
        .iter()
        .flat_map(|m| m.keys().map(|s| s / axis.bucket))
        .collect();
    let mut scratch = histogram();
    let mut out = BTreeMap::new();
    for b in keys {
        scratch.reset();
        let seconds = b * axis.bucket..(b + 1) * axis.bucket;
        for m in &series {
            for (_, h) in m.range(seconds.clone()) {
                h.add_to(&mut scratch);
            }
        }
        if !scratch.is_empty() {
            let q = Quantiles {
                p50: scratch.value_at_quantile(0.5),
                p90: scratch.value_at_quantile(0.9),
                p99: scratch.value_at_quantile(0.99),
                max: scratch.max(),
            };
            out.insert(b, q);
        }
    }
    out
}

fn whole(run: &RunData, tag: &str) -> Histogram<u64> {
    let mut sum = histogram();
    if let Some(seconds) = run.series.get(tag) {
        for h in seconds.values() {
            h.add_to(&mut sum);
        }
    }
    sum
}

fn percentile_lines(per_bucket: &BTreeMap<u64, Quantiles>, axis: &Axis) -> Vec<Line> {
    percentile_colors()
        .iter()
        .map(|(name, c, dashed)| Line {
            name: (*name).into(),
            color: *c,
            dashed: *dashed,
            points: per_bucket
                .iter()
                .map(|(b, q)| {
                    let v = match *name {
                        "p50" => q.p50,
                        "p90" => q.p90,
                        "p99" => q.p99,
                        _ => q.max,
                    };
                    (axis.x(*b), v as f64 / 1000.0)
                })
                .collect(),
        })
        .collect()
}

fn latency(out: &mut String, run: &RunData, axis: &Axis, frame: &Frame) {
    let s = &run.summary;
    let _ = writeln!(
        out,
        "<h2>2. Latency over time, per step</h2><p class=\"note\">Request latency (send to end \
         of body) per {}, log scale.</p>",
        if axis.bucket > 1 {
            format!("{}-second bucket", axis.bucket)
        } else {
            "second".into()
        }
    );
    let items: Vec<(String, String)> = percentile_colors()
        .iter()
        .map(|(n, c, _)| ((*n).to_string(), hex(*c)))
        .collect();
    legend(out, &items);
    for (i, step) in s.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h3><i class=\"sw\" style=\"background:{}\"></i>{} <span class=\"note\">({}, {} requests, p99 {})</span></h3>",
            hex(color(i)),
            esc(&step.name),
            esc(&step.channel),
            step.requests,
            ms(step.latency.p99_us)
        );
        let per_bucket = bucketed(run, &[step_tag(&step.name)], axis);
        if per_bucket.is_empty() {
            let _ = writeln!(out, "<p class=\"note\">no request answered</p>");
            continue;
        }
        out.push_str(&charts::time_lines(
            frame,
            "latency",
            Scale::Log,
            charts::SMALL_HEIGHT,
            &percentile_lines(&per_bucket, axis),
        ));
    }
}

fn errors(out: &mut String, run: &RunData, axis: &Axis, frame: &Frame) {
    let s = &run.summary;
    let _ = writeln!(out, "<h2>3. Errors over time, by class</h2>");
    if s.errors.is_empty() {
        let _ = writeln!(out, "<p>No request failed.</p>");
        return;
    }
    let n = axis.buckets() as usize;
    let mut per_class = vec![vec![0u64; n]; ErrorClass::ALL.len()];
    for (sec, _, c) in &run.steps {
        let b = axis.bucket_of(*sec);
        for (k, f) in c.failures.iter().enumerate() {
            per_class[k][b] += f;
        }
    }
    let layers: Vec<Line> = ErrorClass::ALL
        .iter()
        .filter(|k| per_class[k.index()].iter().any(|v| *v > 0))
        .map(|k| axis.rate_line(k.name(), color(k.index() + 3), &per_class[k.index()], false))
        .collect();
    let _ = writeln!(
        out,
        "<p class=\"note\">Failed requests per second{}, stacked by class.</p>",
        bucket_note(axis)
    );
    out.push_str(&charts::time_stacked(
        frame,
        "failed requests per second",
        &layers,
    ));
    legend(out, &line_legend(&layers));
    let _ = writeln!(
        out,
        "<table><tr><th>class</th><th>count</th><th>first seen</th><th>last seen</th>\
         <th class=\"l\">examples (first distinct, per step)</th></tr>"
    );
    for e in &s.errors {
        let swatch =
            ErrorClass::ALL
                .iter()
                .find(|k| k.name() == e.class)
                .map_or(String::new(), |k| {
                    format!(
                        "<i class=\"sw\" style=\"background:{}\"></i>",
                        hex(color(k.index() + 3))
                    )
                });
        let _ = writeln!(
            out,
            "<tr><td>{swatch}{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            esc(&e.class),
            e.count,
            clock(e.first_s),
            clock(e.last_s),
            e.examples
                .iter()
                .map(|x| format!(
                    "<div class=\"ex\"><code>{}</code></div>",
                    esc(&super::rows::example(x))
                ))
                .collect::<String>()
        );
    }
    let _ = writeln!(out, "</table>");
}

fn spectrum(out: &mut String, run: &RunData) {
    let s = &run.summary;
    let mut lines = Vec::new();
    let mut max_nines = 1.0f64;
    for (i, step) in s.steps.iter().enumerate() {
        let h = whole(run, &step_tag(&step.name));
        if h.is_empty() {
            continue;
        }
        // Beyond log10(n) nines a percentile is the maximum: stop there.
        let limit = (h.len() as f64).log10().clamp(0.5, 6.0);
        max_nines = max_nines.max(limit);
        let points = (0..=(limit * 50.0) as u32)
            .map(|k| {
                let x = f64::from(k) / 50.0;
                let q = 1.0 - 10f64.powf(-x);
                (x, h.value_at_quantile(q) as f64 / 1000.0)
            })
            .collect();
        lines.push(Line {
            name: step.name.clone(),
            color: color(i),
            points,
            dashed: false,
        });
    }
    let _ = writeln!(
        out,
        "<h2>4. Percentile spectrum per step</h2><p class=\"note\">From the whole-run HDR \
         histograms: latency at each percentile, the tail stretched to the right (90%, 99%, \
         99.9%...). A line stops where its step has too few samples to say more.</p>"
    );
    if lines.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">no request answered</p>");
        return;
    }
    out.push_str(&charts::spectrum(&lines, max_nines));
    legend(out, &line_legend(&lines));
}

fn outcome_bar(o: &[u64; 5]) -> String {
    let total: u64 = o.iter().sum();
    if total == 0 {
        return "<div class=\"bar\"></div>".into();
    }
    let mut bar = String::from("<div class=\"bar\">");
    for (i, (_, name, c)) in outcome_colors().iter().enumerate() {
        if o[i] > 0 {
            let _ = write!(
                bar,
                "<div title=\"{name}: {}\" style=\"width:{:.2}%;background:{c}\"></div>",
                o[i],
                o[i] as f64 * 100.0 / total as f64
            );
        }
    }
    bar.push_str("</div>");
    bar
}

/// Section 5: how each arrival ended, per journey and per channel. Long
/// because the channel lines add the journeys' counts in the same loop.
fn journeys(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "<h2>5. Journeys</h2><p class=\"note\">How each arrival ended. Goodput: share of \
         scheduled arrivals that completed before the deadline. Time: from the intended start \
         (so waiting for a free user counts). Amplification: requests per started journey.</p>"
    );
    legend(
        out,
        &outcome_colors()
            .iter()
            .map(|(_, n, c)| ((*n).to_string(), (*c).to_string()))
            .collect::<Vec<_>>(),
    );
    let _ = writeln!(
        out,
        "<table><tr><th>journey</th><th>channel</th><th>arrivals</th><th class=\"l\">outcomes</th>\
         <th>in time</th><th>late</th><th>abandoned</th><th>failed</th><th>unfinished</th>\
         <th>goodput</th><th>time p50</th><th>p90</th><th>p99</th><th>amplification</th></tr>"
    );
    let row = |out: &mut String,
               name: &str,
               channel: &str,
               scheduled: u64,
               o: [u64; 5],
               time: Option<&Latency>,
               amp: Option<f64>| {
        let goodput = if scheduled == 0 {
            0.0
        } else {
            o[0] as f64 / scheduled as f64
        };
        let t = |f: fn(&Latency) -> u64| time.map_or("–".into(), |l| ms(f(l)));
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{scheduled}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            name,
            esc(channel),
            outcome_bar(&o),
            o[0],
            o[1],
            o[2],
            o[3],
            o[4],
            goodput * 100.0,
            t(|l| l.p50_us),
            t(|l| l.p90_us),
            t(|l| l.p99_us),
            amp.map_or("–".into(), |a| format!("{a:.2}×")),
        );
    };
    let mut by_channel: BTreeMap<&str, (u64, [u64; 5])> = BTreeMap::new();
    for j in &s.journeys {
        let o = &j.outcomes;
        let v = [
            o.completed_in_time,
            o.completed_late,
            o.abandoned,
            o.failed,
            o.unfinished,
        ];
        row(
            out,
            &esc(&j.name),
            &j.channel,
            j.servable(),
            v,
            Some(&j.time),
            Some(j.retry_amplification),
        );
        let e = by_channel.entry(&j.channel).or_default();
        e.0 += j.servable();
        for (a, b) in e.1.iter_mut().zip(v) {
            *a += b;
        }
    }
    if by_channel.len() > 1 || s.journeys.len() > by_channel.len() {
        for (ch, (scheduled, o)) in &by_channel {
            row(out, "<i>all journeys</i>", ch, *scheduled, *o, None, None);
        }
    }
    let _ = writeln!(out, "</table>");
}

/// Section 6: did the generator keep up? Long because it is one prose
/// paragraph and three charts (start lag, late and dropped arrivals, CPU)
/// that read the same figures; split, each piece would need them all.
fn generator(out: &mut String, run: &RunData, axis: &Axis, frame: &Frame) {
    let s = &run.summary;
    let l = &s.load;
    let _ = writeln!(
        out,
        "<h2>6. Did the generator keep up?</h2><p>{} arrivals scheduled ({:.0} expected from \
         the rates), {} started, <b>{}</b> waited for a free user (late), {}. \
         Start lag (intended start to first request): p50 {}, p99 {}, max {}.{}</p>",
        l.scheduled,
        l.expected,
        l.started,
        l.late,
        super::rows::dropped(l),
        ms(l.lag.p50_us),
        ms(l.lag.p99_us),
        ms(l.lag.max_us),
        s.run
            .generator
            .cpu_mean_pct
            .map_or(String::new(), |c| format!(" Generator CPU: mean {c:.0}%.")),
    );
    match &s.gate {
        Some(g) if g.validity.valid => {
            let _ = writeln!(
                out,
                "<p class=\"met\">The load was delivered as scheduled: the run is valid.</p>"
            );
        }
        Some(g) => {
            let _ = writeln!(
                out,
                "<p class=\"missed\">Invalid run: {}.</p>",
                esc(&g.validity.reasons.join("; "))
            );
        }
        None => {}
    }
    let n = axis.buckets() as usize;
    let mut late = vec![0u64; n];
    let mut dropped = vec![0u64; n];
    for (sec, _, c) in &run.journeys {
        let b = axis.bucket_of(*sec);
        late[b] += c.late;
        dropped[b] += c.dropped;
    }
    let lines = [
        axis.rate_line("late (waited for a user)", color(1), &late, false),
        axis.rate_line("dropped", color(3), &dropped, false),
    ];
    out.push_str(&charts::time_lines(
        frame,
        "arrivals per second",
        Scale::Linear,
        charts::SMALL_HEIGHT,
        &lines,
    ));
    legend(out, &line_legend(&lines));
    let tags: Vec<String> = s.journeys.iter().map(|j| lag_tag(&j.name)).collect();
    let lag = bucketed(run, &tags, axis);
    if !lag.is_empty() {
        let lines: Vec<Line> = percentile_lines(&lag, axis)
            .into_iter()
            .filter(|l| l.name == "p99" || l.name == "max")
            .map(|l| Line {
                name: format!("start lag {}", l.name),
                ..l
            })
            .collect();
        out.push_str(&charts::time_lines(
            frame,
            "start lag",
            Scale::Log,
            charts::SMALL_HEIGHT,
            &lines,
        ));
        legend(out, &line_legend(&lines));
    }
    // Journey time per journey: how long applicants really waited.
    let mut time_lines = Vec::new();
    for (i, j) in s.journeys.iter().enumerate() {
        let per_bucket = bucketed(run, &[journey_tag(&j.name)], axis);
        let points: Vec<(f64, f64)> = per_bucket
            .iter()
            .map(|(b, q)| (axis.x(*b), q.p99 as f64 / 1000.0))
            .collect();
        if !points.is_empty() {
            time_lines.push(Line {
                name: format!("{} p99", j.name),
                color: color(i + 10),
                points,
                dashed: false,
            });
        }
    }
    if !time_lines.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Time to complete a journey (p99 by the second it ended)</h3>"
        );
        out.push_str(&charts::time_lines(
            frame,
            "journey time",
            Scale::Log,
            charts::SMALL_HEIGHT,
            &time_lines,
        ));
        legend(out, &line_legend(&time_lines));
    }
}

fn ledger(out: &mut String, s: &Summary) {
    let Some(l) = &s.ledger else { return };
    let _ = writeln!(
        out,
        "<h2>7. The twin's ledger</h2><p>{} payments captured, <b>{}</b> paid but not credited \
         at the end, {} stamps completed.</p><table><tr><th>invariant</th><th>verdict</th>\
         <th class=\"l\">detail</th></tr>",
        l.counters.payments_captured, l.paid_not_credited, l.stamps_completed
    );
    for v in &l.invariants {
        let name = serde_json::to_value(v.invariant)
            .ok()
            .and_then(|x| x.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", v.invariant));
        let (class, text) = if v.holds {
            ("met", "holds")
        } else {
            ("missed", "broken")
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{class}\">{text}</td><td class=\"l\">{}</td></tr>",
            esc(&name),
            esc(&v.detail)
        );
    }
    let _ = writeln!(
        out,
        "</table><table><tr><th>counter</th><th>value</th></tr>"
    );
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(l.counters) {
        for (k, v) in map {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{v}</td></tr>",
                esc(&k.replace('_', " "))
            );
        }
    }
    let _ = writeln!(out, "</table>");
}

/// Error budgets: each pair's burn rate over time, long window solid and
/// short dashed, with the pair's threshold flat and dashed, faults shaded.
fn budgets(out: &mut String, run: &RunData, frame: &Frame) {
    let s = &run.summary;
    let Some(gate) = &s.gate else { return };
    let budgets: Vec<(&str, &crate::scenario::model::ErrorBudgetObjective)> = gate
        .objectives
        .iter()
        .filter_map(|o| match &o.spec {
            crate::scenario::model::Objective::ErrorBudget(b) => Some((o.name.as_str(), b)),
            _ => None,
        })
        .collect();
    if budgets.is_empty() {
        return;
    }
    let scaled = if (s.scenario.time_factor - 1.0).abs() > 1e-9 {
        format!(
            " Window lengths are scaled by {:.3} with the timeline (<code>--duration</code>):              the labels give them as this run used them.",
            s.scenario.time_factor
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "<h2>Error budgets</h2><p class=\"note\">A window's burn rate is its error rate \
         over the budget (1 − SLO): 1 spends the budget exactly. A pair is breached when \
         both its long window (solid) and its short one (dashed) burn over its threshold \
         (the flat dashed line) at the same second; a window reaches back its length, or to the run's \
         start.{scaled}</p>"
    );
    for (name, o) in budgets {
        let burner = crate::gate::burn::burner(o, run);
        let series = burner.series();
        let mut lines = Vec::new();
        for (i, p) in burner.pairs().iter().enumerate() {
            let label = crate::gate::burn::pair_label(p);
            let color = charts::color(i);
            let at = |pick: fn(&(f64, f64)) -> f64| -> Vec<(f64, f64)> {
                series
                    .iter()
                    .enumerate()
                    .map(|(sec, pairs)| (sec as f64 + 1.0, pick(&pairs[i])))
                    .collect()
            };
            lines.push(Line {
                name: format!("{label} long"),
                color,
                points: at(|x| x.0),
                dashed: false,
            });
            lines.push(Line {
                name: format!("{label} short"),
                color,
                points: at(|x| x.1),
                dashed: true,
            });
            lines.push(Line {
                name: format!("{label} threshold {}x", p.burn),
                color: charts::color(i),
                points: vec![(0.0, p.burn), (frame.seconds, p.burn)],
                dashed: true,
            });
        }
        let _ = writeln!(out, "<h3>{}</h3>", esc(name));
        out.push_str(&charts::time_lines(
            frame,
            "burn rate (x)",
            Scale::Linear,
            charts::SMALL_HEIGHT,
            &lines,
        ));
        legend(out, &line_legend(&lines));
    }
}

/// The platform's books: the counters over time (faults shaded), what
/// they read at the run's marks, and each reconciliation.
fn books(out: &mut String, run: &RunData, frame: &Frame) {
    let Some(b) = &run.summary.books else { return };
    let _ = writeln!(
        out,
        "<h2>The platform's books</h2><p class=\"note\">Read from the platform's own \
         records (<code>books:</code> in the scenario): before the load, every reading during \
         it (<code>books.csv</code>), and after the settle. Ours are the ids applicants held \
         when they completed the step (<code>ids.csv</code>).</p>"
    );
    if let Some(table) = &run.books {
        let lines: Vec<Line> = table
            .counters
            .iter()
            .enumerate()
            .map(|(i, name)| Line {
                name: name.clone(),
                color: charts::color(i),
                points: table
                    .readings
                    .iter()
                    .filter_map(|r| Some((r.t_s, r.values.get(i).copied().flatten()?)))
                    .collect(),
                dashed: false,
            })
            .collect();
        if lines.iter().any(|l| !l.points.is_empty()) {
            let seconds = table
                .readings
                .iter()
                .map(|r| r.t_s)
                .fold(frame.seconds, f64::max);
            let frame = Frame {
                seconds,
                ..frame.clone()
            };
            out.push_str(&charts::time_lines(
                &frame,
                "count",
                Scale::Linear,
                charts::SMALL_HEIGHT,
                &lines,
            ));
            legend(out, &line_legend(&lines));
        }
    }
    let _ = writeln!(out, "<ul>");
    for line in super::rows::books(b) {
        let _ = writeln!(out, "<li>{}</li>", esc(&line));
    }
    let _ = writeln!(out, "</ul>");
}

fn steps(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "<h2>8. Steps</h2><table><tr><th>step</th><th>channel</th><th>requests</th>\
         <th>throughput</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th>\
         <th>error rate</th><th class=\"l\">errors</th><th>new connections</th></tr>"
    );
    for (i, st) in s.steps.iter().enumerate() {
        let c = super::rows::step(st);
        let errors: Vec<String> = st.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            out,
            "<tr><td><i class=\"sw\" style=\"background:{}\"></i>{}</td><td>{}</td><td>{}</td>\
             <td>{:.2}/s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\">{}</td><td>{}</td></tr>",
            hex(color(i)),
            esc(&st.name),
            esc(&st.channel),
            c.requests,
            st.throughput_per_s,
            c.p50,
            c.p90,
            c.p99,
            c.p999,
            c.max,
            c.error_rate,
            esc(&errors.join(", ")),
            c.connects
        );
    }
    let _ = writeln!(out, "</table>");
}

/// The scenario's recent runs from the history (when it holds earlier
/// ones): goodput and each channel's p99 per run, and capacity searches;
/// this run ringed.
fn history(out: &mut String, run: &RunData) {
    let Some(h) = &run.history else { return };
    let this = crate::history::key(&run.dir);
    let current = h.runs.iter().position(|p| p.folder == this);
    let earlier = h.runs.len() - usize::from(current.is_some());
    if earlier == 0 && h.capacities.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2 id=\"history\">9. History</h2><p class=\"note\">The last {} whole, valid runs of \
         this scenario in the run history, oldest first{}; <code>surge history trend</code> \
         tells moves from noise.</p>",
        h.runs.len(),
        if current.is_some() {
            ", this run ringed"
        } else {
            ""
        }
    );
    let x = |i: usize| (i + 1) as f64;
    if !h.runs.is_empty() {
        let goodput = Line {
            name: "goodput".into(),
            color: color(2),
            points: h
                .runs
                .iter()
                .enumerate()
                .map(|(i, p)| (x(i), p.goodput * 100.0))
                .collect(),
            dashed: false,
        };
        let _ = writeln!(out, "<h3>Goodput, % of arrivals</h3>");
        out.push_str(&charts::runs(
            "goodput, %",
            Scale::Linear,
            &[goodput],
            &[],
            current,
        ));
        let channels: std::collections::BTreeSet<&String> =
            h.runs.iter().flat_map(|p| p.p99_us.keys()).collect();
        let lines: Vec<Line> = channels
            .iter()
            .enumerate()
            .map(|(c, name)| Line {
                name: (*name).clone(),
                color: color(c),
                points: h
                    .runs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| Some((x(i), *p.p99_us.get(*name)? as f64 / 1000.0)))
                    .collect(),
                dashed: false,
            })
            .collect();
        let _ = writeln!(out, "<h3>p99 latency per channel</h3>");
        out.push_str(&charts::runs("p99", Scale::Log, &lines, &[], current));
        legend(out, &line_legend(&lines));
    }
    if !h.capacities.is_empty() {
        let line = Line {
            name: "capacity".into(),
            color: color(0),
            points: h
                .capacities
                .iter()
                .enumerate()
                .map(|(i, c)| (x(i), c.2))
                .collect(),
            dashed: false,
        };
        let _ = writeln!(
            out,
            "<h3>Capacity, arrivals/s ({} searches)</h3>",
            h.capacities.len()
        );
        out.push_str(&charts::runs(
            "arrivals/s",
            Scale::Linear,
            &[line],
            &[],
            None,
        ));
    }
    let _ = writeln!(
        out,
        "<table><tr><th>run</th><th>started (UTC)</th><th>commit</th><th>goodput</th></tr>"
    );
    for (i, p) in h.runs.iter().enumerate() {
        let mark = if Some(i) == current {
            " (this run)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr><td>{}{mark}</td><td>{}</td><td><code>{}</code></td><td>{:.2}%</td></tr>",
            i + 1,
            esc(&crate::history::trend::short_time(&p.started_at)),
            esc(&crate::history::trend::short_commit(
                p.git_commit.as_deref()
            )),
            p.goodput * 100.0
        );
    }
    let _ = writeln!(out, "</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
