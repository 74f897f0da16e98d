//! `surge import har`: a journey from a browser's recording of the
//! platform (DevTools → Network → "Save all as HAR with content"), with
//! its dynamic values correlated: a value a request sends that an earlier
//! response returned is captured there and sent back as a variable, so the
//! imported journey replays against a platform that hands out other ids
//! and tokens. Reading the HAR is `read`, judging values `values`, the
//! journey `journey`, the YAML `write`.

pub mod journey;
pub mod read;
pub mod values;
pub mod write;

use std::path::PathBuf;

/// Why a HAR could not be imported. Every one is bad input (exit 2) but
/// a file that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error(
        "{file} is not a HAR: {why}\nhint: a HAR is the JSON a browser saves from DevTools → Network → \"Save all as HAR with content\" (Firefox: \"Save All As HAR\")"
    )]
    NotHar { file: String, why: String },
    #[error("cannot read `{file}`: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{0}")]
    Empty(String),
    #[error("{0}")]
    Option(String),
    #[error("--scenario {file}: {why}")]
    Base { file: String, why: String },
    #[error("cannot write `{file}`: {reason}")]
    Write { file: String, reason: String },
    #[error(
        "{file} was written but does not validate:\n{problems}\nhint: edit the journey where it says, or import again with other options (--journey, --channel-of)"
    )]
    Invalid { file: String, problems: String },
}

impl HarError {
    /// Whether the failure is the input's (exit 2) rather than the disk's.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, HarError::Write { .. })
    }
}

/// Everything `surge import har` is asked.
#[derive(Clone, Debug)]
pub struct Options {
    pub file: PathBuf,
    pub out: PathBuf,
    pub journey: String,
    pub base: Option<PathBuf>,
    /// `(host or /path-prefix, channel)`.
    pub channel_of: Vec<(String, String)>,
    pub keep_assets: bool,
    pub no_think: bool,
    pub data: Option<PathBuf>,
    /// The platform's origin, when the busiest one is not it.
    pub target: Option<String>,
}

/// What an import made and wrote.
pub struct Imported {
    pub built: journey::Built,
    pub creator: String,
    pub entries: usize,
    pub written: Vec<PathBuf>,
}

/// `HOST_OR_PATH_PREFIX=CHANNEL`, checked.
pub fn channel_of(text: &str) -> Result<(String, String), HarError> {
    let bad = |why: &str| {
        HarError::Option(format!(
            "--channel-of `{text}`: {why}; e.g. --channel-of '/api/stamp=stamping' or --channel-of 'pos.example.test=partner/pos'"
        ))
    };
    let (at, channel) = text
        .rsplit_once('=')
        .ok_or_else(|| bad("write HOST_OR_PATH_PREFIX=CHANNEL"))?;
    let channel = channel.trim();
    crate::scenario::refs::parse_channel(channel).map_err(|e| bad(&e))?;
    if at.trim().is_empty() {
        return Err(bad("the host or path prefix is empty"));
    }
    Ok((at.trim().to_string(), channel.to_string()))
}

/// Reads the HAR, builds the journey, writes the scenario and checks it
/// as `surge validate` would.
pub fn har(opts: &Options) -> Result<Imported, HarError> {
    crate::scenario::refs::check_name(&opts.journey)
        .map_err(|e| HarError::Option(format!("--journey: {e}")))?;
    if let Some(t) = &opts.target
        && url::Url::parse(t).map_or(true, |u| u.host().is_none())
    {
        return Err(HarError::Option(format!(
            "--target `{t}` is not an origin; write it like https://staging.example.test or http://127.0.0.1:8080"
        )));
    }
    let shown = opts.file.display().to_string();
    let text = std::fs::read(&opts.file).map_err(|e| HarError::Unreadable {
        file: shown.clone(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&text);
    let recording = read::parse(&shown, &text)?;
    let mut built = journey::build(&recording, opts)?;
    let written = write::scenario(opts, &mut built, &recording.creator)?;
    check(opts, &built)?;
    Ok(Imported {
        entries: recording.exchanges.len(),
        creator: recording.creator,
        built,
        written: written.files,
    })
}

/// Loads the written scenario as `surge validate` does. A secret the
/// import named and the environment does not hold yet is not a problem
/// of the file: it is what the user sets before running.
fn check(opts: &Options, built: &journey::Built) -> Result<(), HarError> {
    let Err(problems) = crate::scenario::load(&opts.out) else {
        return Ok(());
    };
    let shown = opts.out.display().to_string();
    let real: Vec<String> = problems
        .iter()
        .map(|p| p.render(&shown))
        .filter(|p| {
            !built
                .secrets
                .iter()
                .any(|(env, _)| p.contains(&format!("environment variable `{env}` is not set")))
        })
        .collect();
    if real.is_empty() {
        return Ok(());
    }
    Err(HarError::Invalid {
        file: shown,
        problems: real.join("\n"),
    })
}
