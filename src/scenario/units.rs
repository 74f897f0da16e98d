//! Units of the scenario format: durations (`250ms`, `1h30m`), rates
//! (`120/s`, `3000/m`), percentages (`2%`), sizes (`800KB`) and byte rates
//! (`1MB/s`). Each is written as text in YAML and parsed by exactly one
//! function here, which serde, the structural checker and the JSON Schema's
//! `format` all share, so an editor, `surge validate` and the runner can
//! never disagree on what a value means. Nothing here knows about scenarios.

use std::fmt;
use std::time::Duration as StdDuration;

/// A non-negative decimal split into its integer digits and up to nine
/// fraction digits, so durations and sizes are exact (no float rounding).
struct Decimal {
    int: u128,
    frac: u128,
    frac_digits: u32,
}

impl Decimal {
    /// Reads a decimal at the start of `s`; returns it and the rest.
    fn take(s: &str) -> Option<(Decimal, &str)> {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_text, rest) = s.split_at(int_len);
        let (frac_text, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", rest),
        };
        if int_text.is_empty() && frac_text.is_empty() {
            return None;
        }
        // Twelve integer digits cover a century in seconds; more is a typo.
        if int_text.len() > 12 || frac_text.len() > 9 {
            return None;
        }
        let int = if int_text.is_empty() {
            0
        } else {
            int_text.parse().ok()?
        };
        let frac = if frac_text.is_empty() {
            0
        } else {
            frac_text.parse().ok()?
        };
        Some((
            Decimal {
                int,
                frac,
                frac_digits: frac_text.len() as u32,
            },
            rest,
        ))
    }

    /// The value times `unit`, rounded down.
    fn times(&self, unit: u128) -> u128 {
        self.int * unit + self.frac * unit / 10u128.pow(self.frac_digits)
    }

    fn as_f64(&self) -> f64 {
        self.int as f64 + self.frac as f64 / 10f64.powi(self.frac_digits as i32)
    }
}

fn reject_sign(s: &str, what: &str) -> Result<(), String> {
    if s.starts_with('-') {
        return Err(format!("{what} must not be negative"));
    }
    if s.starts_with('+') {
        return Err(format!("write {what}s without a `+` sign"));
    }
    Ok(())
}

fn is_bare_number(s: &str) -> bool {
    !s.is_empty() && s.parse::<f64>().is_ok()
}

// ---------------------------------------------------------------- Duration

/// A span of time written as `250ms`, `90s`, `5m`, `1h30m` or `1.5s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub StdDuration);

const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("ms", 1_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("us", 1_000),
    ("µs", 1_000),
];

/// Parses a duration; the error says how to write one.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(duration_help(s));
    }
    reject_sign(s, "a duration")?;
    if is_bare_number(s) {
        return Err(format!("`{s}` has no unit; write `{s}s` or `{s}ms`"));
    }
    let mut rest = s;
    let mut nanos: u128 = 0;
    let mut last_unit = u128::MAX;
    while !rest.is_empty() {
        let (number, after) = Decimal::take(rest).ok_or_else(|| duration_help(s))?;
        // Longest unit first so `ms` is not read as `m` followed by `s`.
        let (unit, size) = DURATION_UNITS
            .iter()
            .filter(|(u, _)| after.starts_with(u))
            .max_by_key(|(u, _)| u.len())
            .ok_or_else(|| duration_help(s))?;
        if *size >= last_unit {
            return Err(format!(
                "`{s}`: write the larger units first, each once (like `1h30m`)"
            ));
        }
        last_unit = *size;
        nanos += number.times(*size);
        rest = &after[unit.len()..];
    }
    if nanos > u64::MAX as u128 {
        return Err(format!("`{s}` is too long a duration"));
    }
    Ok(Duration(StdDuration::from_nanos(nanos as u64)))
}

fn duration_help(s: &str) -> String {
    format!("`{s}` is not a duration; write it like `250ms`, `90s`, `5m` or `1h30m`")
}

impl Duration {
    pub const ZERO: Duration = Duration(StdDuration::ZERO);

    pub fn from_secs(s: u64) -> Self {
        Duration(StdDuration::from_secs(s))
    }

    pub fn from_millis(ms: u64) -> Self {
        Duration(StdDuration::from_millis(ms))
    }

    pub fn as_secs_f64(&self) -> f64 {
        self.0.as_secs_f64()
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        if d.subsec_nanos() == 0 {
            let s = d.as_secs();
            let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
            let mut out = String::new();
            if h > 0 {
                out += &format!("{h}h");
            }
            if m > 0 {
                out += &format!("{m}m");
            }
            if s > 0 {
                out += &format!("{s}s");
            }
            return f.write_str(&out);
        }
        let nanos = d.as_nanos();
        if nanos < 1_000_000_000 && nanos.is_multiple_of(1_000_000) {
            return write!(f, "{}ms", nanos / 1_000_000);
        }
        if nanos < 1_000_000 && nanos.is_multiple_of(1_000) {
            return write!(f, "{}us", nanos / 1_000);
        }
        write!(f, "{}s", trim_float(d.as_secs_f64(), 6))
    }
}

impl From<Duration> for StdDuration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Formats `x` with at most `places` decimals and no trailing zeros.
pub fn trim_float(x: f64, places: usize) -> String {
    let s = format!("{x:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

// ---------------------------------------------------------------- Rate

/// Arrivals (or requests) per unit of time: `120/s`, `3000/m`, `50/h`.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Rate {
    per_second: f64,
}

pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let s = text.trim();
    reject_sign(s, "a rate")?;
    if is_bare_number(s) {
        return Err(format!("`{s}` has no unit; write `{s}/s` or `{s}/m`"));
    }
    let help = || format!("`{s}` is not a rate; write it like `120/s`, `3000/m` or `50/h`");
    let (number, rest) = Decimal::take(s).ok_or_else(help)?;
    let per = match rest.trim_start() {
        "/s" => 1.0,
        "/m" => 60.0,
        "/h" => 3600.0,
        _ => return Err(help()),
    };
    Ok(Rate {
        per_second: number.as_f64() / per,
    })
}

impl Rate {
    pub fn per_second(per_second: f64) -> Self {
        Rate { per_second }
    }

    pub fn as_per_second(&self) -> f64 {
        self.per_second
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", trim_float(self.per_second, 3))
    }
}

// ---------------------------------------------------------------- Percent

/// A share written as a percentage, `2%` or `99.9%`; held as a fraction.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Percent {
    fraction: f64,
}

pub fn parse_percent(text: &str) -> Result<Percent, String> {
    let s = text.trim();
    reject_sign(s, "a percentage")?;
    if is_bare_number(s) {
        return Err(format!("`{s}` has no unit; write `{s}%`"));
    }
    let help = || format!("`{s}` is not a percentage; write it like `2%` or `99.9%`");
    let (number, rest) = Decimal::take(s).ok_or_else(help)?;
    if rest.trim_start() != "%" {
        return Err(help());
    }
    let value = number.as_f64();
    if value > 100.0 {
        return Err(format!("`{s}` is more than 100%"));
    }
    Ok(Percent {
        fraction: value / 100.0,
    })
}

impl Percent {
    pub fn from_fraction(fraction: f64) -> Self {
        Percent { fraction }
    }

    pub fn fraction(&self) -> f64 {
        self.fraction
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", trim_float(self.fraction * 100.0, 4))
    }
}

// ---------------------------------------------------------------- Size

/// A number of bytes: `512B`, `800KB` (1000-based) or `1MiB` (1024-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

const SIZE_UNITS: [(&str, u128); 7] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
];

pub fn parse_size(text: &str) -> Result<Size, String> {
    let s = text.trim();
    reject_sign(s, "a size")?;
    if is_bare_number(s) {
        return Err(format!("`{s}` has no unit; write `{s}B` or `{s}KB`"));
    }
    let help = || format!("`{s}` is not a size; write it like `512B`, `800KB` or `1MiB`");
    let (number, rest) = Decimal::take(s).ok_or_else(help)?;
    let unit = SIZE_UNITS
        .iter()
        .find(|(u, _)| rest.trim_start() == *u)
        .ok_or_else(help)?;
    let bytes = number.times(unit.1);
    u64::try_from(bytes)
        .map(Size)
        .map_err(|_| format!("`{s}` is too large"))
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        match b {
            0 => f.write_str("0B"),
            _ if b.is_multiple_of(1_000_000_000) => write!(f, "{}GB", b / 1_000_000_000),
            _ if b.is_multiple_of(1_000_000) => write!(f, "{}MB", b / 1_000_000),
            _ if b.is_multiple_of(1_000) => write!(f, "{}KB", b / 1_000),
            _ if b.is_multiple_of(1024) => write!(f, "{}KiB", b / 1024),
            _ => write!(f, "{b}B"),
        }
    }
}

// ---------------------------------------------------------------- ByteRate

/// Bytes per second, for bandwidth limits: `64KB/s`, `1MB/s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteRate(pub u64);

pub fn parse_byte_rate(text: &str) -> Result<ByteRate, String> {
    let s = text.trim();
    let help = || format!("`{s}` is not a bandwidth; write it like `64KB/s` or `1MB/s`");
    let size = s.strip_suffix("/s").ok_or_else(help)?;
    let bytes = parse_size(size).map_err(|_| help())?;
    Ok(ByteRate(bytes.0))
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", Size(self.0))
    }
}

// ---------------------------------------------------------------- glue

/// Ties a text-written type to its parser, schema `format` and pattern.
pub trait TextUnit: Sized {
    /// The JSON Schema `format` that names this type; the structural
    /// checker dispatches on it.
    const FORMAT: &'static str;
    /// A regular expression for editors (the parser is the authority).
    const PATTERN: &'static str;
    const DESCRIPTION: &'static str;
    fn parse(text: &str) -> Result<Self, String>;
}

/// Implements [`TextUnit`], `FromStr`, serde and `JsonSchema` for a type
/// written as text, from its parser.
macro_rules! text_unit {
    ($ty:ident, $parse:ident, $format:literal, $pattern:literal, $desc:literal) => {
        impl $crate::scenario::units::TextUnit for $ty {
            const FORMAT: &'static str = $format;
            const PATTERN: &'static str = $pattern;
            const DESCRIPTION: &'static str = $desc;
            fn parse(text: &str) -> Result<Self, String> {
                $parse(text)
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $parse(s)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                $parse(&text).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "format": $format,
                    "pattern": $pattern,
                    "description": $desc,
                })
            }
        }
    };
}

pub(crate) use text_unit;

text_unit!(
    Duration,
    parse_duration,
    "duration",
    r"^\s*([0-9]*\.?[0-9]+(h|m|s|ms|us|µs))+\s*$",
    "A duration: `250ms`, `90s`, `5m`, `1h30m`."
);
text_unit!(
    Rate,
    parse_rate,
    "rate",
    r"^\s*[0-9]*\.?[0-9]+\s*/(s|m|h)\s*$",
    "A rate: `120/s`, `3000/m`, `50/h`."
);
text_unit!(
    Percent,
    parse_percent,
    "percent",
    r"^\s*[0-9]*\.?[0-9]+\s*%\s*$",
    "A percentage: `2%`, `99.9%`."
);
text_unit!(
    Size,
    parse_size,
    "size",
    r"^\s*[0-9]*\.?[0-9]+\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$",
    "A size in bytes: `512B`, `800KB` (1000-based), `1MiB` (1024-based)."
);
text_unit!(
    ByteRate,
    parse_byte_rate,
    "byte-rate",
    r"^\s*[0-9]*\.?[0-9]+\s*(B|KB|MB|GB|KiB|MiB|GiB)/s\s*$",
    "A bandwidth: `64KB/s`, `1MB/s`."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u128 {
        parse_duration(text).unwrap().0.as_millis()
    }

    #[test]
    fn durations_read_every_documented_form() {
        assert_eq!(ms("250ms"), 250);
        assert_eq!(ms("90s"), 90_000);
        assert_eq!(ms("5m"), 300_000);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("1m30s500ms"), 90_500);
        assert_eq!(parse_duration("20us").unwrap().0.as_nanos(), 20_000);
    }

    #[test]
    fn durations_refuse_what_is_ambiguous() {
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(
            parse_duration("30m1h")
                .unwrap_err()
                .contains("larger units first")
        );
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
    }

    #[test]
    fn durations_display_round_trips() {
        for text in ["0s", "250ms", "1m30s", "1h30m", "1.5s", "20us", "2h"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(parse_duration(&d.to_string()).unwrap(), d);
        }
    }

    #[test]
    fn rates_are_per_second() {
        assert_eq!(parse_rate("120/s").unwrap().as_per_second(), 120.0);
        assert_eq!(parse_rate("3000/m").unwrap().as_per_second(), 50.0);
        assert_eq!(parse_rate("0.5/s").unwrap().as_per_second(), 0.5);
        assert_eq!(parse_rate("0/s").unwrap().as_per_second(), 0.0);
        assert!(parse_rate("-3/s").unwrap_err().contains("negative"));
        assert!(parse_rate("120").unwrap_err().contains("120/s"));
        assert!(parse_rate("120/d").is_err());
    }

    #[test]
    fn percents_are_fractions_up_to_one() {
        assert_eq!(parse_percent("2%").unwrap().fraction(), 0.02);
        assert!((parse_percent("99.9%").unwrap().fraction() - 0.999).abs() < 1e-12);
        assert!(
            parse_percent("101%")
                .unwrap_err()
                .contains("more than 100%")
        );
        assert!(parse_percent("0.5").unwrap_err().contains("0.5%"));
    }

    #[test]
    fn sizes_distinguish_decimal_and_binary_units() {
        assert_eq!(parse_size("800KB").unwrap().0, 800_000);
        assert_eq!(parse_size("1MiB").unwrap().0, 1_048_576);
        assert_eq!(parse_size("1.5MB").unwrap().0, 1_500_000);
        assert_eq!(parse_size("512B").unwrap().0, 512);
        assert!(parse_size("800kb").is_err());
        assert_eq!(parse_byte_rate("64KB/s").unwrap().0, 64_000);
        assert!(parse_byte_rate("64KB").is_err());
    }
}
