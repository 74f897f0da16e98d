//! What the platform's books said of a run: each counter before the load,
//! at its end and after the settle, how the settle went, and each
//! reconciliation's two sides with the ids on one side only (the first
//! [`IDS_SHOWN`] of each; `ids.csv` and the books hold all). Every reading
//! is in `books.csv`; this is the part the verdict and the reader need.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many ids of each difference a summary keeps.
pub const IDS_SHOWN: usize = 20;

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BooksSummary {
    /// Per counter, in `books.counters` order.
    pub counters: Vec<CounterSummary>,
    /// How long the settle lasted, in seconds.
    pub settle_s: f64,
    /// Whether the counters stopped moving within `books.settle` (false:
    /// they were still moving, or the settle was cut short by Ctrl-C).
    pub settled: bool,
    pub reconcile: Vec<ReconcileSummary>,
    /// What could not be read, one line per source that failed (its
    /// objectives are unjudged). Never shows a URL or a header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A counter at the run's marks (`null`: that reading failed).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterSummary {
    pub name: String,
    pub before: Option<f64>,
    pub end_of_load: Option<f64>,
    pub after_settle: Option<f64>,
}

/// Ours against theirs.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSummary {
    pub name: String,
    /// Our side: the step and the captured variable.
    pub step: String,
    pub capture: String,
    /// Their side: the record's name.
    pub theirs: String,
    /// Distinct ids on our side.
    pub ours_count: u64,
    /// Distinct ids on their side (`null`: the record could not be read).
    pub theirs_count: Option<u64>,
    /// Ours but not theirs: paid by an applicant, not in their record.
    pub missing: Option<u64>,
    pub missing_ids: Vec<String>,
    /// Theirs but not ours: in their record, not from this run.
    pub extra: Option<u64>,
    pub extra_ids: Vec<String>,
    /// Why one side could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
