//! The layers of `src/lib.rs` hold: every top-level module imports only
//! from its own layer and those before it, and no top-level modules import
//! each other around a circle. Read from the source itself (imports and
//! paths through `crate::`, comments left out), so a new import that climbs
//! or closes a circle fails here, naming the file and the import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod common;

/// One import of another top-level module: who, where, what.
#[derive(Clone, Debug)]
struct Import {
    from: String,
    to: String,
    file: String,
    line: usize,
    text: String,
}

/// The layers as `lib.rs` lists them: module → (layer index, layer name).
fn layers(lib: &str) -> BTreeMap<String, (usize, String)> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            inside = doc == "# Layers";
            continue;
        }
        if !inside {
            continue;
        }
        let Some((number, rest)) = doc.split_once(". ") else {
            continue;
        };
        let Ok(n) = number.parse::<usize>() else {
            continue;
        };
        let (name, modules) = rest.split_once(':').expect("`N. layer: modules`");
        for m in modules.split(',') {
            let previous = out.insert(m.trim().to_string(), (n, name.to_string()));
            assert!(previous.is_none(), "{m} is listed twice in lib.rs's layers");
        }
    }
    out
}

/// Top-level modules named after `crate::` in `code`, with their line.
fn named(code: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut in_group: Option<usize> = None;
    for (i, raw) in code.lines().enumerate() {
        let line = raw.split("//").next().unwrap_or_default();
        if raw.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::X, b};`: the names up to the closing brace,
                // which may be lines later.
                in_group = Some(i);
                out.extend(group_names(group).map(|n| (i + 1, n, raw.trim().to_string())));
                if group.contains('}') {
                    in_group = None;
                }
                break;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((i + 1, name, raw.trim().to_string()));
        }
        if in_group.is_some_and(|start| start != i) {
            out.extend(group_names(line).map(|n| (i + 1, n, raw.trim().to_string())));
            if line.contains('}') {
                in_group = None;
            }
        }
    }
    out
}

/// The first segment of each path in a `{...}` group's text: at the top
/// level of the group only.
fn group_names(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut depth = 0;
    let mut names = Vec::new();
    let mut current = String::new();
    let mut first = true;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                first = true;
                current.clear();
            }
            c if depth == 0 && first && (c.is_alphanumeric() || c == '_') => current.push(c),
            ':' if depth == 0 && first => {
                if !current.is_empty() {
                    names.push(std::mem::take(&mut current));
                }
                first = false;
            }
            _ => {}
        }
    }
    if first && !current.is_empty() {
        names.push(current);
    }
    names.into_iter()
}

/// Every import between top-level modules under `src`.
fn imports(src: &Path, modules: &BTreeSet<String>) -> Vec<Import> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let from = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            if from == "lib" || from == "main" {
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap();
            for (line, to, text) in named(&code) {
                if to != from && modules.contains(&to) {
                    out.push(Import {
                        from: from.clone(),
                        to,
                        file: format!("src/{rel}"),
                        line,
                        text,
                    });
                }
            }
        }
    }
    out
}

/// What breaks the layers in the tree at `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let layer = layers(&lib);
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let mut out: Vec<String> = declared
        .iter()
        .filter(|m| !layer.contains_key(*m))
        .map(|m| {
            format!("src/lib.rs: module `{m}` is in no layer; add it to the list under `# Layers`")
        })
        .collect();
    let found = imports(src, &declared);
    for i in &found {
        let (Some((a, la)), Some((b, lb))) = (layer.get(&i.from), layer.get(&i.to)) else {
            continue;
        };
        if b > a {
            out.push(format!(
                "{}:{}: `{}` ({la}) imports `{}` ({lb}), a layer above it: {}",
                i.file, i.line, i.from, i.to, i.text
            ));
        }
    }
    out.extend(cycles(&found));
    out
}

/// Each circle of imports between top-level modules, with the imports that
/// close it.
fn cycles(found: &[Import]) -> Vec<String> {
    let mut edges: BTreeMap<&str, BTreeMap<&str, &Import>> = BTreeMap::new();
    for i in found {
        edges.entry(&i.from).or_default().entry(&i.to).or_insert(i);
    }
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    for start in edges.keys() {
        // A path from `start` back to itself, found depth first.
        let mut path: Vec<&Import> = Vec::new();
        let mut seen = BTreeSet::new();
        if let Some(circle) = back_to(start, start, &edges, &mut path, &mut seen) {
            let key: BTreeSet<&str> = circle.iter().map(|i| i.from.as_str()).collect();
            if reported.insert(key) {
                let steps: Vec<String> = circle
                    .iter()
                    .map(|i| format!("{} -> {} ({}:{}: {})", i.from, i.to, i.file, i.line, i.text))
                    .collect();
                out.push(format!("import cycle: {}", steps.join("; ")));
            }
        }
    }
    out
}

fn back_to<'a>(
    at: &'a str,
    goal: &str,
    edges: &BTreeMap<&'a str, BTreeMap<&'a str, &'a Import>>,
    path: &mut Vec<&'a Import>,
    seen: &mut BTreeSet<&'a str>,
) -> Option<Vec<&'a Import>> {
    for (next, import) in edges.get(at)? {
        path.push(import);
        if *next == goal {
            return Some(path.clone());
        }
        if seen.insert(next)
            && let Some(found) = back_to(next, goal, edges, path, seen)
        {
            return Some(found);
        }
        path.pop();
    }
    None
}

#[test]
fn every_module_imports_only_downward_and_no_imports_go_around_a_circle() {
    let problems = violations(&common::repo("src"));
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The check itself, on a copy of `src` with planted faults: a cycle
/// (`summary` importing `rundata`, which imports `summary`; also a climb),
/// an import that climbs without closing a circle (`human`, a leaf,
/// importing the proxy), and a module left out of the list.
#[test]
fn a_planted_cycle_a_climbing_import_and_an_unlisted_module_are_each_named() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&common::repo("src"), copy.path());
    let src = copy.path();
    let plant = |file: &str, line: &str| {
        let path = src.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n{line}\n")).unwrap();
    };
    plant(
        "summary/ledger.rs",
        "use crate::{rundata::RunData, scenario};",
    );
    plant(
        "human.rs",
        "#[allow(unused)]\nfn climbs() { let _ = crate::proxy::Proxy::list; }",
    );
    plant("lib.rs", "pub mod stray;");
    std::fs::write(src.join("stray.rs"), "").unwrap();
    let problems = violations(src).join("\n");
    assert!(
        problems.contains("import cycle:")
            && problems.contains("summary -> rundata (src/summary/ledger.rs:"),
        "{problems}"
    );
    assert!(
        problems.contains("src/human.rs:")
            && problems.contains("`human` (leaves) imports `proxy` (machinery)"),
        "{problems}"
    );
    assert!(
        problems.contains("module `stray` is in no layer"),
        "{problems}"
    );
    // Only the planted ones.
    assert_eq!(problems.lines().count(), 4, "{problems}");
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
