//! One applicant's journey: the steps of its journey in order, each a
//! request sent on the user's own connection to a plain-HTTP place
//! (`http1`), or on the goose user's reqwest client for `https` and with
//! `--goose-metrics` (through goose's own request bookkeeping, named
//! `JOURNEY.STEP`, so goose's report counts what surge counts), timed from
//! send to the end of the body, checked against its expectations, mined
//! for its captures, repeated while its `until` does not hold, and retried
//! with backoff while the applicant's patience lasts. Everything measured
//! goes into the user's buffer; nothing here takes a lock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use goose::goose::{GooseRequest, GooseUser};
use http_body_util::Full;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION,
    PROXY_AUTHORIZATION, REFERER, SET_COOKIE, WWW_AUTHENTICATE,
};
use serde_json::Value;
use tokio::time::Instant;

use super::client::timing_connects;
use super::control::Control;
use super::dispatch::Dispatched;
use super::example::{Context, Why, example, shown_path};
use super::feed::Feed;
use super::http1;
use super::plan::{Body, JourneyPlan, Lean, Plan, StepPlan};
use crate::recorder::{Event, Outcome, UserBuffer};
use crate::scenario::model::{Condition, ErrorClass};
use crate::scenario::refs::CaptureSource;
use crate::scenario::template::{Template, json_text};
use crate::schedule::stream_seed;

/// What every user of a run shares.
pub struct Shared {
    pub plan: Arc<Plan>,
    pub recorder: Arc<crate::recorder::Recorder>,
    pub control: Arc<Control>,
    /// The deadline, from the start of the run.
    pub deadline: Duration,
    pub max_lateness: Duration,
    pub seed: u64,
    /// Each journey's test data, in the plan's journey order.
    pub feeds: Vec<Vec<Feed>>,
    /// Whether goose keeps its own request metrics (`--goose-metrics`).
    /// Without them a request is sent on the user's goose client directly:
    /// goose's request bookkeeping (a metric record, the URL and names
    /// copied per request) would cost CPU and feed nothing.
    pub goose_metrics: bool,
    /// Where the ids a `books.reconcile` names go (`ids.csv`), when one
    /// does.
    pub ids: Option<Arc<crate::books::ids::IdLog>>,
}

/// One user's state between arrivals.
pub struct UserCtx {
    pub journey: usize,
    pub buffer: Arc<UserBuffer>,
    pub shared: Arc<Shared>,
    rng: SmallRng,
    /// This user's client of each place, built when first needed.
    clients: Vec<Option<reqwest::Client>>,
    /// The place whose client goose sends with now.
    in_use: Option<usize>,
    /// This user's connection to each plain-HTTP place.
    lean: Vec<http1::Conn>,
}

impl UserCtx {
    pub fn new(
        journey: usize,
        buffer: Arc<UserBuffer>,
        shared: Arc<Shared>,
        user: usize,
    ) -> UserCtx {
        let rng = SmallRng::seed_from_u64(stream_seed(shared.seed, &format!("user-{user}")));
        UserCtx {
            journey,
            buffer,
            clients: vec![None; shared.plan.places.len()],
            in_use: None,
            lean: (0..shared.plan.places.len())
                .map(|_| http1::Conn::default())
                .collect(),
            shared,
            rng,
        }
    }

    /// Makes goose send with this user's client of `place` (its
    /// connections are its own), built the first time.
    fn use_client(&mut self, user: &mut GooseUser, place: usize) -> Result<(), Why> {
        if self.in_use == Some(place) {
            return Ok(());
        }
        let client = match &self.clients[place] {
            Some(client) => client.clone(),
            None => {
                let client = self.shared.plan.places[place]
                    .client()
                    .map_err(|_| Why::Request("the HTTP client could not be built"))?;
                self.clients[place] = Some(client.clone());
                client
            }
        };
        user.client = client;
        self.in_use = Some(place);
        Ok(())
    }
}

/// The applicant's own state: its variables, its rows of test data and
/// its cookies.
struct Applicant<'f> {
    feeds: &'f [Feed],
    /// The row of each feed, in `feeds`' order.
    rows: Vec<usize>,
    arrival: u64,
    random: u64,
    journey: Arc<str>,
    channel: Arc<str>,
    partner: Option<Arc<str>>,
    vars: HashMap<String, Value>,
    cookies: Vec<(String, String)>,
}

impl Applicant<'_> {
    /// The cell `{DATA.COLUMN}` names, from this applicant's row.
    fn cell(&self, name: &str) -> Option<&str> {
        let (data, column) = name.split_once('.')?;
        let (i, feed) = self
            .feeds
            .iter()
            .enumerate()
            .find(|(_, f)| &*f.name == data)?;
        let column = feed.table.column(column)?;
        Some(feed.table.cell(self.rows[i], column))
    }

    /// A variable's value: built-ins are answered without being stored.
    fn get(&self, name: &str) -> Option<Value> {
        if name.contains('.') {
            return self.cell(name).map(|c| Value::String(c.to_string()));
        }
        match name {
            "arrival" => Some(Value::from(self.arrival)),
            "random" => Some(Value::from(self.random)),
            "journey" => Some(Value::String(self.journey.to_string())),
            "channel" => Some(Value::String(self.channel.to_string())),
            "partner" => self.partner.as_ref().map(|p| Value::String(p.to_string())),
            _ => self.vars.get(name).cloned(),
        }
    }

    fn has(&self, name: &str) -> bool {
        if name.contains('.') {
            return self.cell(name).is_some();
        }
        matches!(name, "arrival" | "random" | "journey" | "channel")
            || (name == "partner" && self.partner.is_some())
            || self.vars.contains_key(name)
    }

    fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        if name.contains('.') {
            return self.cell(name).map(Cow::Borrowed);
        }
        match name {
            "arrival" => Some(Cow::Owned(self.arrival.to_string())),
            "random" => Some(Cow::Owned(self.random.to_string())),
            "journey" => Some(Cow::Borrowed(&self.journey)),
            "channel" => Some(Cow::Borrowed(&self.channel)),
            "partner" => self.partner.as_deref().map(Cow::Borrowed),
            _ => self.vars.get(name).map(|v| match v {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(json_text(other)),
            }),
        }
    }

    /// Whether `{DATA.COLUMN}` names a secret column.
    fn is_secret(&self, name: &str) -> bool {
        let Some((data, column)) = name.split_once('.') else {
            return false;
        };
        self.feeds.iter().any(|f| {
            &*f.name == data
                && f.table
                    .column(column)
                    .is_some_and(|c| f.secret.contains(&c))
        })
    }

    /// What an example of a failure of `step` is built with: the path as
    /// sent but for secrets, and every secret value to mask.
    fn context<'s>(
        &'s self,
        step: &'s StepPlan,
        jp: &'s JourneyPlan,
        index: u32,
        class: ErrorClass,
    ) -> Context<'s> {
        let path = shown_path(&step.path, &|name| {
            (!self.is_secret(name))
                .then(|| self.text(name).map(Cow::into_owned))
                .flatten()
        });
        let templates = jp.headers.iter().chain(&step.headers).map(|(_, t)| t);
        let mut secrets: Vec<&str> = templates
            .chain([&step.path])
            .flat_map(Template::secrets)
            .collect();
        match &step.body {
            Body::Json(t) => secrets.extend(t.secrets()),
            Body::Text(t, _) => secrets.extend(t.secrets()),
            _ => {}
        }
        for (feed, row) in self.feeds.iter().zip(&self.rows) {
            secrets.extend(feed.secret.iter().map(|c| feed.table.cell(*row, *c)));
        }
        Context {
            step,
            index,
            class,
            path,
            secrets,
        }
    }

    fn render(&self, t: &Template) -> Option<String> {
        t.render(&|name: &str| self.text(name)).ok()
    }

    fn remember_cookies(&mut self, set_cookies: &[String]) {
        for value in set_cookies {
            let Some(pair) = value.split(';').next() else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            match self.cookies.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => self.cookies.push((name, value)),
            }
        }
    }
}

/// How one try of a step ended.
enum Try {
    Ok,
    Failed(ErrorClass, Why),
    /// The run was cut.
    Cut,
}

/// How a step ended, all tries counted.
enum StepEnd {
    Ok,
    Abandoned,
    Failed,
    Cut,
}

/// A response, read to its end: what the step needs of it.
struct Answer {
    status: u16,
    /// `Set-Cookie` values, if any.
    cookies: Vec<String>,
    /// The headers the step captures, by lower-case name.
    headers: Vec<(String, String)>,
    body: axum::body::Bytes,
}

/// Serves one arrival, start to end.
pub async fn serve(user: &mut GooseUser, ctx: &mut UserCtx, d: Dispatched) {
    let shared = ctx.shared.clone();
    let journey = ctx.journey as u32;
    let begin = Instant::now();
    let lag = begin.saturating_duration_since(d.intended);
    if lag > shared.max_lateness || shared.control.is_cut() {
        ctx.buffer.push(Event::Dropped { journey });
        return;
    }
    let feeds = &shared.feeds[ctx.journey];
    let Some(rows) = feeds.iter().map(|f| f.row(&d.arrival)).collect() else {
        ctx.buffer.push(Event::Exhausted { journey });
        return;
    };
    ctx.buffer.push(Event::Started {
        journey,
        lag_micros: micros(lag),
    });
    let plan = &shared.plan;
    let jp = &plan.journeys[ctx.journey];
    let mut applicant = Applicant {
        feeds,
        rows,
        arrival: d.arrival.id,
        random: ctx.rng.random(),
        journey: jp.name.clone(),
        channel: jp.channel_name.clone(),
        partner: jp.partner.clone(),
        vars: HashMap::new(),
        cookies: Vec::new(),
    };
    for (name, template) in &jp.vars {
        let value = applicant.render(template).unwrap_or_default();
        applicant.vars.insert(name.clone(), Value::String(value));
    }
    let give_up = jp.give_up.map(|g| d.intended + g);
    let mut end = StepEnd::Ok;
    for step in jp.steps.clone() {
        end = run_step(user, ctx, &mut applicant, step, give_up).await;
        if !matches!(end, StepEnd::Ok) {
            break;
        }
    }
    let finished = Instant::now();
    let outcome = match end {
        StepEnd::Ok => {
            let deadline = shared.control.t0().map(|t0| t0 + shared.deadline);
            if deadline.is_none_or(|d| finished <= d) {
                Outcome::CompletedInTime
            } else {
                Outcome::CompletedLate
            }
        }
        StepEnd::Abandoned => Outcome::Abandoned,
        StepEnd::Failed => Outcome::Failed,
        StepEnd::Cut => Outcome::Unfinished,
    };
    let total = finished.saturating_duration_since(d.intended);
    ctx.buffer.push(Event::Finished {
        journey,
        outcome,
        micros: micros(total),
    });
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

async fn run_step(
    user: &mut GooseUser,
    ctx: &mut UserCtx,
    applicant: &mut Applicant<'_>,
    index: usize,
    give_up: Option<Instant>,
) -> StepEnd {
    let shared = ctx.shared.clone();
    let step = &shared.plan.steps[index];
    let jp = &shared.plan.journeys[ctx.journey];
    let control = &shared.control;
    if let Some(think) = step.think
        && control
            .unless_cut(tokio::time::sleep(think))
            .await
            .is_none()
    {
        return StepEnd::Cut;
    }
    for attempt in 1..=jp.attempts {
        if give_up.is_some_and(|g| Instant::now() >= g) {
            return StepEnd::Abandoned;
        }
        let (class, why) = match try_step(user, ctx, applicant, step, index as u32, give_up).await {
            Try::Ok => {
                keep_ids(&shared, step, applicant);
                return StepEnd::Ok;
            }
            Try::Cut => return StepEnd::Cut,
            Try::Failed(class, why) => (class, why),
        };
        ctx.buffer.push(Event::Failure {
            step: index as u32,
            class,
        });
        let examples = &shared.recorder.examples;
        if examples.wants(index as u32, class) {
            examples.offer(example(
                &why,
                &applicant.context(step, jp, index as u32, class),
            ));
        }
        if !jp.retry_on.contains(&class) {
            return StepEnd::Failed;
        }
        if attempt == jp.attempts {
            return StepEnd::Abandoned;
        }
        let wait = jp.backoff.wait(attempt, ctx.rng.random_range(-1.0..=1.0));
        if give_up.is_some_and(|g| Instant::now() + wait >= g) {
            return StepEnd::Abandoned;
        }
        ctx.buffer.push(Event::Retry { step: index as u32 });
        if control.unless_cut(tokio::time::sleep(wait)).await.is_none() {
            return StepEnd::Cut;
        }
    }
    StepEnd::Abandoned
}

/// Hands the ids `step` is reconciled by to `ids.csv`.
fn keep_ids(shared: &Shared, step: &StepPlan, applicant: &Applicant<'_>) {
    let Some(log) = shared.ids.as_ref().filter(|_| !step.ids.is_empty()) else {
        return;
    };
    let (journey, label) = (&applicant.journey, step.label.as_str());
    let step_name: Arc<str> = label.split_once('.').map_or(label, |(_, s)| s).into();
    for capture in &step.ids {
        if let Some(value) = applicant.vars.get(&**capture) {
            log.push(crate::books::ids::IdRow {
                journey: journey.clone(),
                arrival: applicant.arrival,
                step: step_name.clone(),
                capture: capture.clone(),
                value: json_text(value),
                at: Instant::now(),
            });
        }
    }
}

/// One try of a step: a request, or a series of polls until `until`.
async fn try_step(
    user: &mut GooseUser,
    ctx: &mut UserCtx,
    applicant: &mut Applicant<'_>,
    step: &StepPlan,
    index: u32,
    give_up: Option<Instant>,
) -> Try {
    let control = ctx.shared.control.clone();
    let polling_since = Instant::now();
    loop {
        let sent = Instant::now();
        // The applicant's patience bounds the request as much as the
        // step's own timeout does.
        let timeout = give_up.map_or(step.timeout, |g| {
            step.timeout.min(g.saturating_duration_since(sent))
        });
        let shared = ctx.shared.clone();
        let jp = &shared.plan.journeys[ctx.journey];
        let Some((answer, connected)) = control
            .unless_cut(send(user, ctx, jp, step, applicant, timeout))
            .await
        else {
            return Try::Cut;
        };
        let elapsed = micros(sent.elapsed());
        if let Some(c) = connected {
            ctx.buffer.push(Event::Connect {
                step: index,
                micros: micros(c),
            });
        }
        let verdict = judge(step, applicant, answer);
        ctx.buffer.push(Event::Request {
            step: index,
            micros: elapsed,
            ok: matches!(verdict, Judged::Ok | Judged::Again(_)),
        });
        let body = match verdict {
            Judged::Ok => return Try::Ok,
            Judged::Failed(class, why) => return Try::Failed(class, why),
            Judged::Again(body) => body,
        };
        let poll = step.poll.as_ref().expect("`until` comes with `poll`");
        let next = sent + poll.every.0;
        if next.saturating_duration_since(polling_since) > poll.timeout.0
            || give_up.is_some_and(|g| next >= g)
        {
            // The condition never held in time.
            return Try::Failed(ErrorClass::Expectation, Why::Until { body });
        }
        if control
            .unless_cut(tokio::time::sleep_until(next))
            .await
            .is_none()
        {
            return Try::Cut;
        }
    }
}

enum Judged {
    Ok,
    /// A successful poll whose `until` does not hold yet (its body).
    Again(axum::body::Bytes),
    Failed(ErrorClass, Why),
}

/// Checks a response against the step: status, `until`, expectations,
/// captures (which it stores).
fn judge(
    step: &StepPlan,
    applicant: &mut Applicant<'_>,
    answer: Result<Answer, (ErrorClass, Why)>,
) -> Judged {
    let answer = match answer {
        Ok(a) => a,
        Err((class, why)) => return Judged::Failed(class, why),
    };
    applicant.remember_cookies(&answer.cookies);
    let body = answer.body;
    if !step.expect.status.contains(answer.status) {
        let got = answer.status;
        return Judged::Failed(status_class(got), Why::Status { got, body });
    }
    let json = if step.needs_json {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Some(v),
            Err(_) => return Judged::Failed(ErrorClass::InvalidResponse, Why::NotJson { body }),
        }
    } else {
        None
    };
    let doc = json.as_ref().unwrap_or(&Value::Null);
    if let Some(until) = &step.until
        && !holds(until, doc)
    {
        return Judged::Again(body);
    }
    if let Some(index) = step.expect.json.iter().position(|c| !holds(c, doc)) {
        return Judged::Failed(ErrorClass::Expectation, Why::Expect { index, body });
    }
    for (name, source) in &step.captures {
        let value = match source {
            CaptureSource::Json(path) => path.get(doc).cloned(),
            CaptureSource::Header(h) => answer
                .headers
                .iter()
                .find(|(n, _)| n == h)
                .map(|(_, v)| Value::String(v.clone())),
            CaptureSource::Status => Some(Value::from(answer.status)),
        };
        match value {
            Some(v) if !v.is_null() => {
                applicant.vars.insert(name.clone(), v);
            }
            _ => {
                let name = name.clone();
                return Judged::Failed(ErrorClass::Capture, Why::Capture { name, body });
            }
        }
    }
    Judged::Ok
}

/// Whether a condition holds on a JSON document.
pub fn holds(c: &Condition, doc: &Value) -> bool {
    let found = c.path.get(doc);
    let same = |expected: &Value| found.is_some_and(|f| json_equal(f, expected));
    if let Some(e) = &c.equals {
        return same(e);
    }
    if let Some(e) = &c.not_equals {
        return found.is_some() && !same(e);
    }
    if let Some(options) = &c.one_of {
        return options.iter().any(same);
    }
    if let Some(exists) = c.exists {
        return found.is_some_and(|f| !f.is_null()) == exists;
    }
    let number = found.and_then(Value::as_f64);
    if let Some(min) = c.at_least {
        return number.is_some_and(|n| n >= min);
    }
    if let Some(max) = c.at_most {
        return number.is_some_and(|n| n <= max);
    }
    false
}

/// Equality where `2` and `2.0` are the same number and `"2"` is not.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The class of an unexpected status.
pub fn status_class(status: u16) -> ErrorClass {
    match status {
        429 => ErrorClass::RateLimited,
        503 => ErrorClass::Unavailable,
        500..=599 => ErrorClass::Http5xx,
        400..=499 => ErrorClass::Http4xx,
        _ => ErrorClass::Expectation,
    }
}

/// The class of a failed exchange, from reqwest's error and its causes.
pub fn transport_class(e: &reqwest::Error) -> ErrorClass {
    class_of(e, e.is_timeout(), e.is_connect())
}

/// The class of a failed exchange from its error and the error's causes;
/// `timed_out` and `connecting` say what the client knew (it gave up
/// waiting; it failed while connecting).
pub fn class_of(
    e: &(dyn std::error::Error + 'static),
    timed_out: bool,
    connecting: bool,
) -> ErrorClass {
    if timed_out {
        return if connecting {
            ErrorClass::ConnectTimeout
        } else {
            ErrorClass::Timeout
        };
    }
    let chain = || std::iter::successors(Some(e), |s| s.source());
    let io_kind = chain()
        .find_map(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    use std::io::ErrorKind::*;
    match io_kind {
        Some(ConnectionRefused) => return ErrorClass::ConnectRefused,
        Some(TimedOut) if connecting => return ErrorClass::ConnectTimeout,
        Some(ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) => {
            return ErrorClass::Reset;
        }
        _ => {}
    }
    if chain().any(is_tls) {
        return ErrorClass::Tls;
    }
    // hyper-util's connector names a failed lookup `dns error`.
    if connecting && chain().any(|s| s.to_string().starts_with("dns error")) {
        return ErrorClass::Dns;
    }
    let closed_early = chain()
        .filter_map(|s| s.downcast_ref::<hyper::Error>())
        .any(|h| h.is_incomplete_message() || h.is_closed() || h.is_canceled());
    if closed_early {
        return ErrorClass::Reset;
    }
    // A connection that failed for a cause not named above was not
    // refused: `connect_refused` means exactly that.
    ErrorClass::Other
}

/// Whether `e` is rustls's error, bare or wrapped in I/O errors (whose
/// `source` skips the error they wrap, so they are opened one by one).
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    e.downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .is_some_and(|inner| is_tls(inner))
}

/// A try that failed before any response: its class and why.
type Failed = (ErrorClass, Why);

fn unbuilt(reason: &'static str) -> Failed {
    (ErrorClass::Other, Why::Request(reason))
}

/// What a request of a step has of its own applicant: the path when the
/// step's has variables (`None`: the plan's, built once), and the body
/// with its content type.
struct Varying {
    path: Option<String>,
    body: Option<(axum::body::Bytes, HeaderValue)>,
}

fn varying(step: &StepPlan, applicant: &Applicant<'_>) -> Result<Varying, Failed> {
    let path = match &step.url {
        Some(_) => None,
        None => {
            let path = applicant
                .render(&step.path)
                .ok_or_else(|| unbuilt("a variable of the path has no value"))?;
            if !path.starts_with('/') {
                return Err(unbuilt(
                    "the path does not start with `/` (a variable it starts with holds no path)",
                ));
            }
            Some(path)
        }
    };
    let body = match &step.body {
        Body::None => None,
        Body::Json(t) => {
            let value = t
                .render(&|name| applicant.get(name))
                .map_err(|_| unbuilt("a variable of the JSON body has no value"))?;
            let json = HeaderValue::from_static("application/json");
            Some((value.to_string().into(), json))
        }
        Body::Text(t, ct) => {
            let text = applicant
                .render(t)
                .ok_or_else(|| unbuilt("a variable of the body has no value"))?;
            Some((text.into(), ct.clone()))
        }
        Body::Bytes(bytes, ct) => Some((bytes.clone(), ct.clone())),
        Body::Pdf(template) => Some((
            template.render(applicant.arrival).into(),
            HeaderValue::from_static("application/pdf"),
        )),
    };
    Ok(Varying { path, body })
}

/// Hands `add` the headers a request of `step` carries for this applicant,
/// in the order they are sent: the journey's (each once its variables are
/// bound, as `Authorization: Bearer {session}` waits for `session`), the
/// step's, the applicant's cookies.
fn each_header(
    jp: &JourneyPlan,
    step: &StepPlan,
    applicant: &Applicant<'_>,
    mut add: impl FnMut(&HeaderName, HeaderValue),
) {
    for (name, template) in &jp.headers {
        if !template.vars().all(|v| applicant.has(v)) {
            continue;
        }
        if let Some(v) = applicant
            .render(template)
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            add(name, v);
        }
    }
    for (name, value) in &step.headers {
        if let Some(v) = applicant
            .render(value)
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            add(name, v);
        }
    }
    if !applicant.cookies.is_empty() {
        let jar: Vec<String> = applicant
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        if let Ok(v) = HeaderValue::from_str(&jar.join("; ")) {
            add(&COOKIE, v);
        }
    }
}

/// Sends one request of `step` and reads its body to the end: on the
/// user's own connection when the step's place is plain HTTP (and goose
/// does not keep the request's record), else on its reqwest client. Also
/// says how long a connection it opened took.
async fn send(
    user: &mut GooseUser,
    ctx: &mut UserCtx,
    jp: &JourneyPlan,
    step: &StepPlan,
    applicant: &Applicant<'_>,
    timeout: Duration,
) -> (Result<Answer, Failed>, Option<Duration>) {
    let v = match varying(step, applicant) {
        Ok(v) => v,
        Err(failed) => return (Err(failed), None),
    };
    let goose_metrics = ctx.shared.goose_metrics;
    let Some(lean) = step.lean.as_ref().filter(|_| !goose_metrics) else {
        if let Err(why) = ctx.use_client(user, step.place) {
            return (Err((ErrorClass::Other, why)), None);
        }
        let sent = send_reqwest(user, goose_metrics, jp, step, applicant, timeout, v);
        return timing_connects(sent).await;
    };
    let started = Instant::now();
    let conn = &mut ctx.lean[step.place];
    let (out, connected) = send_lean(conn, lean, jp, step, applicant, timeout, &v).await;
    let answer = match out {
        Ok(a) => a,
        Err(failed) => return (Err(failed), connected),
    };
    let (head, body) = (answer.head, answer.body);
    let Some(hop) = redirect(step, &v, head.status.as_u16(), &head.headers) else {
        return (
            Ok(answered(step, head.status, &head.headers, body)),
            connected,
        );
    };
    // The first hop went out lean; reqwest follows the rest, as it
    // followed every redirect before.
    if let Err(why) = ctx.use_client(user, step.place) {
        return (Err((ErrorClass::Other, why)), connected);
    }
    let left = timeout.saturating_sub(started.elapsed());
    let (out, more) = timing_connects(follow(user, jp, step, applicant, v, hop, left)).await;
    (out, connected.or(more))
}

/// Sends a request of `step` on the user's lean connection.
async fn send_lean(
    conn: &mut http1::Conn,
    lean: &Lean,
    jp: &JourneyPlan,
    step: &StepPlan,
    applicant: &Applicant<'_>,
    timeout: Duration,
    v: &Varying,
) -> (Result<http1::Answer, Failed>, Option<Duration>) {
    let target = match &v.path {
        None => lean.target.clone(),
        // A path reqwest would have encoded or normalised goes through the
        // same URL parser it used.
        Some(path) => http1::request_target(path).or_else(|| {
            let url = url::Url::parse(&format!("{}{path}", step.base)).ok()?;
            http1::request_target(&url[url::Position::BeforePath..url::Position::AfterQuery])
        }),
    };
    let Some(target) = target else {
        return (Err(unbuilt("the path does not make a valid URL")), None);
    };
    let mut headers = lean.origin.headers();
    each_header(jp, step, applicant, |name, value| {
        headers.append(name, value);
    });
    let body = match &v.body {
        Some((bytes, content_type)) => {
            headers.append(CONTENT_TYPE, content_type.clone());
            Full::new(bytes.clone())
        }
        None => Full::default(),
    };
    let mut request = hyper::Request::new(body);
    *request.method_mut() = step.method.clone();
    *request.uri_mut() = target;
    *request.headers_mut() = headers;
    let (out, connected) = conn.exchange(&lean.origin, request, timeout).await;
    let out = out.map_err(|e| (e.class(), Why::Transport(Box::new(e))));
    (out, connected)
}

/// Sends a request of `step` on the user's reqwest client (the goose
/// user's, through goose's request record with `--goose-metrics`).
async fn send_reqwest(
    user: &mut GooseUser,
    goose_metrics: bool,
    jp: &JourneyPlan,
    step: &StepPlan,
    applicant: &Applicant<'_>,
    timeout: Duration,
    v: Varying,
) -> Result<Answer, Failed> {
    let url = match (v.path, &step.url) {
        (Some(path), _) => format!("{}{path}", step.base),
        (None, Some(url)) => url.to_string(),
        (None, None) => return Err(unbuilt("the step has no URL")),
    };
    let mut headers = HeaderMap::new();
    each_header(jp, step, applicant, |name, value| {
        headers.append(name, value);
    });
    let mut rb = user
        .client
        .request(step.method.clone(), url)
        .headers(headers)
        .timeout(timeout);
    if let Some((bytes, content_type)) = v.body {
        rb = rb.header(CONTENT_TYPE, content_type).body(bytes);
    }
    let response = if goose_metrics {
        let request = GooseRequest::builder()
            .method(step.goose_method)
            .name(step.label.as_str())
            .set_request_builder(rb)
            .build();
        user.request(request)
            .await
            .map_err(|_| unbuilt("goose could not send the request"))?
            .response
    } else {
        rb.send().await
    };
    read_reqwest(step, response).await
}

/// A reqwest response read to its end.
async fn read_reqwest(
    step: &StepPlan,
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<Answer, Failed> {
    let transport = |e: reqwest::Error| (transport_class(&e), Why::Transport(Box::new(e)));
    let response = response.map_err(transport)?;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.bytes().await.map_err(transport)?;
    Ok(answered(step, status, &headers, body))
}

/// What the step needs of a response.
fn answered(
    step: &StepPlan,
    status: reqwest::StatusCode,
    found: &HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    let cookies = found
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    let headers = step
        .captured_headers
        .iter()
        .filter_map(|h| {
            found
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .map(|v| (h.clone(), v.to_string()))
        })
        .collect();
    Answer {
        status: status.as_u16(),
        cookies,
        headers,
        body,
    }
}

/// The next request of a redirect, as reqwest (tower's follow-redirect
/// policy) makes it.
struct Hop {
    method: reqwest::Method,
    url: url::Url,
    keep_body: bool,
    /// To another scheme, host or port: credentials and cookies stay back.
    cross: bool,
    referer: Option<HeaderValue>,
}

/// The redirect a response asks for, if it is one reqwest follows.
fn redirect(step: &StepPlan, v: &Varying, status: u16, headers: &HeaderMap) -> Option<Hop> {
    use reqwest::Method;
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let from = match &v.path {
        Some(path) => url::Url::parse(&format!("{}{path}", step.base)).ok()?,
        None => step.url.clone()?,
    };
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let url = from.join(location).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let (method, keep_body) = match status {
        301 | 302 if step.method == Method::POST => (Method::GET, false),
        303 if step.method == Method::HEAD => (Method::HEAD, false),
        303 => (Method::GET, false),
        _ => (step.method.clone(), true),
    };
    let cross = from.host_str() != url.host_str()
        || from.port_or_known_default() != url.port_or_known_default()
        || from.scheme() != url.scheme();
    let mut referer = from.clone();
    let _ = referer.set_username("");
    let _ = referer.set_password(None);
    referer.set_fragment(None);
    Some(Hop {
        method,
        url,
        keep_body,
        cross,
        referer: referer.as_str().parse().ok(),
    })
}

/// Follows a redirect's hop on the user's reqwest client, which follows
/// any further ones itself.
async fn follow(
    user: &mut GooseUser,
    jp: &JourneyPlan,
    step: &StepPlan,
    applicant: &Applicant<'_>,
    v: Varying,
    hop: Hop,
    timeout: Duration,
) -> Result<Answer, Failed> {
    let sensitive = [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE];
    let mut headers = HeaderMap::new();
    each_header(jp, step, applicant, |name, value| {
        if !(hop.cross && sensitive.contains(name)) {
            headers.append(name, value);
        }
    });
    if let Some(referer) = hop.referer {
        headers.insert(REFERER, referer);
    }
    let mut rb = user
        .client
        .request(hop.method, hop.url)
        .headers(headers)
        .timeout(timeout);
    if let Some((bytes, content_type)) = v.body.filter(|_| hop.keep_body) {
        rb = rb.header(CONTENT_TYPE, content_type).body(bytes);
    }
    read_reqwest(step, rb.send().await).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::refs::parse_json_path;

    fn cond(path: &str) -> Condition {
        Condition {
            path: parse_json_path(path).unwrap(),
            equals: None,
            not_equals: None,
            one_of: None,
            exists: None,
            at_least: None,
            at_most: None,
        }
    }

    #[test]
    fn conditions() {
        let doc = serde_json::json!({"state": "done", "n": 3, "gone": null});
        assert!(holds(
            &Condition {
                equals: Some("done".into()),
                ..cond("$.state")
            },
            &doc
        ));
        assert!(holds(
            &Condition {
                equals: Some(serde_json::json!(3.0)),
                ..cond("$.n")
            },
            &doc
        ));
        assert!(!holds(
            &Condition {
                equals: Some("3".into()),
                ..cond("$.n")
            },
            &doc
        ));
        assert!(holds(
            &Condition {
                not_equals: Some("failed".into()),
                ..cond("$.state")
            },
            &doc
        ));
        assert!(!holds(
            &Condition {
                not_equals: Some("x".into()),
                ..cond("$.missing")
            },
            &doc
        ));
        assert!(holds(
            &Condition {
                one_of: Some(vec!["a".into(), "done".into()]),
                ..cond("$.state")
            },
            &doc
        ));
        assert!(holds(
            &Condition {
                exists: Some(false),
                ..cond("$.gone")
            },
            &doc
        ));
        assert!(holds(
            &Condition {
                exists: Some(true),
                ..cond("$.n")
            },
            &doc
        ));
        assert!(holds(
            &Condition {
                at_least: Some(3.0),
                ..cond("$.n")
            },
            &doc
        ));
        assert!(!holds(
            &Condition {
                at_most: Some(2.0),
                ..cond("$.n")
            },
            &doc
        ));
        assert!(!holds(
            &Condition {
                at_most: Some(2.0),
                ..cond("$.state")
            },
            &doc
        ));
    }

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(status_class(503), ErrorClass::Unavailable);
        assert_eq!(status_class(429), ErrorClass::RateLimited);
        assert_eq!(status_class(500), ErrorClass::Http5xx);
        assert_eq!(status_class(404), ErrorClass::Http4xx);
        assert_eq!(status_class(302), ErrorClass::Expectation);
        assert_eq!(status_class(200), ErrorClass::Expectation);
    }

    fn applicant() -> Applicant<'static> {
        Applicant {
            feeds: &[],
            rows: Vec::new(),
            arrival: 7,
            random: 9,
            journey: "buy".into(),
            channel: "partner/pos".into(),
            partner: Some("pos".into()),
            vars: HashMap::from([("n".to_string(), serde_json::json!(3))]),
            cookies: Vec::new(),
        }
    }

    #[test]
    fn builtins_and_captures_render_without_being_stored() {
        let a = applicant();
        let t = Template::parse_with("/{partner}/{journey}/{arrival}/{n}", &|_| None).unwrap();
        assert_eq!(a.render(&t).unwrap(), "/pos/buy/7/3");
        assert!(a.has("random") && a.has("n") && !a.has("session"));
        assert_eq!(a.get("arrival"), Some(serde_json::json!(7)));
        assert_eq!(a.get("n"), Some(serde_json::json!(3)));
    }

    #[test]
    fn cookies_are_kept_per_applicant() {
        let mut a = applicant();
        a.remember_cookies(&["sid=abc; Path=/; HttpOnly".into(), "lang=id".into()]);
        a.remember_cookies(&["sid=def".into()]);
        assert_eq!(
            a.cookies,
            vec![("sid".into(), "def".into()), ("lang".into(), "id".into())]
        );
    }
}

/// Transport failures classed from real failed exchanges on loopback.
#[cfg(test)]
mod transport_tests {
    use super::*;

    async fn class_of(url: &str) -> ErrorClass {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let e = client.get(url).send().await.expect_err("the request fails");
        transport_class(&e)
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_dns() {
        // `.invalid` never resolves (RFC 2606).
        assert_eq!(
            class_of("http://surge-test.invalid/").await,
            ErrorClass::Dns
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/");
        assert_eq!(class_of(&url).await, ErrorClass::ConnectRefused);
    }

    #[tokio::test]
    async fn plain_http_spoken_to_https_is_tls() {
        // A server that answers the client's hello with plain HTTP.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        assert_eq!(class_of(&format!("https://{addr}/")).await, ErrorClass::Tls);
    }
}
