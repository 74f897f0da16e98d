//! Figures as people read them in terminals, tables and verdicts: one
//! formatter for latencies, so a latency reads alike in the run's summary,
//! the reports, a verdict and a comparison; and an error with its causes
//! on one line. A leaf: imports nothing of surge's.

/// An error and its causes, each once, on one line: `error sending
/// request: client error (Connect): invalid peer certificate:
/// UnknownIssuer`. A cause already said by the error before it is left out.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// A recorded latency (microseconds) in milliseconds: one decimal below
/// 10 ms, whole milliseconds from there (where a fraction is noise).
pub fn ms(us: u64) -> String {
    millis(us as f64, 1, 0)
}

/// A verdict's latency: two decimals below 10 ms, so a sub-millisecond
/// bound such as 0.25 ms is quoted as written.
pub fn ms_fine(us: f64) -> String {
    millis(us, 2, 0)
}

/// A comparison's latency: always a tenth, so a move on a slow step
/// between two runs shows in the table.
pub fn ms_tenths(us: f64) -> String {
    millis(us, 1, 1)
}

fn millis(us: f64, small: usize, large: usize) -> String {
    let decimals = if us >= 10_000.0 { large } else { small };
    format!("{:.*}ms", decimals, us / 1000.0)
}

/// An instant as RFC 3339 in UTC, to the millisecond (`summary.json`,
/// `capacity.json`, the history).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_in_milliseconds() {
        assert_eq!(ms(420), "0.4ms");
        assert_eq!(ms(9_949), "9.9ms");
        assert_eq!(ms(10_000), "10ms");
        assert_eq!(ms(351_500), "352ms");
        assert_eq!(ms_fine(250.0), "0.25ms");
        assert_eq!(ms_fine(12_340.0), "12ms");
        assert_eq!(ms_tenths(351_500.0), "351.5ms");
        assert_eq!(ms_tenths(700.0), "0.7ms");
    }
}
