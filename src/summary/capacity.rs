//! The `capacity.json` contract: what `surge capacity` found, trial by
//! trial. Read by compare, the history and the command line; written by
//! the search ([`crate::capacity`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Provenance, Verdict};

/// Names this document's format.
pub const FORMAT: &str = "surge-capacity";

/// One trial of the search.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    pub scale: f64,
    /// Mean arrivals per second at this scale.
    pub rate_per_s: f64,
    pub verdict: Verdict,
    /// The run folder.
    pub dir: String,
    /// Why it did not pass: objectives missed or unjudged, or invalidity.
    pub reasons: Vec<String>,
    /// The trial's length, seconds (trials are lengthened when too short
    /// to judge).
    #[serde(default)]
    pub duration_s: f64,
    /// Whether every objective had enough data: a trial that was not
    /// judged bounds the capacity neither way.
    #[serde(default = "judged_by_default")]
    pub judged: bool,
}

/// Reports written before trials were told apart by judgement judged all.
fn judged_by_default() -> bool {
    true
}

/// What `surge capacity` found (`capacity.json`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityReport {
    /// Always `surge-capacity`.
    pub format: String,
    pub version: u32,
    pub scenario: String,
    /// SHA-256 of the scenario file's bytes.
    #[serde(default)]
    pub scenario_sha256: String,
    /// When the search started (UTC, RFC 3339).
    #[serde(default)]
    pub started_at: String,
    /// Which code was searched (git, CI).
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
    /// Mean arrivals per second at scale 1.
    pub base_rate_per_s: f64,
    /// The highest scale that passed (0 when none did).
    pub scale: f64,
    /// `scale` times `base_rate_per_s`.
    pub capacity_per_s: f64,
    /// The lowest scale that failed, if one did: the capacity lies below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_per_s: Option<f64>,
    /// The search stops once the bracket is narrower than this share.
    pub resolution: f64,
    pub trials: Vec<Trial>,
}

impl CapacityReport {
    /// Whether any trial was judged: without one, the search found nothing.
    pub fn judged(&self) -> bool {
        self.trials.iter().any(|t| t.judged)
    }

    /// Whether some scale passed.
    pub fn found(&self) -> bool {
        self.scale > 0.0
    }

    /// The capacity as a sentence.
    pub fn describe(&self) -> String {
        if !self.judged() {
            return "none found: no trial had enough samples to judge its objectives; \
                    give longer trials (--trial-duration)"
                .into();
        }
        match self.upper_per_s {
            Some(up) if self.found() => format!(
                "{:.1} arrivals/s (scale {:.3}): every objective holds there and one fails at \
                 {up:.1}/s, so the capacity lies in [{:.1}, {up:.1}) arrivals/s (bracket {:.1}% wide)",
                self.capacity_per_s,
                self.scale,
                self.capacity_per_s,
                (up / self.capacity_per_s - 1.0) * 100.0
            ),
            Some(up) => format!(
                "none found: objectives failed even at the smallest scale tried ({up:.1} arrivals/s)"
            ),
            None if self.found() => format!(
                "at least {:.1} arrivals/s: the largest scale tried passed",
                self.capacity_per_s
            ),
            None => "none found: no trial passed".into(),
        }
    }
}
