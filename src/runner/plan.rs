//! The plan: a validated scenario compiled into what users execute, once,
//! before the run: each step with its absolute base URL, its method and
//! header names parsed, its body ready (a PDF template per size, files
//! read), so the hot path only renders templates and sends.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use goose::goose::GooseMethod;
use reqwest::header::{HeaderName, HeaderValue};

use crate::pdf::PdfTemplate;
use crate::recorder::{JourneyName, Names, StepName};
use crate::scenario::Scenario;
use crate::scenario::model::{Condition, ErrorClass, Expect, Poll};
use crate::scenario::refs::{CaptureSource, Channel, Method};
use crate::scenario::template::{JsonTemplate, Template};

/// A compiled scenario.
pub struct Plan {
    pub journeys: Vec<JourneyPlan>,
    pub steps: Vec<StepPlan>,
    /// How each place's clients are built; a step names its place.
    pub places: Vec<super::client::Recipe>,
}

pub struct JourneyPlan {
    pub name: Arc<str>,
    pub channel: Channel,
    /// The channel as text, and the partner's name on a partner channel.
    pub channel_name: Arc<str>,
    pub partner: Option<Arc<str>>,
    pub attempts: u32,
    pub backoff: Backoff,
    pub give_up: Option<Duration>,
    pub retry_on: Vec<ErrorClass>,
    pub vars: Vec<(String, Template)>,
    pub headers: Vec<(HeaderName, Template)>,
    /// Indices into `Plan::steps`.
    pub steps: Range<usize>,
}

#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    pub jitter: f64,
}

impl Backoff {
    /// The wait before try `attempt + 1` (attempt counts from 1), with
    /// `spread` a random number in [-1, 1].
    pub fn wait(&self, attempt: u32, spread: f64) -> Duration {
        let grown = self.initial.as_secs_f64() * self.factor.powi(attempt.saturating_sub(1) as i32);
        let base = grown.min(self.max.as_secs_f64());
        Duration::from_secs_f64((base * (1.0 + self.jitter * spread)).max(0.0))
    }
}

pub enum Body {
    None,
    Json(JsonTemplate),
    Text(Template, HeaderValue),
    Bytes(Bytes, HeaderValue),
    Pdf(Arc<PdfTemplate>),
}

pub struct StepPlan {
    pub label: String,
    pub journey: usize,
    pub channel: String,
    /// The channel's base URL, without a trailing `/`.
    pub base: String,
    /// Index into `Plan::places`: whose clients send this step.
    pub place: usize,
    pub method: reqwest::Method,
    pub goose_method: GooseMethod,
    pub path: Template,
    /// The whole URL, parsed once, when the path has no variables.
    pub url: Option<reqwest::Url>,
    /// How the lean client sends it, when its place is plain HTTP.
    pub lean: Option<Lean>,
    /// Response headers the step captures (lower case).
    pub captured_headers: Vec<String>,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Body,
    pub timeout: Duration,
    pub think: Option<Duration>,
    pub expect: Expect,
    pub captures: Vec<(String, CaptureSource)>,
    pub until: Option<Condition>,
    pub poll: Option<Poll>,
    /// Whether the response body must be read as JSON.
    pub needs_json: bool,
    /// Variables whose values go to `ids.csv` when the step completes
    /// (named by a `books.reconcile`).
    pub ids: Vec<Arc<str>>,
}

/// A step of a plain-HTTP place, as the lean client sends it: where to,
/// and its request target when the path has no variables (taken from
/// the parsed URL, so it is what reqwest sent).
pub struct Lean {
    pub origin: Arc<super::http1::Origin>,
    pub target: Option<hyper::Uri>,
}

/// Why a scenario could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read `{path}` (a `file:` body of {step}): {source}")]
    File {
        path: String,
        step: String,
        source: std::io::Error,
    },
    #[error("header `{name}` of {step} is not a valid header name")]
    Header { name: String, step: String },
    #[error("the content type of {step} is not a valid header value")]
    ContentType { step: String },
    #[error(
        "no base URL for channel `{channel}` (used by {step}); give `target.base_url` or `target.channels.{channel}`"
    )]
    NoBase { channel: String, step: String },
    #[error(
        "no memory for the {size} bytes of {step}'s body; lower its size or load.max_in_flight"
    )]
    Memory { step: String, size: u64 },
}

fn header_name(name: &str, step: &str) -> Result<HeaderName, PlanError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| PlanError::Header {
        name: name.into(),
        step: step.into(),
    })
}

fn content_type(
    given: Option<&String>,
    default: &'static str,
    step: &str,
) -> Result<HeaderValue, PlanError> {
    match given {
        Some(ct) => {
            HeaderValue::from_str(ct).map_err(|_| PlanError::ContentType { step: step.into() })
        }
        None => Ok(HeaderValue::from_static(default)),
    }
}

/// A step's request body, ready to send: a file read once, a PDF template
/// built once per size and shared.
fn body(
    step: &crate::scenario::model::Step,
    scenario: &Scenario,
    label: &str,
    pdfs: &mut HashMap<u64, Arc<PdfTemplate>>,
) -> Result<Body, PlanError> {
    Ok(if let Some(json) = &step.json {
        Body::Json(json.clone())
    } else if let Some(text) = &step.text {
        Body::Text(
            text.clone(),
            content_type(
                step.content_type.as_ref(),
                "text/plain; charset=utf-8",
                label,
            )?,
        )
    } else if let Some(file) = &step.file {
        let path = scenario.base_dir.join(file);
        let bytes = read_body(&path).map_err(|source| PlanError::File {
            path: path.display().to_string(),
            step: label.to_string(),
            source,
        })?;
        let default = if crate::pdf::is_pdf(&bytes) {
            "application/pdf"
        } else {
            "application/octet-stream"
        };
        Body::Bytes(
            Bytes::from(bytes),
            content_type(step.content_type.as_ref(), default, label)?,
        )
    } else if let Some(size) = step.pdf {
        let template = match pdfs.get(&size.0) {
            Some(t) => t.clone(),
            None => {
                let t = PdfTemplate::try_new(size.0 as usize).map_err(|_| PlanError::Memory {
                    step: label.to_string(),
                    size: size.0,
                })?;
                pdfs.entry(size.0).or_insert(Arc::new(t)).clone()
            }
        };
        Body::Pdf(template)
    } else {
        Body::None
    })
}

/// A `file:` body, read whole once. The memory is asked for first, so a
/// size the machine cannot hold is an error, not an abort; no more than
/// the body limit is read, should the file have grown since validation.
fn read_body(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file
        .metadata()?
        .len()
        .min(crate::scenario::limits::MAX_BODY);
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len as usize)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    file.take(crate::scenario::limits::MAX_BODY)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A journey's plan: its patience and variables, its steps' range.
fn journey_plan(
    name: &str,
    journey: &crate::scenario::model::Journey,
    headers: Vec<(HeaderName, Template)>,
    steps: Range<usize>,
) -> JourneyPlan {
    let p = &journey.patience;
    JourneyPlan {
        name: name.into(),
        channel: journey.channel.clone(),
        channel_name: journey.channel.to_string().into(),
        partner: journey.channel.partner().map(Into::into),
        attempts: p.attempts.max(1),
        backoff: Backoff {
            initial: p.backoff.initial.0,
            max: p.backoff.max.0,
            factor: p.backoff.factor,
            jitter: p.backoff.jitter.fraction(),
        },
        give_up: p.give_up.map(|g| g.0),
        retry_on: p.retry_on.clone(),
        vars: journey
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        headers,
        steps,
    }
}

impl Plan {
    /// Compiles `scenario`; `bases` maps each channel (as `Channel`'s
    /// display) to its base URL, `default_base` serves the others. (Long:
    /// a step's plan is one struct of what the hot path needs precomputed.)
    pub fn new(
        scenario: &Scenario,
        bases: &HashMap<String, String>,
        default_base: Option<&str>,
        clients: &super::target::Clients,
    ) -> Result<Plan, PlanError> {
        let mut steps = Vec::new();
        let mut journeys = Vec::new();
        let mut pdfs: HashMap<u64, Arc<PdfTemplate>> = HashMap::new();
        let (places, place_of) = clients.places();
        let mut origins: HashMap<String, Option<Arc<super::http1::Origin>>> = HashMap::new();
        for (j, (name, journey)) in scenario.file.journeys.iter().enumerate() {
            let first = steps.len();
            let journey_headers = journey
                .headers
                .iter()
                .map(|(k, v)| Ok((header_name(k, name)?, v.clone())))
                .collect::<Result<Vec<_>, PlanError>>()?;
            for step in &journey.steps {
                let label = format!("{name}.{}", step.name);
                let channel = step
                    .channel
                    .as_ref()
                    .unwrap_or(&journey.channel)
                    .to_string();
                let base = bases
                    .get(&channel)
                    .map(String::as_str)
                    .or(default_base)
                    .ok_or_else(|| PlanError::NoBase {
                        channel: channel.clone(),
                        step: label.clone(),
                    })?
                    .trim_end_matches('/')
                    .to_string();
                let body = body(step, scenario, &label, &mut pdfs)?;
                let place = place_of.get(&channel).copied().unwrap_or(0);
                let headers = step
                    .headers
                    .iter()
                    .map(|(k, v)| Ok((header_name(k, &label)?, v.clone())))
                    .collect::<Result<Vec<_>, PlanError>>()?;
                let needs_json = !step.expect.json.is_empty()
                    || step.until.is_some()
                    || step
                        .capture
                        .values()
                        .any(|c| matches!(c, CaptureSource::Json(_)));
                let url = (step.path.vars().next().is_none() && !step.path.has_secret())
                    .then(|| step.path.render(&|_| None).ok())
                    .flatten()
                    .and_then(|path| reqwest::Url::parse(&format!("{base}{path}")).ok());
                let captured_headers = step
                    .capture
                    .values()
                    .filter_map(|c| match c {
                        CaptureSource::Header(h) => Some(h.clone()),
                        _ => None,
                    })
                    .collect();
                let lean = places[place].is_plain().then_some(()).and_then(|()| {
                    let origin = origins
                        .entry(base.clone())
                        .or_insert_with(|| super::http1::Origin::of(&base).map(Arc::new))
                        .clone()?;
                    let target = url.as_ref().and_then(|u| {
                        super::http1::request_target(
                            &u[url::Position::BeforePath..url::Position::AfterQuery],
                        )
                    });
                    Some(Lean { origin, target })
                });
                steps.push(StepPlan {
                    url,
                    lean,
                    captured_headers,
                    label,
                    journey: j,
                    place,
                    channel,
                    base,
                    method: reqwest_method(step.method),
                    goose_method: goose_method(step.method),
                    path: step.path.clone(),
                    headers,
                    body,
                    timeout: step.timeout.0,
                    think: step.think.map(|t| t.0),
                    expect: step.expect.clone(),
                    captures: step
                        .capture
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    until: step.until.clone(),
                    poll: step.poll.clone(),
                    needs_json,
                    ids: reconciled(scenario, name, step.name.as_str()),
                });
            }
            journeys.push(journey_plan(
                name,
                journey,
                journey_headers,
                first..steps.len(),
            ));
        }
        Ok(Plan {
            journeys,
            steps,
            places,
        })
    }

    /// The names the recorder reports under.
    pub fn names(&self) -> Names {
        Names {
            steps: self
                .steps
                .iter()
                .map(|s| StepName {
                    label: s.label.clone(),
                    journey: s.journey,
                    step: s
                        .label
                        .split_once('.')
                        .map_or(String::new(), |(_, st)| st.to_string()),
                    channel: s.channel.clone(),
                })
                .collect(),
            journeys: self
                .journeys
                .iter()
                .map(|j| JourneyName {
                    name: j.name.to_string(),
                    channel: j.channel.to_string(),
                })
                .collect(),
        }
    }
}

fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
        Method::Head => reqwest::Method::HEAD,
    }
}

fn goose_method(m: Method) -> GooseMethod {
    match m {
        Method::Get => GooseMethod::Get,
        Method::Post => GooseMethod::Post,
        Method::Put => GooseMethod::Put,
        Method::Patch => GooseMethod::Patch,
        Method::Delete => GooseMethod::Delete,
        Method::Head => GooseMethod::Head,
    }
}

/// The captures a `books.reconcile` takes from `journey`'s `step`.
fn reconciled(scenario: &Scenario, journey: &str, step: &str) -> Vec<Arc<str>> {
    let mut ids: Vec<Arc<str>> = Vec::new();
    let entries = scenario.file.books.iter().flat_map(|b| &b.reconcile);
    for r in entries.filter(|r| r.ours.step.journey == journey && r.ours.step.step == step) {
        if !ids.iter().any(|c| **c == *r.ours.capture) {
            ids.push(r.ours.capture.as_str().into());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_within_its_jitter() {
        let b = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(4),
            factor: 2.0,
            jitter: 0.2,
        };
        assert_eq!(b.wait(1, 0.0), Duration::from_millis(500));
        assert_eq!(b.wait(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.wait(9, 0.0), Duration::from_secs(4));
        assert_eq!(b.wait(1, 1.0), Duration::from_millis(600));
        assert_eq!(b.wait(1, -1.0), Duration::from_millis(400));
    }
}
