//! The `surge` command line: parses arguments and calls one library
//! function per subcommand. Nothing else lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use surge::{Exit, cli};

const EXIT_CODES: &str = "\
Exit codes:
  0  every objective met (validate: every file is valid)
  1  an objective or a comparison failed
  2  the scenario or the command line is wrong
  3  the run could not be carried out (target unreachable, I/O error)";

/// Rehearse a registration deadline before it happens.
///
/// surge drives an open-model surge of applicants (arrivals keep coming
/// however slow the target gets) across the channels of an e-Meterai
/// platform, injects outages on a timeline, and judges the result against
/// the scenario's objectives.
#[derive(Parser)]
#[command(name = "surge", version, after_help = EXIT_CODES, max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check scenario files and print every problem with file:line:column.
    ///
    /// Reads each file, checks its structure against the format's schema and
    /// its meaning (names that exist, moments inside the run, variables
    /// captured before use), and prints each problem with a hint. Exits 0
    /// when every file is valid, 2 otherwise.
    #[command(after_help = EXIT_CODES)]
    Validate {
        /// Scenario files (YAML).
        #[arg(required = true, value_name = "SCENARIO")]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format, for editors.
    ///
    /// Save it and point your editor at it; with the YAML language server,
    /// put `# yaml-language-server: $schema=./surge.schema.json` at the top
    /// of a scenario file.
    Schema,
    /// Serve the built-in e-Meterai twin on its own.
    ///
    /// The twin has the platform's channels (storefront with waiting room,
    /// OTP login, orders, asynchronous payment callbacks; stamping; partner
    /// channels) and its core (serial stock, a signing pool with a bounded
    /// queue). Capacity comes only from its configuration. Operators use
    /// GET /admin/ledger, POST|DELETE /admin/faults and GET /metrics.
    /// Stops on Ctrl-C or SIGTERM.
    Twin {
        /// Address to listen on; port 0 picks a free port (printed).
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: SocketAddr,
        /// Capacity knobs: a twin section as under `target.twin`, or a
        /// scenario whose target is the twin. Default: the defaults.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Worker threads. Default: one per CPU core.
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
    },
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::BadInput.into()
            } else {
                Exit::Ok.into()
            };
        }
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let result = match args.command {
        Command::Validate { files } => cli::validate(&files, &mut out, &mut err),
        Command::Schema => cli::schema(&mut out),
        Command::Twin {
            listen,
            config,
            workers,
        } => cli::twin(listen, config.as_deref(), workers, &mut out, &mut err),
    };
    match result {
        Ok(exit) => exit.into(),
        // `surge schema | head`: the reader left; nothing is wrong.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok.into(),
        Err(e) => {
            eprintln!("surge: {e}");
            Exit::RunError.into()
        }
    }
}
