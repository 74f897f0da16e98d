//! The `surge` command line: parses arguments and calls one library
//! function per subcommand. Nothing else lives here; the arguments and
//! their help are in `surge::cli::args`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use surge::cli::args::{Args, Command};
use surge::{Exit, cli};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    // Unlocked handles: other threads (signals, progress) write to stderr too.
    let (out, err) = (&mut std::io::stdout(), &mut std::io::stderr());
    let result = match args.command {
        Command::Validate(a) => {
            cli::validate(&a.files, a.shards, &a.sets.sets, a.connect, out, err)
        }
        Command::Schema(a) => cli::schema(a.summary, out),
        Command::Run(a) => {
            let opts = a.options(std::io::stderr().is_terminal());
            cli::run(&opts, a.rate_tolerance.fraction(), out, err)
        }
        Command::Merge(a) => {
            let history = a.history.path(std::path::Path::new("reports"));
            cli::merge(&a.dirs, &a.out, history, out, err)
        }
        Command::Report(a) => cli::report(&a.dir, &a.options(), out, err),
        Command::Compare(a) => match a.split() {
            Ok((bases, new)) => {
                let last_pass = a.last_pass_history();
                let table = a.markdown.as_deref();
                cli::compare(
                    &bases,
                    &new,
                    last_pass.as_deref(),
                    a.tolerance(),
                    table,
                    out,
                    err,
                )
            }
            Err(e) => writeln!(err, "surge compare: {e}").map(|()| Exit::BadInput),
        },
        Command::History(a) => cli::history::command(&a, out, err),
        Command::Capacity(a) => {
            let (opts, search) = (a.options(), a.search());
            cli::capacity(&opts, &search, &a.baseline, a.tolerance(), out, err)
        }
        Command::Whatif(a) => cli::whatif(&a.whatif(), out, err),
        Command::Predict(a) => cli::predict(&a, out, err),
        Command::Fit(a) => cli::fit(&a.options(), out, err),
        Command::Proxy(a) => cli::proxy(&a, out, err),
        Command::Import(cli::args::ImportCommand::AccessLog(a)) => {
            cli::import_access_log(&a.options(), out, err)
        }
        Command::Import(cli::args::ImportCommand::Har(a)) => cli::import_har(&a, out, err),
        Command::Twin(a) => cli::twin(a.listen, a.config.as_deref(), a.workers, out, err),
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
