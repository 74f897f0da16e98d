//! Reading a HAR as browsers and proxies write it: Chromium's DevTools and
//! Playwright, Firefox, mitmproxy and Charles differ in what they leave
//! out, so every field but `log.entries[].request.{method,url}` and
//! `response.status` is optional. HTTP/2 pseudo-headers (`:authority`) are
//! dropped (the URL says the same), base64 bodies decoded, `_`-prefixed
//! vendor fields ignored, and entries sorted by their start time.

use serde::Deserialize;

use super::HarError;

#[derive(Deserialize)]
struct File {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    #[serde(default)]
    creator: Option<Creator>,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct Creator {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    started_date_time: String,
    #[serde(default)]
    time: Option<f64>,
    request: RawRequest,
    response: RawResponse,
    #[serde(default, rename = "_resourceType")]
    resource_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<Header>,
    #[serde(default)]
    post_data: Option<PostData>,
    #[serde(default)]
    body_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponse {
    status: i64,
    #[serde(default)]
    headers: Vec<Header>,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostData {
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    params: Vec<Param>,
}

/// One part of a form or multipart body, as the HAR lists it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Param {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

/// A request body as recorded.
#[derive(Clone, Debug, Default)]
pub struct RequestBody {
    /// The content type, without parameters, lower case.
    pub mime: String,
    /// The full content type as sent (a multipart boundary included).
    pub content_type: String,
    /// The text, when the HAR kept it.
    pub text: Option<String>,
    pub params: Vec<Param>,
    /// Bytes sent, from `bodySize` or `Content-Length` (0 when unknown).
    pub size: u64,
}

/// One request and its response, as the recording has it.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Its place in the file (1-based), for comments and messages.
    pub entry: usize,
    /// Milliseconds since the epoch.
    pub started_ms: f64,
    /// How long it took, ms.
    pub time_ms: f64,
    pub method: String,
    pub url: url::Url,
    /// Without pseudo-headers, in recorded order and spelling.
    pub headers: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    /// 0 when the browser got no response (blocked, aborted).
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_mime: String,
    /// The response body as text; `None` when the HAR did not keep it.
    pub response_text: Option<String>,
    /// The response body as JSON, when it is: parsed once, here.
    pub response_json: Option<serde_json::Value>,
    /// DevTools' own kind (`document`, `script`, `fetch`...), if written.
    pub resource_type: Option<String>,
}

impl Exchange {
    /// A request header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub fn response_header(&self, name: &str) -> Option<&str> {
        find(&self.response_headers, name)
    }

    /// The request path with its query, as sent.
    pub fn target(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_string(),
        }
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// When the response had fully arrived, ms since the epoch.
    pub fn ended_ms(&self) -> f64 {
        self.started_ms + self.time_ms.max(0.0)
    }
}

fn find<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the recording is and holds.
pub struct Recording {
    /// `Playwright 1.49.1`, `WebInspector 537.36`: who wrote it.
    pub creator: String,
    pub exchanges: Vec<Exchange>,
}

/// Parses a HAR's text. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Recording, HarError> {
    let not_har = |why: String| HarError::NotHar {
        file: file.to_string(),
        why,
    };
    let text = text.trim_start_matches('\u{feff}');
    match serde_json::from_str::<File>(text) {
        Ok(parsed) if !parsed.log.entries.is_empty() => return recording(file, parsed),
        // What is wrong is told from the document's shape below.
        _ => {}
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        not_har(format!(
            "it is not JSON (line {}, column {}: {e})",
            e.line(),
            e.column()
        ))
    })?;
    let entries = value
        .get("log")
        .and_then(|l| l.get("entries"))
        .and_then(|e| e.as_array());
    let Some(entries) = entries else {
        return Err(not_har(
            "it is JSON but has no `log.entries` list, which every HAR has".into(),
        ));
    };
    if entries.is_empty() {
        return Err(HarError::Empty(format!(
            "{file} records no request (`log.entries` is empty); record again with the Network panel open before the page loads"
        )));
    }
    let parsed: File = serde_json::from_value(value).map_err(|e| {
        not_har(format!(
            "a `log.entries` item lacks what a HAR entry has ({e}); each needs `request.method`, `request.url` and `response.status`"
        ))
    })?;
    recording(file, parsed)
}

fn recording(file: &str, parsed: File) -> Result<Recording, HarError> {
    let creator = parsed
        .log
        .creator
        .map(|c| format!("{} {}", c.name, c.version).trim().to_string())
        .unwrap_or_default();
    let mut exchanges = parsed
        .log
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| exchange(file, i + 1, e))
        .collect::<Result<Vec<_>, _>>()?;
    // Proxies write entries as responses complete; the journey is in the
    // order requests started.
    exchanges.sort_by(|a, b| a.started_ms.total_cmp(&b.started_ms));
    Ok(Recording { creator, exchanges })
}

fn exchange(file: &str, entry: usize, e: RawEntry) -> Result<Exchange, HarError> {
    let url = url::Url::parse(&e.request.url).map_err(|why| HarError::NotHar {
        file: file.to_string(),
        why: format!(
            "entry {entry}: `request.url` `{}` is not an absolute URL ({why})",
            e.request.url
        ),
    })?;
    let started_ms = chrono::DateTime::parse_from_rfc3339(&e.started_date_time)
        .map(|t| t.timestamp_micros() as f64 / 1000.0)
        .unwrap_or(0.0);
    let headers = plain(e.request.headers);
    let response_headers = plain(e.response.headers);
    let body = request_body(e.request.post_data, e.request.body_size, &headers);
    let (response_mime, response_text) = match e.response.content {
        Some(c) => {
            let text = c.text.and_then(|t| decode(t, c.encoding.as_deref()));
            (c.mime_type, text)
        }
        None => (String::new(), None),
    };
    let response_mime = if response_mime.is_empty() {
        find(&response_headers, "content-type")
            .unwrap_or("")
            .to_string()
    } else {
        response_mime
    };
    Ok(Exchange {
        entry,
        started_ms,
        time_ms: e.time.unwrap_or(0.0),
        method: e.request.method.to_ascii_uppercase(),
        url,
        headers,
        body,
        status: u16::try_from(e.response.status).unwrap_or(0),
        response_headers,
        response_mime,
        response_json: response_text
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok()),
        response_text,
        resource_type: e.resource_type,
    })
}

/// Headers without HTTP/2 pseudo-headers.
fn plain(headers: Vec<Header>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|h| !h.name.starts_with(':'))
        .map(|h| (h.name, h.value))
        .collect()
}

/// A response body's text: base64 decoded when it was encoded (and kept
/// only when that is text), `None` when it was not saved.
fn decode(text: String, encoding: Option<&str>) -> Option<String> {
    use base64::Engine;
    if encoding.is_some_and(|e| e.eq_ignore_ascii_case("base64")) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?;
        return String::from_utf8(bytes).ok().filter(|t| !t.is_empty());
    }
    (!text.is_empty()).then_some(text)
}

fn request_body(
    post: Option<PostData>,
    body_size: Option<i64>,
    headers: &[(String, String)],
) -> Option<RequestBody> {
    let declared = find(headers, "content-type").unwrap_or("");
    let length = find(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let size = body_size
        .filter(|s| *s > 0)
        .map(|s| s as u64)
        .or(length)
        .unwrap_or(0);
    let (content_type, text, params) = match post {
        Some(p) => {
            let ct = if declared.is_empty() {
                p.mime_type
            } else {
                declared.to_string()
            };
            (ct, p.text.filter(|t| !t.is_empty()), p.params)
        }
        None if size > 0 => (declared.to_string(), None, Vec::new()),
        None => return None,
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let size = if size == 0 {
        text.as_ref().map_or(0, |t| t.len() as u64)
    } else {
        size
    };
    Some(RequestBody {
        mime,
        content_type,
        text,
        params,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_headers_go_and_base64_bodies_are_read() {
        let har = r#"{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:01Z","request":{"method":"get","url":"https://a.test/x","headers":[{"name":":authority","value":"a.test"},{"name":"X-A","value":"1"}]},"response":{"status":200,"headers":[],"content":{"mimeType":"application/json","text":"eyJhIjoxfQ==","encoding":"base64"}}},
        {"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"POST","url":"https://a.test/y","headers":[],"postData":{"mimeType":"application/json","text":"{}"}},"response":{"status":201,"content":{"mimeType":"application/json","text":""}},"_priority":"High"}]}}"#;
        let r = parse("t.har", har).unwrap();
        assert_eq!(r.exchanges[0].entry, 2, "sorted by start time");
        assert_eq!(
            r.exchanges[0].response_text, None,
            "an empty text is no body"
        );
        assert_eq!(r.exchanges[1].method, "GET");
        assert_eq!(r.exchanges[1].headers, vec![("X-A".into(), "1".into())]);
        assert_eq!(r.exchanges[1].response_text.as_deref(), Some("{\"a\":1}"));
    }

    #[test]
    fn what_is_not_a_har_says_what_was_expected() {
        for (text, says) in [
            ("not json", "not JSON (line 1"),
            ("{\"a\":1}", "no `log.entries`"),
            (
                "{\"log\":{\"entries\":[{\"request\":{}}]}}",
                "`request.method`",
            ),
        ] {
            let err = parse("t.har", text).err().unwrap().to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
