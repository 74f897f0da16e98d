//! The routes of a fitted platform, one per distinct request of the
//! scenario's journeys: its method, its path with each varying segment as
//! `{name}`, and an answer made to pass the step's own checks (its
//! expected status, the fields it captures, its `until` and `expect.json`
//! conditions), so the journeys run against the fitted twin unchanged.

use serde_json::{Map, Value};

use crate::scenario::model::{Condition, Step};
use crate::scenario::refs::{CaptureSource, JsonPath, PathStep, StatusPattern};
use crate::scenario::template::Segment;

/// A step's path as a route: literal segments kept, any segment with a
/// variable in it `{name}`, the query left out.
pub fn route_path(step: &Step) -> String {
    let mut text = String::new();
    for s in step.path.segments() {
        match s {
            Segment::Text(t) => text.push_str(t),
            Segment::Var(v) => text.push_str(&format!("{{{v}}}")),
            Segment::Env { name, .. } => text.push_str(&format!("{{{name}}}")),
        }
    }
    let path = text.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|seg| match (seg.find('{'), seg.find('}')) {
            (Some(a), Some(b)) if a < b => {
                format!("{{{}}}", &seg[a + 1..b])
            }
            _ => seg.to_string(),
        })
        .collect();
    format!("/{}", segments.join("/"))
}

/// The status the step expects first (200 for `2xx`).
pub fn status(step: &Step) -> u16 {
    match step.expect.status.0.first() {
        Some(StatusPattern::Code(c)) => *c,
        Some(StatusPattern::Class(n)) => u16::from(*n) * 100,
        None => 200,
    }
}

/// A body that passes the step's captures and conditions.
pub fn body(step: &Step) -> Value {
    let mut root = Value::Object(Map::new());
    for (name, source) in &step.capture {
        if let CaptureSource::Json(path) = source {
            put(&mut root, path, Value::String(format!("fitted-{name}")));
        }
    }
    let conditions = step.until.iter().chain(step.expect.json.iter());
    for c in conditions {
        if let Some(v) = satisfying(c) {
            put(&mut root, &c.path, v);
        }
    }
    root
}

/// A value that meets the condition.
fn satisfying(c: &Condition) -> Option<Value> {
    if let Some(v) = &c.equals {
        return Some(v.clone());
    }
    if let Some(v) = c.one_of.as_ref().and_then(|o| o.first()) {
        return Some(v.clone());
    }
    match (c.at_least, c.at_most) {
        (Some(lo), _) => return Some(serde_json::json!(lo)),
        (None, Some(hi)) => return Some(serde_json::json!(hi)),
        _ => {}
    }
    if let Some(v) = &c.not_equals {
        return Some(match v {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::String("fitted".into()),
        });
    }
    match c.exists {
        Some(false) => None,
        _ => Some(Value::String("fitted".into())),
    }
}

/// Sets `path` in `root` to `value`, making the objects and arrays on the
/// way.
fn put(root: &mut Value, path: &JsonPath, value: Value) {
    let mut here = root;
    for step in &path.0 {
        here = match step {
            PathStep::Key(k) => {
                if !here.is_object() {
                    *here = Value::Object(Map::new());
                }
                here.as_object_mut()
                    .expect("made an object")
                    .entry(k.clone())
                    .or_insert(Value::Null)
            }
            PathStep::Index(i) => {
                if !here.is_array() {
                    *here = Value::Array(Vec::new());
                }
                let items = here.as_array_mut().expect("made an array");
                while items.len() <= *i {
                    items.push(Value::String("fitted".into()));
                }
                &mut items[*i]
            }
        };
    }
    *here = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> Step {
        serde_yaml::from_str(yaml).expect("a step")
    }

    #[test]
    fn a_route_keeps_literal_segments_and_names_the_varying_ones() {
        let s =
            step("{ name: s, method: POST, path: \"/stamping/documents/{document}/stamp?x={y}\" }");
        assert_eq!(route_path(&s), "/stamping/documents/{document}/stamp");
        let s = step("{ name: s, path: \"/orders/ord-{id}\" }");
        assert_eq!(route_path(&s), "/orders/{id}");
    }

    #[test]
    fn the_answer_passes_the_steps_checks() {
        let s = step(
            r#"{ name: w, path: "/jobs/{job}", expect: { status: 202, json: [{ path: "$.state", equals: done }, { path: "$.serials[1]", exists: true }] },
                 until: { path: $.state, one_of: [done, failed] }, poll: { every: 20ms, timeout: 5s },
                 capture: { doc: $.document.id } }"#,
        );
        assert_eq!(status(&s), 202);
        let b = body(&s);
        assert_eq!(b["state"], "done");
        assert_eq!(b["document"]["id"], "fitted-doc");
        assert!(b["serials"][1].is_string());
    }
}
