//! The structural check: walks a parsed document against the JSON Schema
//! that the model derives, and reports every unknown key, missing key,
//! wrong type and malformed value at once, each at its path, with a
//! suggestion where a near miss is likely. Checking against the schema
//! means the file an editor accepts and the file `surge validate` accepts
//! are the same. It covers the subset of JSON Schema that schemars emits,
//! plus the `format`s of `units`, `refs` and `template`, whose parsers are
//! called directly so the message is the parser's own. Cross-references
//! (does that journey exist?) are `semantic`'s business.

use serde_json::Value as J;
use serde_yaml::Value as Y;

use super::diagnostic::{Path, Problem, did_you_mean, one_of, suggestion};
use super::refs;
use super::template::{JSON_TEMPLATE_FORMAT, JsonTemplate, TEMPLATE_FORMAT, Template};
use super::units;

/// Every structural problem of `doc` against `schema` (a root schema with
/// `$defs`).
pub fn check(schema: &J, doc: &Y) -> Vec<Problem> {
    let walker = Walker { root: schema };
    let mut out = Vec::new();
    walker.walk(schema, doc, &Path::root(), &mut out);
    out
}

struct Walker<'s> {
    root: &'s J,
}

type TextCheck = fn(&str) -> Result<(), String>;

/// Parsers of the formats written as text, by `format`.
fn text_format(format: &str) -> Option<TextCheck> {
    fn ok<T>(r: Result<T, String>) -> Result<(), String> {
        r.map(|_| ())
    }
    Some(match format {
        "duration" => |s| ok(units::parse_duration(s)),
        "rate" => |s| ok(units::parse_rate(s)),
        "percent" => |s| ok(units::parse_percent(s)),
        "size" => |s| ok(units::parse_size(s)),
        "byte-rate" => |s| ok(units::parse_byte_rate(s)),
        "name" => refs::check_name,
        "channel" => |s| ok(refs::parse_channel(s)),
        "fault-target" => |s| ok(refs::parse_fault_on(s)),
        "moment" => |s| ok(refs::parse_at(s)),
        "step-ref" => |s| ok(refs::parse_step_ref(s)),
        "json-path" => |s| ok(refs::parse_json_path(s)),
        "capture-source" => |s| ok(refs::parse_capture_source(s)),
        _ => return None,
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// How a value reads in a message: the scalar itself, or its kind.
fn preview(value: &Y) -> String {
    match value {
        Y::Null => "nothing (null)".into(),
        Y::Bool(b) => format!("`{b}`"),
        Y::Number(n) => format!("`{n}`"),
        Y::String(s) if s.chars().count() > 40 => {
            format!("`{}…`", s.chars().take(40).collect::<String>())
        }
        Y::String(s) => format!("`{s}`"),
        Y::Sequence(_) => "a list".into(),
        Y::Mapping(_) => "a mapping".into(),
        Y::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

fn kind_of(value: &Y) -> &'static str {
    match value {
        Y::Null => "nothing (null)",
        Y::Bool(_) => "true or false",
        Y::Number(n) if n.is_i64() || n.is_u64() => "a whole number",
        Y::Number(_) => "a number",
        Y::String(_) => "text",
        Y::Sequence(_) => "a list",
        Y::Mapping(_) => "a mapping",
        Y::Tagged(_) => "a tagged value",
    }
}

fn has_type(value: &Y, ty: &str) -> bool {
    match (ty, value) {
        ("null", Y::Null) | ("boolean", Y::Bool(_)) | ("number", Y::Number(_)) => true,
        ("integer", Y::Number(n)) => n.is_i64() || n.is_u64(),
        ("string", Y::String(_)) | ("array", Y::Sequence(_)) | ("object", Y::Mapping(_)) => true,
        _ => false,
    }
}

fn describe_type(ty: &str) -> &'static str {
    match ty {
        "null" => "nothing",
        "boolean" => "`true` or `false`",
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "text",
        "array" => "a list",
        "object" => "a mapping",
        _ => "a value",
    }
}

fn types_of(schema: &J) -> Vec<&str> {
    match schema.get("type") {
        Some(J::String(t)) => vec![t.as_str()],
        Some(J::Array(ts)) => ts.iter().filter_map(J::as_str).collect(),
        _ => vec![],
    }
}

fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}

impl<'s> Walker<'s> {
    fn resolve(&self, mut schema: &'s J) -> &'s J {
        // A bounded loop: schemars never chains more than a few refs.
        for _ in 0..16 {
            let Some(reference) = schema.get("$ref").and_then(J::as_str) else {
                break;
            };
            let Some(name) = reference.strip_prefix("#/$defs/") else {
                break;
            };
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(def) => schema = def,
                None => break,
            }
        }
        schema
    }

    fn walk(&self, schema: &'s J, value: &Y, path: &Path, out: &mut Vec<Problem>) {
        let schema = self.resolve(schema);
        if schema == &J::Bool(true) || schema.as_object().is_some_and(|o| o.is_empty()) {
            return;
        }
        if let Y::Tagged(tagged) = value {
            out.push(Problem::error(
                path.clone(),
                format!("YAML tags such as `{}` are not supported", tagged.tag),
            ));
            return;
        }
        if let Some(format) = schema.get("format").and_then(J::as_str)
            && self.check_format(format, value, path, out)
        {
            return;
        }
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
            let branches: Vec<&J> = branches.as_array().into_iter().flatten().collect();
            self.alternatives(&branches, value, path, out);
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(J::as_array) {
            self.check_enum(allowed, value, path, out);
            return;
        }
        if let Some(constant) = schema.get("const") {
            self.check_enum(std::slice::from_ref(constant), value, path, out);
            return;
        }
        let types = types_of(schema);
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            out.push(self.type_problem(&types, value, path));
            return;
        }
        match value {
            Y::Mapping(map) => self.check_object(schema, map, path, out),
            Y::Sequence(items) => self.check_array(schema, items, path, out),
            Y::Number(n) => self.check_number(schema, n, path, out),
            Y::String(s) => check_plain_string(s, path, out),
            _ => {}
        }
    }

    /// Checks our own formats; returns false for formats it does not own
    /// (schemars' `uint32`, `double`, ...), which the caller then treats
    /// by their `type`.
    fn check_format(&self, format: &str, value: &Y, path: &Path, out: &mut Vec<Problem>) -> bool {
        let result = if let Some(parse) = text_format(format) {
            match value {
                Y::String(s) => parse(s),
                // A number where a unit was wanted: the parser explains
                // (`30` has no unit; write `30s`).
                Y::Number(n) => parse(&n.to_string())
                    .and(Err(format!("expected text, found {}", preview(value)))),
                other => Err(format!("expected text, found {}", kind_of(other))),
            }
        } else if format == TEMPLATE_FORMAT {
            match value {
                Y::String(s) => Template::parse_with(s, &env).map(|_| ()).map_err(|e| e.0),
                Y::Number(_) | Y::Bool(_) => Ok(()),
                other => Err(format!("expected text, found {}", kind_of(other))),
            }
        } else if format == JSON_TEMPLATE_FORMAT {
            JsonTemplate::from_yaml(value, &env)
                .map(|_| ())
                .map_err(|e| e.0)
        } else if format == refs::STATUS_SET_FORMAT {
            refs::status_set_from_yaml(value).map(|_| ())
        } else {
            return false;
        };
        if let Err(message) = result {
            let quote =
                matches!(value, Y::Number(_) | Y::Bool(_)) && message.starts_with("expected text");
            let problem = Problem::error(path.clone(), message);
            out.push(if quote {
                problem.with_hint("quote it to make it text")
            } else {
                problem
            });
        }
        true
    }

    fn type_problem(&self, types: &[&str], value: &Y, path: &Path) -> Problem {
        let wanted: Vec<&str> = types
            .iter()
            .filter(|t| **t != "null")
            .map(|t| describe_type(t))
            .collect();
        let wanted = match wanted.as_slice() {
            [] => "nothing".to_string(),
            [one] => one.to_string(),
            many => many.join(" or "),
        };
        let problem = Problem::error(
            path.clone(),
            format!("expected {wanted}, found {}", preview(value)),
        );
        match value {
            Y::Null => problem
                .with_hint("an empty value reads as null; write the value, or remove the key"),
            Y::String(s) if types.contains(&"integer") && s.parse::<f64>().is_ok() => {
                problem.with_hint(format!("remove the quotes: `{s}`"))
            }
            _ => problem,
        }
    }

    fn check_enum(&self, allowed: &[J], value: &Y, path: &Path, out: &mut Vec<Problem>) {
        let names: Vec<&str> = allowed.iter().filter_map(J::as_str).collect();
        let matches = match value {
            Y::String(s) => names.contains(&s.as_str()),
            Y::Number(n) => allowed.iter().any(|a| a.as_f64() == n.as_f64()),
            Y::Bool(b) => allowed.contains(&J::Bool(*b)),
            _ => false,
        };
        if matches {
            return;
        }
        let word = value.as_str().unwrap_or_default();
        out.push(
            Problem::error(
                path.clone(),
                format!(
                    "unknown value {}; expected {}",
                    preview(value),
                    one_of(&names)
                ),
            )
            .hint_opt(suggestion(word, names.iter().copied())),
        );
    }

    fn check_object(
        &self,
        schema: &'s J,
        map: &serde_yaml::Mapping,
        path: &Path,
        out: &mut Vec<Problem>,
    ) {
        let props = schema.get("properties").and_then(J::as_object);
        let additional = schema.get("additionalProperties");
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                out.push(
                    Problem::error(
                        path.key(&key_text(k)),
                        format!("keys must be text, found {}", preview(k)),
                    )
                    .with_hint("quote the key")
                    .at_key(),
                );
                continue;
            };
            let child = path.key(key);
            if let Some(prop) = props.and_then(|p| p.get(key)) {
                self.walk(prop, v, &child, out);
                continue;
            }
            match additional {
                Some(J::Bool(false)) => out.push(unknown_key(key, props, child)),
                Some(extra @ J::Object(_)) => self.walk(extra, v, &child, out),
                _ => {}
            }
        }
        for required in schema
            .get("required")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = required.as_str() else {
                continue;
            };
            if map.contains_key(name) {
                continue;
            }
            let description = props
                .and_then(|p| p.get(name))
                .map(|p| self.describe(p))
                .filter(|d| !d.is_empty());
            out.push(
                Problem::error(path.clone(), format!("missing key `{name}`"))
                    .hint_opt(description.map(|d| format!("`{name}`: {d}")))
                    .at_key(),
            );
        }
    }

    /// The first sentence of a property's description, looking through a
    /// `$ref` when the property has none of its own.
    fn describe(&self, prop: &'s J) -> String {
        let text = prop
            .get("description")
            .or_else(|| self.resolve(prop).get("description"))
            .and_then(J::as_str)
            .unwrap_or_default();
        first_sentence(text).to_string()
    }

    fn check_array(&self, schema: &'s J, items: &[Y], path: &Path, out: &mut Vec<Problem>) {
        if let Some(min) = schema.get("minItems").and_then(J::as_u64)
            && (items.len() as u64) < min
        {
            out.push(Problem::error(
                path.clone(),
                format!(
                    "the list is empty; it needs at least {min} item{}",
                    if min == 1 { "" } else { "s" }
                ),
            ));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.walk(item_schema, item, &path.index(i), out);
            }
        }
    }

    fn check_number(
        &self,
        schema: &J,
        n: &serde_yaml::Number,
        path: &Path,
        out: &mut Vec<Problem>,
    ) {
        let Some(x) = n.as_f64() else { return };
        if !x.is_finite() {
            out.push(Problem::error(
                path.clone(),
                format!("`{n}` is not a finite number"),
            ));
            return;
        }
        if let Some(min) = schema.get("minimum").and_then(J::as_f64)
            && x < min
        {
            out.push(Problem::error(
                path.clone(),
                format!("`{n}` is below the minimum of {min}"),
            ));
        }
        if let Some(max) = schema.get("maximum").and_then(J::as_f64)
            && x > max
        {
            out.push(Problem::error(
                path.clone(),
                format!("`{n}` is above the maximum of {max}"),
            ));
        }
    }

    /// A value that must match one of several shapes (`oneOf`/`anyOf`):
    /// finds the branch the author meant, to report its problems rather
    /// than every branch's. Long because choosing that branch is the point.
    fn alternatives(&self, branches: &[&'s J], value: &Y, path: &Path, out: &mut Vec<Problem>) {
        let branches: Vec<&'s J> = branches.iter().map(|b| self.resolve(b)).collect();
        let is_null_schema = |b: &&J| types_of(b) == ["null"];
        if value.is_null() && branches.iter().any(is_null_schema) {
            return;
        }
        let live: Vec<&'s J> = branches
            .into_iter()
            .filter(|b| !is_null_schema(b))
            .collect();
        if let [only] = live.as_slice() {
            self.walk(only, value, path, out);
            return;
        }
        let mut attempts = Vec::new();
        for branch in &live {
            let mut found = Vec::new();
            self.walk(branch, value, path, &mut found);
            if found.is_empty() {
                return;
            }
            attempts.push(found);
        }
        let tags: Vec<Option<&str>> = live.iter().map(|b| tag_of(b)).collect();
        let tag_names: Vec<&str> = tags.iter().flatten().copied().collect();
        let consts: Vec<&str> = live.iter().flat_map(|b| const_strings(b)).collect();
        match value {
            Y::String(s) if !consts.is_empty() || !tag_names.is_empty() => {
                let problem = if tag_names.contains(&s.as_str()) {
                    Problem::error(path.clone(), format!("`{s}` takes parameters")).with_hint(
                        format!("write `{s}: {{...}}` (`{s}: {{}}` when the defaults suit)"),
                    )
                } else {
                    let choices: Vec<&str> = consts.iter().chain(&tag_names).copied().collect();
                    Problem::error(
                        path.clone(),
                        format!("unknown value `{s}`; expected {}", one_of(&choices)),
                    )
                    .hint_opt(suggestion(s, choices.iter().copied()))
                };
                out.push(problem);
            }
            Y::Mapping(map) if !tag_names.is_empty() => {
                let keys: Vec<&str> = map.keys().filter_map(Y::as_str).collect();
                match keys.as_slice() {
                    [key] if tag_names.contains(key) => {
                        let i = tags.iter().position(|t| t == &Some(*key)).unwrap_or(0);
                        out.append(&mut attempts[i]);
                    }
                    [key] => out.push(
                        Problem::error(
                            path.key(key),
                            format!("unknown kind `{key}`; expected {}", one_of(&tag_names)),
                        )
                        .hint_opt(suggestion(key, tag_names.iter().copied()))
                        .at_key(),
                    ),
                    _ => out.push(Problem::error(
                        path.clone(),
                        format!(
                            "write exactly one of {}, found {}",
                            one_of(&tag_names),
                            if keys.is_empty() {
                                "none".to_string()
                            } else {
                                one_of(&keys)
                            }
                        ),
                    )),
                }
            }
            _ => {
                // Report against the branch whose type fits, if any.
                let fitting = live.iter().position(|b| {
                    let types = types_of(b);
                    !types.is_empty() && types.iter().any(|t| has_type(value, t))
                });
                match fitting {
                    Some(i) => out.append(&mut attempts[i]),
                    None => {
                        let types: Vec<&str> = live.iter().flat_map(|b| types_of(b)).collect();
                        out.push(self.type_problem(&types, value, path));
                    }
                }
            }
        }
    }
}

/// A non-text key as the source map names it, so the problem can be
/// placed at the key.
fn key_text(key: &Y) -> String {
    match key {
        Y::Number(n) => n.to_string(),
        Y::Bool(b) => b.to_string(),
        Y::Sequence(_) | Y::Mapping(_) => super::source::COMPLEX_KEY.to_string(),
        _ => String::new(),
    }
}

/// The tag of an externally tagged enum variant: an object schema with a
/// single required property.
fn tag_of(branch: &J) -> Option<&str> {
    let required = branch.get("required")?.as_array()?;
    match required.as_slice() {
        [J::String(tag)] if branch.get("properties")?.as_object()?.len() == 1 => Some(tag),
        _ => None,
    }
}

fn const_strings(branch: &J) -> Vec<&str> {
    if let Some(c) = branch.get("const").and_then(J::as_str) {
        return vec![c];
    }
    branch
        .get("enum")
        .and_then(J::as_array)
        .map(|a| a.iter().filter_map(J::as_str).collect())
        .unwrap_or_default()
}

fn unknown_key(key: &str, props: Option<&serde_json::Map<String, J>>, path: Path) -> Problem {
    let known: Vec<&str> = props
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let hint = match did_you_mean(key, known.iter().copied()) {
        Some(close) => Some(format!("did you mean `{close}`?")),
        None if known.is_empty() => Some("this mapping takes no keys".to_string()),
        None if known.len() <= 12 => Some(format!("expected {}", one_of(&known))),
        None => None,
    };
    Problem::error(path, format!("unknown key `{key}`"))
        .hint_opt(hint)
        .at_key()
}

/// Plain text fields are not templates: a `${...}` there would be sent
/// literally, which is never what was meant.
fn check_plain_string(s: &str, path: &Path, out: &mut Vec<Problem>) {
    if s.contains("${") {
        out.push(
            Problem::error(path.clone(), "`${...}` is not expanded here")
                .with_hint("environment variables are read only in request fields: URLs, paths, headers, bodies and `vars`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(doc: &str) -> Vec<String> {
        let schema = super::super::schema::json_schema();
        let value: Y = serde_yaml::from_str(doc).unwrap();
        check(schema, &value)
            .into_iter()
            .map(|p| format!("{}: {} [{}]", p.path, p.message, p.hint.unwrap_or_default()))
            .collect()
    }

    const MINIMAL: &str = "version: 1\nname: x\ntarget: {twin: {}}\nload: {phases: [{name: a, duration: 5s, rate: 1/s}]}\njourneys: {j: {channel: storefront, steps: [{name: s, path: /}]}}\n";

    #[test]
    fn minimal_scenario_is_structurally_sound() {
        assert_eq!(problems(MINIMAL), Vec::<String>::new());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let doc = MINIMAL
            .replace("duration: 5s, rate: 1/s", "duraton: 5s, rate: 30")
            .replace("name: x", "name: x\nsede: 3");
        let found = problems(&doc);
        assert!(
            found
                .iter()
                .any(|p| p.contains("unknown key `sede`") && p.contains("`seed`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("unknown key `duraton`") && p.contains("`duration`")),
            "{found:?}"
        );
        assert!(found.iter().any(|p| p.contains("has no unit")), "{found:?}");
    }

    #[test]
    fn explains_enum_and_tag_mistakes() {
        let doc = format!(
            "{MINIMAL}faults: [{{at: 1s, for: 1s, on: twin/core, fault: {{outgae: {{}}}}}}, {{at: 1s, for: 1s, on: twin/core, fault: outage}}]\n"
        )
        .replace("rate: 1/s}]", "rate: 1/s}], arrivals: poison");
        let found = problems(&doc);
        assert!(
            found
                .iter()
                .any(|p| p.contains("unknown value `poison`") && p.contains("`poisson`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("unknown kind `outgae`") && p.contains("`outage`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("`outage` takes parameters")),
            "{found:?}"
        );
    }

    #[test]
    fn env_only_in_templates() {
        let doc = MINIMAL.replace("name: x", "name: x\ndescription: ${HOME}");
        assert!(
            problems(&doc)
                .iter()
                .any(|p| p.contains("not expanded here"))
        );
        let doc = MINIMAL.replace("path: /", "path: '/${SURGE_SURELY_UNSET_VAR}'");
        assert!(
            problems(&doc)
                .iter()
                .any(|p| p.contains("`SURGE_SURELY_UNSET_VAR` is not set"))
        );
    }
}
