//! The subcommands as library functions: each takes its already parsed
//! arguments and the streams to write to, and returns the exit status.
//! `main.rs` only parses the command line and calls one of these, so tests
//! call the same code users run. Nothing here parses arguments.

use std::io::Write;
use std::path::PathBuf;

use crate::Exit;
use crate::scenario::{self, units::Duration};

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
