//! The subcommands as library functions: each takes its already parsed
//! arguments and the streams to write to, and returns the exit status.
//! `main.rs` only parses the command line and calls one of these, so tests
//! call the same code users run. Nothing here parses arguments.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub mod args;
pub mod history;

use crate::Exit;
use crate::capacity::{self, Search};
use crate::finish::{Finish, FinishError};
use crate::gate::compare::{self, Tolerance};
use crate::report::{Format, Text};
use crate::runner::RunOptions;
use crate::scenario::{self, units::Duration};
use crate::summary::{Status, Verdict};
use crate::twin;

/// `surge validate FILE...`: checks each file, prints every problem as
/// `file:line:column: error: ...` on `err` and a one-line summary of each
/// valid file on `out`.
pub fn validate(
    files: &[PathBuf],
    shards: u64,
    sets: &[String],
    connect: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let mut status = Exit::Ok;
    for file in files {
        let shown = file.display().to_string();
        let how = scenario::Resolve {
            sets: sets.to_vec(),
            variant: None,
        };
        let checked = scenario::check_file_with(file, Some(shards), &how);
        for problem in &checked.problems {
            writeln!(err, "{}", problem.render(&shown))?;
        }
        match &checked.scenario {
            Some(s) => {
                let shard = crate::schedule::Shard {
                    index: 0,
                    count: shards,
                };
                let memory = crate::runner::estimate(s, shard);
                writeln!(
                    out,
                    "{shown}: ok: {}; peak memory about {}",
                    summary(s),
                    memory.describe()
                )?;
                if connect && !connect_books(s, &shown, out, err)? && status != Exit::BadInput {
                    status = Exit::RunError;
                }
            }
            None => {
                let n = checked.errors().count();
                writeln!(err, "{shown}: {n} error{}", if n == 1 { "" } else { "s" })?;
                status = Exit::BadInput;
            }
        }
    }
    Ok(status)
}

/// `validate --connect`: runs each books query once; false when one
/// could not be read.
fn connect_books(
    s: &scenario::Scenario,
    shown: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    let Some(spec) = &s.file.books else {
        writeln!(out, "{shown}: no `books:` to connect to")?;
        return Ok(true);
    };
    let target = s
        .file
        .target
        .base_url
        .as_ref()
        .and_then(|u| u.render(&|_| None).ok());
    let uses_target = spec.sources.values().any(|src| {
        matches!(src, crate::scenario::books::BooksSource::Http(h) if h.url.vars().next().is_some())
    });
    if uses_target && target.is_none() {
        writeln!(
            out,
            "{shown}: books: `{{target}}` is the in-process twin, which starts with the run; its sources are read then"
        )?;
        return Ok(true);
    }
    let at = crate::books::source::Opening {
        target: target.as_deref().unwrap_or(""),
        base_dir: &s.base_dir,
        target_tls: s.file.target.tls.as_ref(),
        timeout: spec.timeout.0,
        client: &crate::runner::target::client_for,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opened = {
        let _in = runtime.enter();
        crate::books::Books::open(spec, &at)
    };
    let books = match opened {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "{shown}: {e}")?;
            return Ok(false);
        }
    };
    let results = runtime.block_on(async {
        let r = books.try_all().await;
        books.close().await;
        r
    });
    let mut ok = true;
    for (what, result) in results {
        match result {
            Ok(v) => writeln!(out, "{shown}: books: {what}: {v}")?,
            Err(e) => {
                ok = false;
                writeln!(err, "{shown}: books: {what}: {e}")?;
            }
        }
    }
    Ok(ok)
}

fn summary(s: &scenario::Scenario) -> String {
    let f = &s.file;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} over {}, about {} arrivals, {}, {}, {}",
        plural(s.timeline.phases.len(), "phase"),
        Duration(s.total()),
        s.expected_arrivals().round() as u64,
        plural(f.journeys.len(), "journey"),
        plural(f.faults.len(), "fault"),
        plural(f.objectives.len(), "objective"),
    )
}

/// `surge schema`: prints the JSON Schema of the scenario format, or of
/// `summary.json` with `summary`.
pub fn schema(summary: bool, out: &mut dyn Write) -> std::io::Result<Exit> {
    if summary {
        serde_json::to_writer_pretty(&mut *out, &crate::summary::json_schema())?;
    } else {
        serde_json::to_writer_pretty(&mut *out, scenario::schema::json_schema())?;
    }
    writeln!(out)?;
    Ok(Exit::Ok)
}

/// `surge twin`: serves the built-in e-Meterai twin until Ctrl-C or
/// SIGTERM. Prints `listening on http://ADDR` once it accepts requests.
pub fn twin(
    listen: SocketAddr,
    config: Option<&Path>,
    workers: Option<usize>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let config = match config {
        None => scenario::model::TwinConfig::default(),
        Some(path) => match scenario::load_twin_config(path) {
            Ok((config, warnings)) => {
                for w in &warnings {
                    writeln!(err, "{}", w.render(&path.display().to_string()))?;
                }
                config
            }
            Err(problems) => {
                for p in &problems {
                    writeln!(err, "{}", p.render(&path.display().to_string()))?;
                }
                return Ok(Exit::BadInput);
            }
        },
    };
    if !listen.ip().is_loopback() {
        writeln!(
            err,
            "surge twin: warning: listening on {listen}, reachable from other machines"
        )?;
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime.enable_all().build()?;
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                writeln!(err, "surge twin: cannot listen on {listen}: {e}")?;
                return Ok(Exit::RunError);
            }
        };
        let addr = listener.local_addr()?;
        writeln!(out, "surge twin: listening on http://{addr} (ledger: /admin/ledger, faults: /admin/faults, metrics: /metrics)")?;
        out.flush()?;
        twin::serve(listener, twin::Twin::new(config), shutdown_signal()).await?;
        writeln!(out, "surge twin: stopped")?;
        Ok(Exit::Ok)
    })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `surge run`: carries out a scenario, finishes its run folder (judged,
/// every report written) and prints the run's summary on `out`; problems
/// and progress go to `err`. `rate_tolerance` is `--rate-tolerance`.
pub fn run(
    opts: &RunOptions,
    rate_tolerance: f64,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let shown = opts.scenario_path.display().to_string();
    let scenario =
        match scenario::load_with(&opts.scenario_path, Some(opts.shard.count), &opts.resolve) {
            Ok((scenario, warnings)) => {
                for w in &warnings {
                    writeln!(err, "{}", w.render(&shown))?;
                }
                scenario
            }
            Err(problems) => {
                for p in &problems {
                    writeln!(err, "{}", p.render(&shown))?;
                }
                return Ok(Exit::BadInput);
            }
        };
    if opts.scale.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        writeln!(err, "surge run: --scale must be above 0")?;
        return Ok(Exit::BadInput);
    }
    let mut opts = opts.clone();
    if let Some(addr) = &opts.dashboard {
        match crate::live::dashboard::Board::serve(addr, opts.allow_remote_dashboard) {
            Ok(board) => {
                writeln!(err, "surge: dashboard at http://{}/", board.addr)?;
                opts.board = Some(board);
            }
            Err(e) => {
                writeln!(err, "surge run: {e}")?;
                return Ok(Exit::BadInput);
            }
        }
    }
    let opts = &opts;
    match crate::finish::run(scenario, opts, Some(rate_tolerance)) {
        Ok(finished) => {
            out.write_all(&Text.render(&finished.data))?;
            warn_history(err, "run", finished.history_warning.as_deref())?;
            if let Some(board) = &opts.board {
                let s = &finished.data.summary;
                let report = finished.dir.join("report.html");
                board.finished(s, report);
                std::thread::sleep(opts.dashboard_linger);
            }
            let s = &finished.data.summary;
            Ok(match (&s.status, &s.gate) {
                (Status::Completed | Status::StoppedEarly, Some(gate)) => gate.verdict.exit(),
                _ => Exit::RunError,
            })
        }
        Err(e) => {
            writeln!(err, "surge run: {e}")?;
            // Refusing a target off loopback asks the user to change the
            // scenario or the command line; anything else is a failed run.
            let refused = matches!(&e, FinishError::Run(e) if e.is_bad_input());
            Ok(if refused {
                Exit::BadInput
            } else {
                Exit::RunError
            })
        }
    }
}

/// `surge compare BASE NEW`: prints a Markdown table of the comparison and
/// exits 1 on a regression. `bases` holds one baseline or more; with
/// `last_pass` (the history file), the latest passing run of the same
/// scenario on the same branch is the first.
pub fn compare(
    bases: &[PathBuf],
    new: &Path,
    last_pass: Option<&Path>,
    tolerance: Tolerance,
    markdown: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let n = match compare::load(new) {
        Ok(n) => n,
        Err(e) => {
            writeln!(err, "surge compare: {e}")?;
            return Ok(Exit::BadInput);
        }
    };
    let mut bases = bases.to_vec();
    if let Some(history) = last_pass {
        match last_pass_of(history, new, &n) {
            Ok(found) => {
                writeln!(
                    err,
                    "surge compare: baseline (last pass): {}",
                    found.display()
                )?;
                bases.insert(0, found);
            }
            Err(e) => {
                writeln!(err, "surge compare: {e}")?;
                return Ok(Exit::BadInput);
            }
        }
    }
    let b = match bases
        .iter()
        .map(|p| compare::load(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "surge compare: {e}")?;
            return Ok(Exit::BadInput);
        }
    };
    let comparison = match compare::compare(&b, &n, tolerance) {
        Ok(c) => c,
        Err(e) => {
            writeln!(err, "surge compare: {e}")?;
            return Ok(Exit::BadInput);
        }
    };
    let shown: Vec<String> = bases.iter().map(|p| p.display().to_string()).collect();
    let table = comparison.markdown(&shown.join("`, `"), &new.display().to_string());
    write!(out, "{table}")?;
    if let Some(path) = markdown {
        std::fs::write(path, &table)?;
    }
    Ok(if comparison.regressed() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// What a `last-pass` baseline is looked for: a passing capacity search,
/// or a passing run (of a shard, when `shard` is set) other than `folder`.
enum Wanted<'a> {
    Capacity,
    Run {
        shard: Option<(u64, u64)>,
        folder: &'a Path,
        started_at: &'a str,
    },
}

/// The `last-pass` baseline of `new` (a run or a capacity search), from
/// the history, or why there is none.
fn last_pass_of(history: &Path, new: &Path, n: &compare::Source) -> Result<PathBuf, String> {
    match n {
        compare::Source::Capacity(r) => last_pass(
            history,
            &r.scenario_sha256,
            r.provenance.git_branch.as_deref(),
            Wanted::Capacity,
        ),
        compare::Source::Run(_) | compare::Source::Summary(_) => {
            let s = match n {
                compare::Source::Run(d) => &d.summary,
                compare::Source::Summary(s) => s,
                compare::Source::Capacity(_) => unreachable!(),
            };
            let folder = if new.is_dir() {
                new
            } else {
                new.parent().unwrap_or(new)
            };
            let wanted = Wanted::Run {
                shard: s.run.shard.map(|sh| (sh.index, sh.count)),
                folder,
                started_at: &s.run.started_at,
            };
            let branch = s.run.provenance.git_branch.as_deref();
            last_pass(history, &s.scenario.sha256, branch, wanted)
        }
    }
}

/// The latest passing run or capacity search of the scenario file with
/// `sha` on `branch`, from the history at `history`, or why there is none
/// (with the branches that have one). The one lookup `compare` and
/// `capacity` share.
fn last_pass(
    history: &Path,
    sha: &str,
    branch: Option<&str>,
    wanted: Wanted<'_>,
) -> Result<PathBuf, String> {
    let h = crate::history::History::read(history).map_err(|e| e.to_string())?;
    let found = match &wanted {
        Wanted::Capacity => h.last_pass_capacity(sha, branch),
        Wanted::Run {
            shard,
            folder,
            started_at,
        } => h.last_pass_run(
            sha,
            branch,
            *shard,
            &crate::history::key(folder),
            started_at,
        ),
    }
    .map_err(|e| e.to_string())?;
    found.ok_or_else(|| {
        let on = branch.map_or("outside any git branch".to_string(), |b| {
            format!("on branch `{b}`")
        });
        let what = match wanted {
            Wanted::Capacity => "passing capacity search",
            Wanted::Run { .. } => "passing run",
        };
        let elsewhere = h.branches_with_passes(sha).unwrap_or_default();
        let hint = if elsewhere.is_empty() {
            "no run of this scenario file has passed yet".to_string()
        } else {
            format!(
                "passing runs exist on: {}; give one as BASE",
                elsewhere.join(", ")
            )
        };
        format!(
            "no earlier {what} of this scenario file (sha256 {}) {on} in {}\n  hint: {hint}",
            &sha[..sha.len().min(12)],
            history.display()
        )
    })
}

/// Says once why a finished run is not in the history.
fn warn_history(err: &mut dyn Write, command: &str, warning: Option<&str>) -> std::io::Result<()> {
    match warning {
        Some(w) => writeln!(err, "surge {command}: warning: {w}"),
        None => Ok(()),
    }
}

/// `surge whatif SCENARIO`: runs the baseline and the variants, writes the
/// comparison, prints its verdict lines and where it went.
pub fn whatif(
    w: &crate::whatif::Whatif,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    if w.base.scale.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        writeln!(err, "surge whatif: --scale must be above 0")?;
        return Ok(Exit::BadInput);
    }
    let mut say = |line: &str| {
        let _ = writeln!(err, "surge whatif: {line}");
    };
    match crate::whatif::carry_out(w, &mut say) {
        Ok(c) => {
            for r in &c.runs {
                writeln!(out, "{}: {}", r.name, r.verdict)?;
            }
            writeln!(out, "comparison: {}", w.out.join("whatif.md").display())?;
            writeln!(out, "charts: {}", w.out.join("whatif.html").display())?;
            Ok(if crate::whatif::all_valid(&c) {
                Exit::Ok
            } else {
                Exit::RunError
            })
        }
        Err(e) => {
            writeln!(err, "surge whatif: {e}")?;
            Ok(if e.is_bad_input() {
                Exit::BadInput
            } else {
                Exit::RunError
            })
        }
    }
}

/// `surge capacity SCENARIO`: checks that trials are long enough to judge
/// every objective, searches the capacity, prints each trial and the
/// result. Exits 1 when no scale passed on judged objectives or, with
/// baselines, when the capacity regressed; 3 when no trial could be judged.
pub fn capacity(
    opts: &RunOptions,
    search: &Search,
    baselines: &[PathBuf],
    tolerance: Tolerance,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let shown = opts.scenario_path.display().to_string();
    let scenario = match scenario::load_with(&opts.scenario_path, Some(1), &opts.resolve) {
        Ok((scenario, _)) => scenario,
        Err(problems) => {
            for p in &problems {
                writeln!(err, "{}", p.render(&shown))?;
            }
            return Ok(Exit::BadInput);
        }
    };
    let mut paths = Vec::new();
    for p in baselines {
        if p.as_os_str() != "last-pass" {
            paths.push(p.clone());
            continue;
        }
        let sha = crate::runner::summary::as_run_sha256(&scenario, &opts.scenario_path);
        let branch = crate::provenance::here().git_branch;
        let found = match opts.history.as_deref() {
            None => Err("--baseline last-pass reads the history; drop --no-history".to_string()),
            Some(h) => last_pass(h, &sha, branch.as_deref(), Wanted::Capacity),
        };
        match found {
            Ok(f) => {
                writeln!(err, "surge capacity: baseline (last pass): {}", f.display())?;
                paths.push(f);
            }
            Err(e) => {
                writeln!(err, "surge capacity: {e}")?;
                return Ok(Exit::BadInput);
            }
        }
    }
    let bases = match paths
        .iter()
        .map(|p| crate::rundata::read_capacity(p).map(|r| compare::Source::Capacity(Box::new(r))))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "surge capacity: {e}")?;
            return Ok(Exit::BadInput);
        }
    };
    let trial = opts.duration.unwrap_or(scenario.timeline.total);
    let short: Vec<_> = crate::gate::capacity::needs(&scenario, search.start, trial)
        .into_iter()
        .filter(|n| n.shortest > trial)
        .collect();
    if let Some(longest) = short.iter().map(|n| n.shortest).max() {
        writeln!(
            err,
            "surge capacity: trials of {} are too short to judge every objective at scale {}:",
            crate::scenario::units::Duration(trial),
            search.start
        )?;
        for n in &short {
            let enough = if n.shortest == std::time::Duration::MAX {
                "no length gives enough: no arrivals reach it in its window".to_string()
            } else {
                format!("{} gives enough", human_duration(n.shortest))
            };
            writeln!(
                err,
                "  {}: about {:.0} samples expected in a trial, {} needed; {enough}",
                n.objective, n.expected, n.min_samples
            )?;
        }
        if longest < std::time::Duration::MAX {
            writeln!(
                err,
                "  hint: use --trial-duration {} or longer (or a higher --start)",
                human_duration(longest)
            )?;
        }
        return Ok(Exit::BadInput);
    }
    std::fs::create_dir_all(&search.dir)?;
    writeln!(
        out,
        "surge capacity: {} -> {}",
        scenario.file.name,
        search.dir.display()
    )?;
    let mut last_length = None;
    let report = capacity::search(&scenario, search, opts, |t| {
        let verdict = match (t.judged, t.verdict) {
            (false, _) => "too little data",
            (_, Verdict::Pass) => "pass",
            (_, Verdict::Fail) => "fail",
            (_, Verdict::Invalid) => "invalid",
        };
        let why = t
            .reasons
            .first()
            .map_or(String::new(), |r| format!(" ({r})"));
        if last_length.is_some_and(|l| l != t.duration_s) {
            eprintln!(
                "  trials lengthened to {:.0}s so that every objective gets its samples",
                t.duration_s
            );
        }
        last_length = Some(t.duration_s);
        eprintln!(
            "  scale {:>7.3} = {:>8.1} arrivals/s: {verdict}{why}",
            t.scale, t.rate_per_s
        );
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "surge capacity: {e}")?;
            return Ok(Exit::RunError);
        }
    };
    writeln!(out, "  capacity: {}", report.describe())?;
    if let Some(history) = &opts.history {
        let warning = crate::history::record_capacity(history, &search.dir, &report);
        warn_history(err, "capacity", warning.as_deref())?;
    }
    if !report.judged() {
        return Ok(Exit::RunError);
    }
    if bases.is_empty() {
        return Ok(if report.found() {
            Exit::Ok
        } else {
            Exit::Failed
        });
    }
    let comparison = compare::compare(
        &bases,
        &compare::Source::Capacity(Box::new(report)),
        tolerance,
    )
    .expect("capacity reports compare with capacity reports");
    write!(out, "{}", comparison.markdown("baseline", "this run"))?;
    Ok(if comparison.regressed() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// Whole seconds, as a flag takes them.
fn human_duration(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs_f64().ceil() as u64)
}

/// `surge report RUN_DIR`: judges the run folder again and writes every
/// report (report.html, summary.md, junit.xml) from its recorded files; with
/// `how.rebuild`, also summary.json with its totals built again. A run
/// killed before it wrote its totals gets them rebuilt from the per-second
/// files. Exits by the verdict, like the run would have.
pub fn report(
    dir: &Path,
    how: &Finish,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let finished = match crate::finish::finish(dir, None, how) {
        Ok(f) => f,
        Err(FinishError::Read(e)) => {
            writeln!(
                err,
                "surge report: {e}\n  hint: give a run folder written by `surge run` (it holds summary.json, latency.hlog, steps.csv and journeys.csv)"
            )?;
            return Ok(Exit::BadInput);
        }
        Err(e) => {
            writeln!(err, "surge report: {e}")?;
            return Ok(Exit::RunError);
        }
    };
    let s = &finished.data.summary;
    warn_history(err, "report", finished.history_warning.as_deref())?;
    if finished.was_killed {
        writeln!(
            err,
            "surge report: the run did not finish (summary.json says running); its totals were rebuilt from {:.0}s of per-second files",
            s.run.elapsed_s
        )?;
    }
    let mut names: Vec<&str> = crate::report::formats()
        .iter()
        .map(|f| f.file_name())
        .collect();
    if how.write_summary {
        names.insert(0, "summary.json");
    }
    let verdict = s.gate.as_ref().map_or(Verdict::Fail, |g| g.verdict);
    writeln!(
        out,
        "surge report: {} -> {} ({}); verdict: {}",
        dir.display(),
        finished.dir.display(),
        names.join(", "),
        verdict.as_str()
    )?;
    Ok(verdict.exit())
}

/// `surge import access-log`: reads the logs, writes the scenario and its
/// fit report, prints the route table, the curve and the fit.
pub fn import_access_log(
    opts: &crate::import::access_log::Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    use crate::import::access_log::{self as import, ImportError, report};
    let progress =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "reading {binary_bytes} ({binary_bytes_per_sec}) {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let imported = match import::access_log(opts, &progress) {
        Ok(i) => i,
        Err(e) => {
            progress.finish_and_clear();
            writeln!(err, "error: {e}")?;
            return Ok(match e {
                ImportError::Write { .. } => Exit::RunError,
                _ => Exit::BadInput,
            });
        }
    };
    let t = &imported.tally;
    let offset = imported.offset_min;
    writeln!(
        out,
        "read {} lines from {} file{} ({} unreadable, {} outside the window, {} not a request for a path, {} static assets left out, {} blank)",
        t.lines,
        t.files.len(),
        if t.files.len() == 1 { "" } else { "s" },
        t.unreadable,
        t.outside,
        t.not_path,
        t.assets,
        t.blank
    )?;
    for e in &t.examples {
        writeln!(out, "  unreadable: {e}")?;
    }
    for c in &t.cut {
        writeln!(out, "  cut short (no newline, unreadable), left out: {c}")?;
    }
    writeln!(out, "\nroutes ({}):", t.routes.len())?;
    let rows = report::route_rows(&imported, 30);
    let w = |k: usize| rows.iter().map(|r| r[k].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2, w3, w4) = (
        w(0).max(6),
        w(1).max(5),
        w(2).max(8),
        w(3).max(5),
        w(4).max(8),
    );
    writeln!(
        out,
        "  {:w0$}  {:w1$}  {:>w2$}  {:>w3$}  {:>w4$}  status",
        "method", "route", "requests", "share", "arrivals"
    )?;
    for r in &rows {
        writeln!(
            out,
            "  {:w0$}  {:w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}",
            r[0], r[1], r[2], r[3], r[4], r[5]
        )?;
    }
    if t.routes.len() > rows.len() {
        writeln!(
            out,
            "  ... {} more routes in the fit report",
            t.routes.len() - rows.len()
        )?;
    }
    let c = &imported.curve;
    let bin = c.bin as usize;
    writeln!(
        out,
        "\nper {}: requests, arrivals, fitted arrivals, error",
        import::write::duration(c.bin)
    )?;
    for (i, m) in c.modelled(&imported.pieces) {
        let requests: u64 = t.seconds.iter().skip(i * bin).take(bin).map(|s| s[0]).sum();
        writeln!(
            out,
            "  {}  {:>8}  {:>8}  {:>10.1}  {:>5.1}%",
            &import::write::clock(t.origin_ms + (c.edge(i) * 1000.0) as i64, offset)[..19],
            requests,
            c.counts[i],
            m,
            import::fit::error(c.counts[i], m) * 100.0
        )?;
    }
    writeln!(out)?;
    for line in report::figures(opts, &imported) {
        writeln!(out, "{line}")?;
    }
    if !opts.exact {
        for (name, a, b, p) in import::write::phases(&imported) {
            let rate = if p.constant() {
                import::write::rate(p.from)
            } else {
                format!(
                    "{} to {}",
                    import::write::rate(p.from),
                    import::write::rate(p.to)
                )
            };
            writeln!(
                out,
                "  phase {name}: {rate} for {}",
                import::write::duration(b - a)
            )?;
        }
    }
    for (route, share) in &imported.unmapped {
        writeln!(
            out,
            "not in the scenario: {route} ({:.1}% of arrivals)",
            share * 100.0
        )?;
    }
    let written: Vec<String> = imported
        .written
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    writeln!(out, "wrote {}", written.join(", "))?;
    Ok(Exit::Ok)
}

/// `surge import har`: reads the recording, writes the journey, prints
/// the steps, what was correlated, and what is left to do.
pub fn import_har(
    args: &args::HarArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let result = args.options().and_then(|o| crate::import::har::har(&o));
    let imported = match result {
        Ok(i) => i,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(if e.is_bad_input() {
                Exit::BadInput
            } else {
                Exit::RunError
            });
        }
    };
    let b = &imported.built;
    writeln!(
        out,
        "read {} entries from {}{}; {} requests to {} kept",
        imported.entries,
        args.file.display(),
        if imported.creator.is_empty() {
            String::new()
        } else {
            format!(" (recorded by {})", imported.creator)
        },
        b.requests,
        b.target
    )?;
    if !b.left_out.is_empty() {
        let l: Vec<String> = b.left_out.iter().map(|(w, n)| format!("{n} {w}")).collect();
        writeln!(out, "left out: {}", l.join(", "))?;
    }
    let journey = args
        .journey
        .clone()
        .unwrap_or_else(|| crate::import::scenario_name(&args.file));
    writeln!(
        out,
        "\njourney `{journey}` ({}): {}, {}",
        b.channel,
        crate::import::plural(b.steps.len(), "step"),
        crate::import::plural(b.polls(), "poll")
    )?;
    let width = b.steps.iter().map(|s| s.name.len()).max().unwrap_or(4);
    for s in &b.steps {
        let mut line = format!(
            "  {:width$}  {:6} {}  -> {}",
            s.name, s.method, s.path, s.status
        );
        if let Some(u) = &s.until {
            line.push_str(&format!(
                "  (poll until {} {}, {} recorded)",
                u.path,
                u.equals
                    .as_ref()
                    .map_or("exists".into(), |v| format!("= {v}")),
                crate::import::plural(u.polls, "poll")
            ));
        }
        if let Some(t) = s.think_ms {
            line.push_str(&format!("  (think {:.1}s)", t as f64 / 1000.0));
        }
        writeln!(out, "{line}")?;
    }
    if !b.correlations.is_empty() {
        writeln!(
            out,
            "\ncorrelated {}:",
            crate::import::plural(b.correlations.len(), "value")
        )?;
        for c in &b.correlations {
            writeln!(
                out,
                "  {:12} captured at `{}` ({}), sent in {}",
                c.var,
                c.from,
                c.source,
                c.used_in.join(", ")
            )?;
        }
    }
    if !b.typed.is_empty() {
        writeln!(out, "\ntyped by the person (one per applicant):")?;
        for t in &b.typed {
            writeln!(out, "  {} = {}", t.name, t.template)?;
        }
    }
    if !b.secrets.is_empty() {
        writeln!(
            out,
            "\nsecrets (set them before running; never written to the file):"
        )?;
        for (env, at) in &b.secrets {
            let set = if std::env::var_os(env).is_some() {
                "set"
            } else {
                "NOT SET"
            };
            writeln!(out, "  ${{{env}}}  {at}  [{set}]")?;
        }
    }
    if b.missing_bodies > 0 {
        writeln!(
            out,
            "\nnote: {} without a body in the recording; correlation used their headers only (save the HAR \"with content\")",
            crate::import::plural(b.missing_bodies, "response")
        )?;
    }
    let todos: Vec<&String> = b.todos().collect();
    if todos.is_empty() {
        writeln!(out, "\nto do: nothing")?;
    } else {
        writeln!(out, "\nto do ({}):", todos.len())?;
        for t in todos {
            writeln!(out, "  - {t}")?;
        }
    }
    let files: Vec<String> = imported
        .written
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    writeln!(out, "\nwrote {}; it validates", files.join(", "))?;
    writeln!(out, "next: surge run {}", args.out.display())?;
    Ok(Exit::Ok)
}

/// `surge proxy [--config FILE]`: serves the proxies of the file (none
/// without one) and Toxiproxy's API over them until Ctrl-C or SIGTERM.
pub fn proxy(
    args: &args::ProxyArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    use crate::proxy::control::{Control, Policy};
    let config = match &args.config {
        None => crate::proxy::config::ProxyConfig::default(),
        Some(path) => match crate::proxy::config::read(path) {
            Ok(c) => c,
            Err(e) => {
                writeln!(err, "surge proxy: {e}")?;
                return Ok(Exit::BadInput);
            }
        },
    };
    let shown = args
        .config
        .as_ref()
        .map_or_else(String::new, |p| format!("{}: ", p.display()));
    let control_addr = args
        .control
        .or(config.control)
        .unwrap_or_else(|| "127.0.0.1:8474".parse().expect("an address"));
    if !args.listen_anywhere && !control_addr.ip().is_loopback() {
        writeln!(
            err,
            "surge proxy: the control API address {control_addr} is off loopback; pass --listen-anywhere to serve it there"
        )?;
        return Ok(Exit::BadInput);
    }
    let policy = Policy {
        allow_hosts: config
            .allow_hosts
            .iter()
            .chain(&args.allow_hosts)
            .cloned()
            .collect(),
        listen_anywhere: args.listen_anywhere,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let control = Control::new(policy);
        for entry in &config.proxies {
            let proxy = match control.create(entry.as_api()).await {
                Ok(p) => p,
                Err(e) => {
                    writeln!(err, "surge proxy: {shown}proxy `{}`: {e}", entry.name)?;
                    let exit = if e.status() == 500 { Exit::RunError } else { Exit::BadInput };
                    return Ok(exit);
                }
            };
            for t in &entry.toxics {
                let mut t = t.clone();
                t.name = Some(crate::proxy::config::toxic_name(&t));
                if let Err(e) = proxy.add(t) {
                    writeln!(err, "surge proxy: {shown}proxy `{}`: {e}", entry.name)?;
                    return Ok(Exit::BadInput);
                }
            }
            writeln!(
                out,
                "surge proxy: {} listening on {} -> {} ({} on{})",
                entry.name,
                proxy.addr(),
                entry.upstream,
                match entry.toxics.len() {
                    1 => "1 toxic".to_string(),
                    n => format!("{n} toxics"),
                },
                if entry.enabled { "" } else { "; disabled" }
            )?;
        }
        let listener = match tokio::net::TcpListener::bind(control_addr).await {
            Ok(l) => l,
            Err(e) => {
                writeln!(err, "surge proxy: cannot serve the control API on {control_addr}: {e}; is a Toxiproxy or another surge proxy running there? Pick another with --control")?;
                return Ok(Exit::RunError);
            }
        };
        writeln!(
            out,
            "surge proxy: control API on http://{} (Toxiproxy's API: GET /proxies, POST /proxies, POST /proxies/NAME/toxics, ...)",
            listener.local_addr()?
        )?;
        out.flush()?;
        let app = crate::proxy::control::router(control);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        writeln!(out, "surge proxy: stopped")?;
        Ok(Exit::Ok)
    })
}

/// `surge merge RUN_DIR... --out DIR`: merges the shards' run folders into
/// one, judges it and writes every report. Exits by the verdict.
pub fn merge(
    dirs: &[PathBuf],
    into: &Path,
    history: Option<PathBuf>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let merged = match crate::merge::merge(dirs, into) {
        Ok(m) => m,
        Err(e) => {
            writeln!(err, "surge merge: {e}")?;
            return Ok(Exit::BadInput);
        }
    };
    if let Err(e) = merged.write(&dirs[0]) {
        writeln!(err, "surge merge: {e}")?;
        return Ok(Exit::RunError);
    }
    let how = Finish {
        rebuild: true,
        write_summary: true,
        history,
        ..Finish::default()
    };
    let data = match crate::finish::finish(into, Some(merged.data.summary), &how) {
        Ok(f) => {
            warn_history(err, "merge", f.history_warning.as_deref())?;
            f.data
        }
        Err(e) => {
            writeln!(err, "surge merge: {e}")?;
            return Ok(Exit::RunError);
        }
    };
    let verdict = data
        .summary
        .gate
        .as_ref()
        .map_or(Verdict::Fail, |g| g.verdict);
    let spread = data
        .summary
        .run
        .shards
        .iter()
        .map(|s| s.offset_ms)
        .fold(0.0, f64::max);
    writeln!(
        out,
        "surge merge: {} shards, started at most {spread:.1} ms apart",
        data.summary.run.shards.len()
    )?;
    out.write_all(&Text.render(&data))?;
    Ok(verdict.exit())
}

/// `surge predict`: the model's table on stdout (or predict.json with
/// `--json`), predict.json written; exit 2 when the scenario is wrong or
/// does not target the twin.
pub fn predict(
    a: &args::PredictArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    if a.scale.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        writeln!(err, "surge predict: --scale must be a number above 0")?;
        return Ok(Exit::BadInput);
    }
    let shown = a.scenario.display().to_string();
    let resolve = scenario::Resolve {
        sets: a.sets.sets.clone(),
        variant: None,
    };
    let mut scenario = match scenario::load_with(&a.scenario, Some(1), &resolve) {
        Ok((scenario, _)) => scenario,
        Err(problems) => {
            for p in &problems {
                writeln!(err, "{}", p.render(&shown))?;
            }
            return Ok(Exit::BadInput);
        }
    };
    let mut opts = RunOptions::new(&a.scenario);
    opts.scale = a.scale;
    opts.duration = a.duration.map(|d| d.0);
    crate::runner::apply_overrides(&mut scenario, &opts);
    let prediction = match crate::predict::predict(&scenario) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "surge predict: {e}")?;
            return Ok(Exit::BadInput);
        }
    };
    let path = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(scenario.file.name.to_string())
            .join("predict.json")
    });
    let json = serde_json::to_string_pretty(&prediction).map_err(std::io::Error::other)?;
    let written = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, format!("{json}\n")));
    if let Err(e) = written {
        writeln!(err, "surge predict: cannot write {}: {e}", path.display())?;
        return Ok(Exit::RunError);
    }
    if a.json {
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", crate::predict::render(&prediction))?;
        writeln!(out, "\nwritten: {}", path.display())?;
    }
    Ok(Exit::Ok)
}

/// `surge fit`: the stages as they go on stderr, the fitted pools and
/// the files written on stdout.
pub fn fit(
    opts: &crate::fit::FitOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let mut say = |line: &str| {
        let _ = writeln!(err, "surge fit: {line}");
    };
    match crate::fit::carry_out(opts, &mut say) {
        Ok(report) => {
            for p in &report.pools {
                writeln!(
                    out,
                    "{} ({}): {} workers, {:.1} ms mean service, bent at {:.1} arrivals/s, \
                     residuals {:.1} ms rms",
                    p.pool,
                    p.channels.join(", "),
                    p.workers,
                    p.mean_service_ms,
                    p.bent_at_rate,
                    p.fit.rms_ms
                )?;
            }
            if !report.delays.is_empty() {
                writeln!(out, "delays without a pool: {}", report.delays.join(", "))?;
            }
            for n in &report.notes {
                writeln!(out, "note: {n}")?;
            }
            writeln!(out, "fitted: {}", report.fitted)?;
            writeln!(out, "fit: {}", opts.dir.join("fit.json").display())?;
            writeln!(
                out,
                "next: surge predict {} (or capacity, whatif)",
                report.fitted
            )?;
            Ok(Exit::Ok)
        }
        Err(e) => {
            writeln!(err, "surge fit: {e}")?;
            Ok(if e.is_bad_input() {
                Exit::BadInput
            } else {
                Exit::RunError
            })
        }
    }
}
