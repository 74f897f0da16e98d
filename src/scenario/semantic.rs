//! The meaning check: what a schema cannot say. Names refer to things that
//! exist (journeys, steps, phases, faults, partners), moments fall inside
//! the run, faults suit their target and do not overlap on one switch,
//! variables are bound before a request uses them, and numbers make sense
//! together (a ramp's ends, a distribution's median and p99). It builds the
//! run's timeline as it goes, since most checks need it.

use std::collections::{HashMap, HashSet};
use std::path::Path as FsPath;
use std::time::Duration as StdDuration;

use super::diagnostic::{Path, Problem, did_you_mean, one_of, suggestion};
use super::model::*;
use super::refs::{At, Channel, Edge, FaultOn, StepRef, check_name};
use super::template::Template;

mod books;

/// The `data` tables a scenario reads, by name.
pub type Tables = indexmap::IndexMap<String, std::sync::Arc<super::data::Table>>;

/// Hints for a load without phases, or with both `phases` and `curve`.
const NO_PHASES: &str = "add a phase `{ name: surge, duration: 10m, rate: 20/s }`, or give the whole load as `curve: { file: eve.csv }`";
const CURVE_IN_A_PHASE: &str = "to use a curve as one phase among others, write it in the phase: `{ name: eve, curve: { file: eve.csv } }`";

/// Variables every journey has without capturing them.
pub const BUILTIN_VARS: [&str; 5] = ["arrival", "journey", "channel", "partner", "random"];

/// A phase placed on the run's clock (rates per second, before `scale`).
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseWindow {
    pub name: String,
    pub start: StdDuration,
    pub end: StdDuration,
    /// The rate at the start (for a curve, its first bin's).
    pub from: f64,
    /// The rate at the end (for a curve, its last bin's).
    pub to: f64,
    /// A recorded curve's rates, bin by bin from `start`, when the phase
    /// has one: it replaces the straight line from `from` to `to`.
    pub curve: Option<CurveRates>,
}

/// A curve phase's rates per second in consecutive bins of `bin` seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveRates {
    pub bin: f64,
    pub rates: std::sync::Arc<[f64]>,
}

/// A straight piece of a phase's rate: `from` to `to` per second over
/// `[start, end)` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatePiece {
    pub start: f64,
    pub end: f64,
    pub from: f64,
    pub to: f64,
}

impl RatePiece {
    /// Mean number of arrivals between `a` and `b` seconds.
    pub fn arrivals_between(&self, a: f64, b: f64) -> f64 {
        let (a, b) = (a.max(self.start), b.min(self.end));
        if b <= a || self.end <= self.start {
            return 0.0;
        }
        let rate =
            |t: f64| self.from + (self.to - self.from) * (t - self.start) / (self.end - self.start);
        (rate(a) + rate(b)) / 2.0 * (b - a)
    }
}

impl PhaseWindow {
    /// The phase's rate as straight pieces: one for a constant rate or a
    /// ramp, one per bin for a curve (ending at the phase's end).
    pub fn pieces(&self) -> Vec<RatePiece> {
        let (start, end) = (self.start.as_secs_f64(), self.end.as_secs_f64());
        match &self.curve {
            None => vec![RatePiece {
                start,
                end,
                from: self.from,
                to: self.to,
            }],
            Some(c) => c
                .rates
                .iter()
                .enumerate()
                .map(|(i, &r)| RatePiece {
                    start: start + i as f64 * c.bin,
                    end: (start + (i + 1) as f64 * c.bin).min(end),
                    from: r,
                    to: r,
                })
                .take_while(|p| p.start < end)
                .collect(),
        }
    }

    /// The highest rate of the phase.
    pub fn peak(&self) -> f64 {
        match &self.curve {
            None => self.from.max(self.to),
            Some(c) => c.rates.iter().copied().fold(0.0, f64::max),
        }
    }

    /// Mean number of arrivals in the phase (the integral of its rate).
    pub fn arrivals(&self) -> f64 {
        self.arrivals_between(self.start.as_secs_f64(), self.end.as_secs_f64())
    }

    /// Mean number of arrivals of the phase between `a` and `b` seconds.
    pub fn arrivals_between(&self, a: f64, b: f64) -> f64 {
        let (start, end) = (self.start.as_secs_f64(), self.end.as_secs_f64());
        let Some(c) = &self.curve else {
            return self.pieces()[0].arrivals_between(a, b);
        };
        // Only the bins that meet [a, b): a day's curve has 86,400.
        let (a, b) = (a.max(start), b.min(end));
        if b <= a || c.bin <= 0.0 {
            return 0.0;
        }
        let first = ((a - start) / c.bin).floor() as usize;
        let last = (((b - start) / c.bin).ceil() as usize).min(c.rates.len());
        (first..last)
            .map(|i| {
                let lo = (start + i as f64 * c.bin).max(a);
                let hi = (start + (i + 1) as f64 * c.bin).min(b);
                c.rates[i] * (hi - lo).max(0.0)
            })
            .sum()
    }
}

/// A fault placed on the run's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// The fault's name, or `KIND on TARGET` when it has none.
    pub name: String,
    /// Its position in `faults`.
    pub index: usize,
    pub start: StdDuration,
    /// Clamped to the end of the run.
    pub end: StdDuration,
}

/// When everything happens, from the start of the first phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    pub phases: Vec<PhaseWindow>,
    pub faults: Vec<FaultWindow>,
    /// The end of the last phase.
    pub total: StdDuration,
    pub deadline: StdDuration,
}

impl Timeline {
    pub fn expected_arrivals(&self) -> f64 {
        self.phases.iter().map(PhaseWindow::arrivals).sum()
    }

    /// Mean number of arrivals between `a` and `b` seconds, before `scale`.
    pub fn arrivals_between(&self, a: f64, b: f64) -> f64 {
        self.phases.iter().map(|p| p.arrivals_between(a, b)).sum()
    }

    pub fn phase(&self, name: &str) -> Option<&PhaseWindow> {
        self.phases.iter().find(|p| p.name == name)
    }

    pub fn fault(&self, name: &str) -> Option<&FaultWindow> {
        self.faults.iter().find(|f| f.name == name)
    }

    /// Stretches every moment by `factor` (`surge run --duration`): phases,
    /// faults and the deadline keep their shape; rates stay as written.
    pub fn stretch(&mut self, factor: f64) {
        let at = |d: StdDuration| StdDuration::from_secs_f64(d.as_secs_f64() * factor);
        for p in &mut self.phases {
            (p.start, p.end) = (at(p.start), at(p.end));
            if let Some(c) = &mut p.curve {
                c.bin *= factor;
            }
        }
        for f in &mut self.faults {
            (f.start, f.end) = (at(f.start), at(f.end));
        }
        self.total = at(self.total);
        self.deadline = at(self.deadline);
    }
}

type Checked = (Timeline, Vec<(String, f64)>, Tables, Vec<Problem>);

/// Checks the meaning of a structurally valid file.
pub(super) fn check(file: &ScenarioFile, base_dir: &FsPath) -> Checked {
    let mut c = Checker {
        file,
        base_dir,
        tables: Tables::new(),
        out: Vec::new(),
    };
    if file.version != FORMAT_VERSION {
        c.out.push(
            Problem::error(
                Path::at(&["version"]),
                format!(
                    "this surge reads version {FORMAT_VERSION} of the format, not {}",
                    file.version
                ),
            )
            .with_hint(format!("write `version: {FORMAT_VERSION}`")),
        );
    }
    c.target();
    let phases = c.phases();
    c.data();
    c.journeys();
    let mix = c.mix();
    let total = phases.last().map_or(StdDuration::ZERO, |p| p.end);
    let deadline = c.deadline(&phases, total);
    let faults = c.faults(&phases, total);
    let timeline = Timeline {
        phases,
        faults,
        total,
        deadline,
    };
    c.books();
    c.objectives(&timeline);
    (timeline, mix, c.tables, c.out)
}

struct Checker<'a> {
    file: &'a ScenarioFile,
    base_dir: &'a FsPath,
    /// The `data` files read so far, by name.
    tables: Tables,
    out: Vec<Problem>,
}

impl Checker<'_> {
    fn error(&mut self, path: Path, message: impl Into<String>) -> &mut Problem {
        self.out.push(Problem::error(path, message));
        self.out.last_mut().expect("just pushed")
    }

    fn warn(&mut self, path: Path, message: impl Into<String>) {
        self.out.push(Problem::warning(path, message));
    }

    // ------------------------------------------------------------ target

    fn target(&mut self) {
        let t = &self.file.target;
        let path = Path::at(&["target"]);
        match (&t.twin, &t.base_url) {
            (Some(_), Some(_)) => {
                self.error(
                    path.clone(),
                    "choose one target: `twin` or `base_url`, not both",
                );
            }
            (None, None) => {
                self.error(path.clone(), "no target given").hint = Some(
                    "write `twin: {}` for the built-in twin, or `base_url: http://127.0.0.1:8080` for a system of your own".into(),
                );
            }
            _ => {}
        }
        if let Some(twin) = &t.twin {
            for (key, given) in [
                ("channels", !t.channels.is_empty()),
                ("allow_hosts", !t.allow_hosts.is_empty()),
                ("admin", t.admin.is_some()),
                ("tls", t.tls.is_some()),
            ] {
                if given {
                    self.error(
                        path.key(key),
                        format!(
                            "`{key}` is for an external target; the built-in twin runs on loopback"
                        ),
                    )
                    .anchor = super::diagnostic::Anchor::Key;
                }
            }
            self.twin(twin, &path.key("twin"));
        }
        if let Some(url) = &t.base_url {
            self.base_url(url, &path.key("base_url"));
            self.tls(url, t.tls.as_ref(), &path.key("tls"));
        }
        for (name, channel) in &t.channels {
            let p = path.key("channels").key(name);
            let url = channel.base_url();
            match super::refs::parse_channel(name) {
                Ok(Channel::Core) => {
                    self.error(
                        p.clone(),
                        "journeys do not reach `core` directly; it has no base URL of its own",
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    self.error(p.clone(), e).anchor = super::diagnostic::Anchor::Key;
                }
            }
            let (url_path, tls_path) = match channel {
                ChannelTarget::Url(_) => (p.clone(), p.key("tls")),
                ChannelTarget::WithTls(_) => (p.key("base_url"), p.key("tls")),
            };
            self.base_url(url, &url_path);
            // Each section is checked where it is written; the runner
            // merges a channel's over the target's.
            self.tls(url, channel.tls(), &tls_path);
        }
        if let Some(url) = &t.admin {
            self.base_url(url, &path.key("admin"));
        }
    }

    /// TLS settings for `url`: only for https, files read and checked.
    fn tls(&mut self, url: &Template, tls: Option<&Tls>, path: &Path) {
        let Some(tls) = tls else { return };
        let text = url.render(&|_| None).unwrap_or_default();
        if url::Url::parse(&text).is_ok_and(|u| u.scheme() == "http") {
            self.error(path.clone(), "TLS settings for an `http://` URL do nothing")
                .hint = Some("use an `https://` URL, or drop `tls`".into());
            return;
        }
        if let Err(problems) = super::tls::load(tls, self.base_dir) {
            for p in problems {
                self.error(path.key(p.field), p.message).hint = p.hint;
            }
        }
    }

    /// A base URL: http or https, a host, no journey variables. A URL read
    /// from the environment is never repeated in a message.
    fn base_url(&mut self, url: &Template, path: &Path) {
        if url.vars().next().is_some() {
            self.error(
                path.clone(),
                "a base URL cannot use journey variables (`{var}`)",
            );
            return;
        }
        let shown = if url.has_secret() {
            "the URL (from the environment)".to_string()
        } else {
            format!("`{url}`")
        };
        let text = url.render(&|_| None).unwrap_or_default();
        let parsed = match url::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            _ => {
                self.error(
                    path.clone(),
                    format!("{shown} is not an http(s) URL with a host"),
                )
                .hint = Some("write it like `http://127.0.0.1:8080`".into());
                return;
            }
        };
        let host = parsed.host_str().unwrap_or_default();
        let allowed = self
            .file
            .target
            .allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
        if !is_loopback_host(host) && !allowed {
            self.warn(
                path.clone(),
                format!(
                    "{shown} is not on loopback; `surge run` will refuse it unless its host is listed in `target.allow_hosts` or `--allow-remote-target` is given"
                ),
            );
        }
    }

    fn twin(&mut self, twin: &TwinConfig, path: &Path) {
        twin_problems(twin, path, &mut self.out);
    }

    fn distribution(&mut self, d: &Distribution, path: &Path) {
        distribution_problems(d, path, &mut self.out);
    }

    // ------------------------------------------------------------ load

    /// The phases on the run's clock. A broken phase keeps its place (rate
    /// 0) so that later checks still see where every phase lies; the
    /// errors already keep the scenario from running.
    fn phases(&mut self) -> Vec<PhaseWindow> {
        let load = &self.file.load;
        let base = Path::at(&["load"]);
        // The whole load as a curve is one phase, named `curve`, whose
        // problems are located at `load`.
        let whole = match (&load.curve, load.phases.is_empty()) {
            (Some(curve), true) => Some(Phase {
                name: super::refs::Name("curve".into()),
                duration: None,
                rate: None,
                from: None,
                to: None,
                curve: Some(curve.clone()),
            }),
            (curve, empty) => {
                if curve.is_some() {
                    self.error(base.key("curve"), "give `phases` or `curve`, not both")
                        .hint = Some(CURVE_IN_A_PHASE.into());
                }
                if empty {
                    self.error(base.key("phases"), "no phases: the run would last 0s")
                        .hint = Some(NO_PHASES.into());
                }
                None
            }
        };
        let phases: &[Phase] = match &whole {
            Some(p) => std::slice::from_ref(p),
            None => &load.phases,
        };
        let at = |i: usize| match whole {
            Some(_) => base.clone(),
            None => base.key("phases").index(i),
        };
        let mut seen = HashSet::new();
        let mut windows = Vec::new();
        let mut clock = StdDuration::ZERO;
        for (i, phase) in phases.iter().enumerate() {
            let p = at(i);
            if !seen.insert(phase.name.as_str()) {
                self.error(
                    p.key("name"),
                    format!("another phase is already named `{}`", phase.name),
                );
            }
            let (from, to, curve, length) = match &phase.curve {
                Some(file) => self.phase_curve(phase, file, &p),
                None => {
                    let (from, to) = self.phase_rates(phase, &p);
                    let length = phase.duration.map(|d| d.0);
                    if length.is_none() {
                        self.error(p.clone(), "missing `duration`").hint =
                            Some("say how long the phase lasts: `duration: 10m`".into());
                    }
                    (from, to, None, length.unwrap_or_default())
                }
            };
            if length.is_zero() && (phase.duration.is_some() || phase.curve.is_none()) {
                self.error(p.key("duration"), "a phase must last longer than 0s");
            }
            let end = clock + length;
            windows.push(PhaseWindow {
                name: phase.name.0.clone(),
                start: clock,
                end,
                from,
                to,
                curve,
            });
            clock = end;
        }
        if !(load.scale.is_finite() && load.scale > 0.0) {
            self.error(
                base.key("scale"),
                format!("`scale` must be above 0, not {}", load.scale),
            );
        }
        if windows.iter().all(|w| w.peak() == 0.0) {
            self.warn(
                base.key("phases"),
                "every rate is 0: no applicant will arrive",
            );
        }
        windows
    }

    /// A curve phase's first and last rates, its rates and its length
    /// (the file's, or `duration` when given: the curve cut short, or
    /// followed by silence).
    fn phase_curve(
        &mut self,
        phase: &Phase,
        file: &CurveFile,
        p: &Path,
    ) -> (f64, f64, Option<CurveRates>, StdDuration) {
        if phase.rate.is_some() || phase.from.is_some() || phase.to.is_some() {
            self.error(
                p.clone(),
                "a `curve` phase takes its rates from the file; drop `rate`, `from` and `to`",
            );
        }
        let file_path = p.key("curve").key("file");
        let full = match super::named_file(self.base_dir, &file.file) {
            Ok((full, _)) => full,
            Err((message, hint)) => {
                self.error(file_path, message).hint = Some(hint);
                return (
                    0.0,
                    0.0,
                    None,
                    phase.duration.map(|d| d.0).unwrap_or_default(),
                );
            }
        };
        let curve = match super::curve::load(&full, &file.file) {
            Ok(c) => c,
            Err(e) => {
                self.error(file_path, e.to_string()).hint = Some(
                    "a curve is CSV: `second,arrivals` then one row per second with its count (`surge import access-log --exact` writes one)".into(),
                );
                return (
                    0.0,
                    0.0,
                    None,
                    phase.duration.map(|d| d.0).unwrap_or_default(),
                );
            }
        };
        let length = phase.duration.map_or(curve.duration(), |d| d.0);
        let mut rates = curve.rates();
        let bins = length.as_secs_f64() / curve.bin.as_secs_f64();
        rates.truncate(bins.ceil() as usize);
        let (from, to) = (
            rates.first().copied().unwrap_or(0.0),
            rates.last().copied().unwrap_or(0.0),
        );
        let curve = CurveRates {
            bin: curve.bin.as_secs_f64(),
            rates: rates.into(),
        };
        (from, to, Some(curve), length)
    }

    /// A phase's rates at its start and end, per second.
    fn phase_rates(&mut self, phase: &Phase, p: &Path) -> (f64, f64) {
        match (phase.rate, phase.from, phase.to) {
            (Some(r), None, None) => (r.as_per_second(), r.as_per_second()),
            (None, Some(f), Some(t)) => (f.as_per_second(), t.as_per_second()),
            (Some(_), _, _) => {
                self.error(
                    p.clone(),
                    "give either `rate` or `from` and `to` (a ramp), not both",
                );
                (0.0, 0.0)
            }
            (None, None, None) => {
                self.error(p.clone(), "missing `rate`").hint = Some(
                    "give a constant `rate: 20/s`, or a ramp `from: 20/s` and `to: 120/s`".into(),
                );
                (0.0, 0.0)
            }
            (None, _, _) => {
                self.error(p.clone(), "a ramp needs both `from` and `to`");
                (0.0, 0.0)
            }
        }
    }

    /// Resolves a moment to an offset from the start of the run.
    fn moment(&mut self, at: &At, phases: &[PhaseWindow], path: &Path) -> Option<StdDuration> {
        let (phase, edge, later, shift) = match at {
            At::Offset(d) => return Some(d.0),
            At::Phase {
                phase,
                edge,
                later,
                shift,
            } => (phase, *edge, *later, shift.0),
        };
        let Some(window) = phases.iter().find(|w| &w.name == phase) else {
            let names: Vec<&str> = phases.iter().map(|w| w.name.as_str()).collect();
            self.error(path.clone(), format!("no phase is named `{phase}`"))
                .hint = suggestion(phase, names.iter().copied())
                .or_else(|| Some(format!("phases: {}", one_of(&names))));
            return None;
        };
        let base = if edge == Edge::Start {
            window.start
        } else {
            window.end
        };
        if later {
            return Some(base + shift);
        }
        match base.checked_sub(shift) {
            Some(t) => Some(t),
            None => {
                self.error(path.clone(), format!("`{at}` falls before the run starts"));
                None
            }
        }
    }

    fn deadline(&mut self, phases: &[PhaseWindow], total: StdDuration) -> StdDuration {
        let Some(at) = &self.file.deadline else {
            return total;
        };
        let path = Path::at(&["deadline"]);
        match self.moment(at, phases, &path) {
            Some(t) if t > total => {
                self.error(
                    path,
                    format!(
                        "the deadline ({}) falls after the run ends ({})",
                        show(t),
                        show(total)
                    ),
                );
                total
            }
            Some(t) => t,
            None => total,
        }
    }

    fn mix(&mut self) -> Vec<(String, f64)> {
        let journeys = &self.file.journeys;
        let mix = &self.file.mix;
        if mix.is_empty() {
            let share = 1.0 / journeys.len().max(1) as f64;
            return journeys.keys().map(|k| (k.clone(), share)).collect();
        }
        let mut ok = true;
        for (name, weight) in mix {
            let p = Path::at(&["mix"]).key(name);
            if !journeys.contains_key(name) {
                let problem = self.error(p.clone(), format!("no journey is named `{name}`"));
                problem.anchor = super::diagnostic::Anchor::Key;
                problem.hint = suggestion(name, journeys.keys().map(String::as_str));
                ok = false;
            } else if !(weight.is_finite() && *weight > 0.0) {
                self.error(p, format!("a weight must be above 0, not {weight}"))
                    .hint = Some("to leave a journey out, remove it from `mix`".into());
                ok = false;
            }
        }
        for name in journeys.keys().filter(|k| !mix.contains_key(*k)) {
            self.warn(
                Path::at(&["journeys"]).key(name),
                format!("journey `{name}` is not in `mix`, so no applicant will take it"),
            );
        }
        if !ok {
            return Vec::new();
        }
        let total: f64 = mix.values().sum();
        mix.iter().map(|(k, w)| (k.clone(), w / total)).collect()
    }

    // ------------------------------------------------------------ data

    /// Reads every `data` file (once: the run uses these tables) and checks
    /// its settings against its columns.
    fn data(&mut self) {
        for (name, source) in &self.file.data {
            let path = Path::at(&["data"]).key(name);
            if let Err(e) = check_name(name).and_then(|_| {
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    .then_some(())
                    .ok_or_else(|| {
                        format!("`{name}` is not a data name; use letters, digits and `_`")
                    })
            }) {
                self.error(path.clone(), e).anchor = super::diagnostic::Anchor::Key;
            }
            if source.on_exhausted.is_some() && source.pick != Pick::Unique {
                self.error(
                    path.key("on_exhausted"),
                    "`on_exhausted` applies to `pick: unique` only: other picks never run out",
                )
                .hint = Some("drop `on_exhausted`, or write `pick: unique`".into());
            }
            let file_path = path.key("file");
            let full = match super::named_file(self.base_dir, &source.file) {
                Ok((full, _)) => full,
                Err((message, hint)) => {
                    self.error(file_path, message).hint = Some(hint);
                    continue;
                }
            };
            let table = match super::data::load(&full, &source.file) {
                Ok(table) => table,
                Err(e) => {
                    let hint = match e {
                        super::data::DataError::Row { .. } => {
                            "fix the row; CSV fields with commas, quotes or newlines are quoted (`\"a, b\"`)"
                        }
                        super::data::DataError::UnknownFormat { .. } => {
                            "name it `.csv` (a header row, then rows) or `.jsonl` (one JSON object a line)"
                        }
                        _ => "",
                    };
                    let problem = self.error(file_path, e.to_string());
                    if !hint.is_empty() {
                        problem.hint = Some(hint.into());
                    }
                    continue;
                }
            };
            for (i, column) in source.secret_columns.iter().enumerate() {
                if table.column(column).is_none() {
                    self.no_column(name, column, &table, &path.key("secret_columns").index(i));
                }
            }
            self.tables.insert(name.clone(), std::sync::Arc::new(table));
        }
        for (name, _) in &self.file.data {
            let fed = self
                .file
                .journeys
                .values()
                .any(|j| j.feed.names().contains(name));
            if !fed {
                self.warn(
                    Path::at(&["data"]).key(name),
                    format!("no journey feeds on `{name}`; add `feed: {name}` to a journey, or remove it"),
                );
            }
        }
    }

    fn no_column(&mut self, data: &str, column: &str, table: &super::data::Table, path: &Path) {
        let hint = suggestion(column, table.columns().iter().map(String::as_str))
            .unwrap_or_else(|| format!("its columns are {}", one_of(table.columns())));
        self.error(path.clone(), format!("`{data}` has no column `{column}`"))
            .hint = Some(hint);
    }

    /// A journey's `feed`: each name is a `data` entry, once.
    fn feed(&mut self, journey: &Journey, path: &Path) {
        for (i, name) in journey.feed.names().iter().enumerate() {
            let p = match &journey.feed {
                Feed::Many(_) => path.key("feed").index(i),
                _ => path.key("feed"),
            };
            if journey.feed.names()[..i].contains(name) {
                self.error(p, format!("`{name}` is fed twice"));
            } else if !self.file.data.contains_key(name) {
                let hint = suggestion(name, self.file.data.keys().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!("declare it under `data:` (`{name}: {{ file: data/{name}.csv }}`)")
                    });
                self.error(p, format!("no data named `{name}`")).hint = Some(hint);
            }
        }
    }

    /// Checks `{DATA.COLUMN}` in a journey's templates; true when `var` is
    /// such a reference (checked here), false for a plain variable.
    fn data_ref(&mut self, var: &str, journey: &Journey, path: &Path) -> bool {
        let Some((data, column)) = var.split_once('.') else {
            return false;
        };
        if !journey.feed.names().iter().any(|n| n == data) {
            let hint = if self.file.data.contains_key(data) {
                format!("add `feed: {data}` to the journey: each arrival then takes a row")
            } else {
                suggestion(data, journey.feed.names().iter().map(String::as_str)).unwrap_or_else(
                    || {
                        format!(
                            "declare `{data}` under `data:` and add `feed: {data}` to the journey"
                        )
                    },
                )
            };
            self.error(
                path.clone(),
                format!("`{{{var}}}` reads data `{data}`, which this journey does not feed on"),
            )
            .hint = Some(hint);
        } else if let Some(table) = self.tables.get(data).cloned()
            && table.column(column).is_none()
        {
            self.no_column(data, column, &table, path);
        }
        true
    }

    // ------------------------------------------------------------ journeys

    fn journeys(&mut self) {
        for (name, journey) in &self.file.journeys {
            let path = Path::at(&["journeys"]).key(name);
            if let Err(e) = check_name(name) {
                self.error(path.clone(), e).anchor = super::diagnostic::Anchor::Key;
            }
            self.journey_channel(&journey.channel, &path.key("channel"));
            self.patience(&journey.patience, &path.key("patience"));
            self.journey_steps(journey, &path);
        }
    }

    fn journey_channel(&mut self, channel: &Channel, path: &Path) {
        match channel {
            Channel::Core => {
                self.error(path.clone(), "journeys do not reach `core` directly")
                    .hint =
                    Some("the core is reached through `stamping` and the partner channels".into());
            }
            Channel::Partner(name) => self.partner_exists(name, path),
            _ => {}
        }
    }

    /// With the twin, partners must be declared in its configuration.
    fn partner_exists(&mut self, name: &str, path: &Path) {
        let Some(twin) = &self.file.target.twin else {
            return;
        };
        if !twin.partners.contains_key(name) {
            let names: Vec<&str> = twin.partners.keys().map(String::as_str).collect();
            self.error(
                path.clone(),
                format!("the twin has no partner named `{name}`"),
            )
            .hint = suggestion(name, names.iter().copied())
                .map(|s| s.replace("did you mean `", "did you mean `partner/"))
                .or_else(|| {
                    Some(format!(
                        "declare it under `target.twin.partners` (partners now: {})",
                        one_of(&names)
                    ))
                });
        }
    }

    fn patience(&mut self, patience: &Patience, path: &Path) {
        let b = &patience.backoff;
        if b.initial > b.max {
            self.error(
                path.key("backoff").key("max"),
                format!(
                    "the longest wait ({}) is shorter than the first ({})",
                    b.max, b.initial
                ),
            );
        }
        if !(b.factor.is_finite() && b.factor >= 1.0) {
            self.error(
                path.key("backoff").key("factor"),
                format!("the factor must be at least 1, not {}", b.factor),
            );
        }
        if patience.give_up.is_some_and(|g| g.is_zero()) {
            self.error(path.key("give_up"), "`give_up` must be longer than 0s");
        }
    }

    fn journey_steps(&mut self, journey: &Journey, path: &Path) {
        let partner = matches!(journey.channel, Channel::Partner(_));
        let mut bound: HashSet<String> = BUILTIN_VARS
            .iter()
            .filter(|v| partner || **v != "partner")
            .map(|v| v.to_string())
            .collect();
        self.feed(journey, path);
        for (name, value) in &journey.vars {
            let p = path.key("vars").key(name);
            self.var_name(name, &p);
            for var in value.vars() {
                if !self.data_ref(var, journey, &p) && !bound.contains(var) {
                    self.unbound(var, &bound, None, &p);
                }
            }
            bound.insert(name.clone());
        }
        // Every capture, by variable, with the step that makes it.
        let captured_by: HashMap<&str, usize> = journey
            .steps
            .iter()
            .enumerate()
            .rev()
            .flat_map(|(i, s)| s.capture.keys().map(move |k| (k.as_str(), i)))
            .collect();
        // Journey headers wait until their variables are bound, so they
        // only need to be bound somewhere.
        for (name, value) in &journey.headers {
            let p = path.key("headers").key(name);
            self.header_name(name, &p);
            for var in value.vars() {
                if !self.data_ref(var, journey, &p)
                    && !bound.contains(var)
                    && !captured_by.contains_key(var)
                {
                    self.unbound(var, &bound, None, &p);
                }
            }
        }
        let mut names = HashSet::new();
        for (i, step) in journey.steps.iter().enumerate() {
            let p = path.key("steps").index(i);
            if !names.insert(step.name.as_str()) {
                self.error(
                    p.key("name"),
                    format!(
                        "another step of this journey is already named `{}`",
                        step.name
                    ),
                );
            }
            self.step(step, &p);
            let uses = step_vars(step);
            for (var, field) in uses {
                if !self.data_ref(var, journey, &p.key(field)) && !bound.contains(var) {
                    let later = captured_by.get(var).copied().filter(|j| *j >= i);
                    self.unbound(
                        var,
                        &bound,
                        later.map(|j| (j, journey.steps[j].name.as_str())),
                        &p.key(field),
                    );
                }
            }
            for name in step.capture.keys() {
                self.var_name(name, &p.key("capture").key(name));
                bound.insert(name.clone());
            }
        }
    }

    fn unbound(
        &mut self,
        var: &str,
        bound: &HashSet<String>,
        later: Option<(usize, &str)>,
        path: &Path,
    ) {
        let hint = match later {
            Some((j, _)) if path_step(path) == Some(j) => format!(
                "this step captures `{var}` from its own response, which comes after the request; capture it in an earlier step"
            ),
            Some((j, name)) => format!("step `{name}` (steps[{j}]) captures it, after this; capture it earlier"),
            None => suggestion(var, bound.iter().map(String::as_str)).unwrap_or_else(|| {
                format!("capture it in an earlier step (`capture: {{{var}: $.{var}}}`) or declare it in the journey's `vars`")
            }),
        };
        self.error(
            path.clone(),
            format!("variable `{var}` is used before any step captures it"),
        )
        .hint = Some(hint);
    }

    fn var_name(&mut self, name: &str, path: &Path) {
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            self.error(
                path.clone(),
                format!("`{name}` is not a variable name; use letters, digits and `_`"),
            )
            .anchor = super::diagnostic::Anchor::Key;
        } else if BUILTIN_VARS.contains(&name) {
            self.error(
                path.clone(),
                format!("`{name}` is a built-in variable; choose another name"),
            )
            .anchor = super::diagnostic::Anchor::Key;
        }
    }

    fn header_name(&mut self, name: &str, path: &Path) {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            self.error(path.clone(), format!("`{name}` is not a valid header name"))
                .anchor = super::diagnostic::Anchor::Key;
        }
    }

    /// A step's own checks (one body at most, templates, captures,
    /// polling, expectations). A list of independent checks, each a few
    /// lines, in the order the format documents the keys.
    fn step(&mut self, step: &Step, path: &Path) {
        if let Some(channel) = &step.channel {
            self.journey_channel(channel, &path.key("channel"));
        }
        for name in step.headers.keys() {
            self.header_name(name, &path.key("headers").key(name));
        }
        let bodies: Vec<&str> = [
            ("json", step.json.is_some()),
            ("text", step.text.is_some()),
            ("file", step.file.is_some()),
            ("pdf", step.pdf.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, given)| given.then_some(k))
        .collect();
        if bodies.len() > 1 {
            self.error(
                path.clone(),
                format!("a step has one body; this one has {}", one_of(&bodies)),
            );
        }
        if !bodies.is_empty() && step.method.bodiless() {
            self.warn(
                path.key("method"),
                format!(
                    "a {} request with a body; most servers ignore it",
                    step.method
                ),
            );
        }
        if step.content_type.is_some() && step.text.is_none() && step.file.is_none() {
            self.error(
                path.key("content_type"),
                "`content_type` is for `text` and `file` bodies; JSON and PDF bodies set their own",
            );
        }
        if let Some(file) = &step.file
            && let Err((message, hint)) = super::named_file(self.base_dir, file)
        {
            self.error(path.key("file"), message).hint = Some(hint);
        }
        if step.pdf.is_some_and(|s| s.0 < 1024) {
            self.error(path.key("pdf"), "a generated PDF needs at least 1KiB");
        }
        if step.timeout.is_zero() {
            self.error(path.key("timeout"), "the timeout must be longer than 0s");
        }
        // A path may also be a variable that holds one: a capture of a
        // `Location` header (`path: "{location}"`).
        let var_first = matches!(
            step.path.segments().first(),
            Some(crate::scenario::template::Segment::Var(_))
        );
        if !step.path.to_string().starts_with('/') && !var_first {
            self.error(
                path.key("path"),
                format!("`{}` must start with `/`", step.path),
            )
            .hint = Some(
                "the path goes under the channel's base URL (or starts with a variable that holds one, such as a captured `Location`)"
                    .into(),
            );
        }
        for (i, cond) in step.expect.json.iter().enumerate() {
            self.condition(cond, &path.key("expect").key("json").index(i));
        }
        if let Some(cond) = &step.until {
            self.condition(cond, &path.key("until"));
        }
        match (&step.until, &step.poll) {
            (Some(_), Some(poll)) => {
                if poll.every.is_zero() {
                    self.error(
                        path.key("poll").key("every"),
                        "polls must be spaced by more than 0s",
                    );
                }
                if poll.timeout < poll.every {
                    self.error(
                        path.key("poll").key("timeout"),
                        format!(
                            "the timeout ({}) is shorter than one poll interval ({})",
                            poll.timeout, poll.every
                        ),
                    );
                }
            }
            (Some(_), None) => {
                self.error(path.key("until"), "`until` needs `poll`").hint =
                    Some("add `poll: {every: 1s, timeout: 60s}`".into());
            }
            (None, Some(_)) => {
                self.error(
                    path.key("poll"),
                    "`poll` needs an `until` condition to stop on",
                )
                .anchor = super::diagnostic::Anchor::Key;
            }
            (None, None) => {}
        }
    }

    fn condition(&mut self, cond: &Condition, path: &Path) {
        let tests = [
            cond.equals.is_some(),
            cond.not_equals.is_some(),
            cond.one_of.is_some(),
            cond.exists.is_some(),
            cond.at_least.is_some(),
            cond.at_most.is_some(),
        ];
        if tests.iter().filter(|t| **t).count() != 1 {
            self.error(path.clone(), "a condition needs exactly one test")
                .hint = Some(
                "one of `equals`, `not_equals`, `one_of`, `exists`, `at_least`, `at_most`".into(),
            );
        }
    }

    // ------------------------------------------------------------ faults

    fn faults(&mut self, phases: &[PhaseWindow], total: StdDuration) -> Vec<FaultWindow> {
        let mut windows = Vec::new();
        let mut names = HashSet::new();
        for (i, fault) in self.file.faults.iter().enumerate() {
            let path = Path::at(&["faults"]).index(i);
            let name = match &fault.name {
                Some(n) => {
                    if !names.insert(n.as_str()) {
                        self.error(
                            path.key("name"),
                            format!("another fault is already named `{n}`"),
                        );
                    }
                    if phases.iter().any(|p| p.name == n.as_str()) {
                        self.error(
                            path.key("name"),
                            format!(
                                "`{n}` already names a phase; objectives could not tell them apart"
                            ),
                        );
                    }
                    n.0.clone()
                }
                None => format!("{} on {}", fault.fault.name(), fault.on),
            };
            self.fault_target(fault, &path);
            if fault.lasts.is_zero() {
                self.error(path.key("for"), "a fault must last longer than 0s");
            }
            let Some(start) = self.moment(&fault.at, phases, &path.key("at")) else {
                continue;
            };
            if start >= total {
                self.error(
                    path.key("at"),
                    format!(
                        "starts at {}, when the run has ended ({})",
                        show(start),
                        show(total)
                    ),
                );
                continue;
            }
            let end = start + fault.lasts.0;
            if end > total {
                self.warn(
                    path.key("for"),
                    format!(
                        "lasts past the end of the run; it stops when the run ends at {}",
                        show(total)
                    ),
                );
            }
            windows.push(FaultWindow {
                name,
                index: i,
                start,
                end: end.min(total),
            });
        }
        self.overlaps(&windows);
        windows
    }

    fn fault_target(&mut self, fault: &Fault, path: &Path) {
        let target = &self.file.target;
        match &fault.on {
            FaultOn::Twin(channel) => {
                if target.twin.is_none() && target.admin.is_none() {
                    self.error(path.key("on"), "`twin/...` faults need the built-in twin, or `target.admin` for a twin running apart");
                }
                if let Channel::Partner(name) = channel {
                    self.partner_exists(name, &path.key("on"));
                }
            }
            FaultOn::Proxy(Channel::Core) => {
                self.error(
                    path.key("on"),
                    "the proxy sits in front of a channel surge calls; `core` is not one",
                )
                .hint = Some("use `twin/core` for the twin's core".into());
            }
            FaultOn::Proxy(channel) => {
                if !self.uses_channel(channel) {
                    self.warn(
                        path.key("on"),
                        format!("no journey uses `{channel}`, so this fault affects no request"),
                    );
                }
            }
            FaultOn::Hook => {}
        }
        if let Err(why) = fault.fault.check_target(&fault.on, target.twin.as_ref()) {
            self.error(path.key("fault"), why);
        }
        let proxy = matches!(fault.on, FaultOn::Proxy(_));
        for (key, given) in [
            ("toxicity", fault.toxicity.is_some()),
            ("stream", fault.stream.is_some()),
        ] {
            if given && !proxy {
                self.error(
                    path.key(key),
                    format!("`{key}` applies to proxy faults only"),
                )
                .anchor = super::diagnostic::Anchor::Key;
            }
        }
        match &fault.fault {
            FaultKind::ErrorRate(e) if e.rate.fraction() == 0.0 => {
                self.error(
                    path.key("fault").key("error_rate").key("rate"),
                    "a rate of 0% injects nothing",
                );
            }
            FaultKind::CallbacksDelayed(d) => {
                self.distribution(
                    &d.delay,
                    &path.key("fault").key("callbacks_delayed").key("delay"),
                );
            }
            FaultKind::WaitingRoom(w) if w.admit.as_per_second() <= 0.0 => {
                self.error(
                    path.key("fault").key("waiting_room").key("admit"),
                    "admit someone: give a rate above 0/s",
                )
                .hint = Some("to stop sales, use `outage` on `twin/storefront`".into());
            }
            FaultKind::Slicer(s) if s.average.0 == 0 => {
                self.error(
                    path.key("fault").key("slicer").key("average"),
                    "pieces must be at least 1B",
                );
            }
            FaultKind::Bandwidth(b) if b.rate.0 == 0 => {
                self.error(
                    path.key("fault").key("bandwidth").key("rate"),
                    "a bandwidth of 0 stops all data; use `timeout` for that",
                );
            }
            _ => {}
        }
    }

    /// Two faults of one kind on one target at once would fight over the
    /// same switch.
    fn overlaps(&mut self, windows: &[FaultWindow]) {
        let faults = &self.file.faults;
        let mut found = Vec::new();
        for (a, wa) in windows.iter().enumerate() {
            for wb in &windows[a + 1..] {
                let (fa, fb) = (&faults[wa.index], &faults[wb.index]);
                let same_switch =
                    fa.on == fb.on && fa.on != FaultOn::Hook && fa.fault.name() == fb.fault.name();
                if same_switch && wa.start < wb.end && wb.start < wa.end {
                    found.push((wb.index, wa.clone(), fa.fault.name(), fa.on.clone()));
                }
            }
        }
        for (index, other, kind, on) in found {
            self.error(
                Path::at(&["faults"]).index(index),
                format!(
                    "overlaps fault `{}` (faults[{}], {} to {}) on the same switch, `{kind}` on `{on}`",
                    other.name,
                    other.index,
                    show(other.start),
                    show(other.end)
                ),
            )
            .hint = Some("shift one of them, or merge them into one".into());
        }
    }

    // ------------------------------------------------------------ objectives

    /// Each objective's references (steps, channels, phases, faults) and
    /// bounds. One match over the objective kinds: long because the kinds
    /// are many, each arm short.
    fn objectives(&mut self, timeline: &Timeline) {
        let mut names = HashSet::new();
        for (i, objective) in self.file.objectives.iter().enumerate() {
            let path = Path::at(&["objectives"]).index(i);
            let (kind, name) = objective_kind(objective);
            let inner = path.key(kind);
            if let Some(n) = name
                && !names.insert(n.as_str())
            {
                self.error(
                    inner.key("name"),
                    format!("another objective is already named `{n}`"),
                );
            }
            match objective {
                Objective::Latency(o) => {
                    self.selector(
                        o.step.as_ref(),
                        o.journey.as_deref(),
                        o.channel.as_ref(),
                        &inner,
                    );
                    self.percentile(o.p, &inner);
                    if o.at_most.is_zero() {
                        self.error(inner.key("at_most"), "a latency bound must be above 0s");
                    }
                    self.window(o.during.as_deref(), o.outside_faults, timeline, &inner);
                    if o.min_samples == Some(0) {
                        self.error(inner.key("min_samples"), "`min_samples` must be at least 1");
                    }
                }
                Objective::ErrorRate(o) => {
                    self.selector(
                        o.step.as_ref(),
                        o.journey.as_deref(),
                        o.channel.as_ref(),
                        &inner,
                    );
                    self.window(o.during.as_deref(), o.outside_faults, timeline, &inner);
                    if o.journey.is_some() && !o.classes.is_empty() {
                        self.error(
                            inner.key("classes"),
                            "a journey's error rate is its share of failed or abandoned \
                             journeys, which have no class; drop `classes`, or name a `step` \
                             or `channel` to count requests by class",
                        );
                    }
                }
                Objective::Goodput(o) => {
                    if let Some(j) = &o.journey {
                        self.journey_exists(j, &inner.key("journey"));
                    }
                }
                Objective::Throughput(o) => {
                    self.selector(
                        o.step.as_ref(),
                        o.journey.as_deref(),
                        o.channel.as_ref(),
                        &inner,
                    );
                    self.window(o.during.as_deref(), o.outside_faults, timeline, &inner);
                    if o.at_least.as_per_second() <= 0.0 {
                        self.error(
                            inner.key("at_least"),
                            "a throughput bound must be above 0/s",
                        );
                    }
                }
                Objective::Recovery(o) => {
                    self.selector(
                        o.step.as_ref(),
                        o.journey.as_deref(),
                        o.channel.as_ref(),
                        &inner,
                    );
                    self.percentile(o.p, &inner);
                    if timeline.fault(&o.fault).is_none() {
                        let names: Vec<&str> =
                            timeline.faults.iter().map(|f| f.name.as_str()).collect();
                        self.error(
                            inner.key("fault"),
                            format!("no fault is named `{}`", o.fault),
                        )
                        .hint = suggestion(&o.fault, names.iter().copied())
                            .or_else(|| Some("give the fault a `name` to refer to it".into()));
                    }
                }
                Objective::Reconcile(o) => self.reconcile_objective(o, &inner),
                Objective::Books(o) => self.books_objective(o, &inner),
                Objective::ErrorBudget(o) => self.error_budget(o, &inner),
                Objective::Ledger(_) | Objective::Invariant(_) => {
                    if self.file.target.twin.is_none() && self.file.target.admin.is_none() {
                        self.error(path.clone(), "ledger objectives need the built-in twin (or `target.admin` for a twin running apart)");
                    }
                }
            }
            self.stop_early(objective, timeline, &inner);
        }
    }

    /// `stop_early` and its `not_before`: a time within the schedule.
    fn stop_early(&mut self, objective: &Objective, timeline: &Timeline, path: &Path) {
        let (on, not_before) = match objective {
            Objective::Latency(o) => (o.stop_early, o.not_before),
            Objective::ErrorRate(o) => (o.stop_early, o.not_before),
            Objective::Goodput(o) => (o.stop_early, o.not_before),
            Objective::ErrorBudget(o) => (o.stop_early, o.not_before),
            _ => return,
        };
        let Some(at) = not_before else { return };
        if !on {
            self.error(
                path.key("not_before"),
                "`not_before` says when `stop_early` may stop the run, and it is not set",
            )
            .hint = Some("add `stop_early: true`, or drop `not_before`".into());
        } else if at.0 >= timeline.total {
            self.error(
                path.key("not_before"),
                format!(
                    "`not_before: {at}` is not before the schedule's end ({}), so it could never stop the run",
                    show(timeline.total)
                ),
            )
            .hint = Some("give a time within the schedule, or drop `stop_early`".into());
        }
    }

    /// An error budget: what it counts, its SLO and its window pairs.
    fn error_budget(&mut self, o: &crate::scenario::model::ErrorBudgetObjective, path: &Path) {
        if let Some(of) = &o.of {
            self.selector(
                of.step.as_ref(),
                of.journey.as_deref(),
                of.channel.as_ref(),
                &path.key("of"),
            );
        }
        let slo = o.slo.fraction();
        if !(slo > 0.0 && slo < 1.0) {
            self.error(
                path.key("slo"),
                format!(
                    "an SLO of {}% leaves {} error budget to burn",
                    slo * 100.0,
                    if slo >= 1.0 { "no" } else { "all the" }
                ),
            )
            .hint = Some("write the share that must succeed, like `slo: 99.5%`".into());
        }
        if o.windows.is_empty() {
            self.error(
                path.key("windows"),
                "an error budget needs at least one pair of windows",
            )
            .hint = Some("e.g. `windows: [{ long: 1h, short: 5m, burn: 14.4 }]`".into());
        }
        for (i, w) in o.windows.iter().enumerate() {
            let at = path.key("windows").index(i);
            if w.short.is_zero() || w.long <= w.short {
                self.error(
                    at.clone(),
                    format!("the long window ({}) must be longer than the short one ({}), and both above 0s", w.long, w.short),
                )
                .hint = Some("the SRE workbook pairs 1h with 5m and 6h with 30m".into());
            }
            if !(w.burn.is_finite() && w.burn > 0.0) {
                self.error(
                    at.key("burn"),
                    format!("a burn rate is above 0, not {}", w.burn),
                )
                .hint = Some("1 spends exactly the budget; 14.4 and 6 are usual pages".into());
            }
        }
        if o.min_events == Some(0) {
            self.error(path.key("min_events"), "`min_events` must be at least 1");
        }
    }

    fn selector(
        &mut self,
        step: Option<&StepRef>,
        journey: Option<&str>,
        channel: Option<&Channel>,
        path: &Path,
    ) {
        let given = [step.is_some(), journey.is_some(), channel.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            self.error(
                path.clone(),
                "choose one of `step`, `journey` and `channel`",
            );
            return;
        }
        if let Some(s) = step {
            let p = path.key("step");
            match self.file.journeys.get(&s.journey) {
                None => self.journey_exists(&s.journey, &p),
                Some(j) if !j.steps.iter().any(|x| x.name.as_str() == s.step) => {
                    let names: Vec<&str> = j.steps.iter().map(|x| x.name.as_str()).collect();
                    self.error(
                        p,
                        format!("journey `{}` has no step named `{}`", s.journey, s.step),
                    )
                    .hint = suggestion(&s.step, names.iter().copied())
                        .or_else(|| Some(format!("its steps: {}", one_of(&names))));
                }
                Some(_) => {}
            }
        }
        if let Some(j) = journey {
            self.journey_exists(j, &path.key("journey"));
        }
        if let Some(c) = channel
            && !self.uses_channel(c)
        {
            self.error(
                path.key("channel"),
                format!("no journey uses channel `{c}`"),
            );
        }
    }

    /// Whether some journey or step sends requests through `channel`.
    fn uses_channel(&self, channel: &Channel) -> bool {
        self.file.journeys.values().any(|j| {
            &j.channel == channel || j.steps.iter().any(|s| s.channel.as_ref() == Some(channel))
        })
    }

    fn journey_exists(&mut self, name: &str, path: &Path) {
        if !self.file.journeys.contains_key(name) {
            self.error(path.clone(), format!("no journey is named `{name}`"))
                .hint = suggestion(name, self.file.journeys.keys().map(String::as_str));
        }
    }

    fn percentile(&mut self, p: f64, path: &Path) {
        if !(p > 0.0 && p <= 100.0) {
            self.error(
                path.key("p"),
                format!("a percentile lies above 0 and up to 100, not {p}"),
            )
            .hint = Some("write `p: 99` for the 99th percentile".into());
        }
    }

    fn window(
        &mut self,
        during: Option<&str>,
        outside_faults: bool,
        timeline: &Timeline,
        path: &Path,
    ) {
        let Some(name) = during else { return };
        let is_fault = timeline.fault(name).is_some();
        if timeline.phase(name).is_none() && !is_fault {
            let names: Vec<&str> = timeline
                .phases
                .iter()
                .map(|p| p.name.as_str())
                .chain(timeline.faults.iter().map(|f| f.name.as_str()))
                .collect();
            self.error(
                path.key("during"),
                format!("no phase or fault is named `{name}`"),
            )
            .hint =
                did_you_mean(name, names.iter().copied()).map(|s| format!("did you mean `{s}`?"));
        }
        if is_fault && outside_faults {
            self.error(
                path.clone(),
                format!("`during: {name}` names a fault, which contradicts `outside_faults: true`"),
            );
        }
    }
}

/// Problems of a twin configuration on its own (also used by `surge twin
/// --config`). A list of independent checks of the twin's knobs, a few
/// lines each.
pub fn twin_problems(twin: &TwinConfig, path: &Path, out: &mut Vec<Problem>) {
    fn error<'o>(out: &'o mut Vec<Problem>, p: Path, message: &str) -> &'o mut Problem {
        out.push(Problem::error(p, message));
        out.last_mut().expect("just pushed")
    }
    let room = &twin.waiting_room;
    if room.enabled && room.admit.as_per_second() <= 0.0 {
        error(
            out,
            path.key("waiting_room").key("admit"),
            "an open waiting room must admit someone; give a rate above 0/s",
        );
    }
    if room.enabled && room.queue == 0 {
        error(
            out,
            path.key("waiting_room").key("queue"),
            "a waiting room needs room for at least one applicant",
        );
    }
    if twin.core.signing.timeout.is_zero() {
        error(
            out,
            path.key("core").key("signing").key("timeout"),
            "the signing timeout must be longer than 0s",
        );
    }
    if twin.stamping.max_upload.0 == 0 {
        error(
            out,
            path.key("stamping").key("max_upload"),
            "the upload limit must be above 0B",
        );
    }
    if twin.stamping.store_limit < twin.stamping.max_upload {
        error(
            out,
            path.key("stamping").key("store_limit"),
            "the store must hold at least one upload (`max_upload`)",
        );
    }
    for (name, partner) in &twin.partners {
        let p = path.key("partners").key(name);
        if let Err(e) = check_name(name) {
            error(out, p.clone(), &e).anchor = super::diagnostic::Anchor::Key;
        }
        if partner.kind == PartnerKind::PassThrough {
            if partner.stock > 0 {
                error(
                    out,
                    p.key("stock"),
                    "a pass-through partner holds no stock; it sells from the core's",
                )
                .hint = Some("remove `stock`, or make the partner `kind: reseller`".into());
            }
            if partner.refill.is_some() {
                error(
                    out,
                    p.key("refill"),
                    "a pass-through partner holds no stock to refill",
                )
                .hint = Some("remove `refill`, or make the partner `kind: reseller`".into());
            }
        }
    }
    let dists = [
        (
            twin.accounts.otp_delay,
            path.key("accounts").key("otp_delay"),
        ),
        (
            twin.payments.callback_delay,
            path.key("payments").key("callback_delay"),
        ),
        (
            twin.core.signing.service_time,
            path.key("core").key("signing").key("service_time"),
        ),
    ];
    for (d, p) in dists {
        distribution_problems(&d, &p, out);
    }
    if let Some(fitted) = &twin.fitted {
        fitted_problems(fitted, &path.key("fitted"), out);
    }
}

/// A fitted platform's routes must name pools that exist and answer
/// with a real status.
fn fitted_problems(fitted: &super::model::Fitted, path: &Path, out: &mut Vec<Problem>) {
    for (name, pool) in &fitted.pools {
        if pool.timeout.is_zero() {
            out.push(Problem::error(
                path.key("pools").key(name).key("timeout"),
                "a pool's timeout must be longer than 0s",
            ));
        }
    }
    for (i, route) in fitted.routes.iter().enumerate() {
        let p = path.key("routes").index(i);
        if !route.path.starts_with('/') {
            out.push(
                Problem::error(p.key("path"), format!("`{}` is not a path", route.path))
                    .with_hint("a route's path starts with `/`, like `/stamping/jobs/{job}`"),
            );
        }
        if !(100..=599).contains(&route.status) {
            out.push(Problem::error(
                p.key("status"),
                format!(
                    "{} is not an HTTP status; give one from 100 to 599",
                    route.status
                ),
            ));
        }
        if let Some(pool) = &route.pool
            && !fitted.pools.contains_key(pool)
        {
            let known: Vec<&str> = fitted.pools.keys().map(String::as_str).collect();
            out.push(
                Problem::error(p.key("pool"), format!("no pool is named `{pool}`"))
                    .with_hint(format!("pools: {}", known.join(", "))),
            );
        }
        if let Some(d) = &route.service_time {
            distribution_problems(d, &p.key("service_time"), out);
        }
    }
}

fn distribution_problems(d: &Distribution, path: &Path, out: &mut Vec<Problem>) {
    if d.p99 < d.median {
        out.push(
            Problem::error(
                path.key("p99"),
                format!("p99 ({}) is below the median ({})", d.p99, d.median),
            )
            .with_hint(
                "the 99th percentile is at least the median; equal values make the time fixed",
            ),
        );
    }
}

/// The index of the step a path lies in (`...steps[3]...`).
fn path_step(path: &Path) -> Option<usize> {
    use super::diagnostic::Seg;
    let at = path.0.iter().position(|s| *s == Seg::Key("steps".into()))?;
    match path.0.get(at + 1) {
        Some(Seg::Index(i)) => Some(*i),
        _ => None,
    }
}

/// Variables a step uses, with the field that uses each.
fn step_vars(step: &Step) -> Vec<(&str, &'static str)> {
    let mut out: Vec<(&str, &'static str)> = step.path.vars().map(|v| (v, "path")).collect();
    for value in step.headers.values() {
        out.extend(value.vars().map(|v| (v, "headers")));
    }
    if let Some(json) = &step.json {
        out.extend(json.vars().into_iter().map(|v| (v, "json")));
    }
    if let Some(text) = &step.text {
        out.extend(text.vars().map(|v| (v, "text")));
    }
    out
}

fn objective_kind(o: &Objective) -> (&'static str, Option<&super::refs::Name>) {
    match o {
        Objective::Latency(x) => ("latency", x.name.as_ref()),
        Objective::ErrorRate(x) => ("error_rate", x.name.as_ref()),
        Objective::Goodput(x) => ("goodput", x.name.as_ref()),
        Objective::Throughput(x) => ("throughput", x.name.as_ref()),
        Objective::Recovery(x) => ("recovery", x.name.as_ref()),
        Objective::Ledger(x) => ("ledger", x.name.as_ref()),
        Objective::Invariant(_) => ("invariant", None),
        // Its `name` is the reconciliation's, not its own.
        Objective::Reconcile(_) => ("reconcile", None),
        Objective::Books(x) => ("books", x.name.as_ref()),
        Objective::ErrorBudget(x) => ("error_budget", x.name.as_ref()),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A moment as the format writes it.
fn show(d: StdDuration) -> String {
    super::units::Duration(d).to_string()
}
