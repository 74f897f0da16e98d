//! Scenario files: reading, checking and the validated result the rest of
//! surge works from. Loading runs in stages, each one only on what the
//! previous accepted, so a broken file gets every problem of its first
//! broken stage at once, each at its line and column:
//!
//! 1. limits and syntax: size, UTF-8, YAML (serde_yaml), alias expansion
//!    bounded before anything expands (`source`);
//! 2. structure: the document against the JSON Schema derived from `model`
//!    (`structure`): unknown and missing keys, types, units, templates;
//! 3. meaning: cross-references, the timeline, variables bound before use
//!    (`semantic`).
//!
//! It never touches the network and never starts anything.

pub mod books;
pub mod curve;
pub mod data;
pub mod diagnostic;
pub mod limits;
pub mod model;
pub mod overrides;
pub mod refs;
pub mod schema;
mod semantic;
pub mod source;
pub mod structure;
pub mod template;
pub mod tls;
pub mod units;

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration as StdDuration;

use diagnostic::{Path, Pos, Problem, Severity};
use model::ScenarioFile;
use source::{SourceError, SourceMap};

pub use semantic::{BUILTIN_VARS, CurveRates, FaultWindow, PhaseWindow, RatePiece, Timeline};

/// Scenario files larger than this are refused unread: real ones are a few
/// kilobytes, and the bound keeps every later stage cheap.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Documents that expand (through aliases) to more nodes than this are
/// refused before serde_yaml expands them.
pub const MAX_NODES: u64 = 100_000;

/// A file the scenario names (a `file:` body, TLS material), relative to
/// the scenario's folder: its path and size, or what is wrong with it and a
/// hint. A FIFO or a device would be read forever, a folder not at all.
pub(crate) fn named_file(
    base_dir: &FsPath,
    file: &str,
) -> Result<(PathBuf, u64), (String, String)> {
    let full = base_dir.join(file);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => Ok((full, m.len())),
        Ok(_) => Err((
            format!("`{file}` is not a regular file"),
            "give a file, not a pipe, a device or a folder".into(),
        )),
        Err(_) => Err((
            format!("no file at `{}`", full.display()),
            "paths are relative to the scenario file".into(),
        )),
    }
}

/// A scenario that passed every check.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: ScenarioFile,
    pub timeline: Timeline,
    /// Each journey's share of arrivals, normalised to sum to 1, in file
    /// order.
    pub mix: Vec<(String, f64)>,
    /// The `data` files, read and checked, by name.
    pub data: semantic::Tables,
    /// The folder relative paths (`file:` bodies) are read from.
    pub base_dir: PathBuf,
    /// The document as run, when `--set` or a variant changed the file
    /// (`None`: the file itself is). A run folder keeps this as its
    /// `scenario.yaml`.
    pub as_run: Option<String>,
}

impl Scenario {
    /// Arrivals the schedule should hold on average, at the file's scale.
    pub fn expected_arrivals(&self) -> f64 {
        self.timeline.expected_arrivals() * self.file.load.scale
    }

    /// A journey's share of the arrivals (0 when the mix leaves it out).
    pub fn share(&self, journey: &str) -> f64 {
        self.mix
            .iter()
            .find(|(n, _)| n == journey)
            .map_or(0.0, |(_, s)| *s)
    }

    pub fn total(&self) -> StdDuration {
        self.timeline.total
    }

    /// `pick: unique` data with `on_exhausted: fail` that the schedule
    /// (at its scale, all shards together) expects to run out of.
    pub fn data_shortfalls(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (name, source) in &self.file.data {
            let (Some(table), Some(model::OnExhausted::Fail)) =
                (self.data.get(name), source.on_exhausted)
            else {
                continue;
            };
            let feeding = self
                .file
                .journeys
                .iter()
                .filter(|(_, j)| j.feed.names().contains(name));
            let expected: f64 = feeding
                .map(|(j, _)| self.expected_arrivals() * self.share(j))
                .sum();
            if expected > table.rows() as f64 {
                out.push(
                    Problem::error(
                        Path::at(&["data"]).key(name).key("on_exhausted"),
                        format!(
                            "the schedule expects about {expected:.0} arrivals to take a row of `{name}`, which has {} rows",
                            table.rows()
                        ),
                    )
                    .with_hint("add rows, lower the load (`scale`), or write `on_exhausted: stop` to drop the arrivals beyond the data"),
                );
            }
        }
        out
    }
}

/// The result of checking one file: the scenario when no error was found,
/// and every problem (errors and warnings) with its position.
#[derive(Debug)]
pub struct Checked {
    pub scenario: Option<Scenario>,
    pub problems: Vec<Problem>,
}

impl Checked {
    fn failed(problems: Vec<Problem>) -> Checked {
        Checked {
            scenario: None,
            problems,
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }
}

/// Reads and checks the file at `path`.
pub fn check_file(path: &FsPath) -> Checked {
    check_file_split(path, Some(1))
}

/// Checks a scenario file whose load is split over `processes` (the load
/// limits are per process; `None`: the load is not checked, as for the
/// copy of a scenario that already ran).
pub fn check_file_split(path: &FsPath, processes: Option<u64>) -> Checked {
    check_file_with(path, processes, &Resolve::default())
}

/// How a scenario file becomes the scenario that runs: the file, then its
/// `--set PATH=VALUE` overrides in order, then one of its variants; the
/// result is checked as if it had been written so.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolve {
    /// `--set` flags as given (`PATH=VALUE`).
    pub sets: Vec<String>,
    /// The variant to apply, by name.
    pub variant: Option<String>,
}

/// Checks a scenario file as `how` resolves it: the scenario as it would
/// run. A problem an override causes is shown at its flag, or at its
/// variant's entry.
pub fn check_file_with(path: &FsPath, processes: Option<u64>, how: &Resolve) -> Checked {
    let bytes = match read_bounded(path) {
        Ok(bytes) => bytes,
        Err(message) => return Checked::failed(vec![Problem::error(Path::root(), message)]),
    };
    let mut overrides = Vec::new();
    let mut bad = Vec::new();
    for flag in &how.sets {
        match overrides::parse(flag) {
            Ok(o) => overrides.push(o),
            Err(message) => {
                let mut p = Problem::error(Path::root(), message);
                p.flag = Some(flag.as_str().into());
                bad.push(p);
            }
        }
    }
    if !bad.is_empty() {
        return Checked::failed(bad);
    }
    let base_dir = path.parent().map(FsPath::to_path_buf).unwrap_or_default();
    let mut checked = check_bytes_split(
        &bytes,
        &base_dir,
        processes,
        &mut overrides,
        how.variant.as_deref(),
    );
    if let Some(s) = &mut checked.scenario
        && let Some(doc) = &s.as_run
    {
        s.as_run = Some(as_run_header(path, how) + doc);
    }
    checked
}

/// The comment on top of a run folder's `scenario.yaml` when the scenario
/// that ran is not the file as written.
fn as_run_header(path: &FsPath, how: &Resolve) -> String {
    let mut out = format!(
        "# The scenario as run: {} (its comments are there)",
        path.display()
    );
    for set in &how.sets {
        out += &format!("\n#   --set {set}");
    }
    if let Some(v) = &how.variant {
        out += &format!("\n#   variant `{v}` (its `set:` applied; the list of variants left out)");
    }
    out + "\n"
}

fn read_bounded(path: &FsPath) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(bytes)
}

const START: Pos = Pos { line: 1, column: 1 };

/// Checks a scenario held in memory; `base_dir` resolves `file:` bodies.
pub fn check_bytes(bytes: &[u8], base_dir: &FsPath) -> Checked {
    check_bytes_split(bytes, base_dir, Some(1), &mut Vec::new(), None)
}

fn check_bytes_split(
    bytes: &[u8],
    base_dir: &FsPath,
    processes: Option<u64>,
    overrides: &mut Vec<overrides::Override>,
    variant: Option<&str>,
) -> Checked {
    if bytes.len() > MAX_FILE_BYTES {
        return Checked::failed(vec![
            Problem::error(
                Path::root(),
                format!(
                    "the file is larger than {} KiB; scenario files are small",
                    MAX_FILE_BYTES / 1024
                ),
            )
            .at_pos(START),
        ]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            return Checked::failed(vec![
                Problem::error(Path::root(), "the file is not UTF-8 text")
                    .with_hint("save it as UTF-8")
                    .at_pos(Pos { line, column }),
            ]);
        }
    };
    check_text_split(text, base_dir, processes, overrides, variant)
}

/// Checks scenario text; `base_dir` resolves `file:` bodies.
pub fn check_text(text: &str, base_dir: &FsPath) -> Checked {
    check_text_split(text, base_dir, Some(1), &mut Vec::new(), None)
}

fn check_text_split(
    text: &str,
    base_dir: &FsPath,
    processes: Option<u64>,
    overrides: &mut Vec<overrides::Override>,
    variant: Option<&str>,
) -> Checked {
    let parsed = parse_typed::<ScenarioFile>(
        text,
        schema::json_schema(),
        "a scenario",
        overrides,
        variant,
    );
    let Parsed {
        typed: file,
        map,
        as_run,
        warnings,
    } = match parsed {
        Ok(parsed) => parsed,
        Err(problems) => return Checked::failed(problems),
    };
    let (timeline, mix, data, mut problems) = semantic::check(&file, base_dir);
    let scenario = Scenario {
        file,
        timeline,
        mix,
        data,
        base_dir: base_dir.to_path_buf(),
        as_run: as_run.map(|doc| serde_yaml::to_string(&doc).unwrap_or_default()),
    };
    if problems.iter().all(|p| !p.is_error()) {
        problems.extend(limits::check(&scenario.file, &scenario.timeline, base_dir));
        if let Some(n) = processes {
            problems.extend(limits::load(&scenario.file, &scenario.timeline, n));
            problems.extend(scenario.data_shortfalls());
        }
    }
    overrides::attribute(&mut problems, overrides);
    let mut problems = locate(problems, &map);
    problems.extend(warnings);
    if variant.is_none() && !problems.iter().any(Problem::is_error) {
        problems.extend(variant_problems(
            text,
            base_dir,
            processes,
            overrides,
            &scenario.file,
            &map,
        ));
    }
    let ok = !problems.iter().any(Problem::is_error);
    Checked {
        scenario: ok.then_some(scenario),
        problems,
    }
}

/// Every variant's resulting scenario checked as the scenario would be:
/// its errors, each shown at the `set:` entry that caused it or else at
/// the variant's name.
fn variant_problems(
    text: &str,
    base_dir: &FsPath,
    processes: Option<u64>,
    sets: &[overrides::Override],
    file: &ScenarioFile,
    map: &SourceMap,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, v) in file.variants.iter().enumerate() {
        let at_name = Path::root().key("variants").index(i).key("name");
        // `surge whatif` names the scenario as written `baseline` and puts
        // each run in a folder of its name.
        let taken = v.name.0 == "baseline" || file.variants[..i].iter().any(|w| w.name == v.name);
        if taken {
            out.push(
                Problem::error(at_name.clone(), format!("the variant name `{}` is taken", v.name.0))
                    .with_hint("`baseline` names the scenario as written, and each variant needs a name of its own"),
            );
            continue;
        }
        let mut overrides = sets.to_vec();
        let checked = check_text_split(text, base_dir, processes, &mut overrides, Some(&v.name.0));
        for mut p in checked.problems.into_iter().filter(Problem::is_error) {
            if !p.message.starts_with("variant `") && p.flag.is_none() {
                p.message = format!("variant `{}`: {}: {}", v.name.0, p.path, p.message);
                p.path = at_name.clone();
                p.pos = None;
            }
            out.push(p);
        }
    }
    locate(out, map)
}

/// A document read, resolved and typed.
struct Parsed<T> {
    typed: T,
    map: SourceMap,
    /// The document after overrides, when any applied.
    as_run: Option<serde_yaml::Value>,
    /// Warnings of the parse (names kept for older files).
    warnings: Vec<Problem>,
}

/// Stages 1 and 2 for any document type: limits, syntax, structure
/// against `schema`, then the typed value with its source map.
fn parse_typed<T: serde::de::DeserializeOwned>(
    text: &str,
    schema: &serde_json::Value,
    what: &str,
    overrides: &mut Vec<overrides::Override>,
    variant: Option<&str>,
) -> Result<Parsed<T>, Vec<Problem>> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(vec![
            Problem::error(Path::root(), "the file is empty")
                .with_hint("a scenario needs at least `version`, `name`, `target`, `load` and `journeys`; see scenarios/smoke.yaml")
                .at_pos(START),
        ]);
    }
    // Map positions first: it is the pass that bounds alias expansion.
    let map = match SourceMap::build(text, MAX_NODES) {
        Ok(map) => Some(map),
        Err(SourceError::TooLarge { limit, pos }) => {
            return Err(vec![
                Problem::error(
                    Path::root(),
                    format!("aliases expand this document to more than {limit} values"),
                )
                .with_hint("write the repeated parts out, or use fewer nested aliases")
                .at_pos(pos),
            ]);
        }
        // serde_yaml below names the syntax error in its own words.
        Err(SourceError::Syntax { .. }) => None,
    };
    if let Some(map) = &map
        && !map.duplicates.is_empty()
    {
        return Err(map.duplicates.iter().map(duplicate_problem).collect());
    }
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| vec![syntax_problem(&e)])?;
    let map = map.unwrap_or_default();
    if let Err(e) = value.apply_merge() {
        return Err(locate(
            vec![Problem::error(Path::root(), e.to_string())],
            &map,
        ));
    }
    if !value.is_mapping() {
        let problem = Problem::error(
            Path::root(),
            format!("{what} is a mapping of keys (`key: value`)"),
        );
        return Err(locate(vec![problem], &map));
    }
    if let Some(name) = variant {
        let sets = overrides::variant(&value, name).map_err(|p| locate(vec![p], &map))?;
        overrides.extend(sets);
        // The scenario as run is the variant, not the list of them.
        if let Some(doc) = value.as_mapping_mut() {
            doc.remove("variants");
        }
    }
    let shown = |mut problems: Vec<Problem>, overrides: &[overrides::Override]| {
        overrides::attribute(&mut problems, overrides);
        locate(problems, &map)
    };
    let refused: Vec<Problem> = overrides
        .iter_mut()
        .filter_map(|o| overrides::apply(&mut value, o).err())
        .collect();
    if !refused.is_empty() {
        return Err(shown(refused, overrides));
    }
    let warnings = locate(renamed_classes(&mut value, &Path::root()), &map);
    let structural = structure::check(schema, &value);
    if !structural.is_empty() {
        return Err(shown(structural, overrides));
    }
    let as_run = (!overrides.is_empty()).then(|| value.clone());
    match typed(value) {
        Ok(typed) => Ok(Parsed {
            typed,
            map,
            as_run,
            warnings,
        }),
        Err(problem) => Err(shown(vec![problem], overrides)),
    }
}

/// The error class `queue_full` counted 429 and 503 together until the two
/// were told apart (`rate_limited`, `unavailable`). In a list of classes
/// (`retry_on`, an objective's `classes`) it still reads, as both, with a
/// warning that names them.
fn renamed_classes(value: &mut serde_yaml::Value, at: &Path) -> Vec<Problem> {
    use serde_yaml::Value as Y;
    let mut out = Vec::new();
    match value {
        Y::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let Some(key) = k.as_str() else { continue };
                let here = at.key(key);
                match v {
                    Y::Sequence(items) if key == "retry_on" || key == "classes" => {
                        let Some(i) = items.iter().position(|c| c.as_str() == Some("queue_full"))
                        else {
                            continue;
                        };
                        items.remove(i);
                        for new in ["rate_limited", "unavailable"] {
                            if !items.iter().any(|c| c.as_str() == Some(new)) {
                                items.push(Y::String(new.into()));
                            }
                        }
                        out.push(
                            Problem::warning(
                                here.index(i),
                                "`queue_full` is now two classes: `rate_limited` (429) and \
                                 `unavailable` (503); read as both",
                            )
                            .with_hint(
                                "write `rate_limited` and `unavailable`, or the one you mean",
                            ),
                        );
                    }
                    _ => out.extend(renamed_classes(v, &here)),
                }
            }
        }
        Y::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                out.extend(renamed_classes(v, &at.index(i)));
            }
        }
        _ => {}
    }
    out
}

/// Reads a twin configuration for `surge twin --config`: either a twin
/// section on its own (what `target.twin` holds in a scenario) or a whole
/// scenario whose target is the twin. Returns it with its warnings, or
/// every problem.
pub fn load_twin_config(path: &FsPath) -> Result<(model::TwinConfig, Vec<Problem>), Vec<Problem>> {
    let bytes = read_bounded(path).map_err(|m| vec![Problem::error(Path::root(), m)])?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        vec![Problem::error(Path::root(), "the file is not UTF-8 text").at_pos(START)]
    })?;
    let is_scenario = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|v| v.as_mapping().map(|m| m.contains_key("version")))
        .unwrap_or(false);
    if is_scenario {
        let base_dir = path.parent().map(FsPath::to_path_buf).unwrap_or_default();
        let checked = check_text(text, &base_dir);
        let scenario = checked.scenario.ok_or_else(|| checked.problems.clone())?;
        return match scenario.file.target.twin {
            Some(twin) => Ok((twin, checked.problems)),
            None => Err(vec![
                Problem::error(
                    Path::at(&["target"]),
                    "this scenario's target is not the built-in twin",
                )
                .with_hint(
                    "give a scenario with `target: {twin: ...}`, or a twin section on its own",
                ),
            ]),
        };
    }
    let Parsed {
        typed: twin, map, ..
    } = parse_typed::<model::TwinConfig>(
        text,
        schema::twin_schema(),
        "a twin configuration",
        &mut Vec::new(),
        None,
    )?;
    let mut problems = Vec::new();
    semantic::twin_problems(&twin, &Path::root(), &mut problems);
    let problems = locate(problems, &map);
    if problems.iter().any(Problem::is_error) {
        Err(problems)
    } else {
        Ok((twin, problems))
    }
}

/// Loads a scenario for running: the scenario and its warnings, or every
/// problem when it has errors.
pub fn load(path: &FsPath) -> Result<(Scenario, Vec<Problem>), Vec<Problem>> {
    load_split(path, Some(1))
}

/// Loads a scenario whose load is split over `processes` (see
/// [`check_file_split`]).
pub fn load_split(
    path: &FsPath,
    processes: Option<u64>,
) -> Result<(Scenario, Vec<Problem>), Vec<Problem>> {
    load_with(path, processes, &Resolve::default())
}

/// Loads a scenario as `how` resolves it (see [`check_file_with`]).
pub fn load_with(
    path: &FsPath,
    processes: Option<u64>,
    how: &Resolve,
) -> Result<(Scenario, Vec<Problem>), Vec<Problem>> {
    let checked = check_file_with(path, processes, how);
    match checked.scenario {
        Some(scenario) => Ok((scenario, checked.problems)),
        None => Err(checked.problems),
    }
}

fn duplicate_problem(d: &source::Duplicate) -> Problem {
    let key = d.path.last_key().unwrap_or_default();
    Problem::error(
        d.path.clone(),
        format!("`{key}` is written twice in this mapping"),
    )
    .with_hint(format!("the first is at line {}; keep one", d.first.line))
    .at_pos(d.again)
}

fn syntax_problem(e: &serde_yaml::Error) -> Problem {
    // serde_yaml appends " at line L column C"; the position is shown in
    // front instead, as for every other problem.
    let message = e.to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let problem = Problem::error(Path::root(), format!("YAML syntax: {message}"));
    match e.location() {
        Some(loc) => problem.at_pos(Pos {
            line: loc.line(),
            column: loc.column(),
        }),
        None => problem,
    }
}

/// The typed model from a structurally checked document. The format
/// writes enums as one-key mappings (`fault: {outage: {...}}`), which
/// serde_yaml's `Value` reads only through `singleton_map_recursive`.
fn typed<T: serde::de::DeserializeOwned>(value: serde_yaml::Value) -> Result<T, Problem> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    serde_yaml::with::singleton_map_recursive::deserialize(de)
        .map_err(|e| Problem::error(serde_path(&track.path()), e.to_string()))
}

fn serde_path(path: &serde_path_to_error::Path) -> Path {
    use serde_path_to_error::Segment;
    let mut out = Path::root();
    for seg in path.iter() {
        out = match seg {
            Segment::Seq { index } => out.index(*index),
            Segment::Map { key } | Segment::Enum { variant: key } => out.key(key),
            Segment::Unknown => out,
        };
    }
    out
}

/// Gives each problem its position and sorts them as they appear.
fn locate(mut problems: Vec<Problem>, map: &SourceMap) -> Vec<Problem> {
    for p in &mut problems {
        if p.pos.is_none() {
            p.pos = map.locate(&p.path, p.anchor);
        }
    }
    problems.sort_by_key(|p| (p.pos, p.severity == Severity::Warning));
    problems
}
