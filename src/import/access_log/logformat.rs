//! Access-log line formats: nginx's `log_format` strings (and `combined`
//! and `common`, which Apache writes alike) compiled once into a list of
//! variables and the literal text between them, and JSON lines with
//! configurable field names. A line is read as bytes, without copying:
//! logs carry invalid UTF-8 and 10 million lines must read in seconds.

use std::borrow::Cow;
use std::fmt;

/// nginx's (and Apache's) `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// nginx's (and Apache's) `common` format.
pub const COMMON: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;

/// One request as the log tells it: slices of the line, except a JSON
/// string holding escapes (`"\/a"`), which is unescaped into its own
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// When it was logged, milliseconds since the Unix epoch (UTC).
    pub ms: i64,
    /// The line's UTC offset in minutes, when the log wrote one.
    pub offset_min: Option<i32>,
    pub method: Cow<'a, [u8]>,
    /// The request target: a path with its query, or something else for
    /// `CONNECT`, `OPTIONS *` and junk.
    pub target: Cow<'a, [u8]>,
    pub status: u16,
    /// Who sent it: the address (or `--client` field) and the user agent.
    pub client: (Cow<'a, [u8]>, Cow<'a, [u8]>),
    pub content_type: Cow<'a, [u8]>,
}

/// Why a format string cannot be used, with the byte where it goes wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}\n  {format}\n  {caret:>width$}", caret = "^", width = at + 1)]
pub struct FormatError {
    pub format: String,
    pub at: usize,
    pub message: String,
}

/// Why a line could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// The text between two variables was not where the format puts it.
    Shape(&'static str),
    Time,
    Status,
    Json,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Shape(var) => write!(f, "does not match the format at `${var}`"),
            LineError::Time => f.write_str("has no time the format can read"),
            LineError::Status => f.write_str("has no status code"),
            LineError::Json => f.write_str("is not a JSON object with the named fields"),
        }
    }
}

/// What a variable of the format gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    TimeLocal,
    TimeIso,
    Msec,
    Request,
    Method,
    Uri,
    Status,
    Addr,
    Agent,
    ContentType,
    /// Whatever `--client` names instead of the address.
    Client,
    Other,
}

/// A compiled `log_format`: `lead`, then each variable followed by the
/// literal text up to the next one.
#[derive(Clone, Debug)]
pub struct Pattern {
    lead: Vec<u8>,
    fields: Vec<(Var, &'static str, Vec<u8>)>,
    names: Vec<String>,
    /// The client comes from a field named by `--client` (not the address).
    custom_client: bool,
}

/// JSON lines: which keys hold what.
#[derive(Clone, Debug)]
pub struct JsonFields {
    pub time: String,
    pub method: String,
    pub path: String,
    pub status: String,
    pub client: String,
    pub agent: String,
    pub content_type: String,
}

impl Default for JsonFields {
    fn default() -> Self {
        JsonFields {
            time: "time".into(),
            method: "method".into(),
            path: "path".into(),
            status: "status".into(),
            client: "remote_addr".into(),
            agent: "user_agent".into(),
            content_type: "content_type".into(),
        }
    }
}

impl JsonFields {
    /// Applies `--field NAME=KEY`.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, key) = spec
            .split_once('=')
            .ok_or_else(|| format!("`--field {spec}` is not NAME=KEY; e.g. --field time=ts"))?;
        let slot = match name {
            "time" => &mut self.time,
            "method" => &mut self.method,
            "path" => &mut self.path,
            "status" => &mut self.status,
            "client" => &mut self.client,
            "user_agent" => &mut self.agent,
            "content_type" => &mut self.content_type,
            _ => {
                return Err(format!(
                    "`--field {spec}`: `{name}` is not a field surge reads; name one of time, method, path, status, client, user_agent, content_type"
                ));
            }
        };
        *slot = key.to_string();
        Ok(())
    }
}

/// A log's line format.
#[derive(Clone, Debug)]
pub enum Format {
    Pattern(Pattern),
    Json(JsonFields),
}

impl Format {
    /// Reads one line (without its newline).
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, LineError> {
        match self {
            Format::Pattern(p) => p.parse(line),
            Format::Json(f) => parse_json(f, line),
        }
    }
}

fn var_of(name: &str, client: Option<&str>) -> Var {
    if client == Some(name) {
        return Var::Client;
    }
    match name {
        "time_local" => Var::TimeLocal,
        "time_iso8601" => Var::TimeIso,
        "msec" => Var::Msec,
        "request" => Var::Request,
        "request_method" => Var::Method,
        "request_uri" | "uri" => Var::Uri,
        "status" => Var::Status,
        "remote_addr" => Var::Addr,
        "http_user_agent" => Var::Agent,
        "sent_http_content_type" => Var::ContentType,
        _ => Var::Other,
    }
}

impl Pattern {
    /// Compiles an nginx `log_format` string. `client` names the variable
    /// (without `$`) that tells clients apart instead of `$remote_addr`.
    pub fn compile(format: &str, client: Option<&str>) -> Result<Pattern, FormatError> {
        let err = |at: usize, message: String| FormatError {
            format: format.to_string(),
            at,
            message,
        };
        let bytes = format.as_bytes();
        let mut lead = Vec::new();
        let mut fields: Vec<(Var, &'static str, Vec<u8>)> = Vec::new();
        let mut names = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                match fields.last_mut() {
                    Some(f) => f.2.push(bytes[i]),
                    None => lead.push(bytes[i]),
                }
                i += 1;
                continue;
            }
            let braced = bytes.get(i + 1) == Some(&b'{');
            let start = i + 1 + usize::from(braced);
            let mut end = start;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            if end == start {
                return Err(err(
                    i,
                    "`$` is not followed by a variable name; write `$name` or `${name}`".into(),
                ));
            }
            if braced && bytes.get(end) != Some(&b'}') {
                return Err(err(end, "`${` is not closed by `}`".into()));
            }
            if let Some(prev) = fields.last()
                && prev.2.is_empty()
            {
                return Err(err(
                    i,
                    format!(
                        "`${}` follows `${}` with nothing between them, so a line cannot be split there; logs put a space or quote between fields",
                        &format[start..end],
                        names.last().map_or("", |n: &String| n.as_str())
                    ),
                ));
            }
            let name = &format[start..end];
            names.push(name.to_string());
            fields.push((var_of(name, client), leak_name(name), Vec::new()));
            i = end + usize::from(braced);
        }
        let has = |v: Var| fields.iter().any(|f| f.0 == v);
        if !(has(Var::TimeLocal) || has(Var::TimeIso) || has(Var::Msec)) {
            return Err(err(
                format.len(),
                "the format has no time: it needs `$time_local`, `$time_iso8601` or `$msec`".into(),
            ));
        }
        if !(has(Var::Request) || has(Var::Uri)) {
            return Err(err(
                format.len(),
                "the format has no request: it needs `$request` (or `$request_method` and `$request_uri`)".into(),
            ));
        }
        if !has(Var::Status) {
            return Err(err(format.len(), "the format has no `$status`".into()));
        }
        if let Some(c) = client
            && !names.iter().any(|n| n == c)
        {
            return Err(err(
                format.len(),
                format!(
                    "`--client {c}` names no variable of the format; it has {}",
                    names.join(", ")
                ),
            ));
        }
        Ok(Pattern {
            lead,
            fields,
            names,
            custom_client: client.is_some(),
        })
    }

    fn parse<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, LineError> {
        let first = self.fields.first().map_or("", |f| f.1);
        let mut rest = line
            .strip_prefix(self.lead.as_slice())
            .ok_or(LineError::Shape(first))?;
        let empty = || Cow::Borrowed(&b""[..]);
        let mut r = Record {
            ms: 0,
            offset_min: None,
            method: empty(),
            target: empty(),
            status: 0,
            client: (empty(), empty()),
            content_type: empty(),
        };
        let mut time = false;
        let mut status = false;
        for (var, name, literal) in &self.fields {
            let (value, after) = split_field(rest, literal).ok_or(LineError::Shape(name))?;
            rest = after;
            match var {
                Var::TimeLocal => {
                    let (ms, off) = time_local(value).ok_or(LineError::Time)?;
                    (r.ms, r.offset_min, time) = (ms, Some(off), true);
                }
                Var::TimeIso => {
                    let (ms, off) = iso8601(value).ok_or(LineError::Time)?;
                    (r.ms, r.offset_min, time) = (ms, off, true);
                }
                Var::Msec => {
                    r.ms = msec(value).ok_or(LineError::Time)?;
                    time = true;
                }
                Var::Request => {
                    let (m, t) = request(value);
                    r.method = Cow::Borrowed(m);
                    r.target = Cow::Borrowed(t);
                }
                Var::Method => r.method = Cow::Borrowed(value),
                Var::Uri => r.target = Cow::Borrowed(value),
                Var::Status => {
                    r.status = digits(value)
                        .filter(|s| (100..1000).contains(s))
                        .ok_or(LineError::Status)? as u16;
                    status = true;
                }
                Var::Addr if !self.custom_client => r.client.0 = Cow::Borrowed(value),
                Var::Client => r.client.0 = Cow::Borrowed(value),
                Var::Agent => r.client.1 = Cow::Borrowed(value),
                Var::ContentType => r.content_type = Cow::Borrowed(value),
                Var::Addr | Var::Other => {}
            }
        }
        if !time {
            return Err(LineError::Time);
        }
        if !status {
            return Err(LineError::Status);
        }
        Ok(r)
    }

    /// The variables of the format, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Variable names live as long as the program: a format has a handful.
fn leak_name(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

/// The value up to the next `literal` (the rest of the line when the
/// variable is last). A `"` escaped by a backslash inside a quoted value
/// (Apache's `\"`) does not end it.
fn split_field<'a>(rest: &'a [u8], literal: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    if literal.is_empty() {
        return Some((rest, b""));
    }
    let finder = memchr::memmem::find_iter(rest, literal);
    for at in finder {
        if literal[0] == b'"' && escaped(rest, at) {
            continue;
        }
        return Some((&rest[..at], &rest[at + literal.len()..]));
    }
    None
}

/// Whether the byte at `at` follows an odd number of backslashes.
fn escaped(text: &[u8], at: usize) -> bool {
    text[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// `GET /path?q HTTP/1.1` → (`GET`, `/path?q`); a request line that is
/// not three words (`-`, junk) gives an empty method.
fn request(value: &[u8]) -> (&[u8], &[u8]) {
    let mut words = value.splitn(3, |&b| b == b' ');
    let method = words.next().unwrap_or(b"");
    match words.next() {
        Some(target) if !method.is_empty() => (method, target),
        _ => (b"", value),
    }
}

fn digits(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month(name: &[u8]) -> Option<u32> {
    const NAMES: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as u32 + 1)
}

fn num(v: &[u8], range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    digits(v).filter(|n| range.contains(n))
}

fn to_ms(date: (i64, u32, u32), hms: (u32, u32, u32), frac_ms: i64, offset_min: i32) -> i64 {
    let days = days_from_civil(date.0, date.1, date.2);
    let secs =
        days * 86_400 + i64::from(hms.0 * 3600 + hms.1 * 60 + hms.2) - i64::from(offset_min) * 60;
    secs * 1000 + frac_ms
}

/// `06/Dec/2026:18:00:00 +0700` → (ms UTC, offset minutes).
pub fn time_local(v: &[u8]) -> Option<(i64, i32)> {
    if v.len() != 26 || v[2] != b'/' || v[6] != b'/' || v[11] != b':' || v[20] != b' ' {
        return None;
    }
    let day = num(&v[0..2], 1..=31)?;
    let mon = month(&v[3..6])?;
    let year = digits(&v[7..11])?;
    let h = num(&v[12..14], 0..=23)?;
    let m = num(&v[15..17], 0..=59)?;
    let s = num(&v[18..20], 0..=60)?;
    let off = offset(&v[21..])?;
    Some((to_ms((i64::from(year), mon, day), (h, m, s), 0, off), off))
}

/// `+0700`, `-05:30`, `Z` → minutes.
fn offset(v: &[u8]) -> Option<i32> {
    if v == b"Z" {
        return Some(0);
    }
    let sign = match v.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits_only: Vec<u8> = v[1..].iter().copied().filter(|&b| b != b':').collect();
    if digits_only.len() != 4 {
        return None;
    }
    let h = num(&digits_only[0..2], 0..=23)?;
    let m = num(&digits_only[2..4], 0..=59)?;
    Some(sign * (h * 60 + m) as i32)
}

/// ISO 8601 / RFC 3339: `2026-12-06T18:00:00+07:00`, with optional
/// fraction, `Z`, or no offset (then UTC, offset unknown).
pub fn iso8601(v: &[u8]) -> Option<(i64, Option<i32>)> {
    if v.len() < 19 || v[4] != b'-' || v[7] != b'-' || !matches!(v[10], b'T' | b' ') {
        return None;
    }
    let year = digits(&v[0..4])?;
    let mon = num(&v[5..7], 1..=12)?;
    let day = num(&v[8..10], 1..=31)?;
    if v[13] != b':' || v[16] != b':' {
        return None;
    }
    let h = num(&v[11..13], 0..=23)?;
    let m = num(&v[14..16], 0..=59)?;
    let s = num(&v[17..19], 0..=60)?;
    let mut rest = &v[19..];
    let mut frac_ms = 0i64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let f = &rest[1..1 + n];
        for (i, d) in f.iter().take(3).enumerate() {
            frac_ms += i64::from(d - b'0') * [100, 10, 1][i];
        }
        rest = &rest[1 + n..];
    }
    let off = if rest.is_empty() {
        None
    } else {
        Some(offset(rest)?)
    };
    Some((
        to_ms(
            (i64::from(year), mon, day),
            (h, m, s),
            frac_ms,
            off.unwrap_or(0),
        ),
        off,
    ))
}

/// `1765000000.123` (nginx `$msec`) → ms.
fn msec(v: &[u8]) -> Option<i64> {
    let (whole, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if whole.is_empty() || whole.len() > 12 || !whole.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = whole
        .iter()
        .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    let mut ms = 0i64;
    for (i, d) in frac.iter().take(3).enumerate() {
        if !d.is_ascii_digit() {
            return None;
        }
        ms += i64::from(d - b'0') * [100, 10, 1][i];
    }
    Some(secs * 1000 + ms)
}

/// An epoch number: milliseconds when it is too large to be seconds (after
/// the year 5138), else seconds with an optional fraction.
fn epoch(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some(if n >= 1e11 {
        n as i64
    } else {
        (n * 1000.0).round() as i64
    })
}

fn parse_json<'a>(f: &JsonFields, line: &'a [u8]) -> Result<Record<'a>, LineError> {
    let v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(line).map_err(|_| LineError::Json)?;
    let (ms, offset_min) = match v.get(&f.time) {
        Some(serde_json::Value::Number(n)) => n.as_f64().and_then(epoch).map(|ms| (ms, None)),
        Some(serde_json::Value::String(s)) => iso8601(s.as_bytes()).or_else(|| {
            let ms = s.parse::<f64>().ok().and_then(epoch)?;
            Some((ms, None))
        }),
        _ => None,
    }
    .ok_or(LineError::Time)?;
    let status = match v.get(&f.status) {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .filter(|s| (100..1000).contains(s))
    .ok_or(LineError::Status)? as u16;
    let slice = |key: &str| -> Cow<'a, [u8]> {
        match v.get(key) {
            Some(serde_json::Value::String(s)) => find_in(line, s.as_bytes())
                .map_or_else(|| Cow::Owned(s.as_bytes().to_vec()), Cow::Borrowed),
            _ => Cow::Borrowed(b""),
        }
    };
    let target = slice(&f.path);
    if target.is_empty() {
        return Err(LineError::Json);
    }
    Ok(Record {
        ms,
        offset_min,
        method: slice(&f.method),
        target,
        status,
        client: (slice(&f.client), slice(&f.agent)),
        content_type: slice(&f.content_type),
    })
}

/// The bytes of `value` where they stand quoted in `line` (a slice of the
/// line, so most fields cost no copy); `None` when the JSON escaped them.
fn find_in<'a>(line: &'a [u8], value: &[u8]) -> Option<&'a [u8]> {
    if value.is_empty() {
        return Some(b"");
    }
    let needle: Vec<u8> = [b"\"", value, b"\""].concat();
    memchr::memmem::find(line, &needle).map(|at| &line[at + 1..at + 1 + value.len()])
}

/// Compiles `--format`: `combined`, `common`, `json`, or an nginx
/// `log_format` string.
pub fn compile(
    format: &str,
    client: Option<&str>,
    fields: JsonFields,
) -> Result<Format, FormatError> {
    match format {
        "combined" => Pattern::compile(COMBINED, client).map(Format::Pattern),
        "common" => Pattern::compile(COMMON, client).map(Format::Pattern),
        "json" => Ok(Format::Json(JsonFields {
            client: client.map_or(fields.client.clone(), str::to_string),
            ..fields
        })),
        text if text.contains('$') => Pattern::compile(text, client).map(Format::Pattern),
        text => Err(FormatError {
            format: text.to_string(),
            at: 0,
            message: "not a format: write `combined`, `common`, `json`, or an nginx log_format string with $variables".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combined() -> Format {
        compile("combined", None, JsonFields::default()).unwrap()
    }

    #[test]
    fn a_combined_line_reads_with_escaped_quotes_and_ipv6() {
        let line = br#"2001:db8::1 - - [06/Dec/2026:18:00:05 +0700] "GET /storefront/orders/8f3a9c?x=1 HTTP/1.1" 200 512 "-" "Mozilla \"quoted\" 5.0""#;
        let r = combined().parse(line).unwrap();
        assert_eq!(&*r.method, b"GET");
        assert_eq!(&*r.target, b"/storefront/orders/8f3a9c?x=1");
        assert_eq!(r.status, 200);
        assert_eq!(&*r.client.0, b"2001:db8::1");
        assert_eq!(&*r.client.1, br#"Mozilla \"quoted\" 5.0"#);
        assert_eq!(r.offset_min, Some(420));
        // 2026-12-06T11:00:05Z
        assert_eq!(r.ms, 1_796_554_805_000);
    }

    #[test]
    fn time_forms_agree() {
        let a = time_local(b"06/Dec/2026:18:00:05 +0700").unwrap().0;
        let b = iso8601(b"2026-12-06T18:00:05+07:00").unwrap().0;
        let c = iso8601(b"2026-12-06T11:00:05.000Z").unwrap().0;
        let d = msec(b"1796554805.000").unwrap();
        assert_eq!((a, b, c), (d, d, d));
        assert_eq!(time_local(b"31/Feb/2026:25:00:00 +0700"), None);
    }

    #[test]
    fn a_format_that_cannot_split_is_located() {
        let e =
            Pattern::compile("$remote_addr$status [$time_local] \"$request\"", None).unwrap_err();
        assert_eq!(e.at, 12, "{e}");
        let e = Pattern::compile("$remote_addr $ [$time_local]", None).unwrap_err();
        assert_eq!(e.at, 13, "{e}");
        let e = Pattern::compile("$remote_addr \"$request\" $status", None).unwrap_err();
        assert!(e.message.contains("no time"), "{e}");
        let e = Pattern::compile(COMBINED, Some("http_x_real_ip")).unwrap_err();
        assert!(e.message.contains("names no variable"), "{e}");
    }

    #[test]
    fn a_custom_format_with_msec_and_a_client_header_reads() {
        let f = compile(
            "$msec $http_x_forwarded_for \"$request\" $status $request_time",
            Some("http_x_forwarded_for"),
            JsonFields::default(),
        )
        .unwrap();
        let r = f
            .parse(b"1796554805.250 10.1.2.3 \"POST /api/quota HTTP/1.1\" 503 0.012")
            .unwrap();
        assert_eq!(
            (r.ms, &*r.client.0, r.status),
            (1_796_554_805_250, &b"10.1.2.3"[..], 503)
        );
    }

    #[test]
    fn json_lines_take_epoch_milliseconds_and_renamed_fields() {
        let mut fields = JsonFields::default();
        fields.set("time=ts").unwrap();
        fields.set("path=uri").unwrap();
        assert!(fields.set("colour=x").is_err());
        let f = compile("json", None, fields).unwrap();
        let r = f
            .parse(br#"{"ts": 1796554805250, "method": "GET", "uri": "/a/1", "status": 200}"#)
            .unwrap();
        assert_eq!((r.ms, &*r.target), (1_796_554_805_250, &b"/a/1"[..]));
        // PHP and others escape slashes: the path is unescaped.
        let r = f
            .parse(br#"{"ts": 1796554805250, "uri": "\/a\/2", "status": 200}"#)
            .unwrap();
        assert_eq!(&*r.target, b"/a/2");
        let r = f
            .parse(br#"{"ts": "2026-12-06T18:00:05+07:00", "uri": "/b", "status": "404"}"#)
            .unwrap();
        assert_eq!(
            (r.ms, r.status, r.offset_min),
            (1_796_554_805_000, 404, Some(420))
        );
        assert_eq!(f.parse(b"{\"ts\": 1}").unwrap_err(), LineError::Status);
    }

    #[test]
    fn junk_and_cut_lines_are_errors_not_panics() {
        let f = combined();
        for line in [
            &b""[..],
            b"garbage",
            b"1.2.3.4 - - [06/Dec/2026:18:00:05 +0700] \"GET / HTTP/1.1\" 2",
            b"1.2.3.4 - - [06/Dec/2026:18:00:05 +0700] \"GET / HT",
            b"\xff\xfe - - [06/Dec/2026:18:00:05 +0700] \"GET /\xff HTTP/1.1\" 200 1 \"-\" \"\xc3\"",
        ] {
            let _ = f.parse(line);
        }
        assert!(
            f.parse(b"1.2.3.4 - - [06/Dec/2026:18:00:05 +0700] \"GET / HT")
                .is_err()
        );
        let r = f
            .parse(b"1.2.3.4 - - [06/Dec/2026:18:00:05 +0700] \"-\" 400 0 \"-\" \"-\"")
            .unwrap();
        assert_eq!((&*r.method, r.status), (&b""[..], 400));
    }
}
