//! Templated text: request paths, headers, bodies and URLs that mix fixed
//! text, variables captured during a journey (`{ticket}`) and values read
//! from the environment when the scenario loads (`${PARTNER_TOKEN}`).
//!
//! Environment values are secrets: they live only inside `Segment::Env`, and
//! every way of showing a template (`Display`, `Debug`, `Serialize`) writes
//! `${NAME}` instead of the value. The one way to get the value out is
//! `render`, which is what sends a request. Nothing here performs I/O other
//! than reading the process environment at load time.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// One piece of a template.
#[derive(Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// A variable bound while the journey runs (captured, built in, or
    /// declared in the journey's `vars`).
    Var(String),
    /// A value read from the environment when the scenario loaded.
    Env {
        name: String,
        value: String,
    },
}

/// Text with `{var}` and `${ENV}` placeholders; `{{` and `}}` are literal
/// braces.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Template {
    segments: Vec<Segment>,
}

/// Where a template asked for an environment variable that is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Parses `text`, reading `${NAME}` from the process environment.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Self::parse_with(text, &|name| std::env::var(name).ok())
    }

    /// Parses `text` with an explicit environment (for tests and tools).
    pub fn parse_with(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}', '$']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let (name, after) = close(after, text)?;
                let value = env(name).ok_or_else(|| {
                    TemplateError(format!(
                        "environment variable `{name}` is not set; export it before running surge"
                    ))
                })?;
                flush(&mut segments, &mut literal);
                segments.push(Segment::Env {
                    name: name.to_string(),
                    value,
                });
                rest = after;
            } else if let Some(after) = tail.strip_prefix('{') {
                let (name, after) = close(after, text)?;
                flush(&mut segments, &mut literal);
                segments.push(Segment::Var(name.to_string()));
                rest = after;
            } else if tail.starts_with('}') {
                return Err(TemplateError(format!(
                    "unmatched `}}` in `{text}`; write `}}}}` for a literal brace"
                )));
            } else {
                // A `$` not followed by `{` is ordinary text.
                literal.push('$');
                rest = &tail[1..];
            }
        }
        literal.push_str(rest);
        flush(&mut segments, &mut literal);
        Ok(Template { segments })
    }

    /// A template of fixed text only.
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        let segments = if text.is_empty() {
            vec![]
        } else {
            vec![Segment::Text(text)]
        };
        Template { segments }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Names of the journey variables the template needs.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The values read from the environment: what a report must mask.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Env { value, .. } => Some(value.as_str()),
            _ => None,
        })
    }

    /// Whether any part came from the environment (and must not be shown).
    pub fn has_secret(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Env { .. }))
    }

    /// The variable name when the template is exactly one `{var}`; such a
    /// template keeps the captured value's JSON type in a JSON body.
    pub fn sole_var(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [Segment::Var(name)] => Some(name),
            _ => None,
        }
    }

    /// The text with every placeholder filled: the only way to read a
    /// secret back. `lookup` answers for journey variables.
    pub fn render<'v>(
        &self,
        lookup: &dyn Fn(&str) -> Option<Cow<'v, str>>,
    ) -> Result<String, MissingVar> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Env { value, .. } => out.push_str(value),
                Segment::Var(name) => {
                    out.push_str(&lookup(name).ok_or_else(|| MissingVar(name.clone()))?)
                }
            }
        }
        Ok(out)
    }
}

/// A journey variable had no value when a template was rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable `{0}` has no value")]
pub struct MissingVar(pub String);

fn close<'t>(after: &'t str, whole: &str) -> Result<(&'t str, &'t str), TemplateError> {
    let end = after.find('}').ok_or_else(|| {
        TemplateError(format!(
            "unclosed `{{` in `{whole}`; write `{{{{` for a literal brace, or use `json:` for a JSON body"
        ))
    })?;
    let name = &after[..end];
    // `{accounts.phone}`: a column of a data row.
    let valid = match name.split_once('.') {
        Some((data, column)) => is_ident(data) && is_ident(column),
        None => is_ident(name),
    };
    if !valid {
        return Err(TemplateError(format!(
            "`{{{name}}}` in `{whole}` is not a variable name (letters, digits and `_`, or DATA.COLUMN); \
             write `{{{{` for a literal brace, or use `json:` for a JSON body"
        )));
    }
    Ok((name, &after[end + 1..]))
}

fn flush(segments: &mut Vec<Segment>, literal: &mut String) {
    if !literal.is_empty() {
        segments.push(Segment::Text(std::mem::take(literal)));
    }
}

/// Shows the template with secrets as `${NAME}`; never their values.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => f.write_str(&text.replace('{', "{{").replace('}', "}}"))?,
                Segment::Var(name) => write!(f, "{{{name}}}")?,
                Segment::Env { name, .. } => write!(f, "${{{name}}}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({self})")
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        Template::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The schema `format` of a template string.
pub const TEMPLATE_FORMAT: &str = "template";
/// The schema `format` of a JSON body whose strings are templates.
pub const JSON_TEMPLATE_FORMAT: &str = "json-template";

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": TEMPLATE_FORMAT,
            "description": "Text with `{var}` (a journey variable) and `${ENV}` (read from the environment at load time, kept secret) placeholders; `{{` and `}}` are literal braces.",
        })
    }
}

/// A JSON request body whose strings are templates. A string that is
/// exactly one `{var}` takes the variable's JSON value as it was captured,
/// so a captured number stays a number.
#[derive(Clone, PartialEq)]
pub enum JsonTemplate {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Builds the template from a parsed YAML value; `env` as for
    /// [`Template::parse_with`].
    pub fn from_yaml(
        value: &serde_yaml::Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<JsonTemplate, TemplateError> {
        use serde_yaml::Value as Y;
        Ok(match value {
            Y::Null => JsonTemplate::Null,
            Y::Bool(b) => JsonTemplate::Bool(*b),
            Y::Number(n) => JsonTemplate::Number(yaml_number(n)?),
            Y::String(s) => JsonTemplate::String(Template::parse_with(s, env)?),
            Y::Sequence(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(|v| Self::from_yaml(v, env))
                    .collect::<Result<_, _>>()?,
            ),
            Y::Mapping(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| {
                        let key = k.as_str().ok_or_else(|| {
                            TemplateError("keys of a JSON body must be text".into())
                        })?;
                        Ok((key.to_string(), Self::from_yaml(v, env)?))
                    })
                    .collect::<Result<_, TemplateError>>()?,
            ),
            Y::Tagged(_) => {
                return Err(TemplateError(
                    "YAML tags (`!name`) are not supported".into(),
                ));
            }
        })
    }

    /// Every journey variable the body needs.
    pub fn vars(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<&'a str>) {
        self.strings(&mut |t| out.extend(t.vars()));
    }

    /// The values read from the environment: what a report must mask.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.strings(&mut |t| out.extend(t.secrets()));
        out
    }

    /// Calls `f` on every string template of the body.
    fn strings<'a>(&'a self, f: &mut dyn FnMut(&'a Template)) {
        match self {
            JsonTemplate::String(t) => f(t),
            JsonTemplate::Array(items) => items.iter().for_each(|i| i.strings(f)),
            JsonTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.strings(f)),
            _ => {}
        }
    }

    /// Fills the body; `lookup` gives a variable's JSON value.
    pub fn render(
        &self,
        lookup: &dyn Fn(&str) -> Option<serde_json::Value>,
    ) -> Result<serde_json::Value, MissingVar> {
        use serde_json::Value as J;
        Ok(match self {
            JsonTemplate::Null => J::Null,
            JsonTemplate::Bool(b) => J::Bool(*b),
            JsonTemplate::Number(n) => J::Number(n.clone()),
            JsonTemplate::String(t) => match t.sole_var() {
                Some(name) => lookup(name).ok_or_else(|| MissingVar(name.to_string()))?,
                None => J::String(t.render(&|name| lookup(name).map(|v| json_text(&v).into()))?),
            },
            JsonTemplate::Array(items) => J::Array(
                items
                    .iter()
                    .map(|i| i.render(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => J::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(lookup)?)))
                    .collect::<Result<_, MissingVar>>()?,
            ),
        })
    }

    /// The body as JSON with secrets shown as `${NAME}`.
    pub fn redacted(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            JsonTemplate::Null => J::Null,
            JsonTemplate::Bool(b) => J::Bool(*b),
            JsonTemplate::Number(n) => J::Number(n.clone()),
            JsonTemplate::String(t) => J::String(t.to_string()),
            JsonTemplate::Array(items) => J::Array(items.iter().map(Self::redacted).collect()),
            JsonTemplate::Object(fields) => J::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.redacted()))
                    .collect(),
            ),
        }
    }
}

/// A JSON value as it reads inside text: strings without quotes.
pub fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn yaml_number(n: &serde_yaml::Number) -> Result<serde_json::Number, TemplateError> {
    if let Some(i) = n.as_u64() {
        return Ok(i.into());
    }
    if let Some(i) = n.as_i64() {
        return Ok(i.into());
    }
    n.as_f64()
        .and_then(serde_json::Number::from_f64)
        .ok_or_else(|| TemplateError(format!("`{n}` cannot be written in JSON")))
}

impl fmt::Debug for JsonTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonTemplate({})", self.redacted())
    }
}

impl<'de> Deserialize<'de> for JsonTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        JsonTemplate::from_yaml(&value, &|name| std::env::var(name).ok()).map_err(de::Error::custom)
    }
}

impl Serialize for JsonTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(s)
    }
}

impl JsonSchema for JsonTemplate {
    fn schema_name() -> Cow<'static, str> {
        "JsonTemplate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "format": JSON_TEMPLATE_FORMAT,
            "description": "A JSON body written as YAML; its strings are templates (`{var}`, `${ENV}`). A string that is exactly `{var}` keeps the variable's JSON type.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn parses_text_vars_and_env() {
        let t = Template::parse_with("/q/{ticket}?t=${TOKEN}&x={{1}}$5", &env).unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["ticket"]);
        assert!(t.has_secret());
        let rendered = t.render(&|n| (n == "ticket").then(|| "42".into())).unwrap();
        assert_eq!(rendered, "/q/42?t=s3cret&x={1}$5");
    }

    #[test]
    fn display_never_shows_a_secret() {
        let t = Template::parse_with("Bearer ${TOKEN}", &env).unwrap();
        assert_eq!(t.to_string(), "Bearer ${TOKEN}");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&t).unwrap().contains("s3cret"));
    }

    #[test]
    fn missing_env_and_bad_braces_are_explained() {
        let err = Template::parse_with("${NOPE}", &env).unwrap_err();
        assert!(err.0.contains("`NOPE` is not set"), "{err}");
        assert!(
            Template::parse_with("{a b}", &env)
                .unwrap_err()
                .0
                .contains("not a variable")
        );
        assert!(
            Template::parse_with("{open", &env)
                .unwrap_err()
                .0
                .contains("unclosed")
        );
        assert!(
            Template::parse_with("close}", &env)
                .unwrap_err()
                .0
                .contains("unmatched")
        );
    }

    #[test]
    fn display_round_trips_literal_braces() {
        let t = Template::parse_with("a{{b}}c{v}", &env).unwrap();
        assert_eq!(Template::parse_with(&t.to_string(), &env).unwrap(), t);
    }

    #[test]
    fn json_body_keeps_captured_types() {
        let yaml: serde_yaml::Value =
            serde_yaml::from_str("{qty: 3, order: '{order}', note: 'id {order}'}").unwrap();
        let body = JsonTemplate::from_yaml(&yaml, &env).unwrap();
        let out = body.render(&|_| Some(serde_json::json!(17))).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"qty": 3, "order": 17, "note": "id 17"})
        );
        assert_eq!(body.vars(), ["order", "order"]);
    }
}
