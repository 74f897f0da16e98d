//! What the machine must allow before a run starts: the load of this
//! process after the command line's overrides (`--scale`, `--duration`,
//! `--max-in-flight`, `--shard`) within the per-process limits, a file
//! descriptor for every connection, and one twin for all the shards of a
//! run, and memory for what the run will hold at its peak. Each refusal
//! says what to do instead.

use super::RunError;
use crate::scenario::Scenario;
use crate::scenario::diagnostic::Problem;
use crate::schedule::Shard;

/// Files the run opens besides its users' connections: the run folder,
/// the twin's or the proxies' listeners and their connections, the
/// runtime's own.
const OWN_FILES: u64 = 256;

/// Refuses a run this process cannot carry.
pub fn check(scenario: &Scenario, shard: Shard) -> Result<(), RunError> {
    if shard.count > 1 && scenario.file.target.twin.is_some() {
        return Err(RunError::ShardedTwin {
            shards: shard.count,
        });
    }
    let mut problems =
        crate::scenario::limits::load(&scenario.file, &scenario.timeline, shard.count);
    problems.extend(scenario.data_shortfalls());
    if !problems.is_empty() {
        return Err(RunError::Limits(problems));
    }
    let users = scenario.file.load.max_in_flight as u64 / shard.count.max(1);
    // The twin in this process holds the other end of every connection.
    let ends = if scenario.file.target.twin.is_some() {
        2
    } else {
        1
    };
    let need = users * ends + OWN_FILES;
    let have = raise_open_files_limit();
    if need > have {
        return Err(RunError::Descriptors { need, have });
    }
    let estimate = estimate(scenario, shard);
    if let Some(available) = available_memory()
        && estimate.total() > available
    {
        return Err(RunError::Memory {
            estimate: estimate.describe(),
            available_mb: available / MB,
        });
    }
    Ok(())
}

const MB: u64 = 1024 * 1024;
/// The process with its runtimes, the twin and the recorder's files,
/// before any user (measured: 21.9 MB peak for `smoke.yaml` with 200
/// users; 2-core VM, 2026-11-28).
const PROCESS_BYTES: u64 = 24 * MB;
/// One goose user: its task, goose's client and surge's own (connections
/// are per user), its share of the twin's connections (measured: 126 MB at
/// 9,000 users against 21.9 MB at 200 with goose's client alone, about
/// 12 KiB a user; each user's own client added 12.6 KiB: 89 MB against
/// 52 MB at 3,000 busy users; rounded up).
const USER_BYTES: u64 = 28 * 1024;
/// One HDR histogram of the recorder (3 significant digits, up to an
/// hour in microseconds), counted twice: the second's and the run's.
const HISTOGRAM_BYTES: u64 = 2 * 192 * 1024;
/// One second of one series when the run folder is read back.
const SECOND_BYTES: u64 = 1024;
/// An in-process twin before any applicant: its runtime and empty tables.
const TWIN_BYTES: u64 = 8 * MB;
/// What the twin keeps of each applicant while the run lasts (sessions,
/// orders, payments, jobs and document records live for its `retention`;
/// the ledger's serials for the whole run). Measured: the deadline eve of
/// 10 minutes peaked 66 MB above the same eve compressed to 2 minutes,
/// for 14,300 more applicants, of which the recorder's longer series
/// explain 17 MB: about 3.5 KB an applicant, rounded up.
const TWIN_APPLICANT_BYTES: f64 = 4096.0;
/// The allocator's share above the sum of the parts (freed buffers it
/// keeps, fragmentation between large bodies), and room for a run that
/// peaks above another of the same scenario. Measured (2-core VM,
/// 2026-12-06): the deadline eve peaked 1.4% above the parts' sum (777 MB
/// against 766 MB) and 1.8% above at a 512 MB document budget (1,028
/// against 1,010 MB); capacity-gate 2.6% below it.
const HEADROOM: f64 = 0.2;
/// The twin's route that keeps what is uploaded to it, within its
/// `stamping.store_limit`.
const UPLOAD_ROUTE: &str = "/stamping/documents";

/// What a run is estimated to hold at its peak, by part.
#[derive(Clone, Copy, Debug, Default)]
pub struct Estimate {
    pub process: u64,
    pub users: u64,
    /// Request bodies in flight (one per user at a time) and the templates
    /// and files they are made from.
    pub bodies: u64,
    /// Arrivals waiting in the journeys' queues, when they are full.
    pub queues: u64,
    /// Histograms while recording, and the per-second series when the
    /// folder is read back.
    pub recorder: u64,
    /// The `data` tables, held whole.
    pub data: u64,
    /// An in-process twin: its tables, and the documents it keeps (at most
    /// its `store_limit`).
    pub twin: u64,
    /// The allocator's share above the parts ([`HEADROOM`] of them).
    pub headroom: u64,
}

impl Estimate {
    pub fn total(&self) -> u64 {
        self.process
            + self.users
            + self.bodies
            + self.queues
            + self.recorder
            + self.data
            + self.twin
            + self.headroom
    }

    /// `412 MB (users 160, bodies 200, queues 4, recorder 24, process 24,
    /// headroom 68)`, with `data N` when the scenario reads test data and `twin N` when
    /// the twin runs in this process.
    pub fn describe(&self) -> String {
        let part = |name: &str, bytes: u64| {
            if bytes > 0 {
                format!(", {name} {}", bytes.div_ceil(MB))
            } else {
                String::new()
            }
        };
        let data = part("data", self.data) + &part("twin", self.twin);
        format!(
            "{} MB (users {}, bodies {}, queues {}, recorder {}, process {}{data}, headroom {})",
            self.total().div_ceil(MB),
            self.users / MB,
            self.bodies / MB,
            self.queues / MB,
            self.recorder / MB,
            self.process / MB,
            self.headroom / MB
        )
    }
}

/// The peak memory of a run of `scenario` as shard `shard`.
pub fn estimate(scenario: &Scenario, shard: Shard) -> Estimate {
    let users = super::pool::users_of(scenario, shard);
    let queues: usize = super::pool::queue_capacities(scenario, shard, &users)
        .iter()
        .zip(&users)
        .filter(|(_, u)| **u > 0)
        .map(|(c, _)| c)
        .sum();
    let mut bodies = 0;
    let mut templates = std::collections::BTreeSet::new();
    let mut series = 1;
    for ((_, journey), u) in scenario.file.journeys.iter().zip(&users) {
        series += journey.steps.len() as u64 + 2;
        let largest = journey
            .steps
            .iter()
            .map(|step| body_bytes(step, scenario, &mut templates))
            .max()
            .unwrap_or(0);
        bodies += largest * *u as u64;
    }
    bodies += templates.iter().sum::<u64>();
    let seconds = (scenario.timeline.total + scenario.file.load.drain.0).as_secs() + 1;
    let mut estimate = Estimate {
        process: PROCESS_BYTES,
        users: users.iter().sum::<usize>() as u64 * USER_BYTES,
        bodies,
        queues: (queues * super::pool::QUEUED_BYTES) as u64,
        recorder: series * (HISTOGRAM_BYTES + seconds * SECOND_BYTES),
        data: scenario.data.values().map(|t| t.heap_bytes() as u64).sum(),
        twin: twin_bytes(scenario, shard),
        headroom: 0,
    };
    estimate.headroom = (estimate.total() as f64 * HEADROOM) as u64;
    estimate
}

/// What an in-process twin holds at its peak: its tables, and the
/// documents uploaded to it over the run, up to its store's budget.
fn twin_bytes(scenario: &Scenario, shard: Shard) -> u64 {
    let Some(twin) = &scenario.file.target.twin else {
        return 0;
    };
    let total = scenario.timeline.expected_arrivals() / shard.count.max(1) as f64;
    let uploaded: f64 = scenario
        .file
        .journeys
        .iter()
        .map(|(name, journey)| {
            let per_arrival: u64 = journey
                .steps
                .iter()
                .filter(|s| s.method.as_str() == "POST" && s.path.to_string() == UPLOAD_ROUTE)
                .filter_map(|s| s.pdf.map(|size| size.0))
                .sum();
            total * scenario.share(name) * per_arrival as f64
        })
        .sum();
    let tables = total * TWIN_APPLICANT_BYTES;
    TWIN_BYTES + tables as u64 + (uploaded.ceil() as u64).min(twin.stamping.store_limit.0)
}

/// Bytes one request of `step` holds; a PDF's template (one per size) or a
/// file's bytes (read once) go into `shared`.
fn body_bytes(
    step: &crate::scenario::model::Step,
    scenario: &Scenario,
    shared: &mut std::collections::BTreeSet<u64>,
) -> u64 {
    if let Some(size) = step.pdf {
        shared.insert(size.0);
        return size.0;
    }
    if let Some(text) = &step.text {
        return text.to_string().len() as u64;
    }
    if let Some(file) = &step.file {
        let len = std::fs::metadata(scenario.base_dir.join(file)).map_or(0, |m| m.len());
        shared.insert(len);
        return 0;
    }
    0
}

/// What the machine can give the run now (`MemAvailable`), when known.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The problems of a load beyond the limits, on one line each.
pub fn describe(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| p.render("after the command line's overrides"))
        .collect();
    lines.join("\n")
}

/// Raises the soft limit on open files to the hard one (a shell's default
/// soft limit, often 1,024, is far below what a surge needs) and returns
/// the limit in force.
// rlim_t is u64 here, not on every platform.
#[allow(clippy::unnecessary_cast)]
fn raise_open_files_limit() -> u64 {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit read and write a plain struct owned
    // here.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return u64::MAX;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        limit.rlim_cur as u64
    }
    #[cfg(not(unix))]
    u64::MAX
}
