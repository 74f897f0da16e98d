//! Writing what an import found: the scenario (a new one, or BASE with
//! only `load`, `mix` and `deadline` replaced, its comments kept), the
//! values of each journey's path ids as data files, and with `--exact` the
//! per-second curve. The scenario is checked by the same loader `surge
//! validate` uses before the import says it is done.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::{ImportError, Imported, Options, fit, route_spec, routes::Route};
use crate::import::{sibling, stem, write_whole};

/// Journeys written without a base, at most: the entry routes beyond
/// them are reported with their share.
const MAX_JOURNEYS: usize = 20;

/// `2026-12-06 18:00:05 +07:00` for ms since the epoch shown in `offset`.
pub fn clock(ms: i64, offset_min: i32) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms + i64::from(offset_min) * 60_000)
        .unwrap_or_default()
        .naive_utc();
    let sign = if offset_min < 0 { '-' } else { '+' };
    let o = offset_min.unsigned_abs();
    format!(
        "{} {sign}{:02}:{:02}",
        t.format("%Y-%m-%d %H:%M:%S"),
        o / 60,
        o % 60
    )
}

/// `HHMM` of day at `s` seconds into the window.
fn hhmm(origin_ms: i64, s: f64, offset_min: i32) -> String {
    let c = clock(origin_ms + (s * 1000.0) as i64, offset_min);
    format!("{}{}", &c[11..13], &c[14..16])
}

/// A rate as the format writes it, per second (per minute below 1/s).
pub fn rate(per_s: f64) -> String {
    // Four significant digits: the fit is no finer than that.
    let trim = |v: f64| {
        let decimals = (3 - v.abs().max(1e-9).log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.decimals$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() {
            "0".to_string()
        } else {
            s.to_string()
        }
    };
    if per_s > 0.0 && per_s < 1.0 {
        format!("{}/m", trim(per_s * 60.0))
    } else {
        format!("{}/s", trim(per_s))
    }
}

/// Seconds as the format writes a duration (`1h30m`).
pub fn duration(secs: f64) -> String {
    crate::scenario::units::Duration(std::time::Duration::from_secs(secs.round() as u64))
        .to_string()
}

/// The phases of the fit, named by their time of day (`1800-1930`, with
/// `-2` and on when two share a name).
pub fn phases(imported: &Imported) -> Vec<(String, f64, f64, &fit::Piece)> {
    let offset_min = imported.offset_min;
    let c = &imported.curve;
    let origin = imported.tally.origin_ms;
    let mut seen = std::collections::HashMap::<String, usize>::new();
    imported
        .pieces
        .iter()
        .map(|p| {
            let (a, b) = (c.edge(p.first), c.edge(p.end));
            let base = format!(
                "{}-{}",
                hhmm(origin, a, offset_min),
                hhmm(origin, b, offset_min)
            );
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let name = if *n == 1 { base } else { format!("{base}-{n}") };
            (name, a, b, p)
        })
        .collect()
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::String(k.into()), v);
    }
    Value::Mapping(m)
}

fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

/// The `load` mapping: BASE's other keys kept, phases (or the curve) and
/// scale replaced.
fn load(opts: &Options, imported: &Imported, base: Option<&Value>) -> Value {
    let mut m = match base {
        Some(Value::Mapping(m)) => m.clone(),
        _ => Mapping::new(),
    };
    for k in ["phases", "curve", "scale"] {
        m.remove(k);
    }
    if opts.exact {
        let file = sibling(&opts.out, "curve.csv");
        let name = file
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        m.insert(s("curve"), map(vec![("file", s(name))]));
    } else {
        let list = phases(imported)
            .into_iter()
            .map(|(name, a, b, p)| {
                let mut pairs = vec![("name", s(name)), ("duration", s(duration(b - a)))];
                if p.constant() {
                    pairs.push(("rate", s(rate(p.from))));
                } else {
                    pairs.push(("from", s(rate(p.from))));
                    pairs.push(("to", s(rate(p.to))));
                }
                map(pairs)
            })
            .collect();
        m.insert(s("phases"), Value::Sequence(list));
    }
    if imported.scale != 1.0 {
        m.insert(s("scale"), Value::Number((round4(imported.scale)).into()));
    }
    Value::Mapping(m)
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// A journey name from a route: `GET /storefront/orders/{id}` →
/// `get-storefront-orders-id`.
fn journey_name(r: &Route) -> String {
    let mut out = String::new();
    for c in format!("{} {}", r.method, r.template).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    out.chars()
        .take(56)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Whether a base journey's first path fits a route template: as many
/// segments, each equal, or a placeholder in the base (which takes an id
/// or any one name: `/partners/{partner}/login` fits
/// `/partners/pos/login`).
fn same_path(path: &str, template: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let a: Vec<&str> = path.split('/').collect();
    let b: Vec<&str> = template.split('/').collect();
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || (x.contains('{') && !y.is_empty()))
}

/// Entry routes: those that started at least one journey, most first.
fn entries(imported: &Imported) -> Vec<&Route> {
    let mut e: Vec<&Route> = imported
        .tally
        .routes
        .iter()
        .filter(|r| r.arrivals > 0)
        .collect();
    e.sort_by_key(|r| std::cmp::Reverse(r.arrivals));
    e
}

/// Writes the scenario (and its data and curve files).
pub fn scenario(
    opts: &Options,
    imported: &mut Imported,
    deadline_s: Option<f64>,
) -> Result<(), ImportError> {
    let write_err = |p: &Path, e: std::io::Error| ImportError::Write {
        file: p.display().to_string(),
        reason: e.to_string(),
    };
    let mut written = Vec::new();
    if opts.exact {
        let file = sibling(&opts.out, "curve.csv");
        let counts: Vec<u64> = imported.tally.seconds.iter().map(|s| s[1]).collect();
        crate::scenario::curve::write(&file, &counts).map_err(|e| write_err(&file, e))?;
        written.push(file);
    }
    let header = header(opts, imported);
    let deadline = deadline_s.map(|d| s(duration(d)));
    let text = match &opts.base {
        Some(base) => {
            let text = std::fs::read_to_string(base).map_err(|e| ImportError::Unreadable {
                file: base.display().to_string(),
                reason: e.to_string(),
            })?;
            let doc: Value = serde_yaml::from_str(&text).map_err(|e| ImportError::Unreadable {
                file: base.display().to_string(),
                reason: e.to_string(),
            })?;
            let (mix, unmapped) = base_mix(opts, imported, &doc)?;
            imported.unmapped = unmapped;
            let mut blocks = vec![
                ("load", load(opts, imported, doc.get("load"))),
                ("mix", mix),
            ];
            if let Some(d) = deadline {
                blocks.push(("deadline", d));
            }
            format!("{header}{}", splice(&text, &blocks))
        }
        None => {
            let (doc, files) = fresh(opts, imported, deadline)?;
            written.extend(files);
            format!(
                "{header}{}",
                serde_yaml::to_string(&doc).map_err(|e| ImportError::Write {
                    file: opts.out.display().to_string(),
                    reason: e.to_string(),
                })?
            )
        }
    };
    write_whole(&opts.out, &text).map_err(|e| write_err(&opts.out, e))?;
    written.insert(0, opts.out.clone());
    imported.written.extend(written);
    match crate::scenario::load(&opts.out) {
        Ok(_) => Ok(()),
        Err(problems) => {
            let shown = opts.out.display().to_string();
            let problems = problems
                .iter()
                .map(|p| p.render(&shown))
                .collect::<Vec<_>>()
                .join("\n");
            Err(match opts.base {
                Some(_) => ImportError::BaseInvalid {
                    file: shown,
                    problems,
                    phases: phases(imported)
                        .into_iter()
                        .map(|p| format!("`{}`", p.0))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
                None => ImportError::Invalid {
                    file: shown,
                    problems,
                },
            })
        }
    }
}

/// The header comment: where the load came from and how well it fits.
fn header(opts: &Options, imported: &Imported) -> String {
    let t = &imported.tally;
    let offset_min = imported.offset_min;
    let total = imported.curve.total();
    let files: Vec<String> = t.files.iter().map(|f| f.display().to_string()).collect();
    let (worst, _) = imported.curve.worst(&imported.pieces);
    let how = if opts.entries.is_empty() {
        format!(
            "a client's first request after {} quiet",
            duration(opts.session_gap.as_secs_f64())
        )
    } else {
        format!("requests of {}", opts.entries.join(", "))
    };
    let load = if opts.exact {
        "the arrivals second by second (--exact)".to_string()
    } else {
        format!(
            "{} phases fitted per {}; worst {} {:.1}% off (asked: within {:.0}%, or within the log's own noise)",
            imported.pieces.len(),
            duration(imported.curve.bin),
            duration(imported.curve.bin),
            worst * 100.0,
            opts.max_error * 100.0
        )
    };
    let scale = match (opts.scale, opts.peak) {
        (_, Some(p)) => format!("{:.4} (--peak {}/s)", imported.scale, p),
        (Some(s), _) => format!("{s} (--scale)"),
        _ => "1 (as logged)".into(),
    };
    format!(
        "# Imported by `surge import access-log` from {}.\n\
         # Window: {} to {} ({}); {} requests, {} arrivals ({how}).\n\
         # Load: {load}.\n\
         # Scale: {scale}.\n",
        files.join(", "),
        clock(t.origin_ms, offset_min),
        clock(t.origin_ms + (total * 1000.0) as i64, offset_min),
        duration(total),
        t.requests,
        t.arrivals,
    )
}

/// `mix` for BASE: each entry route's arrivals go to the journey it maps
/// to; the routes no journey takes come back with their share.
fn base_mix(
    opts: &Options,
    imported: &Imported,
    doc: &Value,
) -> Result<(Value, Vec<(String, f64)>), ImportError> {
    let journeys = doc
        .get("journeys")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let mut explicit = Vec::new();
    for m in &opts.maps {
        let (route, journey) = m.rsplit_once('=').ok_or_else(|| {
            ImportError::Option(format!(
                "`--map {m}` is not `METHOD TEMPLATE=JOURNEY`; e.g. --map 'POST /stamping/stamp=stamp'"
            ))
        })?;
        let (method, template) = route_spec(route, "--map")?;
        if !journeys.contains_key(journey) {
            let names: Vec<String> = journeys
                .keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect();
            return Err(ImportError::Option(format!(
                "`--map {m}`: the base has no journey `{journey}`; it has {}",
                names.join(", ")
            )));
        }
        explicit.push((method, template, journey.to_string()));
    }
    let first_step = |j: &Value| -> Option<(String, String)> {
        let step = j.get("steps")?.as_sequence()?.first()?;
        let method = step
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_uppercase();
        let path = step.get("path")?.as_str()?.to_string();
        Some((method, path))
    };
    let mut weights: indexmap::IndexMap<String, u64> = indexmap::IndexMap::new();
    let mut unmapped = Vec::new();
    let total = imported.tally.arrivals.max(1) as f64;
    for r in entries(imported) {
        let target = explicit
            .iter()
            .find(|(m, t, _)| *m == r.method && *t == r.template)
            .map(|e| e.2.clone())
            .or_else(|| {
                journeys.iter().find_map(|(name, j)| {
                    let (m, p) = first_step(j)?;
                    (m == r.method && same_path(&p, &r.template))
                        .then(|| name.as_str().map(String::from))
                        .flatten()
                })
            });
        match target {
            Some(j) => *weights.entry(j).or_default() += r.arrivals,
            None => unmapped.push((
                format!("{} {}", r.method, r.template),
                r.arrivals as f64 / total,
            )),
        }
    }
    if weights.is_empty() {
        return Err(ImportError::Empty(format!(
            "no entry route maps to a journey of the base; name the pairs with --map 'METHOD TEMPLATE=JOURNEY' (entry routes: {})",
            unmapped
                .iter()
                .take(5)
                .map(|u| u.0.clone())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut m = Mapping::new();
    for (j, w) in weights {
        m.insert(s(j), Value::Number(w.into()));
    }
    Ok((Value::Mapping(m), unmapped))
}

/// Replaces (or appends) top-level blocks of a YAML text, keeping
/// everything else as written, comments included.
fn splice(text: &str, blocks: &[(&str, Value)]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let top = |l: &str| {
        l.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && l.contains(':')
    };
    let key_of = |l: &str| l.split(':').next().unwrap_or("").trim().to_string();
    let mut out = String::new();
    let mut done = std::collections::HashSet::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if top(l)
            && let Some((k, v)) = blocks.iter().find(|(k, _)| *k == key_of(l))
        {
            out.push_str(&block(k, v));
            done.insert(*k);
            i += 1;
            while i < lines.len() && !top(lines[i]) && !lines[i].starts_with('#') {
                i += 1;
            }
            continue;
        }
        out.push_str(l);
        out.push('\n');
        i += 1;
    }
    for (k, v) in blocks {
        if !done.contains(k) {
            out.push_str(&block(k, v));
        }
    }
    out
}

fn block(key: &str, v: &Value) -> String {
    serde_yaml::to_string(&map(vec![(key, v.clone())])).unwrap_or_default()
}

/// A journey's data file: columns `v1..vk`; a route whose values were
/// not kept (none seen whole) gets one row of `1`s so the file is valid.
fn write_values(file: &Path, k: usize, rows: &[Vec<String>]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(file)?;
    w.write_record((1..=k).map(|i| format!("v{i}")))?;
    for row in rows {
        w.write_record(row)?;
    }
    if rows.is_empty() {
        w.write_record(vec!["1"; k])?;
    }
    w.flush()?;
    Ok(())
}

/// A scenario of its own: one single-request journey per entry route,
/// its ids from a data file of the values the log saw.
fn fresh(
    opts: &Options,
    imported: &mut Imported,
    deadline: Option<Value>,
) -> Result<(Value, Vec<PathBuf>), ImportError> {
    let dir_name = format!("{}-data", stem(&opts.out));
    let data_dir = opts.out.with_file_name(&dir_name);
    let mut journeys = Mapping::new();
    let mut mix = Mapping::new();
    let mut data = Mapping::new();
    let mut files = Vec::new();
    let mut used = std::collections::HashSet::new();
    let total = imported.tally.arrivals.max(1) as f64;
    let all = entries(imported);
    let left: Vec<(String, f64)> = all
        .iter()
        .skip(MAX_JOURNEYS)
        .map(|r| {
            (
                format!("{} {}", r.method, r.template),
                r.arrivals as f64 / total,
            )
        })
        .collect();
    for r in all.into_iter().take(MAX_JOURNEYS) {
        let mut name = journey_name(r);
        if name.is_empty() {
            name = "root".into();
        }
        while !used.insert(name.clone()) {
            name.push_str("-2");
        }
        let feed = name.replace('-', "_");
        let values = r.values();
        let mut path = String::new();
        let mut k = 0;
        for seg in r.template.split('/').skip(1) {
            path.push('/');
            if seg.starts_with('{') {
                k += 1;
                path.push_str(&format!("{{{feed}.v{k}}}"));
            } else {
                path.push_str(seg);
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let channel = if r.template.starts_with("/stamping") {
            "stamping"
        } else {
            "storefront"
        };
        let mut step = vec![("name", s(r.method.to_lowercase())), ("path", s(path))];
        if r.method != "GET" {
            step.insert(1, ("method", s(r.method.clone())));
        }
        let mut journey = vec![
            (
                "description",
                s(format!("{} {} from the log", r.method, r.template)),
            ),
            ("channel", s(channel)),
        ];
        if k > 0 {
            std::fs::create_dir_all(&data_dir).map_err(|e| ImportError::Write {
                file: data_dir.display().to_string(),
                reason: e.to_string(),
            })?;
            let file = data_dir.join(format!("{name}.csv"));
            let rows: Vec<Vec<String>> = values
                .into_iter()
                .filter(|row| row.len() == k && row.iter().all(|v| !v.is_empty()))
                .collect();
            write_values(&file, k, &rows).map_err(|e| ImportError::Write {
                file: file.display().to_string(),
                reason: e.to_string(),
            })?;
            files.push(file);
            data.insert(
                s(feed.clone()),
                map(vec![
                    ("file", s(format!("{dir_name}/{name}.csv"))),
                    ("pick", s("random")),
                ]),
            );
            journey.push(("feed", s(feed)));
        }
        journey.push(("steps", Value::Sequence(vec![map(step)])));
        journeys.insert(s(name.clone()), map(journey));
        mix.insert(s(name), Value::Number(r.arrivals.into()));
    }
    imported.unmapped.extend(left);
    let name = crate::import::scenario_name(&opts.out);
    let mut doc = vec![
        ("version", Value::Number(1.into())),
        ("name", s(name)),
        ("seed", Value::Number(1.into())),
        ("target", map(vec![("base_url", s(opts.target.clone()))])),
        ("load", load(opts, imported, None)),
    ];
    if let Some(d) = deadline {
        doc.push(("deadline", d));
    }
    doc.push(("mix", Value::Mapping(mix)));
    if !data.is_empty() {
        doc.push(("data", Value::Mapping(data)));
    }
    doc.push(("journeys", Value::Mapping(journeys)));
    Ok((map(doc), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_names_read_back() {
        assert_eq!(rate(12.5), "12.5/s");
        assert_eq!(rate(0.5), "30/m");
        assert_eq!(rate(0.0), "0/s");
        assert!(crate::scenario::units::parse_rate(&rate(1.0 / 3.0)).is_ok());
        assert!(same_path("/orders/{order_id}", "/orders/{id}"));
        assert!(!same_path("/orders/{order_id}/x", "/orders/{id}"));
        assert!(same_path(
            "/partners/{partner}/login",
            "/partners/pos/login"
        ));
        assert!(!same_path("/partners/pos/login", "/partners/{id}/login"));
        assert!(
            crate::scenario::refs::parse_at("1800-1930").is_ok_and(|a| matches!(
                a,
                crate::scenario::refs::At::Phase { ref phase, .. } if phase == "1800-1930"
            ))
        );
    }

    #[test]
    fn splicing_keeps_comments_and_other_blocks() {
        let text = "# top\nversion: 1\nload:\n  phases: []\n  drain: 5s\n# about mix\nmix: {a: 1}\njourneys: {}\n";
        let out = splice(
            text,
            &[
                ("load", map(vec![("drain", s("5s"))])),
                ("deadline", s("1h")),
            ],
        );
        assert_eq!(
            out,
            "# top\nversion: 1\nload:\n  drain: 5s\n# about mix\nmix: {a: 1}\njourneys: {}\ndeadline: 1h\n"
        );
    }
}
