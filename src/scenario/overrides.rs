//! `--set PATH=VALUE`: a scenario field changed from the command line
//! before the document is checked, so an override is validated exactly as
//! if it were written in the file, and every problem it causes is shown at
//! the flag, not at a line of the file it never touched. PATH is the
//! document's own path syntax (`load.phases[1].rate`,
//! `target.twin.core.signing.workers`); VALUE is read as YAML (`16`,
//! `40/s`, `[a, b]`, `{ attempts: 1 }`).
//!
//! A scenario's `variants:` are the same overrides written in the file:
//! each `set:` entry is one, and a problem it causes is shown at that
//! entry's line, naming the variant.

use serde_yaml::Value;

use super::diagnostic::{Path, Problem, Seg, suggestion};

/// One `--set PATH=VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// As given: `PATH=VALUE`.
    pub flag: String,
    pub path: Path,
    pub value: Value,
    /// A near-miss noticed while applying it (a key created beside others
    /// much like it), shown with any problem it causes.
    pub hint: Option<String>,
    /// Where it was written.
    pub origin: Origin,
}

/// Where an override was written: where its problems are shown.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// `--set` on the command line.
    Flag,
    /// A `set:` entry of the variant `name`, at `entry` in the document.
    Variant { name: String, entry: Path },
}

/// Reads `PATH=VALUE`.
pub fn parse(flag: &str) -> Result<Override, String> {
    let (path, value) = flag.split_once('=').ok_or_else(|| {
        format!("`{flag}` is not PATH=VALUE; e.g. --set load.phases[1].rate=40/s")
    })?;
    let path = parse_path(path.trim())?;
    let value: Value = if value.trim().is_empty() {
        Value::Null
    } else {
        serde_yaml::from_str(value).map_err(|e| {
            format!("`{flag}`: the value is not YAML ({e}); quote it to set a string")
        })?
    };
    Ok(Override {
        flag: flag.to_string(),
        path,
        value,
        hint: None,
        origin: Origin::Flag,
    })
}

/// The overrides of the variant `name` of `doc` (its `set:` entries, in
/// order), or the problem that it is not there.
pub fn variant(doc: &Value, name: &str) -> Result<Vec<Override>, Problem> {
    let listed: Vec<&Value> = match doc.get("variants") {
        Some(Value::Sequence(list)) => list.iter().collect(),
        _ => Vec::new(),
    };
    let names: Vec<&str> = listed
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    let Some(index) = names.iter().position(|n| *n == name) else {
        let mut p = Problem::error(
            Path::root().key("variants"),
            format!("the scenario has no variant `{name}`"),
        );
        p.hint = Some(match suggestion(name, names.iter().copied()) {
            Some(s) => s,
            None if names.is_empty() => "it lists no `variants:`".to_string(),
            None => format!("its variants: {}", names.join(", ")),
        });
        return Err(p);
    };
    let at = Path::root().key("variants").index(index).key("set");
    let mut out = Vec::new();
    if let Some(Value::Mapping(set)) = listed[index].get("set") {
        for (key, value) in set {
            let Some(key) = key.as_str() else {
                return Err(Problem::error(
                    at.clone(),
                    format!(
                        "variant `{name}`: a `set:` key is a path written as text, e.g. `load.phases[1].rate`"
                    ),
                ));
            };
            let entry = at.key(key);
            let written = serde_yaml::to_string(value).unwrap_or_default();
            let path = parse_path(key).map_err(|message| {
                Problem::error(entry.clone(), format!("variant `{name}`: {message}")).at_key()
            })?;
            out.push(Override {
                flag: format!("{key}={}", written.trim_end()),
                path,
                value: value.clone(),
                hint: None,
                origin: Origin::Variant {
                    name: name.to_string(),
                    entry,
                },
            });
        }
    }
    Ok(out)
}

/// `a.b[1].c` as a path.
fn parse_path(text: &str) -> Result<Path, String> {
    let bad = |why: &str| {
        format!(
            "`{text}` is not a path ({why}); write keys with dots and list entries as [N], e.g. load.phases[1].rate"
        )
    };
    if text.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut path = Path::root();
    for part in text.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return Err(bad("a key is empty"));
        }
        path = path.key(key);
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(|| bad("a `[` is not closed"))?;
            let index: usize = rest[1..close]
                .trim()
                .parse()
                .map_err(|_| bad("an index is not a whole number"))?;
            path = path.index(index);
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad("text follows a `]`"));
            }
        }
    }
    Ok(path)
}

/// What kind of value a node holds, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Sets `o.value` at `o.path` in `doc`, creating mappings on the way where
/// keys are missing (a field the file leaves at its default). A list
/// index must exist. Fills `o.hint` when a key is created beside one much
/// like it.
pub fn apply(doc: &mut Value, o: &mut Override) -> Result<(), Problem> {
    let segs = o.path.0.clone();
    let mut node = doc;
    let mut at = Path::root();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        node = match seg {
            Seg::Key(key) => {
                if node.is_null() {
                    *node = Value::Mapping(Default::default());
                }
                let Value::Mapping(map) = node else {
                    return Err(at_flag(
                        o,
                        format!("`{at}` is {}, so it has no key `{key}`", kind(node)),
                    ));
                };
                let k = Value::String(key.clone());
                if !map.contains_key(&k) {
                    let known: Vec<String> = map
                        .keys()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect();
                    if let Some(s) = suggestion(key, known.iter().map(String::as_str)) {
                        o.hint = Some(format!("`{}` is not in the file; {s}", at.key(key)));
                    }
                    map.insert(k.clone(), Value::Null);
                }
                map.get_mut(&k).expect("inserted")
            }
            Seg::Index(n) => {
                let Value::Sequence(list) = node else {
                    return Err(at_flag(
                        o,
                        format!(
                            "`{at}` is {}, not a list, so it has no entry [{n}]",
                            kind(node)
                        ),
                    ));
                };
                let len = list.len();
                list.get_mut(*n).ok_or_else(|| {
                    at_flag(
                        o,
                        format!(
                            "`{at}` has {len} entries ([0] to [{}]); there is no [{n}]",
                            len.saturating_sub(1)
                        ),
                    )
                })?
            }
        };
        at = match seg {
            Seg::Key(k) => at.key(k),
            Seg::Index(n) => at.index(*n),
        };
        if last {
            *node = o.value.clone();
        }
    }
    Ok(())
}

fn at_flag(o: &Override, message: String) -> Problem {
    let mut p = Problem::error(o.path.clone(), message);
    p.flag = Some(o.flag.as_str().into());
    p
}

/// Shows every problem about a place an override set (or inside it, or
/// the mapping it created) where the override was written: at its flag,
/// or at its variant's `set:` entry (then located again by the caller),
/// with its near-miss hint if any.
pub fn attribute(problems: &mut [Problem], overrides: &[Override]) {
    for p in problems.iter_mut() {
        let by = overrides.iter().rev().find(|o| {
            p.flag.as_deref() == Some(o.flag.as_str())
                || p.path.0.starts_with(&o.path.0)
                || (o.path.0.starts_with(&p.path.0) && !p.path.is_root())
        });
        let Some(o) = by else { continue };
        p.pos = None;
        // A near-miss key says more than the hint of what the new key
        // lacks.
        if o.hint.is_some() {
            p.hint = o.hint.clone();
        }
        match &o.origin {
            Origin::Flag => p.flag = Some(o.flag.as_str().into()),
            Origin::Variant { name, entry } => {
                p.flag = None;
                p.message = format!("variant `{name}`: {}", p.message);
                p.path = entry.clone();
                p.anchor = super::diagnostic::Anchor::Key;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_yaml::from_str(
            "load:\n  phases:\n    - { name: a, rate: 5/s }\n    - { name: b, rate: 10/s }\njourneys:\n  buyer: { channel: storefront }\n",
        )
        .unwrap()
    }

    fn set(doc: &mut Value, flag: &str) -> Result<Override, Problem> {
        let mut o = parse(flag).map_err(|e| Problem::error(Path::root(), e))?;
        apply(doc, &mut o)?;
        Ok(o)
    }

    #[test]
    fn numbers_rates_lists_and_maps_are_set_where_the_path_says() {
        let mut d = doc();
        set(&mut d, "load.phases[1].rate=40/s").unwrap();
        assert_eq!(d["load"]["phases"][1]["rate"], Value::from("40/s"));
        set(&mut d, "target.twin.core.signing.workers=16").unwrap();
        assert_eq!(
            d["target"]["twin"]["core"]["signing"]["workers"],
            Value::from(16)
        );
        set(&mut d, "journeys.buyer.patience={ attempts: 1 }").unwrap();
        assert_eq!(
            d["journeys"]["buyer"]["patience"]["attempts"],
            Value::from(1)
        );
        set(
            &mut d,
            "load.phases[0]={ name: z, duration: 1s, rate: 1/s }",
        )
        .unwrap();
        assert_eq!(d["load"]["phases"][0]["name"], Value::from("z"));
        set(&mut d, "mix=[1, 2]").unwrap();
        assert!(d["mix"].is_sequence());
    }

    #[test]
    fn a_missing_entry_or_a_scalar_in_the_way_is_refused_at_the_flag() {
        let mut d = doc();
        let e = set(&mut d, "load.phases[5].rate=1/s").unwrap_err();
        assert_eq!(e.flag.as_deref(), Some("load.phases[5].rate=1/s"));
        assert!(
            e.message.contains("has 2 entries ([0] to [1])"),
            "{}",
            e.message
        );
        let e = set(&mut d, "load.phases[0].rate.x=1").unwrap_err();
        assert!(
            e.message.contains("is a string, so it has no key `x`"),
            "{}",
            e.message
        );
        let e = set(&mut d, "journeys[0]=1").unwrap_err();
        assert!(e.message.contains("not a list"), "{}", e.message);
    }

    #[test]
    fn a_key_beside_a_near_miss_carries_the_hint() {
        let mut d = doc();
        let o = set(&mut d, "journeys.buyr.channel=stamping").unwrap();
        assert!(o.hint.unwrap().contains("did you mean `buyer`?"));
    }

    #[test]
    fn bad_flags_say_how_to_write_them() {
        assert!(parse("load.scale").unwrap_err().contains("PATH=VALUE"));
        assert!(
            parse("load..scale=1")
                .unwrap_err()
                .contains("a key is empty")
        );
        assert!(
            parse("load.phases[x].rate=1")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(parse("a=[1,").unwrap_err().contains("not YAML"));
        assert_eq!(parse("load.scale=").unwrap().value, Value::Null);
    }

    #[test]
    fn problems_under_an_override_are_shown_at_it() {
        let o = parse("load.phases[1].rate=-3/s").unwrap();
        let mut problems = vec![
            Problem::error(
                Path::at(&["load", "phases"]).index(1).key("rate"),
                "rate must be above 0",
            ),
            Problem::error(Path::at(&["journeys"]), "unrelated"),
        ];
        attribute(&mut problems, std::slice::from_ref(&o));
        assert_eq!(
            problems[0].flag.as_deref(),
            Some("load.phases[1].rate=-3/s")
        );
        assert_eq!(problems[1].flag, None);
        assert!(
            problems[0]
                .render("s.yaml")
                .starts_with("--set load.phases[1].rate=-3/s: error: ")
        );
    }
}
