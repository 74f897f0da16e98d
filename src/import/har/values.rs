//! What a recorded value is: returned by the platform (worth capturing when
//! a later request sends it back), typed by the person (a journey
//! variable), a secret (read from the environment), or generated where
//! the recording cannot see (a to-do). The rules are deterministic and
//! deliberately cautious: a value too short or too common to identify
//! (`true`, `2`, `ok`) is never correlated, so an import never invents a
//! dependency that is not there.

use serde_json::Value;

use crate::import::access_log::routes::is_id;

/// A leaf of a JSON document: its path (RFC 9535, `$.order.id`), the key
/// it sits under (`id`), and its text (`O5`, `12`).
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub path: String,
    pub key: String,
    pub text: String,
    /// A JSON number rather than a string.
    pub number: bool,
}

/// Every string and number leaf of `value`, in document order. Booleans
/// and nulls identify nothing and are left out.
pub fn leaves(value: &Value) -> Vec<Leaf> {
    let mut out = Vec::new();
    walk(value, "$".to_string(), "", &mut out);
    out
}

fn walk(value: &Value, path: String, key: &str, out: &mut Vec<Leaf>) {
    match value {
        Value::String(s) => out.push(Leaf {
            path,
            key: key.to_string(),
            text: s.clone(),
            number: false,
        }),
        Value::Number(n) => out.push(Leaf {
            path,
            key: key.to_string(),
            text: n.to_string(),
            number: true,
        }),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), key, out);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                walk(v, member(&path, k), k, out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// `$.a` + `b` → `$.a.b`, or `$.a['b c']` when `b c` is not a plain name.
pub fn member(path: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{path}.{key}")
    } else {
        let quoted = key.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{path}['{quoted}']")
    }
}

/// Words a platform returns and a client sends back for reasons of its
/// own (a status filter, a language): never evidence of a dependency.
const COMMON: [&str; 16] = [
    "ok", "true", "false", "null", "none", "yes", "no", "id", "en", "json", "v1", "v2", "v3",
    "asc", "desc", "all",
];

/// Whether `text`, seen in a response and sent back later, is specific
/// enough to say the request depends on that response: ids (`C3`, `O15`,
/// UUIDs, tokens), codes of 4 digits or more, long random words. Not
/// booleans, small numbers (`2`, `100`), or ordinary words.
pub fn identifies(text: &str) -> bool {
    let len = text.chars().count();
    if !(2..=2048).contains(&len) || COMMON.iter().any(|c| c.eq_ignore_ascii_case(text)) {
        return false;
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if digits == len {
        return len >= 4;
    }
    if digits == 0 {
        // Words are common; a token of letters alone must look random.
        let mixed = text.chars().any(|c| c.is_ascii_uppercase())
            && text.chars().any(|c| c.is_ascii_lowercase());
        return len >= 16 || (mixed && len >= 10 && !text.contains(' '));
    }
    // Letters with digits: `C3`, `O15`, `T0270a9c2b`; but not prose.
    letters > 0 && !text.contains(' ') || len >= 8
}

/// A value that looks generated (a UUID, a long token, long hex): sent
/// without any earlier response returning it, it is a to-do.
pub fn looks_generated(text: &str) -> bool {
    text.len() >= 12 && !text.bytes().all(|b| b.is_ascii_digit()) && is_id(text.as_bytes())
}

/// The kind of thing a person types, by the field's name or the value's
/// shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typed {
    Phone,
    Email,
    User,
    Name,
}

fn key_words(key: &str) -> String {
    key.to_ascii_lowercase().replace(['-', ' '], "_")
}

/// What a person typed, if `value` under `key` is that.
pub fn typed(key: &str, value: &str) -> Option<Typed> {
    let k = key_words(key);
    let has = |words: &[&str]| {
        words
            .iter()
            .any(|w| k == *w || k.ends_with(&format!("_{w}")))
    };
    let email_shaped = value.contains('@')
        && value.rsplit('@').next().is_some_and(|d| d.contains('.'))
        && !value.contains(' ');
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let phone_shaped = (9..=15).contains(&digits)
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'))
        && (value.starts_with('0') || value.starts_with('+'));
    if has(&["email", "mail", "e_mail"]) || email_shaped {
        return Some(Typed::Email);
    }
    if has(&[
        "phone",
        "msisdn",
        "mobile",
        "hp",
        "no_hp",
        "telephone",
        "tel",
    ]) || phone_shaped
    {
        return Some(Typed::Phone);
    }
    if has(&[
        "username",
        "user",
        "login",
        "user_name",
        "nik",
        "npwp",
        "account",
    ]) {
        return Some(Typed::User);
    }
    if has(&[
        "name",
        "nama",
        "full_name",
        "fullname",
        "first_name",
        "last_name",
    ]) {
        return Some(Typed::Name);
    }
    None
}

/// A per-arrival template for a typed value: one phone number, email or
/// user name per applicant; a name stays as typed.
pub fn per_arrival(kind: Typed, value: &str) -> String {
    let escaped = |s: &str| s.replace('{', "{{").replace('}', "}}");
    match kind {
        Typed::Phone => {
            let head: String = value.chars().take(4).collect();
            format!("{}{{arrival}}", escaped(&head))
        }
        Typed::Email => match value.rsplit_once('@') {
            Some((local, domain)) => format!(
                "{}{{arrival}}@{}",
                escaped(local.split('+').next().unwrap_or(local)),
                escaped(domain)
            ),
            None => format!("{}{{arrival}}", escaped(value)),
        },
        Typed::User => format!("{}{{arrival}}", escaped(value)),
        Typed::Name => escaped(value),
    }
}

/// Whether a field by this name holds a secret: a password, a PIN, an
/// API key, a client secret.
pub fn secret_key(key: &str) -> bool {
    let k = key_words(key);
    [
        "password",
        "passwd",
        "pwd",
        "pass",
        "pin",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "access_key",
        "private_key",
        "x_api_key",
    ]
    .iter()
    .any(|w| k == *w || k.ends_with(&format!("_{w}")))
}

/// Whether a cookie by this name (or with this value) carries a session.
pub fn session_cookie(name: &str, value: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["sess", "sid", "token", "auth", "jwt", "login"]
        .iter()
        .any(|w| n.contains(w))
        || looks_generated(value)
}

/// An environment variable's name for a secret under `key`:
/// `api-key` → `API_KEY`.
pub fn env_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "SECRET_");
    }
    out
}

/// A variable's name from a JSON key or header name: `order_id`,
/// `location`; `x-request-id` → `x_request_id`.
pub fn var_name(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "value".into(),
        Some(c) if c.is_ascii_digit() => format!("v{out}"),
        _ => out,
    }
}

/// Whether `value` occurs in a page's own text as a quoted constant
/// (`"kiosk"`, `'id'`): then the page sends it, not the server.
pub fn quoted_in(page: &str, value: &str) -> bool {
    ['"', '\'', '`']
        .iter()
        .any(|q| page.contains(&format!("{q}{value}{q}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_identify_and_words_do_not() {
        for id in [
            "C3",
            "O15",
            "211262",
            "T0270a9c2b",
            "ef99db9a83f44bc36a67eb36c2bae50a",
            "EM2024000000005001",
            "/storefront/orders/O5",
        ] {
            assert!(identifies(id), "{id}");
        }
        for common in ["2", "100", "ok", "true", "done", "credited", "id", "a", ""] {
            assert!(!identifies(common), "{common}");
        }
    }

    #[test]
    fn typed_values_get_one_per_applicant() {
        assert_eq!(typed("phone", "081234567890"), Some(Typed::Phone));
        assert_eq!(typed("to", "+6281234567"), Some(Typed::Phone));
        assert_eq!(typed("contact", "ani@example.com"), Some(Typed::Email));
        assert_eq!(typed("quantity", "2"), None);
        assert_eq!(per_arrival(Typed::Phone, "081234567890"), "0812{arrival}");
        assert_eq!(
            per_arrival(Typed::Email, "ani+x@mail.test"),
            "ani{arrival}@mail.test"
        );
    }

    #[test]
    fn leaves_name_their_paths() {
        let v: Value =
            serde_json::json!({"a": {"order id": "O5", "n": 12, "ok": true}, "l": ["x1"]});
        let got: Vec<(String, String)> = leaves(&v).into_iter().map(|l| (l.path, l.text)).collect();
        assert_eq!(
            got,
            vec![
                ("$.a['order id']".into(), "O5".into()),
                ("$.a.n".into(), "12".into()),
                ("$.l[0]".into(), "x1".into())
            ]
        );
        assert!(secret_key("password") && secret_key("client-secret") && !secret_key("pinned"));
        assert_eq!(env_name("x-api-key"), "X_API_KEY");
        assert_eq!(var_name("Order-ID"), "order_id");
    }
}
