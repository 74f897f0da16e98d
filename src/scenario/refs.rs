//! Small text forms that name things in a scenario: identifiers, channels
//! (`storefront`, `partner/pos`), fault targets (`twin/core`,
//! `proxy/storefront`, `hook`), moments (`90s`, `surge+30s`,
//! `close.end-10s`), step references (`buy.stamp`), HTTP methods, status
//! sets (`2xx`, `[200, 409]`) and JSON paths (`$.order.id`). Parsing only:
//! whether a named thing exists is checked in `semantic`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::units::{Duration, parse_duration, text_unit};

// ---------------------------------------------------------------- Name

/// An identifier: letters, digits, `_` and `-`, starting with a letter or
/// digit, at most 64 characters. Names appear in paths (`buy.stamp`) and
/// moments (`surge+30s`), so they cannot contain `.` or `+`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(pub String);

pub fn parse_name(text: &str) -> Result<Name, String> {
    check_name(text).map(|()| Name(text.to_string()))
}

/// Why `text` is not a valid name, if it is not.
pub fn check_name(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!(
            "`{text}` is not a valid name: use letters, digits, `_` and `-`, starting with a letter or digit"
        ));
    }
    if text.len() > 64 {
        return Err(format!("`{text}` is longer than 64 characters"));
    }
    Ok(())
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_unit!(
    Name,
    parse_name,
    "name",
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
    "A name: letters, digits, `_` and `-`."
);

// ---------------------------------------------------------------- Channel

/// A channel of the platform: the way an applicant reaches it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// The vendor's web shop: waiting room, accounts, orders, payment.
    Storefront,
    /// Upload, stamp and download documents.
    Stamping,
    /// The vendor's core (serial numbers, signing); a fault target only.
    Core,
    /// A distributor: a reseller with its own stock, or a pass-through
    /// counter such as the post office.
    Partner(String),
}

pub fn parse_channel(text: &str) -> Result<Channel, String> {
    match text {
        "storefront" => Ok(Channel::Storefront),
        "stamping" => Ok(Channel::Stamping),
        "core" => Ok(Channel::Core),
        _ => match text.strip_prefix("partner/") {
            Some(name) => check_name(name).map(|()| Channel::Partner(name.to_string())),
            None => Err(format!(
                "`{text}` is not a channel; write `storefront`, `stamping`, `core` or `partner/NAME`{}",
                if check_name(text).is_ok() {
                    format!(" (for a partner: `partner/{text}`)")
                } else {
                    String::new()
                }
            )),
        },
    }
}

impl Channel {
    pub fn partner(&self) -> Option<&str> {
        match self {
            Channel::Partner(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Storefront => f.write_str("storefront"),
            Channel::Stamping => f.write_str("stamping"),
            Channel::Core => f.write_str("core"),
            Channel::Partner(name) => write!(f, "partner/{name}"),
        }
    }
}

text_unit!(
    Channel,
    parse_channel,
    "channel",
    r"^(storefront|stamping|core|partner/[A-Za-z0-9][A-Za-z0-9_-]*)$",
    "A channel: `storefront`, `stamping`, `core` or `partner/NAME`."
);

// ---------------------------------------------------------------- FaultOn

/// Where a fault acts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultOn {
    /// A switch of the built-in twin, on one of its components.
    Twin(Channel),
    /// The fault-injecting proxy in front of one channel.
    Proxy(Channel),
    /// An external hook: HTTP calls at the start and at the stop.
    Hook,
}

pub fn parse_fault_on(text: &str) -> Result<FaultOn, String> {
    if text == "hook" {
        return Ok(FaultOn::Hook);
    }
    let help = || {
        format!(
            "`{text}` is not a fault target; write `twin/CHANNEL`, `proxy/CHANNEL` or `hook` (for example `twin/core` or `proxy/storefront`)"
        )
    };
    let (kind, channel) = text.split_once('/').ok_or_else(help)?;
    let channel = parse_channel(channel)?;
    match kind {
        "twin" => Ok(FaultOn::Twin(channel)),
        "proxy" => Ok(FaultOn::Proxy(channel)),
        _ => Err(help()),
    }
}

impl fmt::Display for FaultOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultOn::Twin(c) => write!(f, "twin/{c}"),
            FaultOn::Proxy(c) => write!(f, "proxy/{c}"),
            FaultOn::Hook => f.write_str("hook"),
        }
    }
}

text_unit!(
    FaultOn,
    parse_fault_on,
    "fault-target",
    r"^(hook|(twin|proxy)/(storefront|stamping|core|partner/[A-Za-z0-9][A-Za-z0-9_-]*))$",
    "Where a fault acts: `twin/CHANNEL` (a switch of the built-in twin), `proxy/CHANNEL` (the fault-injecting proxy) or `hook`."
);

// ---------------------------------------------------------------- At

/// Which edge of a phase a moment counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Start,
    End,
}

/// A moment of the run: an offset from its start, or relative to a phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    Offset(Duration),
    Phase {
        phase: String,
        edge: Edge,
        /// Signed shift from the edge.
        later: bool,
        shift: Duration,
    },
}

pub fn parse_at(text: &str) -> Result<At, String> {
    let s = text.trim();
    if let Ok(d) = parse_duration(s) {
        return Ok(At::Offset(d));
    }
    // A phase name may itself contain `-` (`last-hour`), so take the last
    // `+` or `-` whose right side reads as a duration.
    for (i, c) in s
        .char_indices()
        .rev()
        .filter(|(_, c)| *c == '+' || *c == '-')
    {
        if let Ok(shift) = parse_duration(&s[i + 1..]) {
            let (phase, edge) = phase_edge(&s[..i])?;
            return Ok(At::Phase {
                phase,
                edge,
                later: c == '+',
                shift,
            });
        }
    }
    let (phase, edge) = phase_edge(s)?;
    Ok(At::Phase {
        phase,
        edge,
        later: true,
        shift: Duration::ZERO,
    })
}

fn phase_edge(text: &str) -> Result<(String, Edge), String> {
    let (name, edge) = match text.split_once('.') {
        Some((name, "start")) => (name, Edge::Start),
        Some((name, "end")) => (name, Edge::End),
        Some((_, other)) => {
            return Err(format!(
                "`.{other}` is not a phase edge; write `PHASE.start` or `PHASE.end`"
            ));
        }
        None => (text, Edge::Start),
    };
    check_name(name).map_err(|_| {
        format!(
            "`{text}` is not a moment; write an offset (`90s`) or a phase with an optional shift (`surge`, `surge+30s`, `close.end-10s`)"
        )
    })?;
    Ok((name.to_string(), edge))
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Offset(d) => write!(f, "{d}"),
            At::Phase {
                phase,
                edge,
                later,
                shift,
            } => {
                f.write_str(phase)?;
                if *edge == Edge::End {
                    f.write_str(".end")?;
                }
                if !shift.is_zero() {
                    write!(f, "{}{shift}", if *later { '+' } else { '-' })?;
                }
                Ok(())
            }
        }
    }
}

text_unit!(
    At,
    parse_at,
    "moment",
    r"^\s*\S+\s*$",
    "A moment of the run: an offset from the start (`90s`), a phase start (`surge`), a phase end (`surge.end`), either shifted (`surge+30s`, `close.end-10s`)."
);

// ---------------------------------------------------------------- StepRef

/// A step of a journey, written `JOURNEY.STEP`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepRef {
    pub journey: String,
    pub step: String,
}

pub fn parse_step_ref(text: &str) -> Result<StepRef, String> {
    let help =
        || format!("`{text}` is not a step; write `JOURNEY.STEP`, like `new-applicant.stamp`");
    let (journey, step) = text.split_once('.').ok_or_else(help)?;
    check_name(journey).map_err(|_| help())?;
    check_name(step).map_err(|_| help())?;
    Ok(StepRef {
        journey: journey.to_string(),
        step: step.to_string(),
    })
}

impl fmt::Display for StepRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.journey, self.step)
    }
}

text_unit!(
    StepRef,
    parse_step_ref,
    "step-ref",
    r"^[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z0-9][A-Za-z0-9_-]*$",
    "A step, written `JOURNEY.STEP`."
);

// ---------------------------------------------------------------- JSON paths

/// One step down a JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// A path into a JSON response: `$`, `$.order.id`, `$.items[0]`,
/// `$['odd key']`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath(pub Vec<PathStep>);

pub fn parse_json_path(text: &str) -> Result<JsonPath, String> {
    let help = |why: &str| {
        format!(
            "`{text}` is not a JSON path ({why}); write it like `$.order.id` or `$.items[0].serial`"
        )
    };
    let mut rest = text
        .strip_prefix('$')
        .ok_or_else(|| help("it must start with `$`"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(help("a key is empty"));
            }
            steps.push(PathStep::Key(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| help("a `[` is not closed"))?;
            let inner = &after[..end];
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|i| i.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|i| i.strip_suffix('"')));
            match (quoted, inner.parse::<usize>()) {
                (Some(key), _) => steps.push(PathStep::Key(key.to_string())),
                (None, Ok(index)) => steps.push(PathStep::Index(index)),
                _ => return Err(help("brackets hold an index or a quoted key")),
            }
            rest = &after[end + 1..];
        } else {
            return Err(help("expected `.` or `[`"));
        }
    }
    Ok(JsonPath(steps))
}

impl JsonPath {
    /// The value at this path, if the document has one.
    pub fn get<'v>(&self, mut value: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        for step in &self.0 {
            value = match step {
                PathStep::Key(k) => value.as_object()?.get(k)?,
                PathStep::Index(i) => value.as_array()?.get(*i)?,
            };
        }
        Some(value)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for step in &self.0 {
            match step {
                PathStep::Key(k) if !k.contains(['.', '[', ']', '\'']) => write!(f, ".{k}")?,
                PathStep::Key(k) => write!(f, "[\"{k}\"]")?,
                PathStep::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

text_unit!(
    JsonPath,
    parse_json_path,
    "json-path",
    r"^\$.*$",
    "A path into a JSON response: `$.order.id`, `$.items[0]`."
);

/// Where a capture takes its value from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureSource {
    /// A field of the JSON response body.
    Json(JsonPath),
    /// A response header.
    Header(String),
    /// The response status code.
    Status,
}

pub fn parse_capture_source(text: &str) -> Result<CaptureSource, String> {
    if text == "status" {
        return Ok(CaptureSource::Status);
    }
    if let Some(name) = text.strip_prefix("header:") {
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "`{text}`: a header name has letters, digits and `-`"
            ));
        }
        return Ok(CaptureSource::Header(name.to_ascii_lowercase()));
    }
    if text.starts_with('$') {
        return parse_json_path(text).map(CaptureSource::Json);
    }
    Err(format!(
        "`{text}` is not a capture source; write a JSON path (`$.ticket`), `header:NAME` or `status`"
    ))
}

impl fmt::Display for CaptureSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureSource::Json(p) => write!(f, "{p}"),
            CaptureSource::Header(h) => write!(f, "header:{h}"),
            CaptureSource::Status => f.write_str("status"),
        }
    }
}

text_unit!(
    CaptureSource,
    parse_capture_source,
    "capture-source",
    r"^(\$.*|header:[A-Za-z0-9-]+|status)$",
    "Where to capture from: a JSON path (`$.ticket`), `header:NAME` or `status`."
);

// ---------------------------------------------------------------- Method

/// An HTTP method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    /// Whether a request of this method conventionally carries no body.
    pub fn bodiless(&self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------- StatusSet

/// One accepted status: an exact code or a class (`2xx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    /// The hundreds digit: 2 for `2xx`.
    Class(u8),
}

/// The statuses a step accepts: `200`, `2xx`, or a list such as
/// `[200, 409]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSet(pub Vec<StatusPattern>);

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet(vec![StatusPattern::Class(2)])
    }
}

impl StatusSet {
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|p| match p {
            StatusPattern::Code(c) => *c == status,
            StatusPattern::Class(k) => status / 100 == u16::from(*k),
        })
    }
}

fn status_from_code(code: u64) -> Result<StatusPattern, String> {
    if (100..=599).contains(&code) {
        Ok(StatusPattern::Code(code as u16))
    } else {
        Err(format!(
            "`{code}` is not an HTTP status; statuses run from 100 to 599"
        ))
    }
}

fn status_from_text(text: &str) -> Result<StatusPattern, String> {
    let t = text.trim();
    if let Ok(code) = t.parse::<u64>() {
        return status_from_code(code);
    }
    match t.as_bytes() {
        [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Ok(StatusPattern::Class(d - b'0')),
        _ => Err(format!(
            "`{t}` is not a status; write a code (`200`), a class (`2xx`) or a list (`[200, 409]`)"
        )),
    }
}

fn status_from_yaml(value: &serde_yaml::Value) -> Result<StatusPattern, String> {
    match value {
        serde_yaml::Value::Number(n) => match n.as_u64() {
            Some(code) => status_from_code(code),
            None => Err(format!("`{n}` is not an HTTP status")),
        },
        serde_yaml::Value::String(s) => status_from_text(s),
        _ => Err("a status is a code (`200`) or a class (`2xx`)".into()),
    }
}

/// Reads a status set from YAML: one status or a non-empty list of them.
pub fn status_set_from_yaml(value: &serde_yaml::Value) -> Result<StatusSet, String> {
    match value {
        serde_yaml::Value::Sequence(items) if items.is_empty() => {
            Err("the list of statuses is empty; accept at least one (`2xx` by default)".into())
        }
        serde_yaml::Value::Sequence(items) => items
            .iter()
            .map(status_from_yaml)
            .collect::<Result<_, _>>()
            .map(StatusSet),
        other => status_from_yaml(other).map(|p| StatusSet(vec![p])),
    }
}

/// The schema `format` of a status set.
pub const STATUS_SET_FORMAT: &str = "status-set";

impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        status_set_from_yaml(&value).map_err(de::Error::custom)
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| match p {
                StatusPattern::Code(c) => c.to_string(),
                StatusPattern::Class(k) => format!("{k}xx"),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

impl Serialize for StatusSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for StatusSet {
    fn schema_name() -> Cow<'static, str> {
        "StatusSet".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "format": STATUS_SET_FORMAT,
            "description": "Accepted statuses: a code (`200`), a class (`2xx`) or a list of them (`[200, 409]`).",
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "string", "pattern": "^[1-5]([0-9]{2}|xx|XX)$" },
                { "type": "array", "minItems": 1, "items": {
                    "anyOf": [
                        { "type": "integer", "minimum": 100, "maximum": 599 },
                        { "type": "string", "pattern": "^[1-5]([0-9]{2}|xx|XX)$" }
                    ]
                } }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_handle_dashes_in_phase_names() {
        let at = parse_at("last-hour-10s").unwrap();
        assert_eq!(
            at,
            At::Phase {
                phase: "last-hour".into(),
                edge: Edge::Start,
                later: false,
                shift: Duration::from_secs(10)
            }
        );
        assert_eq!(at.to_string(), "last-hour-10s");
        assert_eq!(
            parse_at("90s").unwrap(),
            At::Offset(Duration::from_secs(90))
        );
        let end = parse_at("close.end").unwrap();
        assert!(matches!(
            end,
            At::Phase {
                edge: Edge::End,
                ..
            }
        ));
        assert_eq!(parse_at("last-hour").unwrap().to_string(), "last-hour");
        assert!(parse_at("surge.middle").unwrap_err().contains("PHASE.end"));
        assert!(parse_at("a b").is_err());
    }

    #[test]
    fn channels_and_targets() {
        assert_eq!(
            parse_channel("partner/pos").unwrap(),
            Channel::Partner("pos".into())
        );
        assert!(parse_channel("pos").unwrap_err().contains("partner/pos"));
        assert_eq!(
            parse_fault_on("twin/core").unwrap(),
            FaultOn::Twin(Channel::Core)
        );
        assert_eq!(
            parse_fault_on("proxy/partner/reseller-a")
                .unwrap()
                .to_string(),
            "proxy/partner/reseller-a"
        );
        assert!(parse_fault_on("twin").is_err());
    }

    #[test]
    fn json_paths_walk_documents() {
        let doc = serde_json::json!({"a": {"b c": [10, {"d": true}]}});
        let p = parse_json_path("$.a['b c'][1].d").unwrap();
        assert_eq!(p.get(&doc), Some(&serde_json::json!(true)));
        assert_eq!(parse_json_path("$.a.x").unwrap().get(&doc), None);
        assert_eq!(parse_json_path("$").unwrap().get(&doc), Some(&doc));
        assert!(
            parse_json_path("a.b")
                .unwrap_err()
                .contains("start with `$`")
        );
        assert!(parse_json_path("$..a").is_err());
        assert!(parse_json_path("$[x]").is_err());
    }

    #[test]
    fn status_sets() {
        let set: StatusSet = serde_yaml::from_str("[200, 4xx]").unwrap();
        assert!(set.contains(200) && set.contains(409) && !set.contains(201));
        assert!(StatusSet::default().contains(204));
        assert!(serde_yaml::from_str::<StatusSet>("[]").is_err());
        assert!(serde_yaml::from_str::<StatusSet>("700").is_err());
        assert!(serde_yaml::from_str::<StatusSet>("2xy").is_err());
    }
}
