//! Routes: request paths collapsed to templates (`/orders/8f3a9c` →
//! `/orders/{id}`), counted with their status classes and the arrivals
//! they start. Ids are recognised by shape (numbers, UUIDs, hex, long
//! random tokens) as lines stream by, and by number afterwards (a
//! segment position where many distinct values sit beside the same
//! neighbours); a handful of example paths per route is kept so a written
//! scenario can send the values the log saw.

use std::collections::HashMap;

/// The placeholder an id segment becomes.
pub const ID: &str = "{id}";

/// Distinct values at one segment position (beside the same other
/// segments) from which the position is taken to hold ids.
const MANY: usize = 20;

/// Example paths kept per route.
const SAMPLES: usize = 200;

/// Routes held before the table is collapsed on the way (memory stays
/// flat however many distinct paths a log has).
const COLLAPSE_AT: usize = 20_000;

/// What the log says of one route.
#[derive(Clone, Debug, Default)]
pub struct Route {
    pub method: String,
    pub template: String,
    pub requests: u64,
    /// Requests by status class: 1xx to 5xx.
    pub status: [u64; 5],
    /// Requests of this route that started a journey.
    pub arrivals: u64,
    /// Raw paths seen (a reservoir sample).
    pub samples: Vec<String>,
    seen: u64,
}

impl Route {
    /// Status classes with their shares, `2xx 97%, 5xx 3%`.
    pub fn classes(&self) -> String {
        let total = self.requests.max(1) as f64;
        let shown: Vec<String> = self
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{}xx {:.0}%", i + 1, *n as f64 * 100.0 / total))
            .collect();
        shown.join(", ")
    }

    /// The values of the placeholders in each sample path, one row per
    /// distinct sample.
    pub fn values(&self) -> Vec<Vec<String>> {
        let places: Vec<usize> = segments(&self.template)
            .enumerate()
            .filter(|(_, s)| s.starts_with('{'))
            .map(|(i, _)| i)
            .collect();
        let mut rows: Vec<Vec<String>> = self
            .samples
            .iter()
            .map(|p| {
                let segs: Vec<&str> = segments(p).collect();
                places
                    .iter()
                    .map(|&i| segs.get(i).copied().unwrap_or("").to_string())
                    .collect()
            })
            .collect();
        rows.sort();
        rows.dedup();
        rows
    }

    fn merge(&mut self, other: Route) {
        self.requests += other.requests;
        self.arrivals += other.arrivals;
        for (a, b) in self.status.iter_mut().zip(other.status) {
            *a += b;
        }
        self.seen += other.seen;
        for s in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(s);
            }
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').skip(1)
}

/// Every route seen, by `METHOD TEMPLATE`.
#[derive(Debug, Default)]
pub struct Table {
    /// Keep query strings in templates (`--keep-query`).
    pub keep_query: bool,
    routes: HashMap<String, Route>,
    key: String,
    template: String,
    /// A cheap generator for the reservoir (no need for a seeded RNG here:
    /// which examples are kept does not change any count).
    lcg: u64,
}

impl Table {
    /// Counts one request; returns nothing, keeps no reference to `path`.
    pub fn add(&mut self, method: &[u8], path: &[u8], status: u16, arrival: bool) {
        template_into(path, self.keep_query, &mut self.template);
        self.key.clear();
        self.key.push_str(&String::from_utf8_lossy(method));
        self.key.push(' ');
        self.key.push_str(&self.template);
        let route = match self.routes.get_mut(self.key.as_str()) {
            Some(r) => r,
            None => {
                if self.routes.len() >= COLLAPSE_AT {
                    self.collapse();
                }
                self.routes
                    .entry(self.key.clone())
                    .or_insert_with(|| Route {
                        method: String::from_utf8_lossy(method).into_owned(),
                        template: self.template.clone(),
                        ..Route::default()
                    })
            }
        };
        route.requests += 1;
        route.arrivals += u64::from(arrival);
        if (100..600).contains(&status) {
            route.status[usize::from(status / 100 - 1)] += 1;
        }
        route.seen += 1;
        if route.samples.len() < SAMPLES {
            route
                .samples
                .push(String::from_utf8_lossy(path).into_owned());
        } else {
            self.lcg = self
                .lcg
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let k = (self.lcg >> 33) % route.seen;
            if (k as usize) < SAMPLES {
                route.samples[k as usize] = String::from_utf8_lossy(path).into_owned();
            }
        }
    }

    /// Merges routes that differ only at a segment position holding many
    /// distinct values (ids of a shape not recognised line by line).
    pub fn collapse(&mut self) {
        loop {
            let mut groups: HashMap<(String, usize, String), Vec<String>> = HashMap::new();
            for (key, r) in &self.routes {
                let segs: Vec<&str> = segments(&r.template).collect();
                for i in 0..segs.len() {
                    if segs[i].starts_with('{') {
                        continue;
                    }
                    let mut rest = segs.clone();
                    rest[i] = "";
                    groups
                        .entry((r.method.clone(), i, rest.join("/")))
                        .or_default()
                        .push(key.clone());
                }
            }
            let Some(((method, i, _), keys)) = groups
                .into_iter()
                .filter(|(_, keys)| keys.len() >= MANY)
                .max_by_key(|(_, keys)| keys.len())
            else {
                return;
            };
            let mut merged: Option<Route> = None;
            for key in keys {
                let Some(r) = self.routes.remove(&key) else {
                    continue;
                };
                match &mut merged {
                    Some(m) => m.merge(r),
                    None => {
                        let mut segs: Vec<String> =
                            segments(&r.template).map(str::to_string).collect();
                        segs[i] = ID.to_string();
                        let template = format!("/{}", segs.join("/"));
                        merged = Some(Route { template, ..r });
                    }
                }
            }
            if let Some(m) = merged {
                let key = format!("{method} {}", m.template);
                match self.routes.get_mut(&key) {
                    Some(existing) => existing.merge(m),
                    None => {
                        self.routes.insert(key, m);
                    }
                }
            }
        }
    }

    /// The routes, most requested first (ties by name, so output is
    /// stable).
    pub fn into_sorted(mut self) -> Vec<Route> {
        self.collapse();
        let mut routes: Vec<Route> = self.routes.into_values().collect();
        routes.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| (&a.method, &a.template).cmp(&(&b.method, &b.template)))
        });
        routes
    }
}

/// Whether a path segment is an id by its shape: a number, a UUID, hex of
/// 6 or more with a digit, or a token of 16 or more mixing letters and
/// digits.
pub fn is_id(seg: &[u8]) -> bool {
    if seg.is_empty() {
        return false;
    }
    if seg.iter().all(u8::is_ascii_digit) {
        return true;
    }
    let digit = seg.iter().any(u8::is_ascii_digit);
    if seg.len() == 36
        && seg.iter().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
    {
        return true;
    }
    if seg.len() >= 6 && digit && seg.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let letter = seg.iter().any(u8::is_ascii_alphabetic);
    seg.len() >= 16
        && digit
        && letter
        && seg
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'='))
}

/// A request target split into its path and what follows it (`?query`
/// or `#fragment`, empty when there is none).
fn split_query(target: &[u8]) -> (&[u8], &[u8]) {
    let cut = target
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    target.split_at(cut)
}

/// Writes the template of `target` into `out`; its query is left out
/// unless `keep_query`.
pub fn template_into(target: &[u8], keep_query: bool, out: &mut String) {
    out.clear();
    let (path, query) = split_query(target);
    for seg in path.split(|&b| b == b'/').skip(1) {
        out.push('/');
        if is_id(seg) {
            out.push_str(ID);
        } else {
            out.push_str(&String::from_utf8_lossy(seg));
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if keep_query {
        out.push_str(&String::from_utf8_lossy(query));
    }
}

/// Whether `path` (without query) fits `template`, where `{...}` stands
/// for any one segment.
pub fn fits(template: &str, target: &[u8]) -> bool {
    let (path, _) = split_query(target);
    let mut t = segments(template);
    let mut p = path.split(|&b| b == b'/').skip(1);
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                if !(ts.starts_with('{') && ts.ends_with('}') && !ps.is_empty())
                    && ts.as_bytes() != ps
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Static assets by the path's extension or the logged content type.
pub fn is_asset(target: &[u8], content_type: &[u8]) -> bool {
    const EXT: [&[u8]; 21] = [
        b"css", b"js", b"mjs", b"map", b"png", b"jpg", b"jpeg", b"gif", b"svg", b"ico", b"webp",
        b"avif", b"woff", b"woff2", b"ttf", b"otf", b"eot", b"mp4", b"webm", b"bmp", b"txt",
    ];
    // Case-insensitive without copying: this runs on every line.
    let (path, _) = split_query(target);
    let last = path.rsplit(|&b| b == b'/').next().unwrap_or(b"");
    if let Some(dot) = last.iter().rposition(|&b| b == b'.') {
        let ext = &last[dot + 1..];
        if EXT.iter().any(|e| e.eq_ignore_ascii_case(ext)) {
            return true;
        }
    }
    [
        "image/",
        "font/",
        "text/css",
        "text/javascript",
        "application/javascript",
        "video/",
    ]
    .iter()
    .any(|p| {
        content_type
            .get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str) -> String {
        let mut s = String::new();
        template_into(path.as_bytes(), false, &mut s);
        s
    }

    #[test]
    fn ids_collapse_by_shape() {
        assert_eq!(t("/storefront/orders/8f3a9c"), "/storefront/orders/{id}");
        assert_eq!(t("/users/42/docs/7?x=1"), "/users/{id}/docs/{id}");
        assert_eq!(t("/s/3f2b8c1e-0d4a-4c8e-9b1a-2f6d7e8c9a0b"), "/s/{id}");
        assert_eq!(t("/t/aZ3kP9qLm2Xw7Rt5"), "/t/{id}");
        assert_eq!(t("/storefront/checkout"), "/storefront/checkout");
        assert_eq!(t("/facade/v2"), "/facade/v2");
        assert_eq!(t(""), "/");
    }

    #[test]
    fn a_position_with_many_values_becomes_an_id() {
        let mut table = Table::default();
        for name in ["alice", "bob", "carol", "dave", "erin", "frank", "grace"] {
            for k in 0..4 {
                table.add(
                    b"GET",
                    format!("/u/{name}{k}x/profile").as_bytes(),
                    200,
                    false,
                );
            }
        }
        table.add(b"GET", b"/u/about", 200, false);
        table.add(b"GET", b"/u/help", 404, false);
        let routes = table.into_sorted();
        assert_eq!(routes[0].template, "/u/{id}/profile");
        assert_eq!(routes[0].requests, 28);
        assert_eq!(routes[0].values().len(), 28);
        assert!(routes.iter().any(|r| r.template == "/u/about"));
        assert_eq!(routes.len(), 3, "{routes:?}");
    }

    #[test]
    fn templates_fit_paths_segment_by_segment() {
        assert!(fits("/orders/{id}", b"/orders/abc?x"));
        assert!(!fits("/orders/{id}", b"/orders/"));
        assert!(!fits("/orders/{id}", b"/orders/a/b"));
        assert!(fits("/", b"/"));
        assert!(is_asset(b"/static/app.JS?v=3", b""));
        assert!(is_asset(b"/logo", b"image/png"));
        assert!(!is_asset(b"/api/orders", b"application/json"));
    }
}
