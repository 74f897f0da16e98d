//! Writing an imported journey: as a scenario of its own, or added to
//! BASE with everything else in it kept as written (comments included).
//! Each step carries a comment naming the HAR entries it came from; the
//! to-do list sits above the journey and beside the steps it concerns.
//! Bodies that are files, and the `--data` CSV, are written beside it.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::journey::{Body, Built, Step};
use super::{HarError, Options};
use crate::import::{plural, stem, write_whole};

fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

/// Lines indented by `n` spaces (blank lines left blank).
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Comment lines, each `# `-prefixed.
fn comment(text: &str) -> String {
    text.lines().map(|l| format!("# {l}\n")).collect()
}

/// `1200` ms → `1.2s`; `300` → `300ms`.
fn millis(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(100) {
        let secs = ms as f64 / 1000.0;
        format!("{}s", format!("{secs:.1}").trim_end_matches(".0"))
    } else {
        format!("{ms}ms")
    }
}

/// What the files written beside the scenario are.
pub struct Written {
    pub files: Vec<PathBuf>,
}

/// A file a step's body goes to, named after the step.
fn body_file(opts: &Options, step: &Step) -> (String, PathBuf) {
    let dir = format!("{}-files", stem(&opts.out));
    let ext = match &step.body {
        Body::File { content_type, .. } if content_type.starts_with("multipart/") => "multipart",
        _ => "bin",
    };
    let rel = format!("{dir}/{}.{ext}", step.name);
    (rel.clone(), opts.out.with_file_name(rel))
}

fn step_value(opts: &Options, b: &Built, step: &Step) -> Value {
    let mut m = Mapping::new();
    m.insert(s("name"), s(step.name.clone()));
    if step.channel != b.channel {
        m.insert(s("channel"), s(step.channel.clone()));
    }
    if step.method != "GET" {
        m.insert(s("method"), s(step.method.clone()));
    }
    m.insert(s("path"), s(step.path.clone()));
    if !step.headers.is_empty() {
        let mut h = Mapping::new();
        for (k, v) in &step.headers {
            h.insert(s(k.clone()), s(v.clone()));
        }
        m.insert(s("headers"), Value::Mapping(h));
    }
    match &step.body {
        Body::None => {}
        Body::Json(v) => {
            m.insert(s("json"), serde_yaml::to_value(v).unwrap_or(Value::Null));
        }
        Body::Text { text, content_type } => {
            m.insert(s("text"), s(text.clone()));
            if !content_type.is_empty() {
                m.insert(s("content_type"), s(content_type.clone()));
            }
        }
        Body::File { content_type, .. } => {
            m.insert(s("file"), s(body_file(opts, step).0));
            if !content_type.is_empty() {
                m.insert(s("content_type"), s(content_type.clone()));
            }
        }
        Body::Pdf(size) => {
            m.insert(s("pdf"), s(crate::scenario::units::Size(*size).to_string()));
        }
    }
    if let Some(ms) = step.think_ms {
        m.insert(s("think"), s(millis(ms)));
    }
    m.insert(
        s("expect"),
        map(vec![("status", Value::Number(step.status.into()))]),
    );
    if !step.captures.is_empty() {
        let mut c = Mapping::new();
        for (var, source) in &step.captures {
            c.insert(s(var.clone()), s(source.clone()));
        }
        m.insert(s("capture"), Value::Mapping(c));
    }
    if let Some(u) = &step.until {
        let test = match &u.equals {
            Some(v) => ("equals", serde_yaml::to_value(v).unwrap_or(Value::Null)),
            None => ("exists", Value::Bool(true)),
        };
        m.insert(s("until"), map(vec![("path", s(u.path.clone())), test]));
        m.insert(
            s("poll"),
            map(vec![
                ("every", s(millis(u.every_ms))),
                ("timeout", s(format!("{}s", u.timeout_s))),
            ]),
        );
    }
    Value::Mapping(m)
}

/// The comment above a step: the entries it came from.
fn step_comment(step: &Step) -> String {
    let first = step.entries[0];
    let last = step.entries[step.entries.len() - 1];
    let entries = if last + 1 == first + step.entries.len() {
        format!("{first}-{last}")
    } else {
        step.entries
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut c = match &step.until {
        Some(u) if u.polls == 1 => format!(
            "HAR entry {first}: {} {} -> {}; answered {} {} at once, but it moved since the step that made it: a replay polls until it holds",
            step.method,
            step.path,
            step.status,
            u.path,
            u.equals
                .as_ref()
                .map_or("exists".into(), |v| format!("= {v}"))
        ),
        Some(u) => format!(
            "HAR entries {entries}: {} polls, {} apart, until {} {}",
            u.polls,
            millis(u.every_ms),
            u.path,
            u.equals
                .as_ref()
                .map_or("exists".into(), |v| format!("= {v}"))
        ),
        None => format!(
            "HAR entry {first}: {} {} -> {} ({:.0} ms)",
            step.method, step.path, step.status, step.time_ms
        ),
    };
    for t in &step.todos {
        c.push_str(&format!("\nTO DO: {t}"));
    }
    comment(&c)
}

/// The journey's YAML (as the value of its name), with comments.
fn journey_text(opts: &Options, b: &Built, data: Option<&str>, creator: &str) -> String {
    let mut head = Mapping::new();
    let by = if creator.is_empty() {
        String::new()
    } else {
        format!(" by {creator}")
    };
    head.insert(
        s("description"),
        s(format!(
            "Recorded{by} ({} to {}), imported by `surge import har`.",
            plural(b.requests, "request"),
            b.target
        )),
    );
    head.insert(s("channel"), s(b.channel.clone()));
    if let Some(d) = data {
        head.insert(s("feed"), s(d));
    }
    if !b.typed.is_empty() {
        let mut v = Mapping::new();
        for t in &b.typed {
            let value = match data {
                Some(d) => format!("{{{d}.{}}}", t.name),
                None => t.template.clone(),
            };
            v.insert(s(t.name.clone()), s(value));
        }
        head.insert(s("vars"), Value::Mapping(v));
    }
    if !b.headers.is_empty() {
        let mut h = Mapping::new();
        for (k, v) in &b.headers {
            h.insert(s(k.clone()), s(v.clone()));
        }
        head.insert(s("headers"), Value::Mapping(h));
    }
    let mut out = yaml(&Value::Mapping(head));
    out.push_str("steps:\n");
    for step in &b.steps {
        out.push_str(&indent(&step_comment(step), 2));
        out.push_str(&indent(
            &yaml(&Value::Sequence(vec![step_value(opts, b, step)])),
            2,
        ));
    }
    format!("{}:\n{}", opts.journey, indent(&out, 2))
}

/// The header comment: where it came from and what it did.
fn header(opts: &Options, b: &Built, creator: &str) -> String {
    let mut c = format!(
        "Imported by `surge import har` from {}{}.\n{} to {} became {} ({}).",
        opts.file.display(),
        if creator.is_empty() {
            String::new()
        } else {
            format!(" (recorded by {creator})")
        },
        plural(b.requests, "request"),
        b.target,
        plural(b.steps.len(), "step"),
        plural(b.polls(), "poll")
    );
    if !b.left_out.is_empty() {
        let l: Vec<String> = b
            .left_out
            .iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        c.push_str(&format!("\nLeft out: {}.", l.join(", ")));
    }
    if !b.correlations.is_empty() {
        c.push_str("\nCorrelated (captured, then sent back):");
        for k in &b.correlations {
            c.push_str(&format!(
                "\n  {} from `{}` ({}), used in {}",
                k.var,
                k.from,
                k.source,
                k.used_in.join(", ")
            ));
        }
    }
    if !b.typed.is_empty() {
        c.push_str("\nTyped by the person, one per applicant (journey vars):");
        for t in &b.typed {
            c.push_str(&format!("\n  {} = {}", t.name, t.template));
        }
    }
    if !b.secrets.is_empty() {
        c.push_str(
            "\nSecrets, read from the environment when the scenario loads (never written here):",
        );
        for (env, at) in &b.secrets {
            c.push_str(&format!("\n  ${{{env}}} ({at})"));
        }
    }
    if b.missing_bodies > 0 {
        c.push_str(&format!(
            "\n{} without a body in the recording (save it \"with content\"); correlation used their headers only.",
            plural(b.missing_bodies, "response")
        ));
    }
    if b.todos().next().is_some() {
        c.push_str("\nTO DO:");
        for t in b.todos() {
            c.push_str(&format!("\n  - {t}"));
        }
    }
    comment(&c)
}

/// A scenario of its own around the journey: the target, a gentle load to
/// try it with, and an objective that fails on errors.
fn fresh(opts: &Options, b: &Built, journey: &str, data: Option<(&str, &str)>) -> String {
    let name = crate::import::scenario_name(&opts.out);
    let mut top = Mapping::new();
    top.insert(s("version"), Value::Number(1.into()));
    top.insert(s("name"), s(name));
    top.insert(s("seed"), Value::Number(1.into()));
    top.insert(s("target"), map(vec![("base_url", s(b.target.clone()))]));
    top.insert(
        s("load"),
        map(vec![
            ("arrivals", s("poisson")),
            ("drain", s("1m")),
            (
                "phases",
                Value::Sequence(vec![map(vec![
                    ("name", s("try")),
                    ("duration", s("30s")),
                    ("rate", s("1/s")),
                ])]),
            ),
        ]),
    );
    top.insert(
        s("mix"),
        map(vec![(opts.journey.as_str(), Value::Number(1.into()))]),
    );
    if let Some((dname, file)) = data {
        top.insert(
            s("data"),
            map(vec![(
                dname,
                map(vec![("file", s(file)), ("pick", s("unique"))]),
            )]),
        );
    }
    let objectives = yaml(&map(vec![(
        "objectives",
        Value::Sequence(vec![map(vec![(
            "error_rate",
            map(vec![("name", s("few-errors")), ("at_most", s("1%"))]),
        )])]),
    )]));
    format!(
        "{}journeys:\n{}{objectives}",
        yaml(&Value::Mapping(top)),
        indent(journey, 2)
    )
}

/// Where a top-level block of a YAML text is: (the key's line, the line
/// after its last indented line). Trailing comments and blank lines stay
/// outside, with whatever they introduce.
fn block(lines: &[&str], key: &str) -> Option<(usize, usize)> {
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("{key}:")))?;
    let mut end = start + 1;
    let mut last = start + 1;
    while end < lines.len() {
        let l = lines[end];
        let top = !l.is_empty() && !l.starts_with([' ', '#', '\t']);
        if top {
            break;
        }
        if l.starts_with([' ', '\t']) && !l.trim_start().starts_with('#') {
            last = end + 1;
        }
        end += 1;
    }
    Some((start, last))
}

/// BASE with `entry` (YAML text of one `NAME: ...` pair) added to its
/// top-level block `key`, the rest kept as written. A flow-style block
/// (`mix: { a: 1 }`) is rewritten in block style; a missing one is added.
fn add_to_block(text: &str, key: &str, entry: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let Some((start, end)) = block(&lines, key) else {
        let mut out = text.trim_end_matches('\n').to_string();
        out.push_str(&format!("\n{key}:\n{}", indent(entry, 2)));
        return Ok(out);
    };
    let inline = lines[start][key.len() + 1..].trim();
    let inline = inline.split(" #").next().unwrap_or("").trim();
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    if inline.is_empty() {
        out.extend(lines[start..end].iter().map(|l| l.to_string()));
    } else {
        let v: Value = serde_yaml::from_str(inline)
            .map_err(|e| format!("its `{key}:` line cannot be read ({e})"))?;
        out.push(format!("{key}:"));
        if let Value::Mapping(m) = v {
            for (k, v) in m {
                let one = yaml(&Value::Mapping(Mapping::from_iter([(k, v)])));
                out.push(indent(&one, 2).trim_end().to_string());
            }
        }
    }
    out.push(indent(entry, 2).trim_end().to_string());
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    Ok(out.join("\n") + "\n")
}

/// BASE with the journey (and its mix weight and data) added.
fn into_base(
    base: &Path,
    b_text: &str,
    opts: &Options,
    journey: &str,
    data: Option<(&str, &str)>,
) -> Result<String, HarError> {
    let bad = |why: String| HarError::Base {
        file: base.display().to_string(),
        why,
    };
    let doc: Value = serde_yaml::from_str(b_text).map_err(|e| bad(e.to_string()))?;
    if doc
        .get("journeys")
        .and_then(|j| j.get(opts.journey.as_str()))
        .is_some()
    {
        return Err(HarError::Option(format!(
            "{} already has a journey `{}`; name the new one with --journey NAME",
            base.display(),
            opts.journey
        )));
    }
    let mut text = add_to_block(b_text, "journeys", journey).map_err(bad)?;
    text = add_to_block(&text, "mix", &format!("{}: 1\n", opts.journey)).map_err(bad)?;
    if let Some((dname, file)) = data {
        if doc.get("data").and_then(|d| d.get(dname)).is_some() {
            return Err(HarError::Option(format!(
                "{} already has data `{dname}`; give --data a file of another name",
                base.display()
            )));
        }
        let entry = yaml(&map(vec![(
            dname,
            map(vec![("file", s(file)), ("pick", s("unique"))]),
        )]));
        text = add_to_block(&text, "data", &entry).map_err(bad)?;
    }
    Ok(text)
}

/// The `--data` file: its name in the scenario and how it is referred to.
/// An existing file must have a column per typed value (it is the user's
/// list of test accounts); a missing one is written with the recorded row.
fn data_file(opts: &Options, b: &Built) -> Result<Option<(String, String, bool)>, HarError> {
    let Some(path) = &opts.data else {
        return Ok(None);
    };
    if b.typed.is_empty() {
        return Err(HarError::Option(format!(
            "--data {}: the recording has no typed value (phone, email, name) to read from it; leave --data out",
            path.display()
        )));
    }
    let name = crate::import::scenario_name(path).replace('-', "_");
    let dir = opts.out.parent().unwrap_or(Path::new(""));
    let rel = path
        .strip_prefix(dir)
        .map_or(path.display().to_string(), |p| p.display().to_string());
    let columns: Vec<&str> = b.typed.iter().map(|t| t.name.as_str()).collect();
    let exists = path.exists();
    if exists {
        let mut r = csv::Reader::from_path(path).map_err(|e| HarError::Unreadable {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let header = r.headers().map_err(|e| HarError::Unreadable {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let missing: Vec<&str> = columns
            .iter()
            .filter(|c| !header.iter().any(|h| h == **c))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(HarError::Option(format!(
                "--data {}: it has no column {}; the journey reads {} (add the columns, or name a new file and one is written)",
                path.display(),
                missing.join(", "),
                columns.join(", ")
            )));
        }
    } else {
        let mut w = csv::Writer::from_path(path).map_err(|e| HarError::Write {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let io = |e: csv::Error| HarError::Write {
            file: path.display().to_string(),
            reason: e.to_string(),
        };
        w.write_record(&columns).map_err(io)?;
        w.write_record(b.typed.iter().map(|t| t.recorded.as_str()))
            .map_err(io)?;
        w.flush().map_err(|e| HarError::Write {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(Some((name, rel, exists)))
}

/// Writes the scenario and the files beside it.
pub fn scenario(opts: &Options, b: &mut Built, creator: &str) -> Result<Written, HarError> {
    let mut files = Vec::new();
    let data = data_file(opts, b)?;
    if let Some((_, rel, false)) = &data {
        b.journey_todos.push(format!(
            "{rel} was written with the recorded row only: `pick: unique` gives each applicant its own row, so add one per applicant"
        ));
        files.push(opts.data.clone().expect("data given"));
    }
    for step in &b.steps {
        if let Body::File { bytes, .. } = &step.body {
            let (_, path) = body_file(opts, step);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| HarError::Write {
                    file: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            std::fs::write(&path, bytes).map_err(|e| HarError::Write {
                file: path.display().to_string(),
                reason: e.to_string(),
            })?;
            files.push(path);
        }
    }
    let dref = data.as_ref().map(|(n, r, _)| (n.as_str(), r.as_str()));
    let journey = journey_text(opts, b, dref.map(|d| d.0), creator);
    let head = header(opts, b, creator);
    let text = match &opts.base {
        Some(base) => {
            let b_text = std::fs::read_to_string(base).map_err(|e| HarError::Unreadable {
                file: base.display().to_string(),
                reason: e.to_string(),
            })?;
            // The import's account goes above the journey it describes.
            into_base(base, &b_text, opts, &format!("{head}{journey}"), dref)?
        }
        None => format!("{head}{}", fresh(opts, b, &journey, dref)),
    };
    write_whole(&opts.out, &text).map_err(|e| HarError::Write {
        file: opts.out.display().to_string(),
        reason: e.to_string(),
    })?;
    files.insert(0, opts.out.clone());
    Ok(Written { files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_into_block_and_flow_blocks() {
        let base = "version: 1\n# the mix\nmix: { a: 3 }  # weights\njourneys:\n  a:\n    steps: []\n\n# trailing\nobjectives: []\n";
        let t = add_to_block(base, "journeys", "b:\n  steps: []\n").unwrap();
        assert!(
            t.contains("  a:\n    steps: []\n  b:\n    steps: []\n\n# trailing\nobjectives"),
            "{t}"
        );
        let t = add_to_block(&t, "mix", "b: 1\n").unwrap();
        assert!(
            t.contains("# the mix\nmix:\n  a: 3\n  b: 1\njourneys:"),
            "{t}"
        );
        let t = add_to_block(&t, "data", "d:\n  file: x.csv\n").unwrap();
        assert!(
            t.ends_with("objectives: []\ndata:\n  d:\n    file: x.csv\n"),
            "{t}"
        );
        let v: Value = serde_yaml::from_str(&t).unwrap();
        assert_eq!(v["mix"]["b"], Value::Number(1.into()));
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(millis(1200), "1.2s");
        assert_eq!(millis(2000), "2s");
        assert_eq!(millis(305), "305ms");
        for t in ["1.2s", "2s", "305ms"] {
            assert!(crate::scenario::units::parse_duration(t).is_ok(), "{t}");
        }
    }
}
