//! The subcommands as library functions: each takes its already parsed
//! arguments and the streams to write to, and returns the exit status.
//! `main.rs` only parses the command line and calls one of these, so tests
//! call the same code users run. Nothing here parses arguments.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::Exit;
use crate::scenario::{self, units::Duration};
use crate::twin;

/// `surge validate FILE...`: checks each file, prints every problem as
/// `file:line:column: error: ...` on `err` and a one-line summary of each
/// valid file on `out`.
pub fn validate(
    files: &[PathBuf],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Exit> {
    let mut status = Exit::Ok;
    for file in files {
        let shown = file.display().to_string();
        let checked = scenario::check_file(file);
        for problem in &checked.problems {
            writeln!(err, "{}", problem.render(&shown))?;
        }
        match &checked.scenario {
            Some(s) => writeln!(out, "{shown}: ok: {}", summary(s))?,
            None => {
                let n = checked.errors().count();
                writeln!(err, "{shown}: {n} error{}", if n == 1 { "" } else { "s" })?;
                status = Exit::BadInput;
            }
        }
    }
    Ok(status)
}

fn summary(s: &scenario::Scenario) -> String {
    let f = &s.file;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} over {}, about {} arrivals, {}, {}, {}",
        plural(f.load.phases.len(), "phase"),
        Duration(s.total()),
        s.expected_arrivals().round() as u64,
        plural(f.journeys.len(), "journey"),
        plural(f.faults.len(), "fault"),
        plural(f.objectives.len(), "objective"),
    )
}

/// `surge schema`: prints the JSON Schema of the scenario format.
pub fn schema(out: &mut dyn Write) -> std::io::Result<Exit> {
    serde_json::to_writer_pretty(&mut *out, scenario::schema::json_schema())?;
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
