//! `surge import access-log`: last year's deadline read from the
//! platform's own access logs and written as a scenario's load. Lines are
//! streamed (plain or gzip, rotated files in time order), counted per
//! second into requests and arrivals (a request of an entry route, or a
//! client's first after a quiet gap), and per route; the arrival curve is
//! fitted with constant and ramp phases (or kept second by second as a
//! `curve` file), and the scenario, its data and a fit report are written.
//! Reading is `read`, line formats `logformat`, routes `routes`, the fit
//! `fit`, the scenario `write`, the report `report`.

pub mod fit;
pub mod logformat;
pub mod read;
pub mod report;
pub mod routes;
pub mod write;

use std::path::PathBuf;
use std::time::Duration;

/// Why an import could not be carried out. Every one is bad input (exit
/// 2) except a file that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("--format: {0}")]
    Format(#[from] logformat::FormatError),
    #[error("cannot read `{file}`: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{0}")]
    Option(String),
    #[error(
        "{unreadable} of {lines} lines ({share:.1}%) could not be read, more than the 1% allowed:\n{examples}\nhint: the format is likely wrong: {hint}"
    )]
    TooManyUnreadable {
        unreadable: u64,
        lines: u64,
        share: f64,
        examples: String,
        hint: String,
    },
    #[error(
        "{at}: the lines span {days:.0} days, more than the 31 a window may; a time is far off, or cut a window with --from and --to"
    )]
    TooLong { at: String, days: f64 },
    #[error("{0}")]
    Empty(String),
    #[error("cannot write `{file}`: {reason}")]
    Write { file: String, reason: String },
    #[error(
        "{file} was written but does not validate:\n{problems}\nhint: the options chose these values (--scale and --peak set the rates); change them and import again, or edit the file"
    )]
    Invalid { file: String, problems: String },
    #[error(
        "{file} (BASE with the imported load) was written but does not validate:\n{problems}\nhint: BASE's deadline, faults, objectives or variants may name its own phases; the imported phases are {phases}: point those references at them, give them as offsets (`at: 2h30m`), or pass --deadline"
    )]
    BaseInvalid {
        file: String,
        problems: String,
        phases: String,
    },
}

/// Everything `surge import access-log` is asked.
#[derive(Clone, Debug)]
pub struct Options {
    pub files: Vec<PathBuf>,
    pub out: PathBuf,
    pub format: String,
    pub fields: Vec<String>,
    pub client: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub keep_query: bool,
    pub keep_assets: bool,
    pub entries: Vec<String>,
    pub session_gap: Duration,
    pub max_error: f64,
    pub phases: Option<usize>,
    pub bin: Duration,
    pub deadline: Option<String>,
    pub scale: Option<f64>,
    pub peak: Option<f64>,
    pub base: Option<PathBuf>,
    pub maps: Vec<String>,
    pub exact: bool,
    pub target: String,
}

/// What an import found and wrote.
#[derive(Debug)]
pub struct Imported {
    pub tally: read::Tally,
    pub curve: fit::Curve,
    pub pieces: Vec<fit::Piece>,
    pub scale: f64,
    /// The UTC offset, minutes, of the log's first line: times of day are
    /// shown in it (UTC when the log writes none).
    pub offset_min: i32,
    pub written: Vec<PathBuf>,
    /// Entry routes no journey took, with their share of arrivals.
    pub unmapped: Vec<(String, f64)>,
}

/// `METHOD TEMPLATE` → (method, template).
pub fn route_spec(text: &str, flag: &str) -> Result<(String, String), ImportError> {
    let (m, t) = text.trim().split_once(' ').ok_or_else(|| {
        ImportError::Option(format!(
            "`{flag} {text}` is not `METHOD TEMPLATE`; e.g. {flag} 'GET /storefront/orders/{{id}}'"
        ))
    })?;
    let t = t.trim();
    if !t.starts_with('/') || m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ImportError::Option(format!(
            "`{flag} {text}`: write an upper-case method and a path starting with `/`, e.g. 'POST /stamping/stamp'"
        )));
    }
    Ok((m.to_string(), t.to_string()))
}

/// A time given on the command line: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (in
/// the log's offset), or `HH:MM[:SS]` (the first such time of day at or
/// after `after_ms`, in the log's offset).
pub fn parse_time(
    text: &str,
    flag: &str,
    after_ms: i64,
    offset_min: i32,
) -> Result<i64, ImportError> {
    let bad = || {
        ImportError::Option(format!(
            "`{flag} {text}` is not a time; write 2026-09-30T23:00:00+07:00, `2026-09-30 23:00` (in the log's zone) or `23:00` (its next 23:00)"
        ))
    };
    let t = text.trim();
    if let Some((ms, off)) = logformat::iso8601(t.as_bytes()) {
        return Ok(ms - i64::from(off.map_or(offset_min, |_| 0)) * 60_000);
    }
    let with_secs = |s: &str| {
        if s.len() == 16 {
            format!("{s}:00")
        } else {
            s.to_string()
        }
    };
    if t.len() >= 16 && t.as_bytes()[10] == b' ' {
        let (ms, _) = logformat::iso8601(with_secs(t).as_bytes()).ok_or_else(bad)?;
        return Ok(ms - i64::from(offset_min) * 60_000);
    }
    let parts: Vec<&str> = t.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let n = |s: &str, max: i64| s.parse::<i64>().ok().filter(|v| (0..=max).contains(v));
    let h = n(parts[0], 23).ok_or_else(bad)?;
    let m = n(parts[1], 59).ok_or_else(bad)?;
    let s = parts.get(2).map_or(Some(0), |p| n(p, 59)).ok_or_else(bad)?;
    let day_ms = 86_400_000;
    let local = after_ms + i64::from(offset_min) * 60_000;
    let midnight = local.div_euclid(day_ms) * day_ms;
    let mut at = midnight + (h * 3600 + m * 60 + s) * 1000;
    if at < local {
        at += day_ms;
    }
    Ok(at - i64::from(offset_min) * 60_000)
}

/// Reads the logs, fits, writes the scenario and its report.
pub fn access_log(
    opts: &Options,
    progress: &indicatif::ProgressBar,
) -> Result<Imported, ImportError> {
    let mut fields = logformat::JsonFields::default();
    for f in &opts.fields {
        fields.set(f).map_err(ImportError::Option)?;
    }
    let format = logformat::compile(&opts.format, opts.client.as_deref(), fields)?;
    if !(opts.max_error > 0.0 && opts.max_error < 1.0) {
        return Err(ImportError::Option(format!(
            "--max-error {} is not a fraction between 0 and 100%; e.g. --max-error 5%",
            opts.max_error
        )));
    }
    if opts.bin.as_secs() == 0 || opts.bin.subsec_nanos() != 0 {
        return Err(ImportError::Option(
            "--bin must be a whole number of seconds, 1s or more; e.g. --bin 1m".into(),
        ));
    }
    if let Some(n) = opts.phases
        && !(1..=fit::MAX_PHASES).contains(&n)
    {
        return Err(ImportError::Option(format!(
            "--phases {n}: give 1 to {}; for the curve as logged, second by second, use --exact",
            fit::MAX_PHASES
        )));
    }
    let entries = opts
        .entries
        .iter()
        .map(|e| route_spec(e, "--entry"))
        .collect::<Result<Vec<_>, _>>()?;
    // Times of day need the log's zone: the first line of the earliest file.
    let (files, first) = read::in_time_order(&opts.files, &format)?;
    let (first_ms, first_off) = first.unwrap_or((0, None));
    let offset = first_off.unwrap_or(0);
    let time = |t: &Option<String>, flag: &str| {
        t.as_deref()
            .map(|t| parse_time(t, flag, first_ms, offset))
            .transpose()
    };
    let from_ms = time(&opts.from, "--from")?;
    let to_ms = time(&opts.to, "--to")?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && t <= f
    {
        return Err(ImportError::Option(
            "--to falls before --from: the window is empty".into(),
        ));
    }
    let reading = read::Reading {
        format,
        from_ms,
        to_ms,
        keep_query: opts.keep_query,
        keep_assets: opts.keep_assets,
        arrivals: if entries.is_empty() {
            read::Arrivals::Sessions {
                gap_ms: opts.session_gap.as_millis().min(i64::MAX as u128) as i64,
            }
        } else {
            read::Arrivals::Entries(entries)
        },
    };
    let mut tally = read::read(files, &reading, progress)?;
    progress.finish_and_clear();
    judge_reading(&tally, &opts.format)?;
    if let Some(t) = to_ms {
        // The window's end is the one asked, not the last line's second.
        let secs = ((t - tally.origin_ms) as f64 / 1000.0).ceil().max(0.0) as usize;
        tally
            .seconds
            .resize(secs.min(read::MAX_SPAN_S as usize), [0, 0]);
    }
    let curve = binned(&tally.seconds, opts.bin.as_secs() as usize);
    let pieces = match opts.phases {
        Some(n) if curve.counts.len() > fit::OPTIMAL_UP_TO => {
            return Err(ImportError::Option(format!(
                "--phases {n} places phases over at most {} bins; the window has {} bins of {}s: give a longer --bin",
                fit::OPTIMAL_UP_TO,
                curve.counts.len(),
                curve.bin
            )));
        }
        Some(n) => fit::exactly(&curve, n),
        None => fit::fewest(&curve, opts.max_error),
    };
    let peak = pieces.iter().map(|p| p.from.max(p.to)).fold(0.0, f64::max);
    let scale = match (opts.scale, opts.peak) {
        (Some(_), Some(_)) => {
            return Err(ImportError::Option(
                "give --scale or --peak, not both".into(),
            ));
        }
        (Some(s), None) if s.is_finite() && s > 0.0 => s,
        (Some(s), None) => {
            return Err(ImportError::Option(format!("--scale {s} must be above 0")));
        }
        (None, Some(p)) if p.is_finite() && p > 0.0 && peak > 0.0 => p / peak,
        (None, Some(p)) => {
            return Err(ImportError::Option(format!(
                "--peak {p}/s must be above 0 (and the log must have arrivals)"
            )));
        }
        (None, None) => 1.0,
    };
    let deadline_s = match &opts.deadline {
        None => None,
        Some(d) => {
            let at = parse_time(d, "--deadline", tally.origin_ms, offset)?;
            let s = (at - tally.origin_ms) as f64 / 1000.0;
            let total = curve.total();
            if !(0.0..=total).contains(&s) {
                return Err(ImportError::Option(format!(
                    "--deadline {d} falls outside the window read ({} to {})",
                    write::clock(tally.origin_ms, offset),
                    write::clock(tally.origin_ms + (total * 1000.0) as i64, offset)
                )));
            }
            Some(s)
        }
    };
    let mut imported = Imported {
        tally,
        curve,
        pieces,
        scale,
        offset_min: offset,
        written: Vec::new(),
        unmapped: Vec::new(),
    };
    write::scenario(opts, &mut imported, deadline_s)?;
    let html = crate::import::sibling(&opts.out, "fit.html");
    let page = report::page(opts, &imported, deadline_s);
    crate::import::write_whole(&html, &page).map_err(|e| ImportError::Write {
        file: html.display().to_string(),
        reason: e.to_string(),
    })?;
    imported.written.push(html);
    Ok(imported)
}

/// Refuses a reading with too many unreadable lines, or with nothing in it.
fn judge_reading(t: &read::Tally, format: &str) -> Result<(), ImportError> {
    if t.lines == 0 {
        return Err(ImportError::Empty("the logs hold no lines".into()));
    }
    let share = t.unreadable as f64 / t.lines as f64;
    if share > 0.01 {
        let hint = match format {
            "combined" | "common" => "if nginx writes a log_format of its own, give that string verbatim: --format '$remote_addr - ... $request_time'".to_string(),
            "json" => "name the keys of your JSON lines with --field time=ts --field path=uri ...".to_string(),
            _ => "compare the format string with the log_format in nginx's configuration".to_string(),
        };
        return Err(ImportError::TooManyUnreadable {
            unreadable: t.unreadable,
            lines: t.lines,
            share: share * 100.0,
            examples: t
                .examples
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n"),
            hint,
        });
    }
    if t.arrivals == 0 {
        return Err(ImportError::Empty(format!(
            "no arrivals: of {} requests in the window, none started a journey{}",
            t.requests,
            if t.requests == 0 {
                " (check --from and --to)"
            } else {
                "; check --entry against the route table (run without --entry to see it)"
            }
        )));
    }
    Ok(())
}

/// Arrivals per bin of `bin` seconds; the last bin keeps its own length.
pub fn binned(seconds: &[[u64; 2]], bin: usize) -> fit::Curve {
    let counts: Vec<f64> = seconds
        .chunks(bin)
        .map(|c| c.iter().map(|s| s[1] as f64).sum())
        .collect();
    let last = match seconds.len() % bin {
        0 => bin,
        r => r,
    };
    fit::Curve {
        noise: fit::dispersion(&counts),
        counts,
        bin: bin as f64,
        last: last as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_resolve_after_the_first_line_in_its_zone() {
        // 2026-12-06T18:00:05+07:00
        let first = 1_796_554_805_000;
        let at = parse_time("23:00", "--deadline", first, 420).unwrap();
        assert_eq!(at - first, (5 * 3600 - 5) * 1000);
        let next_day = parse_time("17:00", "--to", first, 420).unwrap();
        assert_eq!(next_day - first, (23 * 3600 - 5) * 1000);
        let local = parse_time("2026-12-06 18:00", "--from", first, 420).unwrap();
        assert_eq!(local, first - 5000);
        let zoned = parse_time("2026-12-06T11:00:05Z", "--from", 0, 420).unwrap();
        assert_eq!(zoned, first);
        assert!(parse_time("25:00", "--to", first, 0).is_err());
        assert!(parse_time("yesterday", "--to", first, 0).is_err());
    }

    #[test]
    fn route_specs_are_checked() {
        assert_eq!(
            route_spec("GET /a/{id}", "--entry").unwrap(),
            ("GET".into(), "/a/{id}".into())
        );
        assert!(route_spec("/a", "--entry").is_err());
        assert!(route_spec("get /a", "--entry").is_err());
    }
}
