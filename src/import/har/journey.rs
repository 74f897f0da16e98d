//! From recorded exchanges to a journey: which requests are the platform's
//! (assets and other hosts left out), which runs of identical requests are
//! polls (and the field they wait on), which values each request sends
//! back from an earlier response (a capture there, a `{var}` here), which
//! the person typed (a journey variable, one per applicant), which are
//! secrets (`${ENV}`), and what is left to do by hand. Everything is plain
//! data; `write` turns it into YAML.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::read::{Exchange, Param, Recording};
use super::values::{self, Leaf, Typed};
use super::{HarError, Options};

/// Gaps shorter than this between a response and the next request are the
/// page working, not the person thinking.
const THINK_OVER_MS: f64 = 1000.0;
/// A generated PDF is at least this large (the scenario's rule).
const PDF_MIN: u64 = 1024;

/// A request body, templated.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    None,
    /// A JSON body; its strings are templates.
    Json(Value),
    Text {
        text: String,
        content_type: String,
    },
    /// Bytes written beside the scenario.
    File {
        bytes: Vec<u8>,
        content_type: String,
    },
    /// A PDF: surge generates one of this size per applicant.
    Pdf(u64),
}

/// What a poll waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct Until {
    pub path: String,
    /// `equals` this value, or `None` for `exists: true`.
    pub equals: Option<Value>,
    pub every_ms: u64,
    pub timeout_s: u64,
    pub polls: usize,
}

/// One step of the journey.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// The recorded exchanges it stands for (several for a poll).
    pub entries: Vec<usize>,
    pub channel: String,
    pub method: String,
    /// The path (and query) as a template.
    pub path: String,
    /// Headers as templates, in recorded spelling.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub think_ms: Option<u64>,
    pub status: u16,
    pub time_ms: f64,
    /// Variable → capture source (`$.order`, `header:location`).
    pub captures: Vec<(String, String)>,
    pub until: Option<Until>,
    pub todos: Vec<String>,
}

/// A value the person typed, made one per applicant.
#[derive(Clone, Debug)]
pub struct TypedVar {
    pub name: String,
    pub template: String,
    pub recorded: String,
    pub kind: Typed,
}

/// A value correlated: where it was captured and where it was used.
#[derive(Clone, Debug)]
pub struct Correlation {
    pub var: String,
    pub from: String,
    pub source: String,
    pub used_in: Vec<String>,
}

/// The journey and everything said about it.
#[derive(Debug, Default)]
pub struct Built {
    pub target: String,
    pub steps: Vec<Step>,
    /// Headers sent with every step from the one where they are bound.
    pub headers: Vec<(String, String)>,
    pub channel: String,
    pub typed: Vec<TypedVar>,
    pub secrets: Vec<(String, String)>,
    pub correlations: Vec<Correlation>,
    /// To-dos of the journey as a whole (its target, a cookie, the data
    /// file); each step keeps its own. `todos()` gives them all.
    pub journey_todos: Vec<String>,
    /// Left out: (what, count).
    pub left_out: Vec<(String, usize)>,
    pub requests: usize,
    pub missing_bodies: usize,
}

impl Built {
    /// Every to-do: the journey's, then each step's in order.
    pub fn todos(&self) -> impl Iterator<Item = &String> {
        self.journey_todos
            .iter()
            .chain(self.steps.iter().flat_map(|s| &s.todos))
    }

    /// Steps that poll.
    pub fn polls(&self) -> usize {
        self.steps.iter().filter(|s| s.until.is_some()).count()
    }
}

/// A value an earlier response returned.
struct Offer {
    text: String,
    step: usize,
    source: String,
    key: String,
    var: Option<String>,
}

/// A value a request may send back: an offer's or a typed value's index.
#[derive(Clone, Copy)]
enum Known {
    Offer(usize),
    Typed(usize),
}

/// The state of the walk through the steps.
struct Walk<'o> {
    opts: &'o Options,
    offers: Vec<Offer>,
    /// Typed values: text → variable (bound from the journey's start).
    typed: Vec<(String, String)>,
    /// Offers and typed values, longest text first: what `correlate`
    /// looks for, kept in order as they come rather than sorted per call.
    by_length: Vec<Known>,
    used_names: HashSet<String>,
    /// Constants of the page (its HTML and scripts).
    pages: String,
    /// Cookies the platform set: the journey's cookie jar keeps them.
    jar: HashSet<String>,
    /// Cookies set by left-out entries: name → that entry.
    set_aside: HashMap<String, usize>,
    /// Steps whose response the recording has no body for: (name, entry).
    bodiless: Vec<(String, usize)>,
    built: Built,
}

/// Builds the journey from a recording.
pub fn build(recording: &Recording, opts: &Options) -> Result<Built, HarError> {
    let all = &recording.exchanges;
    let target = match &opts.target {
        Some(t) => t.trim_end_matches('/').to_string(),
        None => busiest_origin(all).ok_or_else(|| {
            HarError::Empty(
                "every request in the recording is a page asset; record the journey itself (the API calls), or pass --keep-assets".into(),
            )
        })?,
    };
    let mut left: HashMap<String, usize> = HashMap::new();
    let mut pages = String::new();
    let mut kept = Vec::new();
    // Cookies set by what is left out (the page itself, often): a replay
    // that does not fetch it will not have them.
    let mut set_aside: HashMap<String, usize> = HashMap::new();
    for x in all {
        let asset = is_asset(x);
        if asset && let Some(t) = &x.response_text {
            pages.push_str(t);
            pages.push('\n');
        }
        if x.origin() != target {
            *left
                .entry(format!("on {}", x.url.host_str().unwrap_or("?")))
                .or_default() += 1;
        } else if x.status == 0 {
            *left.entry("without a response".into()).or_default() += 1;
        } else if asset && !opts.keep_assets {
            *left.entry(asset_kind(x).into()).or_default() += 1;
            for c in set_cookies(x) {
                set_aside.entry(c).or_insert(x.entry);
            }
        } else {
            kept.push(x);
        }
    }
    if kept.is_empty() {
        return Err(HarError::Empty(format!(
            "no request to {target} is left once assets are left out; the recording holds only the page, or --target names another origin"
        )));
    }
    let mut walk = Walk {
        opts,
        offers: Vec::new(),
        typed: Vec::new(),
        by_length: Vec::new(),
        used_names: crate::scenario::BUILTIN_VARS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        pages,
        jar: HashSet::new(),
        set_aside,
        bodiless: Vec::new(),
        built: Built {
            target: target.clone(),
            requests: kept.len(),
            ..Built::default()
        },
    };
    let mut left_out: Vec<(String, usize)> = left.into_iter().collect();
    left_out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    walk.built.left_out = left_out;
    if let Some(host) = url::Url::parse(&target)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        && !loopback(&host)
    {
        walk.built.journey_todos.push(format!(
            "the target {target} is not on loopback: `surge run` refuses it until `target.allow_hosts` lists {host} (or --allow-remote-target is given); add it when you mean to load that host"
        ));
    }
    let groups = group(&kept);
    let mut names = HashSet::new();
    let mut previous_end: Option<f64> = None;
    for g in groups {
        let until = if g.len() > 1 { poll_on(&g) } else { None };
        // Identical requests with nothing to wait on: a repeated step.
        let runs: Vec<Vec<&Exchange>> = match until {
            Some(_) => vec![g.clone()],
            None => g.iter().map(|x| vec![*x]).collect(),
        };
        for run in runs {
            let x = run[0];
            let end = run[run.len() - 1];
            let think_ms = previous_end
                .map(|p| x.started_ms - p)
                .filter(|gap| *gap >= THINK_OVER_MS && !opts.no_think)
                .map(|gap| ((gap / 100.0).round() * 100.0) as u64);
            previous_end = Some(end.ended_ms());
            let mut step = walk.step(x, end, &run, until.clone(), think_ms, &mut names);
            if step.until.is_none() && x.method == "GET" {
                step.until = walk.awaited(&step, end, all);
            }
            walk.built.steps.push(step);
        }
    }
    walk.lift_headers();
    walk.built.channel = main_channel(&walk.built.steps);
    Ok(walk.built)
}

/// The names of the cookies a response set.
fn set_cookies(x: &Exchange) -> impl Iterator<Item = String> + '_ {
    x.response_headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split_once('=').map(|(name, _)| name.trim().to_string()))
}

/// Whether a host is loopback by its name alone (no lookup: an import
/// never touches the network).
fn loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || bare.eq_ignore_ascii_case("localhost")
}

/// The origin with the most requests that are not page assets.
fn busiest_origin(all: &[Exchange]) -> Option<String> {
    let mut count: Vec<(String, usize)> = Vec::new();
    for x in all.iter().filter(|x| !is_asset(x)) {
        let o = x.origin();
        match count.iter_mut().find(|(k, _)| *k == o) {
            Some(c) => c.1 += 1,
            None => count.push((o, 1)),
        }
    }
    count
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(o, _)| o)
        .filter(|o| o != "null")
}

/// A page, script, style, image, font, source map or icon.
fn is_asset(x: &Exchange) -> bool {
    if matches!(
        x.resource_type.as_deref(),
        Some("document" | "script" | "stylesheet" | "image" | "font" | "media" | "manifest")
    ) {
        return true;
    }
    let mime = x.response_mime.to_ascii_lowercase();
    let page = x.method == "GET"
        && (mime.starts_with("text/html")
            || x.header("sec-fetch-dest")
                .is_some_and(|d| d.eq_ignore_ascii_case("document")));
    page || crate::import::access_log::routes::is_asset(
        x.url.path().as_bytes(),
        x.response_mime.as_bytes(),
    ) || x.url.path().ends_with("favicon.ico")
}

fn asset_kind(x: &Exchange) -> &'static str {
    let mime = x.response_mime.to_ascii_lowercase();
    let path = x.url.path().to_ascii_lowercase();
    if mime.starts_with("text/html") {
        "pages"
    } else if mime.contains("javascript") || path.ends_with(".js") || path.ends_with(".mjs") {
        "scripts"
    } else if mime.starts_with("text/css") || path.ends_with(".css") {
        "styles"
    } else if mime.starts_with("image/") || path.ends_with(".ico") {
        "images"
    } else if mime.starts_with("font/") || path.contains(".woff") || path.ends_with(".ttf") {
        "fonts"
    } else if path.ends_with(".map") {
        "source maps"
    } else {
        "other assets"
    }
}

/// Consecutive identical requests (method, URL, body) are one group.
fn group<'x>(kept: &[&'x Exchange]) -> Vec<Vec<&'x Exchange>> {
    let same = |a: &Exchange, b: &Exchange| {
        a.method == b.method
            && a.url == b.url
            && a.body.as_ref().map(|b| &b.text) == b.body.as_ref().map(|b| &b.text)
    };
    let mut out: Vec<Vec<&Exchange>> = Vec::new();
    for x in kept {
        match out.last_mut() {
            Some(g) if same(g[0], x) => g.push(x),
            _ => out.push(vec![x]),
        }
    }
    out
}

/// The field a run of polls waited on: one whose earlier answers all
/// agree and whose last differs (`$.state`: `signing` … `done`), or one
/// that appears only in the last (`exists`).
fn poll_on(run: &[&Exchange]) -> Option<Until> {
    let docs: Vec<&Value> = run
        .iter()
        .map(|x| x.response_json.as_ref())
        .collect::<Option<_>>()?;
    let (last, earlier) = docs.split_last()?;
    let earlier: Vec<HashMap<String, Value>> = earlier
        .iter()
        .map(|d| scalar_paths(d).into_iter().collect())
        .collect();
    let mut best: Option<(u8, String, Option<Value>)> = None;
    for (path, v) in scalar_paths(last) {
        let before: Vec<Option<&Value>> = earlier.iter().map(|d| d.get(&path)).collect();
        if before.iter().any(|b| *b != before[0]) {
            continue;
        }
        let rank = match before[0] {
            Some(b) if *b != v => match v {
                Value::Bool(_) => 0,
                Value::String(_) => 1,
                _ => 3,
            },
            None => 2,
            _ => continue,
        };
        if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
            let equals = before[0].is_some().then(|| v.clone());
            best = Some((rank, path, equals));
        }
    }
    let (_, path, equals) = best?;
    let mut gaps: Vec<f64> = run
        .windows(2)
        .map(|w| w[1].started_ms - w[0].started_ms)
        .collect();
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2].max(1.0);
    let every_ms = if median >= 100.0 {
        ((median / 10.0).round() * 10.0) as u64
    } else {
        median.round() as u64
    };
    let span_s = (run[run.len() - 1].ended_ms() - run[0].started_ms) / 1000.0;
    Some(Until {
        path,
        equals,
        every_ms,
        timeout_s: (span_s * 3.0).ceil().max(10.0) as u64,
        polls: run.len(),
    })
}

/// A word a state field holds (`signing`, `done`, `credited`), not an
/// id or free text.
fn state_word(t: &str) -> bool {
    (2..=24).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
}

/// Paths of a document's scalar fields (booleans included), with values.
fn scalar_paths(doc: &Value) -> Vec<(String, Value)> {
    fn go(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    go(v, values::member(&path, k), out);
                }
            }
            Value::Array(_) => {}
            other => out.push((path, other.clone())),
        }
    }
    let mut out = Vec::new();
    go(doc, "$".into(), &mut out);
    out
}

/// Response headers that say nothing a later request could send back.
const PLAIN_RESPONSE_HEADERS: [&str; 24] = [
    "date",
    "content-length",
    "content-type",
    "content-encoding",
    "server",
    "connection",
    "keep-alive",
    "vary",
    "cache-control",
    "expires",
    "pragma",
    "transfer-encoding",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "set-cookie",
    "last-modified",
    "age",
    "via",
    "alt-svc",
    "retry-after",
    "accept-ranges",
    "referrer-policy",
];

/// Request headers a browser adds for itself, or that the client sets
/// from the body or the connection.
const BROWSER_HEADERS: [&str; 22] = [
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "connection",
    "content-length",
    "content-type",
    "host",
    "origin",
    "pragma",
    "referer",
    "user-agent",
    "upgrade-insecure-requests",
    "dnt",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "keep-alive",
    "priority",
    "if-none-match",
    "if-modified-since",
];

fn browser_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    BROWSER_HEADERS.contains(&n.as_str())
        || n.starts_with("sec-")
        || n.starts_with("proxy-")
        || n == "x-client-data"
        || n == "purpose"
}

/// Escapes text for a template: braces doubled.
fn literal(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

impl Walk<'_> {
    /// One step from the exchanges of a run (the last one's response).
    fn step(
        &mut self,
        x: &Exchange,
        end: &Exchange,
        run: &[&Exchange],
        until: Option<Until>,
        think_ms: Option<u64>,
        names: &mut HashSet<String>,
    ) -> Step {
        let index = self.built.steps.len();
        let mut todos = Vec::new();
        let name = step_name(x, &|seg| self.known(seg) && values::identifies(seg), names);
        let channel = self.channel_of(x);
        let path = self.path(x, &name, &mut todos);
        let headers = self.headers(x, &name, &mut todos);
        let body = self.body(x, &name, &mut todos);
        let binary = [
            "application/pdf",
            "application/octet-stream",
            "image/",
            "audio/",
            "video/",
        ]
        .iter()
        .any(|m| end.response_mime.starts_with(m));
        if end.response_text.is_none() && !binary && !matches!(end.status, 204 | 304) {
            self.built.missing_bodies += 1;
            self.bodiless.push((name.clone(), end.entry));
        }
        // Only now: while a request is read, the offers are all earlier
        // steps' (a request never sends back its own response).
        self.offer(end, index);
        self.jar.extend(set_cookies(end));
        Step {
            name,
            entries: run.iter().map(|r| r.entry).collect(),
            channel,
            method: x.method.clone(),
            path,
            headers,
            body,
            think_ms,
            status: end.status,
            time_ms: end.time_ms,
            captures: Vec::new(),
            until,
            todos,
        }
    }

    fn channel_of(&self, x: &Exchange) -> String {
        let host = x.url.host_str().unwrap_or("");
        let path = x.url.path();
        for m in &self.opts.channel_of {
            if (m.0.starts_with('/') && path.starts_with(&m.0)) || m.0 == host {
                return m.1.clone();
            }
        }
        let mut parts = path.trim_start_matches('/').split('/');
        match parts.next() {
            Some("stamping") => "stamping".into(),
            Some("partners") => match parts.next() {
                Some(p) if !p.is_empty() => format!("partner/{p}"),
                _ => "storefront".into(),
            },
            _ => "storefront".into(),
        }
    }

    /// Registers the values a response returned, each at its earliest.
    fn offer(&mut self, x: &Exchange, step: usize) {
        let mut found: Vec<(String, String, String)> = Vec::new();
        if let Some(doc) = &x.response_json {
            for Leaf {
                path, key, text, ..
            } in values::leaves(doc)
            {
                found.push((text, path, key));
            }
        }
        for (name, value) in &x.response_headers {
            let n = name.to_ascii_lowercase();
            if PLAIN_RESPONSE_HEADERS.contains(&n.as_str()) || n.starts_with("access-control-") {
                continue;
            }
            let value = value.trim().to_string();
            // A Location is sent back as a path; one that names a host is
            // not (the step's base URL is not the header's).
            if n == "location" && !value.starts_with('/') {
                continue;
            }
            found.push((value, format!("header:{n}"), n));
        }
        for (text, source, key) in found {
            let fresh = values::identifies(&text)
                && !values::quoted_in(&self.pages, &text)
                && !self.typed.iter().any(|(t, _)| *t == text)
                && !self.offers.iter().any(|o| o.text == text);
            if fresh {
                self.offers.push(Offer {
                    text,
                    step,
                    source,
                    key,
                    var: None,
                });
                self.remember(Known::Offer(self.offers.len() - 1));
            }
        }
    }

    /// `text` with every known value as a variable. Returns the template
    /// and whether any variable went in.
    fn correlate(&mut self, text: &str, used_in: &str) -> (String, bool) {
        // Values match whole words only: `C1` is not in `C12`.
        let word = |b: &u8| b.is_ascii_alphanumeric();
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut any = false;
        let mut i = 0;
        while i < text.len() {
            let starts_word = i == 0 || !word(&bytes[i - 1]);
            let hit = self.by_length.iter().copied().find(|k| {
                let v = self.text(*k);
                starts_word
                    && text[i..].starts_with(v)
                    && bytes.get(i + v.len()).is_none_or(|b| !word(b))
            });
            if let Some(k) = hit {
                i += self.text(k).len();
                let var = self.bind(k, used_in);
                out.push_str(&format!("{{{var}}}"));
                any = true;
                continue;
            }
            let c = text[i..].chars().next().expect("in bounds");
            match c {
                '{' => out.push_str("{{"),
                '}' => out.push_str("}}"),
                c => out.push(c),
            }
            i += c.len_utf8();
        }
        (out, any)
    }

    /// A known value's text.
    fn text(&self, k: Known) -> &str {
        match k {
            Known::Offer(i) => &self.offers[i].text,
            Known::Typed(i) => &self.typed[i].0,
        }
    }

    /// Files a new known value in `by_length`, longest first, so a whole
    /// captured `Location` wins over an id inside it.
    fn remember(&mut self, k: Known) {
        let len = self.text(k).len();
        let at = self
            .by_length
            .partition_point(|o| self.text(*o).len() >= len);
        self.by_length.insert(at, k);
    }

    /// A poll the recording shows once: a GET of something an earlier
    /// step created (its path sends back a value captured there) whose
    /// answer has a state field that moved since that step's answer
    /// (`$.state`: `signing` when the job was made, `done` now). The page
    /// polled and got lucky; a replay under load will not.
    fn awaited(&self, step: &Step, now: &Exchange, all: &[Exchange]) -> Option<Until> {
        let answer = now.response_json.as_ref()?;
        let vars = template_vars(&step.path);
        let maker = self
            .offers
            .iter()
            .filter(|o| o.var.as_ref().is_some_and(|v| vars.contains(v)))
            .map(|o| o.step)
            .max()?;
        let made = self.built.steps.get(maker)?;
        let last = *made.entries.last()?;
        let made_answer = all
            .iter()
            .find(|x| x.entry == last)?
            .response_json
            .as_ref()?;
        let before: HashMap<String, Value> = scalar_paths(made_answer).into_iter().collect();
        let mut best: Option<(u8, String, Value)> = None;
        for (path, v) in scalar_paths(answer) {
            let rank = match &v {
                Value::Bool(_) => 0,
                Value::String(t) if state_word(t) => 1,
                _ => continue,
            };
            let moved = before.get(&path).is_some_and(|b| *b != v);
            if moved && best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
                best = Some((rank, path, v));
            }
        }
        let (_, path, value) = best?;
        let every_ms = self
            .built
            .steps
            .iter()
            .filter_map(|s| s.until.as_ref().map(|u| u.every_ms))
            .min()
            .unwrap_or(500);
        Some(Until {
            path,
            equals: Some(value),
            every_ms,
            timeout_s: 30,
            polls: 1,
        })
    }

    /// Whether a path segment is a known variable's, or part of a path
    /// one holds (a captured `Location`).
    fn known(&self, segment: &str) -> bool {
        self.offers
            .iter()
            .any(|o| o.text == segment || o.text.split('/').any(|p| p == segment))
            || self.typed.iter().any(|(t, _)| t == segment)
    }

    /// The variable for a known value, capturing it on first use.
    fn bind(&mut self, known: Known, used_in: &str) -> String {
        let i = match known {
            Known::Typed(i) => return self.typed[i].1.clone(),
            Known::Offer(i) => i,
        };
        if let Some(var) = &self.offers[i].var {
            let var = var.clone();
            if let Some(c) = self.built.correlations.iter_mut().find(|c| c.var == var)
                && !c.used_in.iter().any(|u| u == used_in)
            {
                c.used_in.push(used_in.to_string());
            }
            return var;
        }
        let var = self.fresh_name(&values::var_name(&self.offers[i].key));
        let o = &mut self.offers[i];
        o.var = Some(var.clone());
        let step = &mut self.built.steps[o.step];
        step.captures.push((var.clone(), o.source.clone()));
        self.built.correlations.push(Correlation {
            var: var.clone(),
            from: step.name.clone(),
            source: o.source.clone(),
            used_in: vec![used_in.to_string()],
        });
        var
    }

    fn fresh_name(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 2;
        while !self.used_names.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    /// A sent value no response returned: typed, secret, generated (a
    /// to-do) or a constant.
    fn unmatched(
        &mut self,
        key: &str,
        value: &str,
        step: &str,
        field: &str,
        todos: &mut Vec<String>,
    ) -> String {
        if values::secret_key(key) && !value.is_empty() {
            return format!("${{{}}}", self.secret(key, step, field));
        }
        if let Some(kind) = values::typed(key, value)
            && !values::quoted_in(&self.pages, value)
        {
            let name = self.fresh_name(&values::var_name(key));
            self.typed.push((value.to_string(), name.clone()));
            self.remember(Known::Typed(self.typed.len() - 1));
            self.built.typed.push(TypedVar {
                name: name.clone(),
                template: values::per_arrival(kind, value),
                recorded: value.to_string(),
                kind,
            });
            return format!("{{{name}}}");
        }
        self.unexplained(value, step, field, todos);
        literal(value)
    }

    /// A to-do for a sent value that looks like an id or a token when no
    /// response before it returned it: generated where the recording
    /// cannot see, or returned in a response whose body was not saved.
    fn unexplained(&mut self, value: &str, step: &str, field: &str, todos: &mut Vec<String>) {
        if values::quoted_in(&self.pages, value) {
            return;
        }
        let shown: String = value.chars().take(10).collect();
        let shown = if shown.len() < value.len() {
            format!("{shown}…")
        } else {
            shown
        };
        let id_like = values::identifies(value) && value.chars().any(|c| c.is_ascii_digit());
        let generated = values::looks_generated(value);
        let why = match self.bodiless.last() {
            Some((from, entry)) if id_like || generated => format!(
                "`{from}` (entry {entry}) has no response body in the recording and likely returned it: capture it there (`capture: {{ NAME: $.FIELD }}`) and write `{{NAME}}` here"
            ),
            _ if generated => "it looks generated (long, random): capture it where the page gets it, or make it a variable".to_string(),
            _ => return,
        };
        todos.push(format!(
            "step `{step}`, {field}: `{shown}` is sent as recorded, but no earlier response in the recording returned it; {why}"
        ));
    }

    /// An environment variable for a secret, named once per key.
    fn secret(&mut self, key: &str, step: &str, field: &str) -> String {
        let env = values::env_name(key);
        if !self.built.secrets.iter().any(|(e, _)| *e == env) {
            self.built
                .secrets
                .push((env.clone(), format!("step `{step}`, {field}")));
        }
        env
    }

    fn path(&mut self, x: &Exchange, step: &str, todos: &mut Vec<String>) -> String {
        let (path, _) = self.correlate(x.url.path(), step);
        for seg in x.url.path().split('/').filter(|s| !s.is_empty()) {
            let seg = percent(seg);
            if !self.known(&seg) {
                self.unexplained(&seg, step, &format!("path segment `{seg}`"), todos);
            }
        }
        let Some(query) = x.url.query() else {
            return path;
        };
        let mut parts = Vec::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent(v);
            let (t, any) = self.correlate(v, step);
            let v = if any {
                t
            } else {
                let u = self.unmatched(&percent(k), &decoded, step, &format!("query `{k}`"), todos);
                if u.starts_with("${") || u.starts_with('{') {
                    u
                } else {
                    literal(v)
                }
            };
            parts.push(if pair.contains('=') {
                format!("{}={v}", literal(k))
            } else {
                literal(k)
            });
        }
        format!("{path}?{}", parts.join("&"))
    }

    fn headers(
        &mut self,
        x: &Exchange,
        step: &str,
        todos: &mut Vec<String>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in &x.headers {
            let lower = name.to_ascii_lowercase();
            if lower == "cookie" {
                if let Some(c) = self.cookies(value, step) {
                    out.push((name.clone(), c));
                }
                continue;
            }
            if browser_header(&lower) {
                continue;
            }
            let (t, any) = self.correlate(value, step);
            let t = if any {
                t
            } else if lower == "authorization" {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!(
                        "{} ${{{}}}",
                        literal(scheme),
                        self.secret("authorization", step, "header `Authorization`")
                    ),
                    None => format!(
                        "${{{}}}",
                        self.secret("authorization", step, "header `Authorization`")
                    ),
                }
            } else {
                self.unmatched(&lower, value, step, &format!("header `{name}`"), todos)
            };
            out.push((name.clone(), t));
        }
        out
    }

    /// The cookies a request sent that the platform did not set in this
    /// recording (those the journey's own cookie jar keeps): sessions from
    /// the environment, others as sent.
    fn cookies(&mut self, header: &str, step: &str) -> Option<String> {
        let mut kept = Vec::new();
        for pair in header.split(';') {
            let pair = pair.trim();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name.is_empty() || self.jar.contains(name) {
                continue;
            }
            if let Some(entry) = self.set_aside.get(name) {
                let said = format!("cookie `{name}` ");
                if !self
                    .built
                    .journey_todos
                    .iter()
                    .any(|t| t.starts_with(&said))
                {
                    self.built.journey_todos.push(format!(
                        "{said}(sent from step `{step}` on) was set by entry {entry}, which is left out as an asset; import with --keep-assets so the journey fetches it and keeps the cookie"
                    ));
                }
                continue;
            }
            if values::session_cookie(name, value) {
                let env = self.secret(&format!("cookie_{name}"), step, &format!("cookie `{name}`"));
                kept.push(format!("{}=${{{env}}}", literal(name)));
            } else {
                kept.push(literal(pair));
            }
        }
        (!kept.is_empty()).then(|| kept.join("; "))
    }

    fn body(&mut self, x: &Exchange, step: &str, todos: &mut Vec<String>) -> Body {
        let Some(b) = &x.body else {
            return Body::None;
        };
        let text = b.text.as_deref();
        if b.mime == "application/pdf" || text.is_some_and(|t| t.starts_with("%PDF-")) {
            return Body::Pdf(b.size.max(PDF_MIN));
        }
        if b.mime.contains("json")
            && let Some(doc) = text.and_then(|t| serde_json::from_str::<Value>(t).ok())
        {
            return Body::Json(self.json(&doc, "", step, todos));
        }
        if b.mime.starts_with("multipart/") {
            return match text {
                Some(t) => Body::File {
                    bytes: t.as_bytes().to_vec(),
                    content_type: b.content_type.clone(),
                },
                None if !b.params.is_empty() => multipart(&b.params),
                None => self.unseen_body(x, step, todos),
            };
        }
        let texty = b.mime.starts_with("text/")
            || b.mime.contains("xml")
            || b.mime.contains("x-www-form-urlencoded")
            || b.mime.contains("graphql")
            || b.mime.contains("json");
        match text {
            Some(t) if texty => {
                let (t, _) = self.correlate(t, step);
                Body::Text {
                    text: t,
                    content_type: b.content_type.clone(),
                }
            }
            Some(t) => Body::File {
                bytes: t.as_bytes().to_vec(),
                content_type: b.content_type.clone(),
            },
            None if b.params.is_empty() => self.unseen_body(x, step, todos),
            None => Body::Text {
                text: literal(
                    &b.params
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.value.as_deref().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join("&"),
                ),
                content_type: b.content_type.clone(),
            },
        }
    }

    fn unseen_body(&mut self, x: &Exchange, step: &str, todos: &mut Vec<String>) -> Body {
        todos.push(format!(
            "step `{step}`: the recording does not hold the request body of entry {} ({} bytes of {}); put it in the file written for this step",
            x.entry,
            x.body.as_ref().map_or(0, |b| b.size),
            x.body
                .as_ref()
                .map_or("unknown type", |b| b.content_type.as_str())
        ));
        Body::File {
            bytes: Vec::new(),
            content_type: x
                .body
                .as_ref()
                .map_or(String::new(), |b| b.content_type.clone()),
        }
    }

    /// A JSON body with its leaves templated.
    fn json(&mut self, v: &Value, key: &str, step: &str, todos: &mut Vec<String>) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.json(v, k, step, todos)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.json(v, key, step, todos))
                    .collect(),
            ),
            Value::String(s) => {
                let (t, any) = self.correlate(s, step);
                if any {
                    Value::String(t)
                } else {
                    Value::String(self.unmatched(
                        key,
                        s,
                        step,
                        &format!("body field `{key}`"),
                        todos,
                    ))
                }
            }
            Value::Number(n) => {
                let (t, any) = self.correlate(&n.to_string(), step);
                if any { Value::String(t) } else { v.clone() }
            }
            other => other.clone(),
        }
    }

    /// Headers every step sends the same from the step where their
    /// variables are bound to the end become the journey's.
    fn lift_headers(&mut self) {
        let steps = &mut self.built.steps;
        let mut bound_at: HashMap<String, usize> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            for (var, _) in &s.captures {
                bound_at.insert(var.clone(), i + 1);
            }
        }
        let mut candidates: Vec<(String, String)> = Vec::new();
        for s in steps.iter() {
            for h in &s.headers {
                if !candidates
                    .iter()
                    .any(|c| c.0.eq_ignore_ascii_case(&h.0) && c.1 == h.1)
                {
                    candidates.push(h.clone());
                }
            }
        }
        for (name, value) in candidates {
            let from = template_vars(&value)
                .iter()
                .map(|v| bound_at.get(v).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            let has = |s: &Step| {
                s.headers
                    .iter()
                    .any(|h| h.0.eq_ignore_ascii_case(&name) && h.1 == value)
            };
            let lifts = steps.len() > 1
                && steps.iter().enumerate().all(|(i, s)| has(s) == (i >= from))
                && steps.len() - from >= 2;
            if lifts {
                for s in steps.iter_mut() {
                    s.headers
                        .retain(|h| !(h.0.eq_ignore_ascii_case(&name) && h.1 == value));
                }
                self.built.headers.push((name, value));
            }
        }
    }
}

/// The `{var}` names in a template (not `${ENV}`, not `{{`).
pub fn template_vars(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            rest = after;
            continue;
        }
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            rest = &tail[1..];
            continue;
        }
        match tail.find('}') {
            Some(end) => {
                out.push(tail[1..end].to_string());
                rest = &tail[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A multipart body rebuilt from the HAR's `params` (Firefox keeps those
/// rather than the text): file parts as the empty files they were
/// recorded as, with a to-do when their content is not there.
fn multipart(params: &[Param]) -> Body {
    let boundary = "surge-har-import-boundary";
    let mut bytes = Vec::new();
    for p in params {
        bytes.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
        if let Some(f) = &p.file_name {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        bytes.extend_from_slice(disposition.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            bytes.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(p.value.as_deref().unwrap_or("").as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Body::File {
        bytes,
        content_type: format!("multipart/form-data; boundary={boundary}"),
    }
}

/// A step's name from its path's last fixed segment (`pay`, `orders`),
/// numbered when it repeats.
fn step_name(x: &Exchange, known: &dyn Fn(&str) -> bool, used: &mut HashSet<String>) -> String {
    let base = x
        .url
        .path()
        .split('/')
        .rev()
        .find(|s| {
            !s.is_empty() && !known(s) && !crate::import::access_log::routes::is_id(s.as_bytes())
        })
        .map(|s| {
            let mut n = String::new();
            for c in s.chars() {
                if c.is_ascii_alphanumeric() {
                    n.push(c.to_ascii_lowercase());
                } else if !n.ends_with('-') {
                    n.push('-');
                }
            }
            n.trim_matches('-').chars().take(40).collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "root".into());
    let base = if x.method == "GET" || x.method == "POST" {
        base
    } else {
        format!("{}-{base}", x.method.to_ascii_lowercase())
    };
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// The channel most steps use: the journey's (steps on others say so).
fn main_channel(steps: &[Step]) -> String {
    let mut count: Vec<(&str, usize)> = Vec::new();
    for s in steps {
        match count.iter_mut().find(|(c, _)| *c == s.channel) {
            Some(c) => c.1 += 1,
            None => count.push((&s.channel, 1)),
        }
    }
    // The first of the most used: ties go to where the journey starts.
    let most = count.iter().map(|c| c.1).max().unwrap_or(0);
    count
        .iter()
        .find(|c| c.1 == most)
        .map_or("storefront".into(), |c| c.0.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            file: "t.har".into(),
            out: "t.yaml".into(),
            journey: "t".into(),
            base: None,
            channel_of: Vec::new(),
            keep_assets: false,
            no_think: false,
            data: None,
            target: None,
        }
    }

    fn entry(ms: u32, method: &str, path: &str, body: &str, answer: &str) -> String {
        let post = if body.is_empty() {
            String::new()
        } else {
            format!(
                r#","postData":{{"mimeType":"application/json","text":{}}}"#,
                serde_json::to_string(body).unwrap()
            )
        };
        format!(
            r#"{{"startedDateTime":"2026-01-01T00:00:{:02}.{:03}Z","time":1,"request":{{"method":"{method}","url":"http://127.0.0.1:8080{path}","headers":[]{post}}},"response":{{"status":200,"content":{{"mimeType":"application/json","text":{}}}}}}}"#,
            ms / 1000,
            ms % 1000,
            serde_json::to_string(answer).unwrap()
        )
    }

    fn built(entries: &[String]) -> Built {
        let har = format!(r#"{{"log":{{"entries":[{}]}}}}"#, entries.join(","));
        build(
            &super::super::read::parse("t.har", &har).unwrap(),
            &options(),
        )
        .unwrap()
    }

    #[test]
    fn a_short_id_is_sent_back_only_whole() {
        let b = built(&[
            entry(0, "POST", "/a", "", r#"{"id":"C1","n":2}"#),
            entry(100, "GET", "/x/C1", "", "{}"),
            entry(200, "GET", "/x/C12", "", "{}"),
            entry(
                300,
                "POST",
                "/y",
                r#"{"ref":"C1","n":2,"t":"see C1."}"#,
                "{}",
            ),
        ]);
        let paths: Vec<&str> = b.steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/x/{id}", "/x/C12", "/y"]);
        assert_eq!(b.steps[0].captures, [("id".into(), "$.id".into())]);
        assert_eq!(
            b.steps[3].body,
            Body::Json(serde_json::json!({"ref": "{id}", "n": 2, "t": "see {id}."}))
        );
    }

    #[test]
    fn polls_wait_on_the_field_that_moved_last() {
        let b = built(&[
            entry(0, "POST", "/jobs", "", r#"{"job":"J7","state":"queued"}"#),
            entry(
                100,
                "GET",
                "/jobs/J7",
                "",
                r#"{"state":"running","pct":10}"#,
            ),
            entry(
                400,
                "GET",
                "/jobs/J7",
                "",
                r#"{"state":"running","pct":50}"#,
            ),
            entry(700, "GET", "/jobs/J7", "", r#"{"state":"done","pct":100}"#),
        ]);
        assert_eq!(b.steps.len(), 2);
        let u = b.steps[1].until.as_ref().unwrap();
        assert_eq!(
            (u.path.as_str(), u.equals.clone(), u.every_ms, u.polls),
            ("$.state", Some(Value::from("done")), 300, 3)
        );
    }
}
