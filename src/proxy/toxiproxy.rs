//! Toxiproxy's vocabulary (its HTTP API 2.x and its JSON config) over
//! surge's toxics: a toxic there is `{name, type, stream, toxicity,
//! attributes}` with Toxiproxy's attribute names and units (milliseconds,
//! KB/s, microseconds for `slicer.delay`), and an error is `{"error",
//! "status"}` with Toxiproxy's messages and codes. The HTTP faults of the
//! scenario format join as two more types, `http_error {rate, status}` and
//! `http_delay {rate, delay, jitter}` (rate a fraction, times in ms), so one
//! client drives both. Where Toxiproxy silently ignores an unknown key or a
//! value its Go types would mangle, this refuses it with a 400 that names
//! it: a typo must not pass for a toxic that does nothing.

use std::time::Duration as StdDuration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ToxicSpec, ToxicView};
use crate::scenario::model::{
    After, Bandwidth, Delay, ErrorRate, FaultKind, HttpDelay, Latency, LimitData, Slicer, Stream,
};
use crate::scenario::units::{ByteRate, Duration, Percent, Size};

/// The toxic types the API takes, Toxiproxy's first.
pub const TYPES: &str = "latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, http_error, http_delay";

/// The longest time an attribute may hold: a day. Longer is a typo (and
/// would overflow the clock a toxic is scheduled on).
const MAX_MS: u64 = 86_400_000;

/// An error of the API, as Toxiproxy words and codes it; what surge adds
/// comes after Toxiproxy's words, so clients that match them still do.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request body: {0}")]
    BadBody(String),
    #[error("missing required field: {0}")]
    MissingField(String),
    /// A body the server would not read (too large, cut off).
    #[error("bad request body: {message}")]
    Unreadable { status: u16, message: String },
    #[error("proxy not found")]
    ProxyNotFound,
    #[error("proxy already exists")]
    ProxyExists,
    #[error("stream was invalid, can be either upstream or downstream")]
    InvalidStream,
    #[error("invalid toxic type: `{0}`; the types are {TYPES}")]
    InvalidToxicType(String),
    #[error(
        "invalid toxic type: `down` is not a toxic; disable the proxy instead: POST /proxies/{{proxy}} {{\"enabled\": false}}"
    )]
    Down,
    #[error("toxic already exists")]
    ToxicExists,
    #[error("toxic not found")]
    ToxicNotFound,
    /// An address this proxy may not use without being told it may.
    #[error("{0}")]
    Forbidden(String),
    /// An address that cannot be listened on or resolved.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadBody(_) | ApiError::MissingField(_) => 400,
            ApiError::InvalidStream | ApiError::InvalidToxicType(_) | ApiError::Down => 400,
            ApiError::ProxyNotFound | ApiError::ToxicNotFound => 404,
            ApiError::ProxyExists | ApiError::ToxicExists => 409,
            ApiError::Unreadable { status, .. } => *status,
            ApiError::Forbidden(_) => 403,
            ApiError::Unavailable(_) => 500,
        }
    }

    /// The body Toxiproxy answers an error with.
    pub fn body(&self) -> Value {
        json!({ "error": self.to_string(), "status": self.status() })
    }
}

/// A proxy as clients send it: to create, to update, in `/populate` and in
/// a Toxiproxy JSON config.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub upstream: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Client libraries send a proxy back with its toxics; Toxiproxy takes
    /// no toxics here and neither does this (they change under
    /// `/proxies/{proxy}/toxics`).
    #[serde(default, rename = "toxics")]
    pub _toxics: Option<Value>,
}

/// A toxic as clients send it, to create or to update.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub toxicity: Option<f64>,
    #[serde(default)]
    pub attributes: Option<Map<String, Value>>,
}

/// Reads a JSON body, or says what is wrong with it.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadBody(e.to_string()))
}

/// A new toxic's spec: Toxiproxy's defaults (`downstream`, toxicity 1,
/// name `TYPE_STREAM`, attributes not given are 0), checked.
pub fn new_toxic(input: ToxicIn) -> Result<ToxicSpec, ApiError> {
    let stream = match input.stream.as_deref().map(str::to_ascii_lowercase) {
        None => Stream::Downstream,
        Some(s) if s == "downstream" => Stream::Downstream,
        Some(s) if s == "upstream" => Stream::Upstream,
        Some(_) => return Err(ApiError::InvalidStream),
    };
    let kind = input.kind.unwrap_or_default();
    let fault = fault_of(&kind, &input.attributes.unwrap_or_default())?;
    let name = match input.name {
        Some(n) if !n.is_empty() => n,
        _ => default_name(&fault, stream),
    };
    Ok(ToxicSpec {
        name: Some(name),
        fault,
        toxicity: Some(toxicity(input.toxicity.unwrap_or(1.0))?),
        stream: Some(stream),
    })
}

/// A toxic changed as Toxiproxy changes one: the attributes given replace
/// those they name, the rest stay; toxicity likewise. Name, type and stream
/// cannot change (delete the toxic and create it again).
pub fn updated_toxic(current: &ToxicView, input: ToxicIn) -> Result<ToxicSpec, ApiError> {
    let kind = type_name(&current.fault);
    let fixed = [
        ("name", input.name.as_deref(), current.name.as_str()),
        ("type", input.kind.as_deref(), kind),
        (
            "stream",
            input.stream.as_deref(),
            stream_name(current.stream),
        ),
    ];
    for (field, given, now) in fixed {
        if given.is_some_and(|g| !g.eq_ignore_ascii_case(now)) {
            return Err(ApiError::BadBody(format!(
                "a toxic's {field} cannot change (it is `{now}`); delete the toxic and create it again"
            )));
        }
    }
    let mut attributes = attributes_of(&current.fault);
    attributes.extend(input.attributes.unwrap_or_default());
    Ok(ToxicSpec {
        name: Some(current.name.clone()),
        fault: fault_of(kind, &attributes)?,
        toxicity: Some(toxicity(input.toxicity.unwrap_or(current.toxicity))?),
        stream: Some(current.stream),
    })
}

fn toxicity(t: f64) -> Result<Percent, ApiError> {
    if !(0.0..=1.0).contains(&t) {
        return Err(ApiError::BadBody(format!(
            "toxicity {t} is not a probability; give it from 0 to 1 (1: every connection)"
        )));
    }
    Ok(Percent::from_fraction(t))
}

/// Toxiproxy's name for a toxic not given one: `TYPE_STREAM`.
pub fn default_name(fault: &FaultKind, stream: Stream) -> String {
    format!("{}_{}", type_name(fault), stream_name(stream))
}

fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Upstream => "upstream",
        Stream::Downstream => "downstream",
    }
}

/// A toxic as the API shows it.
pub fn toxic_json(view: &ToxicView) -> Value {
    json!({
        "name": view.name,
        "type": type_name(&view.fault),
        "stream": stream_name(view.stream),
        "toxicity": number(view.toxicity),
        "attributes": attributes_of(&view.fault),
    })
}

/// The type a fault goes by in the API.
pub fn type_name(fault: &FaultKind) -> &'static str {
    match fault {
        FaultKind::ErrorRate(_) => "http_error",
        other => other.name(),
    }
}

/// The attributes of a fault, in Toxiproxy's names and units.
pub fn attributes_of(fault: &FaultKind) -> Map<String, Value> {
    let value = match fault {
        FaultKind::Latency(l) => json!({ "latency": ms(l.delay), "jitter": ms(l.jitter) }),
        FaultKind::Bandwidth(b) => json!({ "rate": number(b.rate.0 as f64 / 1000.0) }),
        FaultKind::SlowClose(d) => json!({ "delay": ms(d.delay) }),
        FaultKind::Timeout(a) | FaultKind::ResetPeer(a) => json!({ "timeout": ms(a.after) }),
        FaultKind::Slicer(s) => json!({
            "average_size": s.average.0,
            "size_variation": s.variation.0,
            "delay": number(s.delay.0.as_secs_f64() * 1e6),
        }),
        FaultKind::LimitData(l) => json!({ "bytes": l.bytes.0 }),
        FaultKind::ErrorRate(e) => json!({ "rate": e.rate.fraction(), "status": e.status }),
        FaultKind::HttpDelay(d) => json!({
            "rate": d.rate.fraction(),
            "delay": ms(d.delay),
            "jitter": ms(d.jitter),
        }),
        // No attributes in Toxiproxy's vocabulary (`down` is a disabled
        // proxy there); the twin's switches and hooks never reach the API.
        FaultKind::Down(_)
        | FaultKind::Outage(_)
        | FaultKind::StockExhausted(_)
        | FaultKind::CallbacksDropped(_)
        | FaultKind::CallbacksDelayed(_)
        | FaultKind::CallbacksDuplicated(_)
        | FaultKind::WaitingRoom(_)
        | FaultKind::Hook(_) => json!({}),
    };
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn ms(d: Duration) -> Value {
    number(d.0.as_secs_f64() * 1000.0)
}

/// A whole number as an integer (as Toxiproxy writes its ints), otherwise
/// as it is.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// The fault a toxic type and its attributes describe.
pub fn fault_of(kind: &str, attributes: &Map<String, Value>) -> Result<FaultKind, ApiError> {
    let a = Attributes {
        kind,
        map: attributes,
    };
    let fault = match kind {
        "latency" => {
            a.only(&["latency", "jitter"])?;
            FaultKind::Latency(Latency {
                delay: a.millis("latency")?,
                jitter: a.millis("jitter")?,
            })
        }
        "bandwidth" => {
            a.only(&["rate"])?;
            // KB/s as Toxiproxy counts them (1,000 bytes); 0: no limit.
            let rate = a.whole("rate", u64::MAX / 1000, "KB/s")?;
            FaultKind::Bandwidth(Bandwidth {
                rate: ByteRate(rate * 1000),
            })
        }
        "slow_close" => {
            a.only(&["delay"])?;
            FaultKind::SlowClose(Delay {
                delay: a.millis("delay")?,
            })
        }
        "timeout" | "reset_peer" => {
            a.only(&["timeout"])?;
            let after = After {
                after: a.millis("timeout")?,
            };
            if kind == "timeout" {
                FaultKind::Timeout(after)
            } else {
                FaultKind::ResetPeer(after)
            }
        }
        "slicer" => {
            a.only(&["average_size", "size_variation", "delay"])?;
            let average = a.whole("average_size", 1 << 32, "bytes")?;
            if average == 0 {
                return Err(ApiError::BadBody(
                    "slicer needs `average_size` of at least 1 byte".into(),
                ));
            }
            FaultKind::Slicer(Slicer {
                average: Size(average),
                variation: Size(a.whole("size_variation", 1 << 32, "bytes")?),
                delay: Duration(StdDuration::from_micros(a.whole(
                    "delay",
                    MAX_MS * 1000,
                    "microseconds",
                )?)),
            })
        }
        "limit_data" => {
            a.only(&["bytes"])?;
            FaultKind::LimitData(LimitData {
                bytes: Size(a.whole("bytes", u64::MAX, "bytes")?),
            })
        }
        "http_error" => {
            a.only(&["rate", "status"])?;
            let status = a.whole("status", 599, "an HTTP status")?;
            let status = if a.map.contains_key("status") {
                status
            } else {
                503
            };
            if status < 100 {
                return Err(ApiError::BadBody(format!(
                    "http_error's `status` {status} is not an HTTP status; give 100 to 599"
                )));
            }
            FaultKind::ErrorRate(ErrorRate {
                rate: a.fraction("rate")?,
                status: status as u16,
            })
        }
        "http_delay" => {
            a.only(&["rate", "delay", "jitter"])?;
            FaultKind::HttpDelay(HttpDelay {
                rate: a.fraction("rate")?,
                delay: a.millis("delay")?,
                jitter: a.millis("jitter")?,
            })
        }
        "down" => return Err(ApiError::Down),
        other => return Err(ApiError::InvalidToxicType(other.to_string())),
    };
    Ok(fault)
}

/// A toxic's attributes, read with Toxiproxy's defaults (0) and checked.
struct Attributes<'a> {
    kind: &'a str,
    map: &'a Map<String, Value>,
}

impl Attributes<'_> {
    fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ApiError::BadBody(format!(
                "{} has no attribute `{k}`; it takes {}",
                self.kind,
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// A whole number from 0 to `max`, 0 when absent.
    fn whole(&self, key: &str, max: u64, unit: &str) -> Result<u64, ApiError> {
        let Some(v) = self.map.get(key) else {
            return Ok(0);
        };
        match v.as_u64() {
            Some(n) if n <= max => Ok(n),
            _ => Err(ApiError::BadBody(format!(
                "{}'s `{key}` is {v}; give a whole number of {unit} from 0 to {max}",
                self.kind
            ))),
        }
    }

    fn millis(&self, key: &str) -> Result<Duration, ApiError> {
        Ok(Duration::from_millis(self.whole(
            key,
            MAX_MS,
            "milliseconds",
        )?))
    }

    /// A share from 0 to 1; 1 when absent (every request).
    fn fraction(&self, key: &str) -> Result<Percent, ApiError> {
        let Some(v) = self.map.get(key) else {
            return Ok(Percent::from_fraction(1.0));
        };
        match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(Percent::from_fraction(x)),
            _ => Err(ApiError::BadBody(format!(
                "{}'s `{key}` is {v}; give a share from 0 to 1 (0.25: a quarter of requests)",
                self.kind
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_type_reads_back_the_attributes_it_was_given() {
        let cases = [
            ("latency", json!({ "latency": 120, "jitter": 15 })),
            ("bandwidth", json!({ "rate": 64 })),
            ("slow_close", json!({ "delay": 300 })),
            ("timeout", json!({ "timeout": 0 })),
            ("reset_peer", json!({ "timeout": 250 })),
            (
                "slicer",
                json!({ "average_size": 64, "size_variation": 16, "delay": 500 }),
            ),
            ("limit_data", json!({ "bytes": 4096 })),
            ("http_error", json!({ "rate": 0.25, "status": 502 })),
            (
                "http_delay",
                json!({ "rate": 0.5, "delay": 80, "jitter": 5 }),
            ),
        ];
        for (kind, given) in cases {
            let fault = fault_of(kind, &attrs(given.clone())).unwrap();
            assert_eq!(type_name(&fault), kind);
            assert_eq!(Value::Object(attributes_of(&fault)), given, "{kind}");
        }
    }

    #[test]
    fn units_are_toxiproxys() {
        let FaultKind::Bandwidth(b) = fault_of("bandwidth", &attrs(json!({"rate": 100}))).unwrap()
        else {
            panic!()
        };
        assert_eq!(b.rate.0, 100_000);
        let FaultKind::Slicer(s) =
            fault_of("slicer", &attrs(json!({"average_size": 10, "delay": 1500}))).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.delay.0, StdDuration::from_micros(1500));
        let FaultKind::Latency(l) = fault_of("latency", &attrs(json!({}))).unwrap() else {
            panic!()
        };
        assert!(l.delay.is_zero() && l.jitter.is_zero());
    }

    #[test]
    fn typos_and_impossible_values_are_refused_by_name() {
        let bad = [
            ("latency", json!({ "latncy": 100 }), "no attribute `latncy`"),
            ("latency", json!({ "latency": -5 }), "whole number"),
            ("latency", json!({ "latency": 1.5 }), "whole number"),
            (
                "latency",
                json!({ "latency": 100_000_000_000u64 }),
                "86400000",
            ),
            ("latency", json!({ "latency": "100ms" }), "whole number"),
            ("slicer", json!({ "average_size": 0 }), "at least 1"),
            ("http_error", json!({ "rate": 25 }), "share from 0 to 1"),
            ("http_error", json!({ "status": 42 }), "100 to 599"),
        ];
        for (kind, given, says) in bad {
            let e = fault_of(kind, &attrs(given.clone())).unwrap_err();
            assert_eq!(e.status(), 400, "{kind} {given}");
            assert!(e.to_string().contains(says), "{kind} {given}: {e}");
        }
        let e = fault_of("latncy", &Map::new()).unwrap_err();
        assert!(e.to_string().starts_with("invalid toxic type"), "{e}");
        assert!(
            fault_of("down", &Map::new())
                .unwrap_err()
                .to_string()
                .contains("enabled")
        );
    }

    #[test]
    fn a_new_toxic_takes_toxiproxys_defaults() {
        let spec = new_toxic(ToxicIn {
            kind: Some("latency".into()),
            ..ToxicIn::default()
        })
        .unwrap();
        assert_eq!(spec.name.as_deref(), Some("latency_downstream"));
        assert_eq!(spec.stream, Some(Stream::Downstream));
        assert_eq!(spec.toxicity.unwrap().fraction(), 1.0);
        let e = new_toxic(ToxicIn {
            kind: Some("latency".into()),
            stream: Some("sideways".into()),
            ..ToxicIn::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "stream was invalid, can be either upstream or downstream"
        );
    }
}
