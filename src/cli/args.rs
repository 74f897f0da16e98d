//! The command line as clap reads it: one struct of arguments per
//! subcommand, each turned into the options its library function takes,
//! so `main.rs` only dispatches. The help text lives here, on the fields it
//! explains.

use crate::gate::early::Policy;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::capacity::Search;
use crate::finish::Finish;
use crate::gate::compare::Tolerance;
use crate::runner::RunOptions;
use crate::scenario::units::{Duration, Percent, parse_duration, parse_percent};
use crate::schedule::Shard;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  every objective met (validate: every file is valid; compare, capacity:
     no regression)
  1  an objective missed or could not be judged (too few samples), a
     comparison found a regression, or capacity found no passing scale
  2  the scenario or the command line is wrong (also: a target off loopback
     that was not allowed, or capacity trials too short to judge)
  3  the run could not be carried out or cannot be trusted: target
     unreachable, I/O error, interrupted, or invalid (the generator did not
     deliver the schedule: arrivals dropped, started rate below the
     schedule by more than --rate-tolerance, its CPU saturated); capacity:
     no trial could be judged";

/// Rehearse a registration deadline before it happens.
///
/// surge drives an open-model surge of applicants (arrivals keep coming
/// however slow the target gets) across the channels of an e-Meterai
/// platform, injects outages on a timeline, and judges the result against
/// the scenario's objectives.
#[derive(Parser)]
#[command(name = "surge", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a scenario: drive its surge against the target and record it.
    ///
    /// Starts the built-in twin when the scenario targets it (an external
    /// target must be on loopback unless allowed), hands out arrivals at
    /// their intended instants (open model: they keep coming however slow
    /// the target gets), carries out the scenario's fault timeline, and
    /// writes a run folder under reports/NAME/: summary.json, latency.hlog
    /// (HdrHistogram interval log), timeline.csv, steps.csv and
    /// journeys.csv as the run goes, then report.html, summary.md and
    /// junit.xml, and indexes it in the run history (reports/history.sqlite;
    /// see `surge history --help`). Ctrl-C stops arrivals, gives journeys
    /// in flight a short grace and writes everything.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Merge the run folders of the shards of one run into one run folder.
    ///
    /// Adds the whole-run and per-second HDR histograms exactly, sums
    /// counts and outcomes, aligns seconds on the shards' wall-clock
    /// starts, checks the folders are the N shards of one scenario and seed
    /// (none missing or twice), judges the objectives on the merged data and
    /// writes a normal run folder with every report. Exits by the verdict.
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
    /// Compare two runs (or two capacity reports) and fail on a regression.
    ///
    /// Takes run folders, summary.json files, or capacity.json files. Every
    /// judged row names its test; a row is worse only when the test puts
    /// the move beyond the tolerance, after Holm's adjustment over the whole
    /// table, so an unchanged system fails at most 1% of the time overall:
    ///
    ///   latency p50/p90/p99 (steps) and journey time p50/p99: the
    ///     difference of the quantiles over its standard error, read from
    ///     each quantile's distribution-free 95% bounds (run folders only);
    ///     worse when the new one exceeds the base's by more than
    ///     --tolerance and at least --min-delta. Judged from 10 samples
    ///     beyond the quantile (20 for p50, 100 for p90, 1,000 for p99).
    ///   error rate (steps), goodput (journeys): two proportions (Agresti-
    ///     Caffo), worse beyond --margin. Judged from 20 on each side.
    ///   journeys completed (in time, in all) per second: two rates, quasi-
    ///     Poisson (log ratio; variance inflated by the dispersion of its
    ///     counts binned by 1 to 10 s, since completions come in bursts), worse
    ///     beyond --tolerance; only between runs offered the same schedule
    ///     (scenario sha256, seed, scale, duration), else "not comparable".
    ///     Judged from 20 journeys, run folders only.
    ///   requests per journey of polled or retried steps: two rates, quasi-
    ///     Poisson, worse when amplification rises beyond --tolerance.
    ///   requests/s of a step: reported, never judged (a polled step sends
    ///     fewer requests when the system is faster).
    ///   capacity: the new bracket's upper end below the base's lower end,
    ///     less --tolerance.
    ///
    /// With --base given more than once, the new run is worse only when it
    /// is worse than every baseline (their run-to-run spread counts).
    /// Prints a Markdown table for pull-request comments; exits 1 on a
    /// regression.
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Compare(CompareArgs),
    /// Write the reports of a run folder again: report.html, summary.md,
    /// junit.xml.
    ///
    /// Reads only the run folder (summary.json, latency.hlog, steps.csv,
    /// journeys.csv, and the scenario copy for its objectives), judges the
    /// objectives again and writes every report, so a report can be
    /// regenerated after an upgrade, for a run that was killed midway (its
    /// totals are rebuilt from the per-second files), or for a merged run.
    /// Exits by the verdict, as the run did.
    #[command(after_help = EXIT_CODES)]
    Report(ReportArgs),
    /// Find the highest scale at which every objective holds.
    ///
    /// Runs short trials of the scenario at different scales: doubling or
    /// halving until one passes and one fails, then bisecting until the
    /// bracket is narrower than --resolution. Every trial is a run folder
    /// under the output folder, with capacity.json beside them. With
    /// --baseline, exits 1 when the capacity fell more than --tolerance
    /// below the baseline's.
    ///
    /// A trial too short to judge an objective says nothing about load:
    /// surge first checks that a trial of --trial-duration gives every
    /// latency objective its samples at the --start scale (refused with
    /// the length needed, exit 2, if not); a trial that still lacks them is
    /// run again longer (up to 4x) or at a higher scale, never a lower one.
    /// Exits 1 when no scale passed on judged objectives, 3 when no trial
    /// could be judged.
    #[command(after_help = EXIT_CODES)]
    Capacity(CapacityArgs),
    /// Predict capacity before any load, from a queueing model.
    ///
    /// Models the scenario (journeys, mix, phases, patience, polls)
    /// against the twin's configuration (signing workers and service time,
    /// queue bound and timeout, waiting room, OTP and callback delays,
    /// stocks) and prints, without sending a request: each resource's
    /// utilisation per phase and the bottleneck, p50/p99 per step and
    /// journey, when each stock runs out, each objective at the scenario's
    /// scale, and the predicted capacity (the highest scale at which every
    /// objective the model can judge holds). Writes predict.json. The
    /// model's approximations are listed with every prediction.
    ///
    ///   surge predict scenarios/capacity-gate.yaml
    ///   surge predict FILE --set target.twin.core.signing.workers=16
    ///   surge predict FILE --duration 20s   (as `surge capacity --trial-duration 20s` runs it)
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Predict(PredictArgs),
    /// Fit a twin to your own platform from a short measurement.
    ///
    /// For a scenario whose target is a `base_url`: a probe at a low rate
    /// (each step's service time), then a stepped ramp of the scenario's
    /// mix that stops at the first rate where a channel's time bends or
    /// its errors start (never above --max-rate), refined below it. Channels
    /// that bent together share a pool of workers, fitted to the waits
    /// measured (M/G/c). Writes FITTED.yaml (the scenario, its target now
    /// `twin: { fitted: ... }`: the platform's routes answered as the steps
    /// expect, costly ones behind the fitted pools) and fit.json (every
    /// stage's measurements, the fit and its residuals), so `surge
    /// predict`, `capacity` and `whatif` run against the platform's model.
    /// Prints what it will send before it starts; a target off loopback
    /// needs --allow-remote-target, as for `run`.
    ///
    ///   surge fit my-platform.yaml --out fitted.yaml --budget 5m --max-rate 400/s
    ///   surge predict fitted.yaml
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Fit(FitArgs),
    /// Which change would have let the most applicants finish before the
    /// deadline: the scenario and its variants, on the same arrivals.
    ///
    /// Runs the scenario as written (the baseline), then each of its
    /// `variants:` (or those named with --variant), one after another on
    /// the same seeded schedule, each a normal run folder under one
    /// whatif-TIMESTAMP folder. Then writes whatif.json, whatif.md and
    /// whatif.html: per variant and channel, applicants done before the
    /// deadline, late, abandoned and failed, the difference to the
    /// baseline with a 95% interval, journey times, credits lost,
    /// stock-outs and retries, goodput and backlog charts, and one verdict
    /// line per variant. Exits 0 when every run was carried out and valid,
    /// 3 when one was not (the comparison is still written, that run
    /// marked), 2 when the scenario or a variant does not validate.
    ///
    ///   surge whatif scenarios/cpns-2024-deadline-eve.yaml --duration 120s
    ///   surge whatif FILE --variant twice-the-signers --set seed=7
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Whatif(WhatifArgs),
    /// Check scenario files and print every problem with file:line:column.
    ///
    /// Reads each file, checks its structure against the format's schema and
    /// its meaning (names that exist, moments inside the run, variables
    /// captured before use), and prints each problem with a hint. Exits 0
    /// when every file is valid, 2 otherwise.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Print the JSON Schema of the scenario format, for editors.
    ///
    /// Save it and point your editor at it; with the YAML language server,
    /// put `# yaml-language-server: $schema=./surge.schema.json` at the top
    /// of a scenario file. With --summary, the schema of a run's
    /// summary.json instead.
    Schema(SchemaArgs),
    /// Serve fault-injecting proxies that speak Toxiproxy's API
    ///
    /// A drop-in for toxiproxy-server: its HTTP API (2.x) on
    /// 127.0.0.1:8474, so toxiproxy-cli and Toxiproxy's client libraries
    /// drive it unchanged. Each proxy listens on loopback in front of one
    /// upstream (host:port) and forwards bytes both ways, half-closes
    /// included, through the toxics switched on: latency, bandwidth,
    /// slow_close, timeout, reset_peer, slicer, limit_data (Toxiproxy's,
    /// with its attributes and units), http_error and http_delay (on a
    /// share of HTTP requests). Stops on Ctrl-C or SIGTERM.
    ///
    ///   surge proxy &
    ///   curl -X POST localhost:8474/proxies \
    ///     -d '{"name":"storefront","listen":"127.0.0.1:18080","upstream":"127.0.0.1:8080"}'
    ///   curl -X POST localhost:8474/proxies/storefront/toxics \
    ///     -d '{"type":"latency","attributes":{"latency":200,"jitter":20}}'
    ///   curl -X DELETE localhost:8474/proxies/storefront/toxics/latency_downstream
    ///
    /// --config takes Toxiproxy's JSON config, or surge's YAML:
    ///
    ///   control: 127.0.0.1:8474
    ///   proxies:
    ///     - name: storefront
    ///       listen: 127.0.0.1:18080
    ///       upstream: 127.0.0.1:8080
    ///       toxics: [{ fault: { latency: { delay: 100ms } }, toxicity: 50% }]
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Proxy(ProxyArgs),
    /// Build a scenario from what the platform recorded.
    #[command(subcommand)]
    Import(ImportCommand),
    /// List the run history, follow a metric's trend, or rebuild the index.
    ///
    /// Every finished run, merge and capacity search is indexed in an
    /// SQLite database (reports/history.sqlite by default; --history FILE
    /// or SURGE_HISTORY name another), from its folder's files, with the
    /// git commit, branch and CI job it came from. Any SQL client reads it;
    /// README documents its tables.
    ///
    ///   surge history [SCENARIO] [--last N] [--json]
    ///       runs and capacity searches, newest first
    ///   surge history trend SCENARIO --metric M [--svg FILE]
    ///       one metric over the scenario's last runs, with each point where
    ///       it moved beyond noise and the commit it moved at
    ///   surge history rebuild [DIR]
    ///       index every run folder under DIR (default: reports) again
    ///
    /// SCENARIO is the scenario's name (its `name:`) or its file.
    #[command(verbatim_doc_comment, after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
    History(HistoryCmd),
    /// Serve the built-in e-Meterai twin on its own.
    ///
    /// The twin has the platform's channels (storefront with waiting room,
    /// OTP login, orders, asynchronous payment callbacks; stamping; partner
    /// channels) and its core (serial stock, a signing pool with a bounded
    /// queue). Capacity comes only from its configuration. Operators use
    /// GET /admin/ledger, POST|DELETE /admin/faults and GET /metrics.
    /// Stops on Ctrl-C or SIGTERM.
    Twin(TwinArgs),
}

/// The arguments of `surge run`.
#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: ScenarioFlags,
    /// Multiply every arrival rate by X (overrides `load.scale`).
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,
    /// Stretch or compress the timeline to this length (e.g. 90s);
    /// rates stay as written, the twin's stocks scale with the time so
    /// they run dry at the same point of the replay.
    #[arg(long, value_name = "D", value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Seed of the arrival schedule (overrides `seed`).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Concurrency cap (overrides `load.max_in_flight`).
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<u32>,
    /// Write the run folder here instead of reports/NAME/TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where run folders go.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Allow a target off loopback even if `target.allow_hosts` does
    /// not list it. Only load systems you are allowed to load.
    #[arg(long)]
    pub allow_remote_target: bool,
    /// Keep goose's own request metrics and write its report
    /// (goose-report.html) as a cross-check; costs throughput.
    #[arg(long)]
    pub goose_metrics: bool,
    /// Push the run's series every second to this Prometheus
    /// remote-write endpoint (`http://HOST:9090/api/v1/write`), labelled
    /// `run_id` and `shard`. Never slows the run: what cannot be sent is
    /// counted and reported at the end.
    #[arg(long, value_name = "URL")]
    pub prometheus_rw: Option<String>,
    /// A header of the remote-write pushes, `Name: value`; `${ENV}` reads
    /// a secret from the environment, never printed. Repeatable.
    #[arg(long, value_name = "HEADER", requires = "prometheus_rw")]
    pub prometheus_rw_header: Vec<String>,
    /// Serve a live page of the run at ADDR (default 127.0.0.1:5665): load,
    /// latency per step, errors, faults on and next, the generator's
    /// health, updated every second; `/metrics` (Prometheus text) and,
    /// once judged, `/report` on the same listener.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:5665")]
    pub dashboard: Option<String>,
    /// Let --dashboard listen off loopback (anyone who reaches it sees
    /// the run).
    #[arg(long, requires = "dashboard")]
    pub allow_remote_dashboard: bool,
    /// Keep serving the dashboard this long after the run ends (default
    /// 0s, so CI runs exit).
    #[arg(long, value_name = "D", value_parser = duration_arg, requires = "dashboard")]
    pub dashboard_linger: Option<Duration>,
    /// The run is invalid (exit 3) when started arrivals fall more than
    /// this far below the schedule.
    #[arg(long, value_name = "PCT", default_value = "1%", value_parser = percent_arg)]
    pub rate_tolerance: Percent,
    /// Run shard K of N (1-based): a deterministic 1/N of every
    /// journey's arrivals and of max_in_flight. The N shards together
    /// run exactly the whole schedule; combine them with `surge merge`.
    /// Faults on the twin and hooks are applied by shard 1 only.
    #[arg(long, value_name = "K/N", value_parser = shard_arg)]
    pub shard: Option<Shard>,
    /// Start the schedule at this wall-clock instant (RFC 3339, e.g.
    /// 2026-11-28T10:00:00Z, or Unix seconds), so shards on several
    /// machines begin together.
    #[arg(long, value_name = "TIME", value_parser = start_at_arg)]
    pub start_at: Option<std::time::SystemTime>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run this variant of the scenario (one of its `variants:`): its
    /// `set:` applied after any --set.
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
}

/// What every command that runs a scenario takes: `run`, `capacity` and
/// `whatif` read the same scenario the same way.
#[derive(clap::Args)]
pub struct ScenarioFlags {
    /// The scenario file (YAML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Worker threads of the load generator. Default: one per core.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub sets: SetFlags,
    #[command(flatten)]
    pub history: HistoryFlags,
    /// Never stop a run before its schedule's end, even when an objective
    /// with `stop_early: true` is decided missed (`capacity`: trials run
    /// their whole length, as before trials stopped early).
    #[arg(long)]
    pub no_stop_early: bool,
}

impl ScenarioFlags {
    /// The run options these flags set; `reports` is where run folders
    /// and the history go by default.
    pub fn options(&self, reports: &std::path::Path) -> RunOptions {
        let mut opts = RunOptions::new(&self.scenario);
        opts.threads = self.threads;
        opts.quiet_goose = true;
        opts.history = self.history.path(reports);
        opts.resolve.sets = self.sets.sets.clone();
        opts.stop_early = if self.no_stop_early {
            Policy::Never
        } else {
            Policy::AsWritten
        };
        opts
    }
}

/// `--set PATH=VALUE`, on every command that resolves a scenario.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SetFlags {
    /// Set a scenario field before it is checked (repeatable): PATH as
    /// the document writes it (`load.phases[1].rate`,
    /// `target.twin.core.signing.workers`, `journeys.buyer.patience.attempts`),
    /// VALUE as YAML (`40/s`, `16`, `2m`, `[a, b]`, `{ attempts: 1 }`). The
    /// run folder's scenario.yaml is the scenario as run; summary.json
    /// lists the overrides.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

/// Where the run history is, for commands that write or read it.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct HistoryFlags {
    /// The run history (SQLite). Default: $SURGE_HISTORY, else
    /// history.sqlite in the reports folder.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Do not index this run in the history.
    #[arg(long, conflicts_with = "history")]
    pub no_history: bool,
}

impl HistoryFlags {
    /// The history file, if one is used; `reports` is the reports folder.
    pub fn path(&self, reports: &std::path::Path) -> Option<PathBuf> {
        crate::history::location(self.history.as_deref(), self.no_history, reports)
    }
}

/// `surge history`: a list, or one of its actions.
#[derive(clap::Args)]
pub struct HistoryCmd {
    #[command(subcommand)]
    pub action: Option<HistoryAction>,
    /// Only this scenario (its name or file).
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// How many to list.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub last: usize,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The run history. Default: $SURGE_HISTORY, else reports/history.sqlite.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum HistoryAction {
    /// One metric over a scenario's last runs, and where it moved.
    ///
    /// Each run is tested against the runs before it (up to 5, since the
    /// last move) with the tests of `surge compare`: two proportions for
    /// goodput and error rates, the quantile test for latency (from the
    /// standard errors kept at indexing), the brackets for capacity; a
    /// move must show against each of them. Only whole, valid, completed
    /// runs count (not shards, capacity trials or invalid runs).
    ///
    /// Metrics: capacity, goodput, error_rate, error_rate:STEP,
    /// p50|p90|p99:STEP (JOURNEY.STEP) or p50|p90|p99:CHANNEL.
    #[command(verbatim_doc_comment)]
    Trend(TrendArgs),
    /// Index every run folder and capacity search under DIR again.
    ///
    /// Also makes a deleted history anew, and moves a damaged one aside
    /// (history.sqlite.damaged-TIME) before making it again.
    Rebuild(RebuildArgs),
}

#[derive(clap::Args)]
pub struct TrendArgs {
    /// The scenario (its name or file).
    pub scenario: String,
    /// What to follow.
    #[arg(long, value_name = "M", value_parser = metric_arg)]
    pub metric: crate::history::query::Metric,
    /// Also draw the series as an SVG chart here.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// How many runs to follow.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub last: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The run history. Default: $SURGE_HISTORY, else reports/history.sqlite.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RebuildArgs {
    /// Where the run folders are.
    #[arg(value_name = "DIR", default_value = "reports")]
    pub dir: PathBuf,
    /// The run history. Default: $SURGE_HISTORY, else DIR/history.sqlite.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

fn metric_arg(text: &str) -> Result<crate::history::query::Metric, String> {
    crate::history::query::Metric::parse(text)
}

/// The arguments of `surge merge`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The shards' run folders.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged run folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub history: HistoryFlags,
}

/// The arguments of `surge compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// The baseline (a run folder, summary.json or capacity.json), then the
    /// new run of the same kind; only the new run with --baseline.
    #[arg(value_name = "BASE NEW", num_args = 1..=2, required = true)]
    pub paths: Vec<PathBuf>,
    /// `last-pass`: the baseline is the latest valid, passing run of the
    /// same scenario file (sha256) on the same git branch, from the
    /// history.
    #[arg(long, value_name = "last-pass", value_parser = ["last-pass"])]
    pub baseline: Option<String>,
    /// The run history, for --baseline last-pass.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// More baselines (repeatable): unchanged runs of the same scenario.
    /// The new run must be worse than each to be a regression.
    #[arg(long = "base", value_name = "PATH")]
    pub more_bases: Vec<PathBuf>,
    /// Relative change treated as noise for latency, rates and capacity.
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = percent_arg)]
    pub tolerance: Percent,
    /// Absolute change (percentage points) treated as noise for error
    /// rates and goodput.
    #[arg(long, value_name = "PCT", default_value = "1%", value_parser = percent_arg)]
    pub margin: Percent,
    /// Latency change too small to matter, whatever the statistics say:
    /// run-to-run wobble of a shared machine.
    #[arg(long, value_name = "D", default_value = "5ms", value_parser = duration_arg)]
    pub min_delta: Duration,
    /// Also write the Markdown table to this file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// The arguments of `surge report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The run folder.
    #[arg(value_name = "RUN_DIR")]
    pub dir: PathBuf,
    /// Write the reports here instead of into the run folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Judge validity with this tolerance instead of the run's own.
    #[arg(long, value_name = "PCT", value_parser = percent_arg)]
    pub rate_tolerance: Option<Percent>,
    /// Also build summary.json's totals again from the per-second files
    /// (latency.hlog, steps.csv, journeys.csv) and write it: what a run
    /// writes, recomputed. A run killed midway gets its totals rebuilt in
    /// any case, but its summary.json is only rewritten with --rebuild.
    #[arg(long)]
    pub rebuild: bool,
    #[command(flatten)]
    pub history: HistoryFlags,
}

/// The arguments of `surge capacity`.
#[derive(clap::Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub common: ScenarioFlags,
    /// The first scale tried.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub start: f64,
    /// Stop when the bracket is narrower than this.
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = percent_arg)]
    pub resolution: Percent,
    /// Most trials to run.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_trials: usize,
    /// Each trial's length (the scenario's timeline, stretched or
    /// compressed to it).
    #[arg(long, value_name = "D", default_value = "30s", value_parser = duration_arg)]
    pub trial_duration: Duration,
    /// A capacity.json to compare against (repeatable: the capacity must
    /// fall below every baseline's to fail), or `last-pass`: the latest
    /// search of the same scenario file on the same git branch that found
    /// a capacity, from the history.
    #[arg(long, value_name = "FILE")]
    pub baseline: Vec<PathBuf>,
    /// How far below the baseline the capacity may fall.
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = percent_arg)]
    pub tolerance: Percent,
    /// Where trials and capacity.json go. Default:
    /// reports/NAME/capacity-TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The arguments of `surge predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// The scenario file (YAML); its target must be the twin.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub sets: SetFlags,
    /// Multiply every arrival rate by X (overrides `load.scale`); the
    /// capacity search starts there.
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,
    /// Stretch or compress the timeline to this length, as `run
    /// --duration` and capacity trials do (stocks scale with it).
    #[arg(long, value_name = "D", value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Where predict.json goes. Default: reports/NAME/predict.json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print predict.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `surge fit`.
#[derive(clap::Args)]
pub struct FitArgs {
    /// The scenario file (YAML); its target must be a `base_url`.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub sets: SetFlags,
    /// The fitted scenario to write.
    #[arg(long, value_name = "FITTED.yaml")]
    pub out: PathBuf,
    /// The whole measurement's length, at most.
    #[arg(long, value_name = "D", default_value = "5m", value_parser = duration_arg)]
    pub budget: Duration,
    /// The highest arrival rate sent (e.g. 400/s). Default: ten times the
    /// scenario's peak.
    #[arg(long, value_name = "RATE", value_parser = rate_arg)]
    pub max_rate: Option<f64>,
    /// Where the stages' run folders and fit.json go. Default:
    /// reports/NAME/fit-TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Allow a target off loopback (127.0.0.0/8, ::1).
    #[arg(long)]
    pub allow_remote_target: bool,
    /// Worker threads of the load generator. Default: one per core.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl FitArgs {
    pub fn options(&self) -> crate::fit::FitOptions {
        let dir = self.dir.clone().unwrap_or_else(|| {
            let name = self
                .scenario
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
            let stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ");
            PathBuf::from("reports")
                .join(name)
                .join(format!("fit-{stamp}"))
        });
        crate::fit::FitOptions {
            scenario_path: self.scenario.clone(),
            sets: self.sets.sets.clone(),
            budget: self.budget.0,
            max_rate: self.max_rate,
            out: self.out.clone(),
            dir,
            allow_remote_target: self.allow_remote_target,
            threads: self.threads,
        }
    }
}

/// The arguments of `surge whatif`.
#[derive(clap::Args)]
pub struct WhatifArgs {
    /// The scenario (with `variants:`), threads, `--set` and history.
    #[command(flatten)]
    pub common: ScenarioFlags,
    /// Run only this variant beside the baseline (repeatable). Default:
    /// every variant.
    #[arg(long, value_name = "NAME")]
    pub variant: Vec<String>,
    /// Stretch or compress every run's timeline to this length (e.g.
    /// 120s); the twin's stocks scale with it.
    #[arg(long, value_name = "D", value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Multiply every arrival rate by X in every run.
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,
    /// Where the runs and the comparison go. Default:
    /// REPORTS/NAME/whatif-TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where run folders go by default.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// A run is invalid when started arrivals fall more than this far
    /// below the schedule.
    #[arg(long, value_name = "PCT", default_value = "1%", value_parser = percent_arg)]
    pub rate_tolerance: Percent,
}

impl WhatifArgs {
    pub fn whatif(&self) -> crate::whatif::Whatif {
        let mut base = self.common.options(&self.reports);
        // Variants are compared over the same whole schedule.
        base.stop_early = Policy::Never;
        base.duration = self.duration.map(|d| d.0);
        base.scale = self.scale;
        base.reports_dir = self.reports.clone();
        crate::whatif::Whatif {
            base,
            variants: self.variant.clone(),
            out: self.out.clone().unwrap_or_else(|| {
                crate::whatif::default_folder(&self.reports, &self.common.scenario)
            }),
            rate_tolerance: self.rate_tolerance.fraction(),
        }
    }
}

/// The arguments of `surge validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Scenario files (YAML).
    #[arg(required = true, value_name = "SCENARIO")]
    pub files: Vec<PathBuf>,
    /// The load is split over this many shards: the per-process limits
    /// (arrivals, peak rate, journeys in flight) apply to each.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: u64,
    /// Also connect to each `books:` source and run every counter's and
    /// record's query once (read-only), printing what each returned;
    /// exit 3 when one cannot be read. Without it nothing is contacted.
    #[arg(long)]
    pub connect: bool,
    #[command(flatten)]
    pub sets: SetFlags,
}

/// The arguments of `surge schema`.
#[derive(clap::Args)]
pub struct SchemaArgs {
    /// The schema of summary.json, not of scenario files.
    #[arg(long)]
    pub summary: bool,
}

/// The arguments of `surge proxy`.
#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Proxies to start with: Toxiproxy's JSON config (a list of
    /// {name, listen, upstream, enabled}) or surge's YAML (which can also
    /// switch toxics on). Without it the proxy starts empty, as
    /// toxiproxy-server does, to be populated over the API.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the control API (Toxiproxy's) listens. Default: the config's
    /// `control`, else 127.0.0.1:8474 (Toxiproxy's port).
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// An upstream host allowed off loopback (repeat for more); the
    /// config's `allow_hosts` are allowed too.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Lets proxies and the control API listen off loopback (e.g. on
    /// 0.0.0.0 for other machines); without it only 127.0.0.0/8 and ::1.
    #[arg(long)]
    pub listen_anywhere: bool,
}

/// The arguments of `surge twin`.
#[derive(clap::Args)]
pub struct TwinArgs {
    /// Address to listen on; port 0 picks a free port (printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Capacity knobs: a twin section as under `target.twin`, or a
    /// scenario whose target is the twin. Default: the defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker threads. Default: one per CPU core.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

fn duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

fn shard_arg(text: &str) -> Result<Shard, String> {
    let bad = || format!("`{text}` is not a shard; write K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok(Shard {
        index: k - 1,
        count: n,
    })
}

fn start_at_arg(text: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(secs) = text.trim().parse::<f64>() {
        return Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0)));
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(std::time::SystemTime::from)
        .map_err(|e| format!("`{text}` is not a time ({e}); write RFC 3339 like 2026-11-28T10:00:00Z, or Unix seconds"))
}

fn percent_arg(text: &str) -> Result<Percent, String> {
    parse_percent(text)
}

fn rate_arg(text: &str) -> Result<f64, String> {
    crate::scenario::units::parse_rate(text).map(|r| r.as_per_second())
}

/// What `surge import` reads.
#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Last year's deadline from the platform's access logs: write the
    /// scenario's load (and journeys) from nginx or Apache logs.
    ///
    /// Streams the logs (`.gz` too; rotated files are read in the order
    /// of their first line's time), counts requests and arrivals per
    /// second and per route, fits constant and ramp phases to the arrival
    /// curve and writes NEW.yaml, NEW.fit.html (the curve, the fit and
    /// the route table) and, for journeys with ids in their paths, a data
    /// file of the values the log saw under NEW-data/.
    ///
    /// Arrivals are applicants, not requests: each request of an --entry
    /// route starts a journey; without --entry, a client's first request
    /// after --session-gap of quiet does (client: address and user agent,
    /// or --client VARIABLE such as http_x_forwarded_for).
    ///
    /// Paths collapse to routes: numbers, UUIDs, hex and long tokens
    /// become {id}, and so does a segment position with many distinct
    /// values; queries are dropped (--keep-query keeps them) and static
    /// assets left out (--keep-assets keeps them). Lines that cannot be
    /// read are counted and the first shown; more than 1% of them is exit
    /// 2 (the format is likely wrong).
    ///
    ///   surge import access-log /var/log/nginx/access.log* --out eve.yaml \
    ///     --entry 'GET /storefront' --entry 'POST /stamping/stamp' \
    ///     --from '2025-09-30 12:00' --to '2025-10-01 00:00' --deadline 23:59 --scale 1.5
    ///   surge import access-log access.log --out eve.yaml --scenario base.yaml --exact
    ///   surge import access-log app.jsonl --format json --field time=ts --field path=uri --out eve.yaml
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    AccessLog(Box<AccessLogArgs>),
    /// A journey from a browser's recording of the platform, with its
    /// dynamic values correlated.
    ///
    /// Record: open the platform (or `surge twin`'s /storefront/app) with
    /// DevTools → Network, walk the journey once, then "Save all as HAR
    /// with content" (Firefox: "Save All As HAR"). Import writes NEW.yaml
    /// (or adds the journey to BASE) and checks it as `surge validate`
    /// does.
    ///
    /// Each request to the platform becomes a step (method, path, the
    /// headers that matter, the body, the recorded status); assets and
    /// other hosts are left out and counted. A value a request sends that
    /// an earlier response returned (a JSON field, a header) becomes a
    /// capture there and a {variable} here: ids, one-time codes, session
    /// and admission tokens, inside paths, queries, `Bearer ...` and JSON
    /// bodies. Values too short or common to identify (true, 2, ok) are
    /// left as they are. What the person typed (phone, email, user name)
    /// becomes a journey var, one per applicant (`0812{arrival}`), or a
    /// column of --data; passwords, keys and unset Authorization become
    /// ${ENV} and are never written. A run of identical requests becomes
    /// one step polled until the field that changed at the end
    /// (`$.state` = done). Pauses over 1s become `think`. What it could
    /// not do is a TO DO list, printed and written into the file.
    ///
    ///   surge import har eve.har --out eve-journey.yaml
    ///   surge import har eve.har --out eve.yaml --scenario eve.yaml --journey buyer-recorded
    ///   surge import har counter.har --out counter.yaml --channel-of '/api/pos=partner/pos' \
    ///     --data accounts.csv
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Har(HarArgs),
}

/// The arguments of `surge import har`.
#[derive(clap::Args)]
pub struct HarArgs {
    /// The recording (a HAR: DevTools → Network → Save all as HAR with
    /// content).
    #[arg(value_name = "FILE.har")]
    pub file: PathBuf,
    /// The scenario to write (files of upload bodies go to NEW-files/).
    #[arg(long, value_name = "NEW.yaml")]
    pub out: PathBuf,
    /// The journey's name. Default: the recording's file name.
    #[arg(long, value_name = "NAME")]
    pub journey: Option<String>,
    /// Add the journey to this scenario (its mix gets it at weight 1);
    /// everything else in BASE is kept as written.
    #[arg(long = "scenario", value_name = "BASE.yaml")]
    pub base: Option<PathBuf>,
    /// Requests to this host, or under this path prefix, belong to this
    /// channel (repeatable). Default: /storefront, /stamping,
    /// /partners/NAME (partner/NAME); anything else is storefront.
    #[arg(long = "channel-of", value_name = "HOST_OR_PATH_PREFIX=CHANNEL")]
    pub channel_of: Vec<String>,
    /// Keep pages, scripts, styles, images and fonts as steps.
    #[arg(long)]
    pub keep_assets: bool,
    /// Leave out the recorded pauses (no `think`).
    #[arg(long)]
    pub no_think: bool,
    /// Read the typed values from this CSV, a row per applicant (`pick:
    /// unique`): an existing file must have their columns; a missing one
    /// is written with the recorded row.
    #[arg(long, value_name = "FILE.csv")]
    pub data: Option<PathBuf>,
    /// The platform's origin (https://staging.example.test), when the
    /// recording's busiest origin is not it.
    #[arg(long, value_name = "ORIGIN")]
    pub target: Option<String>,
}

/// The arguments of `surge import access-log`.
#[derive(clap::Args)]
pub struct AccessLogArgs {
    /// The logs: plain or gzip, in any order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The scenario to write; NEW.fit.html (and NEW-data/,
    /// NEW.curve.csv) go beside it.
    #[arg(long, value_name = "NEW.yaml")]
    pub out: PathBuf,
    /// `combined`, `common`, `json`, or nginx's log_format string verbatim
    /// (e.g. '$remote_addr - $remote_user [$time_local] "$request" $status
    /// $body_bytes_sent "$http_referer" "$http_user_agent" $request_time').
    /// Times: $time_local, $time_iso8601 or $msec.
    #[arg(long, value_name = "FORMAT", default_value = "combined")]
    pub format: String,
    /// JSON lines: which key holds a field, NAME=KEY (repeatable). Names:
    /// time (ISO 8601, or epoch seconds or milliseconds), method, path,
    /// status, client, user_agent, content_type. Defaults: time, method,
    /// path, status, remote_addr, user_agent, content_type.
    #[arg(long = "field", value_name = "NAME=KEY")]
    pub fields: Vec<String>,
    /// The variable (without `$`) that tells clients apart instead of the
    /// address, e.g. http_x_forwarded_for behind a load balancer.
    #[arg(long, value_name = "VARIABLE")]
    pub client: Option<String>,
    /// Start of the window: 2025-09-30T12:00:00+07:00, '2025-09-30 12:00'
    /// (in the log's zone), or 12:00 (the first 12:00 in the log).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the window (same forms as --from), excluded.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Keep query strings in routes.
    #[arg(long)]
    pub keep_query: bool,
    /// Keep static assets (by extension, or logged content type).
    #[arg(long)]
    pub keep_assets: bool,
    /// A route that starts a journey, 'METHOD TEMPLATE' (repeatable):
    /// each of its requests is one arrival.
    #[arg(long = "entry", value_name = "'METHOD TEMPLATE'")]
    pub entries: Vec<String>,
    /// Without --entry: a client's request after this long quiet starts
    /// a new arrival.
    #[arg(long, value_name = "D", default_value = "30m", value_parser = duration_arg)]
    pub session_gap: Duration,
    /// Fit as few phases as keep every bin's count within this of the
    /// log's, or within the noise the log itself shows where that is wider
    /// (3√(D·n), D its dispersion between neighbouring bins: about 1 when
    /// people arrive at random, 0 for evenly spaced arrivals); a phase
    /// more is added only where the curve's shape pays for it (BIC).
    #[arg(long, value_name = "PCT", default_value = "5%", value_parser = percent_arg)]
    pub max_error: Percent,
    /// Fit exactly N phases instead (least squares).
    #[arg(long, value_name = "N")]
    pub phases: Option<usize>,
    /// The resolution of the fit and of the printed curve.
    #[arg(long, value_name = "D", default_value = "1m", value_parser = duration_arg)]
    pub bin: Duration,
    /// Put the scenario's deadline at this time (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub deadline: Option<String>,
    /// Next year: multiply every rate by X (written as `load.scale`).
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,
    /// Next year: scale so the fitted peak is this rate (e.g. 300/s).
    #[arg(long, value_name = "RATE", value_parser = rate_arg)]
    pub peak: Option<f64>,
    /// Keep this scenario and replace only its `load` and `mix` (and
    /// `deadline`): entry routes go to the journey whose first step has
    /// their method and path.
    #[arg(long = "scenario", value_name = "BASE.yaml")]
    pub base: Option<PathBuf>,
    /// Send an entry route to a journey of BASE: 'METHOD TEMPLATE=JOURNEY'
    /// (repeatable).
    #[arg(
        long = "map",
        value_name = "'METHOD TEMPLATE=JOURNEY'",
        requires = "base"
    )]
    pub maps: Vec<String>,
    /// Write the arrivals second by second (NEW.curve.csv, `load.curve`)
    /// instead of fitted phases.
    #[arg(long)]
    pub exact: bool,
    /// Without BASE: the base URL the new scenario targets.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub target: String,
}

impl HarArgs {
    pub fn options(&self) -> Result<crate::import::har::Options, crate::import::har::HarError> {
        use crate::import::har;
        Ok(har::Options {
            file: self.file.clone(),
            out: self.out.clone(),
            journey: self
                .journey
                .clone()
                .unwrap_or_else(|| crate::import::scenario_name(&self.file)),
            base: self.base.clone(),
            channel_of: self
                .channel_of
                .iter()
                .map(|c| har::channel_of(c))
                .collect::<Result<_, _>>()?,
            keep_assets: self.keep_assets,
            no_think: self.no_think,
            data: self.data.clone(),
            target: self.target.clone(),
        })
    }
}

impl AccessLogArgs {
    pub fn options(&self) -> crate::import::access_log::Options {
        crate::import::access_log::Options {
            files: self.files.clone(),
            out: self.out.clone(),
            format: self.format.clone(),
            fields: self.fields.clone(),
            client: self.client.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            keep_query: self.keep_query,
            keep_assets: self.keep_assets,
            entries: self.entries.clone(),
            session_gap: self.session_gap.0,
            max_error: self.max_error.fraction(),
            phases: self.phases,
            bin: self.bin.0,
            deadline: self.deadline.clone(),
            scale: self.scale,
            peak: self.peak,
            base: self.base.clone(),
            maps: self.maps.clone(),
            exact: self.exact,
            target: self.target.clone(),
        }
    }
}

impl RunArgs {
    /// The runner's options. `progress` says whether a live line may be
    /// drawn (stderr is a terminal).
    pub fn options(&self, progress: bool) -> RunOptions {
        let mut opts = self.common.options(&self.reports);
        opts.shard = self.shard.unwrap_or(Shard::WHOLE);
        opts.start_at = self.start_at;
        opts.scale = self.scale;
        opts.duration = self.duration.map(|d| d.0);
        opts.seed = self.seed;
        opts.max_in_flight = self.max_in_flight;
        opts.out = self.out.clone();
        opts.reports_dir = self.reports.clone();
        opts.allow_remote_target = self.allow_remote_target;
        opts.goose_metrics = self.goose_metrics;
        opts.prometheus_rw = self.prometheus_rw.clone();
        opts.prometheus_rw_headers = self.prometheus_rw_header.clone();
        opts.dashboard = self.dashboard.clone();
        opts.allow_remote_dashboard = self.allow_remote_dashboard;
        opts.dashboard_linger = self
            .dashboard_linger
            .map_or(std::time::Duration::ZERO, |d| d.0);
        opts.progress = !self.quiet && progress;
        opts.resolve.variant = self.variant.clone();
        opts
    }
}

impl ReportArgs {
    pub fn options(&self) -> Finish {
        Finish {
            objectives: None,
            rate_tolerance: self.rate_tolerance.map(|p| p.fraction()),
            rebuild: self.rebuild,
            write_summary: self.rebuild,
            into: self.out.clone(),
            history: self.history.path(std::path::Path::new("reports")),
            trial_of: None,
        }
    }
}

impl CompareArgs {
    /// The baselines and the new run: BASE NEW, or NEW alone with
    /// --baseline (then --base adds more).
    pub fn split(&self) -> Result<(Vec<PathBuf>, PathBuf), String> {
        match (self.baseline.is_some(), &self.paths[..]) {
            (false, [base, new]) => {
                let mut bases = vec![base.clone()];
                bases.extend(self.more_bases.iter().cloned());
                Ok((bases, new.clone()))
            }
            (true, [new]) => Ok((self.more_bases.clone(), new.clone())),
            (false, [_]) => Err("give BASE and NEW, or NEW with --baseline last-pass".into()),
            (true, _) => Err("with --baseline last-pass, give only NEW (the run to judge)".into()),
            (false, _) => Err("give BASE and NEW".into()),
        }
    }

    /// The history `--baseline last-pass` reads.
    pub fn last_pass_history(&self) -> Option<PathBuf> {
        self.baseline.as_ref()?;
        crate::history::location(
            self.history.as_deref(),
            false,
            std::path::Path::new("reports"),
        )
    }

    pub fn tolerance(&self) -> Tolerance {
        Tolerance {
            relative: self.tolerance.fraction(),
            absolute: self.margin.fraction(),
            min_delta_us: self.min_delta.0.as_micros() as f64,
        }
    }
}

impl CapacityArgs {
    /// The trials' run options.
    pub fn options(&self) -> RunOptions {
        let mut opts = self.common.options(std::path::Path::new("reports"));
        opts.duration = Some(self.trial_duration.0);
        // A trial decided failed has said all it will.
        if !self.common.no_stop_early {
            opts.stop_early = Policy::All;
        }
        opts
    }

    /// How to search: `--out`, or `reports/NAME/capacity-TIMESTAMP`.
    pub fn search(&self) -> Search {
        let dir = self.out.clone().unwrap_or_else(|| {
            let name = self
                .common
                .scenario
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
            let stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ");
            PathBuf::from("reports")
                .join(name)
                .join(format!("capacity-{stamp}"))
        });
        Search {
            start: self.start,
            resolution: self.resolution.fraction(),
            max_trials: self.max_trials,
            dir,
        }
    }

    pub fn tolerance(&self) -> Tolerance {
        Tolerance {
            relative: self.tolerance.fraction(),
            ..Tolerance::default()
        }
    }
}
