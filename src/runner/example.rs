//! Why a try of a step failed, kept cheaply on the hot path (`Why`: a code,
//! the response body as reference-counted bytes, the transport error) and
//! put into words only for the few failures the recorder keeps as examples:
//! "expected status 200, got 404", "`$.state` was `\"failed\"`, expected
//! `\"done\"`", the TLS or connection error's text. Every text is masked:
//! the values of `${ENV}` secrets and of secret data columns become `***`.

use axum::body::Bytes;
use serde_json::Value;

use super::plan::StepPlan;
use crate::recorder::Example;
use crate::scenario::model::{Condition, ErrorClass};
use crate::scenario::template::Template;

/// Bytes of a response body an example keeps.
const BODY_BYTES: usize = 200;

/// Why one try failed.
pub enum Why {
    /// The request could not be built or handed to goose.
    Request(&'static str),
    /// No response: the error says why (refused, TLS, timeout...).
    Transport(Box<dyn std::error::Error + Send + Sync>),
    Status {
        got: u16,
        body: Bytes,
    },
    NotJson {
        body: Bytes,
    },
    /// `expect.json[index]` did not hold.
    Expect {
        index: usize,
        body: Bytes,
    },
    /// `until` had not held when polling ran out of time.
    Until {
        body: Bytes,
    },
    /// A capture found nothing.
    Capture {
        name: String,
        body: Bytes,
    },
}

/// What an example is built from besides the failure.
pub struct Context<'a> {
    pub step: &'a StepPlan,
    pub index: u32,
    pub class: ErrorClass,
    /// The path as sent, secrets shown as placeholders.
    pub path: String,
    /// Values never to show.
    pub secrets: Vec<&'a str>,
}

/// The failure in words, masked.
pub fn example(why: &Why, cx: &Context<'_>) -> Example {
    let step = cx.step;
    let (what, body) = match why {
        Why::Request(reason) => (reason.to_string(), None),
        Why::Transport(e) => (crate::human::error_chain(e.as_ref()), None),
        Why::Status { got, body } => (
            format!("expected status {}, got {got}", step.expect.status),
            Some(body),
        ),
        Why::NotJson { body } => {
            let reason = serde_json::from_slice::<Value>(body)
                .err()
                .map_or_else(String::new, |e| format!(" ({e})"));
            (format!("the body is not JSON{reason}"), Some(body))
        }
        Why::Expect { index, body } => {
            let what = step
                .expect
                .json
                .get(*index)
                .map_or_else(String::new, |c| condition(c, body));
            (what, Some(body))
        }
        Why::Until { body } => {
            let what = step.until.as_ref().map_or_else(String::new, |c| {
                let within = step
                    .poll
                    .as_ref()
                    .map_or_else(String::new, |p| format!(" within {}", p.timeout));
                format!("`until` never held{within}: {}", condition(c, body))
            });
            (what, Some(body))
        }
        Why::Capture { name, body } => {
            let from = step
                .captures
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(String::new, |(_, s)| format!(" from `{s}`"));
            (format!("capture `{name}`{from} found nothing"), Some(body))
        }
    };
    let body = body
        .filter(|b| !b.is_empty())
        .map(|b| mask(&start_of(b), &cx.secrets));
    Example {
        step: cx.index,
        class: cx.class,
        request: mask(&format!("{} {}", step.method, cx.path), &cx.secrets),
        what: mask(&what, &cx.secrets),
        body,
    }
}

/// The request path shown in an example: variables as sent, `${ENV}`
/// secrets and `hidden` variables as their placeholders.
pub fn shown_path(path: &Template, value: &dyn Fn(&str) -> Option<String>) -> String {
    use crate::scenario::template::Segment;
    let mut out = String::new();
    for segment in path.segments() {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Var(name) => match value(name) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&format!("{{{name}}}")),
            },
            Segment::Env { name, .. } => out.push_str(&format!("${{{name}}}")),
        }
    }
    out
}

/// `$.state` was `"failed"`, expected `"done"`.
fn condition(c: &Condition, body: &[u8]) -> String {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let found = c
        .path
        .get(&doc)
        .map_or_else(|| "absent".to_string(), |v| format!("`{}`", short(v)));
    let expected = if let Some(v) = &c.equals {
        format!("`{}`", short(v))
    } else if let Some(v) = &c.not_equals {
        format!("anything but `{}`", short(v))
    } else if let Some(options) = &c.one_of {
        let shown: Vec<String> = options.iter().map(|v| format!("`{}`", short(v))).collect();
        format!("one of {}", shown.join(", "))
    } else if let Some(exists) = c.exists {
        if exists { "present" } else { "absent" }.to_string()
    } else if let Some(min) = c.at_least {
        format!("at least {min}")
    } else if let Some(max) = c.at_most {
        format!("at most {max}")
    } else {
        "a value".to_string()
    };
    format!("`{}` was {found}, expected {expected}", c.path)
}

/// A JSON value's text, cut to 80 characters.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// The start of a body, as text.
fn start_of(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if body.len() > BODY_BYTES {
        text.push('…');
    }
    text
}

/// `text` with every secret value replaced by `***`.
fn mask(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::refs::parse_json_path;

    #[test]
    fn conditions_say_what_was_found_and_what_was_expected() {
        let c = Condition {
            path: parse_json_path("$.state").unwrap(),
            equals: Some(Value::from("done")),
            not_equals: None,
            one_of: None,
            exists: None,
            at_least: None,
            at_most: None,
        };
        assert_eq!(
            condition(&c, br#"{"state": "failed"}"#),
            r#"`$.state` was `"failed"`, expected `"done"`"#
        );
        assert_eq!(
            condition(&c, b"{}"),
            r#"`$.state` was absent, expected `"done"`"#
        );
    }

    #[test]
    fn secrets_are_masked_and_bodies_cut() {
        assert_eq!(
            mask("token=abc123&x=abc123", &["abc123"]),
            "token=***&x=***"
        );
        let long = vec![b'a'; 300];
        let cut = start_of(&long);
        assert_eq!(cut.chars().count(), BODY_BYTES + 1);
    }

    #[test]
    fn paths_show_secrets_as_placeholders() {
        let t = Template::parse_with("/otp/{accounts.otp}/{id}?k=${KEY}", &|_| {
            Some("s3cret".into())
        })
        .unwrap();
        let shown = shown_path(&t, &|name| (name == "id").then(|| "42".to_string()));
        assert_eq!(shown, "/otp/{accounts.otp}/42?k=${KEY}");
    }
}
