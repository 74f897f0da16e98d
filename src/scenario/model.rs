//! The scenario file as written: version 1 of the format, one Rust type per
//! YAML mapping. These types are the single source of the format: serde
//! reads files into them, schemars derives the JSON Schema that editors use
//! and that `structure` checks files against, and the doc comments become
//! that schema's descriptions. Nothing here checks cross-references (that is
//! `semantic`) or does anything with a scenario (that is the runner's).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::refs::{
    At, CaptureSource, Channel, FaultOn, JsonPath, Method, Name, StatusSet, StepRef,
};
use super::template::{JsonTemplate, Template};
use super::units::{ByteRate, Duration, Percent, Rate, Size};

/// The only version of the format this surge reads.
pub const FORMAT_VERSION: u32 = 1;

/// A surge scenario: a deadline-eve surge against an e-Meterai platform,
/// the outages to inject while it runs, and the objectives to meet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "surge scenario")]
pub struct ScenarioFile {
    /// Version of the scenario format; always `1`.
    pub version: u32,
    /// The scenario's name; run folders are written under `reports/NAME/`.
    pub name: Name,
    /// What the scenario rehearses and why; shown at the top of the report.
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice (arrival times, jitter), so a scenario
    /// replays the same schedule. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// When applicants must be done, as an offset (`9m30s`) or a phase edge
    /// (`close.start`). Journeys completed after it count against goodput.
    /// Default: the end of the last phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<At>,
    /// What to rehearse against: the built-in twin or an external system.
    pub target: Target,
    /// How many applicants arrive, and when.
    pub load: Load,
    /// Test data read from files, by name: each arrival of a journey that
    /// `feed`s on it takes one row, and its templates read the row's
    /// columns as `{NAME.COLUMN}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub data: IndexMap<String, DataSource>,
    /// Share of arrivals per journey, as weights (normalised). Default:
    /// every journey alike.
    #[serde(default)]
    pub mix: IndexMap<String, f64>,
    /// What applicants do, by journey name.
    pub journeys: IndexMap<String, Journey>,
    /// The outages to inject while the load runs.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// The platform's own books (its database or admin API): counters
    /// read during the run, and ids reconciled with what applicants did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub books: Option<super::books::Books>,
    /// What the platform must achieve; the run's exit code follows them.
    #[serde(default)]
    pub objectives: Vec<Objective>,
    /// Changes to try on the same arrivals (`surge whatif`): each variant
    /// sets fields by their dotted paths, as `--set` does, and must give a
    /// valid scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
}

/// One change to the scenario, run by `surge whatif` beside the scenario
/// as written, on the same arrivals.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// How the variant is named in `--variant` and in the comparison.
    pub name: Name,
    /// What the change is, in a sentence; shown in the comparison.
    #[serde(default)]
    pub description: String,
    /// Fields to set, by dotted path (`target.twin.core.signing.workers:
    /// 12`, `load.phases[1].rate: 40/s`); values as written in the file.
    #[schemars(length(min = 1))]
    pub set: IndexMap<String, serde_json::Value>,
}

fn default_seed() -> u64 {
    1
}

// ---------------------------------------------------------------- target

/// The system under rehearsal: exactly one of `twin` or `base_url`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Run against the built-in twin of the e-Meterai platform, started
    /// in-process on a free loopback port, with these capacity knobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin: Option<TwinConfig>,
    /// Run against an external system at this URL (for example a `surge
    /// twin` started apart, or a staging environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<Template>,
    /// TLS towards `base_url` (and every channel without its own): CAs
    /// to trust, a client certificate, the name to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// Per-channel base URLs (`storefront`, `stamping`, `partner/NAME`):
    /// a URL, or `{ base_url, tls }` when the channel needs TLS settings
    /// of its own (a partner API that wants a client certificate).
    /// Channels not listed use `base_url`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub channels: IndexMap<String, ChannelTarget>,
    /// Hosts off loopback that this scenario may load. Without them (or
    /// `--allow-remote-target`) surge refuses any host but 127.0.0.0/8 and
    /// ::1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Admin URL of a `surge twin` running apart, so `twin/...` faults can
    /// be switched through its API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Template>,
}

/// One channel's target: a base URL, or a base URL with TLS settings.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ChannelTarget {
    Url(Template),
    WithTls(ChannelWithTls),
}

/// A channel's base URL with TLS settings of its own.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelWithTls {
    pub base_url: Template,
    /// Overrides the target's `tls`, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

impl ChannelTarget {
    pub fn base_url(&self) -> &Template {
        match self {
            ChannelTarget::Url(u) => u,
            ChannelTarget::WithTls(c) => &c.base_url,
        }
    }

    pub fn tls(&self) -> Option<&Tls> {
        match self {
            ChannelTarget::Url(_) => None,
            ChannelTarget::WithTls(c) => c.tls.as_ref(),
        }
    }
}

/// TLS towards an external target. Paths are relative to the scenario
/// file; files are read and checked when the scenario is loaded, and never
/// copied into the run folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM bundle of CA certificates to trust, besides the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Trust only `ca`, not the system's roots. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_only: Option<bool>,
    /// Mutual TLS: the client's certificate chain (PEM), leaf first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// Mutual TLS: the client's private key (PEM: PKCS#8, RSA or EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// The name sent (SNI) and checked in the server's certificate, when
    /// the URL's host is an address or another name. Requests go to the
    /// URL's address with this name as their host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accept any certificate, unchecked. Warned at start, recorded in
    /// summary.json and shown in the report. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

impl Tls {
    /// These settings, with `over`'s fields replacing those it sets.
    pub fn overridden_by(&self, over: &Tls) -> Tls {
        Tls {
            ca: over.ca.clone().or_else(|| self.ca.clone()),
            ca_only: over.ca_only.or(self.ca_only),
            client_cert: over
                .client_cert
                .clone()
                .or_else(|| self.client_cert.clone()),
            client_key: over.client_key.clone().or_else(|| self.client_key.clone()),
            server_name: over
                .server_name
                .clone()
                .or_else(|| self.server_name.clone()),
            insecure_skip_verify: over.insecure_skip_verify.or(self.insecure_skip_verify),
        }
    }
}

/// Capacity knobs of the built-in twin. Every section is optional; the
/// defaults describe a healthy platform at modest scale.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TwinConfig {
    /// The storefront's waiting room; off unless this section is given.
    #[serde(default = "WaitingRoom::off")]
    pub waiting_room: WaitingRoom,
    /// Registration and login by one-time password.
    #[serde(default)]
    pub accounts: Accounts,
    /// Payment capture and the asynchronous callback that credits quota.
    #[serde(default)]
    pub payments: Payments,
    /// Document upload, stamping and download.
    #[serde(default)]
    pub stamping: Stamping,
    /// The vendor's core: serial-number stock and the signing pool.
    #[serde(default)]
    pub core: Core,
    /// Distribution partners by name. Default: `pos` (a pass-through post
    /// office counter) and `reseller-a` (a reseller with 5000 serials).
    #[serde(default = "default_partners")]
    pub partners: IndexMap<String, Partner>,
    /// Another platform's routes, as `surge fit` measured them: each
    /// answered with a recorded status and body, after a service time at
    /// a pool of workers when it has one. Written by `surge fit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<Fitted>,
}

impl TwinConfig {
    /// Multiplies every finite stock (the core's, each reseller's and its
    /// restocking rule) by `factor`, rounding up so a stock that was there
    /// stays. `surge run --duration` uses it: the arrivals that drain a
    /// stock scale with the timeline, so a stock that ran dry in the last
    /// hour of the full replay still does in a compressed one.
    pub fn scale_stocks(&mut self, factor: f64) {
        let scale = |n: &mut u64| *n = (*n as f64 * factor).ceil() as u64;
        scale(&mut self.core.stock);
        for partner in self.partners.values_mut() {
            scale(&mut partner.stock);
            if let Some(refill) = &mut partner.refill {
                scale(&mut refill.below);
                scale(&mut refill.batch);
            }
        }
    }
}

/// The same defaults serde applies to `twin: {}`.
impl Default for TwinConfig {
    fn default() -> Self {
        TwinConfig {
            waiting_room: WaitingRoom::off(),
            accounts: Accounts::default(),
            payments: Payments::default(),
            stamping: Stamping::default(),
            core: Core::default(),
            partners: default_partners(),
            fitted: None,
        }
    }
}

/// A platform fitted by `surge fit`: pools of workers, and the routes the
/// twin answers as that platform did.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fitted {
    /// Pools of workers by name (one per channel whose latency bent under
    /// load).
    #[serde(default)]
    pub pools: IndexMap<String, FittedPool>,
    /// Routes, matched in order; a `{name}` segment matches any one
    /// segment.
    pub routes: Vec<FittedRoute>,
}

/// A pool of workers with a bounded waiting line, like the core's signing.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FittedPool {
    /// Requests served at once.
    #[schemars(range(min = 1))]
    pub workers: u32,
    /// Requests that may wait for a worker; beyond it the answer is 503.
    pub queue: u32,
    /// A request that waited this long for a worker gets 504.
    pub timeout: Duration,
}

/// One route of a fitted platform.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FittedRoute {
    pub method: Method,
    /// The path, with `{name}` for a segment that varies.
    pub path: String,
    /// The pool whose worker serves it (none: answered after
    /// `service_time` without waiting for anyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Time to serve one request (at the pool, when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time: Option<Distribution>,
    /// The status answered.
    #[serde(default = "FittedRoute::default_status")]
    pub status: u16,
    /// The JSON body answered (as the platform last answered it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl FittedRoute {
    fn default_status() -> u16 {
        200
    }
}

/// The waiting room: applicants join a queue and are admitted at a fixed
/// rate; orders need an admission token while it is on.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitingRoom {
    /// Whether the waiting room is on. Default: on when this section is
    /// given.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How many applicants are admitted per unit of time.
    #[serde(default = "WaitingRoom::default_admit")]
    pub admit: Rate,
    /// How many applicants may wait; joining beyond it is refused (503).
    #[serde(default = "WaitingRoom::default_queue")]
    pub queue: u32,
    /// How long an admission token stays valid if unused.
    #[serde(default = "WaitingRoom::default_ttl")]
    pub admission_ttl: Duration,
    /// A ticket not polled for this long loses its place.
    #[serde(default = "WaitingRoom::default_idle")]
    pub idle_timeout: Duration,
}

fn yes() -> bool {
    true
}

impl Default for WaitingRoom {
    fn default() -> Self {
        WaitingRoom {
            enabled: true,
            admit: Self::default_admit(),
            queue: Self::default_queue(),
            admission_ttl: Self::default_ttl(),
            idle_timeout: Self::default_idle(),
        }
    }
}

impl WaitingRoom {
    fn off() -> Self {
        WaitingRoom {
            enabled: false,
            ..Self::default()
        }
    }
    fn default_admit() -> Rate {
        Rate::per_second(50.0)
    }
    fn default_queue() -> u32 {
        10_000
    }
    fn default_ttl() -> Duration {
        Duration::from_secs(120)
    }
    fn default_idle() -> Duration {
        Duration::from_secs(30)
    }
}

/// A service time or delay, as a log-normal distribution given by its
/// median and 99th percentile (equal values make it fixed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// Half of the draws are shorter than this.
    pub median: Duration,
    /// 99% of the draws are shorter than this; at least `median`.
    pub p99: Duration,
}

impl Distribution {
    pub fn new(median: Duration, p99: Duration) -> Self {
        Distribution { median, p99 }
    }
}

/// Registration and login.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// How long a one-time password takes to reach the applicant.
    #[serde(default = "Accounts::default_otp")]
    pub otp_delay: Distribution,
    /// How long a login session lasts.
    #[serde(default = "Accounts::default_session")]
    pub session_ttl: Duration,
    /// Applicants who bought quota earlier in the season: accounts whose
    /// phone starts with `prefix` begin with `quota` units.
    #[serde(default)]
    pub returning: Returning,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            otp_delay: Self::default_otp(),
            session_ttl: Self::default_session(),
            returning: Returning::default(),
        }
    }
}

/// Accounts that already hold quota when they first log in.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Returning {
    /// Phone numbers starting with this belong to returning applicants.
    #[serde(default = "Returning::default_prefix")]
    pub prefix: String,
    /// Quota units they hold at their first login.
    #[serde(default = "Returning::default_quota")]
    pub quota: u32,
}

impl Default for Returning {
    fn default() -> Self {
        Returning {
            prefix: Self::default_prefix(),
            quota: Self::default_quota(),
        }
    }
}

impl Returning {
    fn default_prefix() -> String {
        "returning-".into()
    }
    fn default_quota() -> u32 {
        2
    }
}

impl Accounts {
    fn default_otp() -> Distribution {
        Distribution::new(Duration::from_millis(200), Duration::from_secs(2))
    }
    fn default_session() -> Duration {
        Duration::from_secs(1800)
    }
}

/// Payments.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Payments {
    /// Delay between capture and the provider's callback that credits the
    /// quota.
    #[serde(default = "Payments::default_callback")]
    pub callback_delay: Distribution,
    /// Price of one stamp, in rupiah.
    #[serde(default = "Payments::default_price")]
    pub unit_price: u64,
    /// How the provider delivers a callback again when one did not arrive
    /// (a `callbacks_dropped` fault). Default: never, so a lost callback
    /// leaves the payment paid but not credited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_retries: Option<CallbackRetries>,
}

/// The provider's retries of an undelivered callback.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackRetries {
    /// Deliveries tried again after the first, at most.
    #[schemars(range(min = 1))]
    pub attempts: u32,
    /// Time between deliveries.
    pub every: Duration,
}

impl Default for Payments {
    fn default() -> Self {
        Payments {
            callback_delay: Self::default_callback(),
            unit_price: Self::default_price(),
            callback_retries: None,
        }
    }
}

impl Payments {
    fn default_callback() -> Distribution {
        Distribution::new(Duration::from_millis(300), Duration::from_secs(3))
    }
    fn default_price() -> u64 {
        10_000
    }
}

/// Documents.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stamping {
    /// Largest accepted upload.
    #[serde(default = "Stamping::default_max_upload")]
    pub max_upload: Size,
    /// Documents, jobs and stamped files are forgotten after this long.
    #[serde(default = "Stamping::default_retention")]
    pub retention: Duration,
    /// Document bytes the twin holds at most; beyond it the oldest
    /// documents are forgotten first (their download answers 410).
    #[serde(default = "Stamping::default_store_limit")]
    pub store_limit: Size,
}

impl Default for Stamping {
    fn default() -> Self {
        Stamping {
            max_upload: Self::default_max_upload(),
            retention: Self::default_retention(),
            store_limit: Self::default_store_limit(),
        }
    }
}

impl Stamping {
    fn default_max_upload() -> Size {
        Size(800_000)
    }
    fn default_retention() -> Duration {
        Duration::from_secs(600)
    }
    /// 256 MB: a CI runner shared by several jobs can carry it, and the
    /// deadline eve's results are those of 512 MB (no document forgotten
    /// before its download; at 128 MB five were).
    fn default_store_limit() -> Size {
        Size(256_000_000)
    }
}

/// The vendor's core.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Core {
    /// Serial numbers the core can still issue.
    #[serde(default = "Core::default_stock")]
    pub stock: u64,
    /// The signing service every stamp goes through.
    #[serde(default)]
    pub signing: Signing,
}

impl Default for Core {
    fn default() -> Self {
        Core {
            stock: Self::default_stock(),
            signing: Signing::default(),
        }
    }
}

impl Core {
    fn default_stock() -> u64 {
        1_000_000
    }
}

/// A pool of signing workers with a bounded queue in front.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Signatures made at once.
    #[serde(default = "Signing::default_workers")]
    #[schemars(range(min = 1))]
    pub workers: u32,
    /// Time to make one signature.
    #[serde(default = "Signing::default_service_time")]
    pub service_time: Distribution,
    /// Requests that may wait for a worker; beyond it the core answers 503
    /// with Retry-After.
    #[serde(default = "Signing::default_queue")]
    pub queue: u32,
    /// A request that waited this long for a worker fails.
    #[serde(default = "Signing::default_timeout")]
    pub timeout: Duration,
}

impl Default for Signing {
    fn default() -> Self {
        Signing {
            workers: Self::default_workers(),
            service_time: Self::default_service_time(),
            queue: Self::default_queue(),
            timeout: Self::default_timeout(),
        }
    }
}

impl Signing {
    fn default_workers() -> u32 {
        8
    }
    fn default_service_time() -> Distribution {
        Distribution::new(Duration::from_millis(40), Duration::from_millis(400))
    }
    fn default_queue() -> u32 {
        256
    }
    fn default_timeout() -> Duration {
        Duration::from_secs(10)
    }
}

/// How a partner sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    /// Holds no stock; every operation calls the core (a post office
    /// counter).
    PassThrough,
    /// Holds its own stock of serial numbers, bought from the core.
    Reseller,
}

/// A distribution partner.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// `pass_through` or `reseller`.
    pub kind: PartnerKind,
    /// A reseller's own serial numbers at the start.
    #[serde(default)]
    pub stock: u64,
    /// When and how much a reseller restocks from the core; without it the
    /// stock runs out for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<Refill>,
}

/// A reseller's restocking rule.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refill {
    /// Restock when the stock falls below this.
    pub below: u64,
    /// Serial numbers bought from the core at each restock.
    #[schemars(range(min = 1))]
    pub batch: u64,
}

fn default_partners() -> IndexMap<String, Partner> {
    IndexMap::from([
        (
            "pos".to_string(),
            Partner {
                kind: PartnerKind::PassThrough,
                stock: 0,
                refill: None,
            },
        ),
        (
            "reseller-a".to_string(),
            Partner {
                kind: PartnerKind::Reseller,
                stock: 5000,
                refill: None,
            },
        ),
    ])
}

// ---------------------------------------------------------------- load

/// The arrival of applicants over time.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Consecutive phases; the run lasts their total. Give `phases` or
    /// `curve`, not both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// The whole load as a recorded arrival curve (one phase named
    /// `curve`), for example written by `surge import access-log --exact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<CurveFile>,
    /// Multiplies every rate (and is what `surge capacity` searches).
    #[serde(default = "one")]
    pub scale: f64,
    /// At most this many journeys run at once; an arrival that finds no
    /// free slot waits, and that wait is recorded.
    #[serde(default = "Load::default_in_flight")]
    #[schemars(range(min = 1))]
    pub max_in_flight: u32,
    /// `poisson` (random, like people) or `uniform` (evenly spaced).
    #[serde(default)]
    pub arrivals: Arrivals,
    /// An arrival that waited this long for a free slot is dropped.
    #[serde(default = "Load::default_lateness")]
    pub max_lateness: Duration,
    /// After the last phase, journeys still running get this long to
    /// finish before the run stops.
    #[serde(default = "Load::default_drain")]
    pub drain: Duration,
}

fn one() -> f64 {
    1.0
}

impl Load {
    fn default_in_flight() -> u32 {
        1000
    }
    fn default_lateness() -> Duration {
        Duration::from_secs(10)
    }
    fn default_drain() -> Duration {
        Duration::from_secs(30)
    }
}

/// How arrival instants are spread within a rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Independent random arrivals (exponential gaps), as people arrive.
    #[default]
    Poisson,
    /// Evenly spaced arrivals.
    Uniform,
}

/// A stretch of the run with a constant rate (`rate`), a linear ramp
/// (`from` and `to`) or a recorded arrival curve (`curve`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Used by moments (`surge+30s`), objectives and reports.
    pub name: Name,
    /// How long the phase lasts. A `curve` phase lasts as long as its
    /// file unless this cuts it short (or pads it with silence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// A constant arrival rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// The rate at the start of a ramp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Rate>,
    /// The rate at the end of a ramp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Rate>,
    /// Arrivals counted second by second (or minute by minute) in a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<CurveFile>,
}

/// An arrival curve read from a CSV file: a header `second,arrivals` (or
/// `minute,arrivals`), then one row per offset from the start with the
/// arrivals counted in it. Offsets not listed count 0. Arrivals are drawn
/// around these counts by `load.arrivals` (seeded), times `scale`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CurveFile {
    /// Relative to the scenario file. Read once, when the scenario is
    /// loaded.
    pub file: String,
}

// ---------------------------------------------------------------- data

/// A file of test data (accounts, partner ids, OTP bypass codes).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// CSV with a header row (`.csv`), or one JSON object a line
    /// (`.jsonl`, `.ndjson`), relative to the scenario file. Read once,
    /// when the scenario is loaded.
    pub file: String,
    /// Which row an arrival takes: `sequential` (round robin, the default),
    /// `random` (seeded: the same seed picks the same rows) or `unique`
    /// (each row at most once in the whole run, shards included).
    #[serde(default)]
    pub pick: Pick,
    /// With `pick: unique`, what happens when the rows run out: `stop`
    /// (the default: later arrivals are dropped as `data_exhausted`, the
    /// run stays valid and says so) or `fail` (validation refuses a
    /// schedule expecting more arrivals than rows; running out anyway
    /// makes the run invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<OnExhausted>,
    /// Columns never printed (in error examples and reports): one-time
    /// codes, passwords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_columns: Vec<String>,
}

/// How an arrival picks its row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    #[default]
    Sequential,
    Random,
    Unique,
}

/// What `pick: unique` does when every row has been used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    #[default]
    Stop,
    Fail,
}

/// The data a journey feeds on: one name, or a list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Feed {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Feed {
    pub fn names(&self) -> &[String] {
        match self {
            Feed::None => &[],
            Feed::One(name) => std::slice::from_ref(name),
            Feed::Many(names) => names,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names().is_empty()
    }
}

// ---------------------------------------------------------------- journeys

/// What one applicant does, step by step, through one channel.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    /// What this journey stands for; shown in reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The channel the applicant uses: `storefront`, `stamping` or
    /// `partner/NAME`.
    pub channel: Channel,
    /// How long the applicant keeps trying.
    #[serde(default)]
    pub patience: Patience,
    /// The `data` this journey reads: each arrival takes one row of each
    /// (`feed: accounts`, or `feed: [accounts, partners]`).
    #[serde(default, skip_serializing_if = "Feed::is_empty")]
    pub feed: Feed,
    /// Variables set at the start of each journey (templates may use
    /// built-ins, `{DATA.COLUMN}` and `${ENV}`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, Template>,
    /// Headers sent with every step of the journey.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// The requests, in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

/// Retry and give-up behaviour of an applicant.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Patience {
    /// Tries per step (the first included) before the applicant abandons.
    #[serde(default = "Patience::default_attempts")]
    #[schemars(range(min = 1))]
    pub attempts: u32,
    /// Waits between tries.
    #[serde(default)]
    pub backoff: Backoff,
    /// The applicant abandons when the journey has lasted this long since
    /// its intended start, whatever step it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up: Option<Duration>,
    /// Failures worth another try. Default: `connect_refused`,
    /// `connect_timeout`, `timeout`, `reset`, `rate_limited`,
    /// `unavailable`, `http_5xx`.
    #[serde(default = "Patience::default_retry_on")]
    pub retry_on: Vec<ErrorClass>,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            attempts: Self::default_attempts(),
            backoff: Backoff::default(),
            give_up: None,
            retry_on: Self::default_retry_on(),
        }
    }
}

impl Patience {
    fn default_attempts() -> u32 {
        3
    }
    fn default_retry_on() -> Vec<ErrorClass> {
        use ErrorClass::*;
        vec![
            ConnectRefused,
            ConnectTimeout,
            Timeout,
            Reset,
            RateLimited,
            Unavailable,
            Http5xx,
        ]
    }
}

/// Exponential backoff: `initial`, then times `factor` up to `max`, each
/// wait shortened or lengthened at random by up to `jitter`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The first wait.
    #[serde(default = "Backoff::default_initial")]
    pub initial: Duration,
    /// The longest wait.
    #[serde(default = "Backoff::default_max")]
    pub max: Duration,
    /// Growth of the wait per try.
    #[serde(default = "Backoff::default_factor")]
    pub factor: f64,
    /// Random spread of each wait.
    #[serde(default = "Backoff::default_jitter")]
    pub jitter: Percent,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Self::default_initial(),
            max: Self::default_max(),
            factor: Self::default_factor(),
            jitter: Self::default_jitter(),
        }
    }
}

impl Backoff {
    fn default_initial() -> Duration {
        Duration::from_millis(500)
    }
    fn default_max() -> Duration {
        Duration::from_secs(10)
    }
    fn default_factor() -> f64 {
        2.0
    }
    fn default_jitter() -> Percent {
        Percent::from_fraction(0.2)
    }
}

/// One HTTP request of a journey (or a poll: the same request repeated
/// until a condition holds).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Names the step in reports and objectives (`JOURNEY.STEP`).
    pub name: Name,
    /// The channel of this request when it is not the journey's (an
    /// applicant logs in at the storefront, then stamps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The HTTP method. Default `GET`.
    #[serde(default)]
    pub method: Method,
    /// The path under the channel's base URL, with `{var}` placeholders.
    pub path: Template,
    /// Headers of this request (added to the journey's).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonTemplate>,
    /// A text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Template>,
    /// A body read from this file (relative to the scenario file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A generated PDF of this size, different for every applicant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<Size>,
    /// Content type of a `text` or `file` body (JSON and PDF bodies set
    /// their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// How long one try may take, to the end of the response body.
    #[serde(default = "Step::default_timeout")]
    pub timeout: Duration,
    /// A pause before the request, as the applicant reads or types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Duration>,
    /// What a successful response looks like.
    #[serde(default)]
    pub expect: Expect,
    /// Variables taken from the successful response, by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub capture: IndexMap<String, CaptureSource>,
    /// Repeat the request (every `poll.every`) until this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Condition>,
    /// Pacing and limit of the repetition asked by `until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
}

impl Step {
    fn default_timeout() -> Duration {
        Duration::from_secs(10)
    }
}

/// The shape of a successful response.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Accepted statuses. Default `2xx`.
    #[serde(default)]
    pub status: StatusSet,
    /// Conditions on the JSON body, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<Condition>,
}

/// A condition on one field of a JSON response: `path` and exactly one
/// test.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The field, as a JSON path (`$.state`).
    pub path: JsonPath,
    /// The field equals this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The field is present and differs from this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<serde_json::Value>,
    /// The field equals one of these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<serde_json::Value>>,
    /// The field is present (`true`) or absent (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The field is a number at least this large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    /// The field is a number at most this large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
}

/// Repetition of a polling step.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// Time between the starts of two polls.
    pub every: Duration,
    /// The step fails when the condition has not held after this long.
    pub timeout: Duration,
}

/// A class of failure, as counted in reports and chosen in `retry_on`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The connection was refused.
    ConnectRefused,
    /// The connection could not be made in time.
    ConnectTimeout,
    /// The target's name did not resolve.
    Dns,
    /// The TLS handshake failed: unknown CA, name mismatch, expired,
    /// client certificate refused.
    Tls,
    /// The response did not arrive within the step's timeout.
    Timeout,
    /// The connection was reset or closed mid-request.
    Reset,
    /// 429: the platform says the client sends too fast.
    RateLimited,
    /// 503: the platform says it cannot serve now (overloaded, down, in
    /// maintenance).
    Unavailable,
    /// Another 5xx status (not 503).
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// A 4xx status other than 429.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// An unexpected status in another class, or an `expect.json`
    /// condition that failed.
    Expectation,
    /// A capture found nothing to capture.
    Capture,
    /// The response could not be read (for example JSON expected, not
    /// received).
    InvalidResponse,
    /// Any other failure of the request.
    Other,
}

/// The class that `summary.json` version 1 counted 429 and 503 under, and
/// the class its counts are read as: a count cannot be split after the
/// fact, and 503 is what the platforms surge rehearses answer when full or
/// down.
pub const OLD_QUEUE_FULL: (&str, ErrorClass) = ("queue_full", ErrorClass::Unavailable);

impl ErrorClass {
    /// Every class, in the order reports list them.
    pub const ALL: [ErrorClass; 14] = [
        ErrorClass::ConnectRefused,
        ErrorClass::ConnectTimeout,
        ErrorClass::Dns,
        ErrorClass::Tls,
        ErrorClass::Timeout,
        ErrorClass::Reset,
        ErrorClass::RateLimited,
        ErrorClass::Unavailable,
        ErrorClass::Http5xx,
        ErrorClass::Http4xx,
        ErrorClass::Expectation,
        ErrorClass::Capture,
        ErrorClass::InvalidResponse,
        ErrorClass::Other,
    ];

    /// Position in [`ErrorClass::ALL`], for counters kept in arrays (the
    /// two are pinned together by a test).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class's name as YAML and reports write it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::ConnectRefused => "connect_refused",
            ErrorClass::ConnectTimeout => "connect_timeout",
            ErrorClass::Dns => "dns",
            ErrorClass::Tls => "tls",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Reset => "reset",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Expectation => "expectation",
            ErrorClass::Capture => "capture",
            ErrorClass::InvalidResponse => "invalid_response",
            ErrorClass::Other => "other",
        }
    }
}

// ---------------------------------------------------------------- faults

/// An outage injected while the load runs.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Names the fault in reports and objectives. Default: the kind and
    /// the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// When the fault starts: an offset (`90s`) or relative to a phase
    /// (`surge+30s`).
    pub at: At,
    /// How long it lasts.
    #[serde(rename = "for")]
    pub lasts: Duration,
    /// Where it acts: `twin/CHANNEL`, `proxy/CHANNEL` or `hook`.
    pub on: FaultOn,
    /// What happens.
    pub fault: FaultKind,
    /// Proxy only: the share of connections affected. Default 100%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<Percent>,
    /// Proxy only: which direction the toxic acts on. Default `downstream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
}

/// Direction of proxied data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// From the client to the target.
    Upstream,
    /// From the target to the client.
    #[default]
    Downstream,
}

/// A kind of fault and its parameters. Which targets accept which kind is
/// checked when the file loads.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// The component stops serving (twin).
    Outage(Outage),
    /// Every response is delayed (twin: requests of the channel; proxy:
    /// data of affected connections).
    Latency(Latency),
    /// A share of requests fails with a status (twin or proxy).
    ErrorRate(ErrorRate),
    /// The stock of serial numbers is empty (`twin/core` or
    /// `twin/partner/NAME`).
    StockExhausted(Empty),
    /// Payment callbacks are lost: paid, but quota never credited
    /// (`twin/storefront`).
    CallbacksDropped(Share),
    /// Payment callbacks arrive late (`twin/storefront`).
    CallbacksDelayed(CallbacksDelayed),
    /// Payment callbacks arrive twice (`twin/storefront`).
    CallbacksDuplicated(Share),
    /// The waiting room is put in front of the storefront, or its
    /// admission changed (`twin/storefront`).
    WaitingRoom(WaitingRoomFault),
    /// Proxy: limits the bandwidth of affected connections.
    Bandwidth(Bandwidth),
    /// Proxy: delays the closing of affected connections.
    SlowClose(Delay),
    /// Proxy: stops all data of affected connections and closes them after
    /// `after` (0s: never).
    Timeout(After),
    /// Proxy: resets affected connections after `after`.
    ResetPeer(After),
    /// Proxy: cuts data into small pieces, optionally delayed.
    Slicer(Slicer),
    /// Proxy: closes affected connections after this much data.
    LimitData(LimitData),
    /// Proxy: refuses new connections.
    Down(Empty),
    /// Proxy: delays a share of HTTP requests.
    HttpDelay(HttpDelay),
    /// Hook: HTTP calls to an external fault injector. Boxed: it is far
    /// larger than the other kinds.
    Hook(Box<Hook>),
}

impl FaultKind {
    /// The kind's name as YAML writes it.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Outage(_) => "outage",
            FaultKind::Latency(_) => "latency",
            FaultKind::ErrorRate(_) => "error_rate",
            FaultKind::StockExhausted(_) => "stock_exhausted",
            FaultKind::CallbacksDropped(_) => "callbacks_dropped",
            FaultKind::CallbacksDelayed(_) => "callbacks_delayed",
            FaultKind::CallbacksDuplicated(_) => "callbacks_duplicated",
            FaultKind::WaitingRoom(_) => "waiting_room",
            FaultKind::Bandwidth(_) => "bandwidth",
            FaultKind::SlowClose(_) => "slow_close",
            FaultKind::Timeout(_) => "timeout",
            FaultKind::ResetPeer(_) => "reset_peer",
            FaultKind::Slicer(_) => "slicer",
            FaultKind::LimitData(_) => "limit_data",
            FaultKind::Down(_) => "down",
            FaultKind::HttpDelay(_) => "http_delay",
            FaultKind::Hook(_) => "hook",
        }
    }

    /// Whether this kind can act on `on`, and if not, what to write
    /// instead. `twin` lets a stock fault tell resellers from pass-through
    /// partners.
    pub fn check_target(&self, on: &FaultOn, twin: Option<&TwinConfig>) -> Result<(), String> {
        let kind = self;
        let name = self.name();
        let twin_ok = matches!(on, FaultOn::Twin(_));
        let proxy_ok = matches!(on, FaultOn::Proxy(_));
        match kind {
        FaultKind::Hook(_) if *on == FaultOn::Hook => Ok(()),
        FaultKind::Hook(_) => Err("`hook` faults go with `on: hook`".into()),
        _ if *on == FaultOn::Hook => Err(format!("`on: hook` takes a `hook` fault, not `{name}`")),
        FaultKind::Outage(o) => match on {
            FaultOn::Twin(Channel::Core) => Ok(()),
            FaultOn::Twin(_) if o.recovery.is_some() => Err("staged `recovery` applies to an outage of `twin/core`".into()),
            FaultOn::Twin(_) => Ok(()),
            _ => Err("`outage` is a twin switch; on a proxy use `down` (refuse connections) or `timeout` (hang)".into()),
        },
        FaultKind::Latency(_) | FaultKind::ErrorRate(_) if twin_ok || proxy_ok => Ok(()),
        FaultKind::StockExhausted(_) => match on {
            FaultOn::Twin(Channel::Core) => Ok(()),
            FaultOn::Twin(Channel::Partner(p)) => match twin.and_then(|t| t.partners.get(p)) {
                Some(partner) if partner.kind == PartnerKind::PassThrough => {
                    Err(format!("`{p}` is a pass-through partner and holds no stock; exhaust `twin/core` instead"))
                }
                _ => Ok(()),
            },
            _ => Err("`stock_exhausted` acts on `twin/core` or a reseller, `twin/partner/NAME`".into()),
        },
        FaultKind::CallbacksDropped(_)
        | FaultKind::CallbacksDelayed(_)
        | FaultKind::CallbacksDuplicated(_)
        | FaultKind::WaitingRoom(_) => match on {
            FaultOn::Twin(Channel::Storefront) => Ok(()),
            _ => Err(format!("`{name}` acts on `twin/storefront`")),
        },
        FaultKind::Bandwidth(_)
        | FaultKind::SlowClose(_)
        | FaultKind::Timeout(_)
        | FaultKind::ResetPeer(_)
        | FaultKind::Slicer(_)
        | FaultKind::LimitData(_)
        | FaultKind::Down(_)
        | FaultKind::HttpDelay(_)
            if proxy_ok =>
        {
            Ok(())
        }
        _ => Err(format!("`{name}` is a proxy fault; write `on: proxy/CHANNEL`")),
    }
    }
}

/// No parameters: write `{}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// How an outage looks from outside.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Requests are answered 503 at once.
    #[default]
    Unavailable,
    /// Requests hang until the client gives up.
    Hang,
}

/// An outage of a twin component.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// `unavailable` (503 at once) or `hang`.
    #[serde(default)]
    pub mode: OutageMode,
    /// `twin/core` only: after the outage, services return in stages, each
    /// this long after the outage ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
}

/// Staged recovery after a core outage: stamping first, then credits,
/// then sales.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// Stamping returns this long after the outage ends.
    #[serde(default)]
    pub stamping: Duration,
    /// Quota credits resume this long after the outage ends.
    pub credits: Duration,
    /// Sales (orders) reopen this long after the outage ends.
    pub sales: Duration,
}

/// Added delay.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Added to every response.
    pub delay: Duration,
    /// Random extra spread, up to this much either way.
    #[serde(default)]
    pub jitter: Duration,
}

/// Failing a share of requests.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    /// Share of requests that fail.
    pub rate: Percent,
    /// Status they fail with. Default 503.
    #[serde(default = "ErrorRate::default_status")]
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
}

impl ErrorRate {
    fn default_status() -> u16 {
        503
    }
}

/// A share of events.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// Share affected. Default 100%.
    #[serde(default = "Share::all")]
    pub rate: Percent,
}

impl Share {
    fn all() -> Percent {
        Percent::from_fraction(1.0)
    }
}

/// Late payment callbacks.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbacksDelayed {
    /// The callback delay while the fault lasts.
    pub delay: Distribution,
}

/// The waiting room during the fault.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitingRoomFault {
    /// Admission rate while the fault lasts.
    pub admit: Rate,
    /// Queue bound while the fault lasts. Default: the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
}

/// A bandwidth limit.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bandwidth {
    /// Bytes per second per connection.
    pub rate: ByteRate,
}

/// A delay.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// How long.
    pub delay: Duration,
}

/// An action after some time.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// Time from the connection's start (0s: at once, or never for
    /// `timeout`).
    #[serde(default)]
    pub after: Duration,
}

/// Cutting data into pieces.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slicer {
    /// Average piece size.
    pub average: Size,
    /// Random spread of the piece size.
    #[serde(default)]
    pub variation: Size,
    /// Pause between pieces.
    #[serde(default)]
    pub delay: Duration,
}

/// A data limit.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitData {
    /// Bytes let through before the connection closes.
    pub bytes: Size,
}

/// Delaying a share of HTTP requests.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpDelay {
    /// Share of requests delayed. Default 100%.
    #[serde(default = "Share::all")]
    pub rate: Percent,
    /// Delay added before the request is forwarded.
    pub delay: Duration,
    /// Random extra spread, up to this much either way.
    #[serde(default)]
    pub jitter: Duration,
}

/// An external fault injector, driven by HTTP.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Called when the fault starts.
    pub start: HttpCall,
    /// Called when the fault stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<HttpCall>,
}

/// One HTTP call of a hook.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    /// Default `POST`.
    #[serde(default = "HttpCall::default_method")]
    pub method: Method,
    /// The full URL.
    pub url: Template,
    /// Request headers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonTemplate>,
    /// Time allowed per try.
    #[serde(default = "HttpCall::default_timeout")]
    pub timeout: Duration,
    /// Tries before the call counts as failed.
    #[serde(default = "HttpCall::default_attempts")]
    #[schemars(range(min = 1))]
    pub attempts: u32,
}

impl HttpCall {
    fn default_method() -> Method {
        Method::Post
    }
    fn default_timeout() -> Duration {
        Duration::from_secs(5)
    }
    fn default_attempts() -> u32 {
        3
    }
}

// ---------------------------------------------------------------- objectives

/// Something the platform must achieve during the run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Objective {
    /// A latency percentile stays under a bound.
    Latency(LatencyObjective),
    /// The share of failed requests stays under a bound.
    ErrorRate(ErrorRateObjective),
    /// Enough journeys complete before the deadline.
    Goodput(GoodputObjective),
    /// Enough work completes per second.
    Throughput(ThroughputObjective),
    /// After a fault ends, latency returns under a bound within a time.
    Recovery(RecoveryObjective),
    /// A counter of the twin's ledger stays under a bound.
    Ledger(LedgerObjective),
    /// An invariant of the twin's ledger holds at the end.
    Invariant(Invariant),
    /// Ids our applicants got through a step, found in the platform's
    /// books (a `books.reconcile` entry).
    Reconcile(ReconcileObjective),
    /// A counter of the platform's books (or arithmetic over counters).
    Books(BooksObjective),
    /// An error budget judged by its burn rate over pairs of windows, as
    /// SREs page on it.
    ErrorBudget(ErrorBudgetObjective),
}

impl Objective {
    /// When the objective may stop the run (`stop_early`), its
    /// `not_before` as written (`Some(None)`: the default).
    pub fn stop_early(&self) -> Option<Option<std::time::Duration>> {
        let (on, not_before) = match self {
            Objective::Latency(o) => (o.stop_early, o.not_before),
            Objective::ErrorRate(o) => (o.stop_early, o.not_before),
            Objective::Goodput(o) => (o.stop_early, o.not_before),
            Objective::ErrorBudget(o) => (o.stop_early, o.not_before),
            _ => (false, None),
        };
        on.then_some(not_before.map(|d| d.0))
    }
}

/// An error budget: `1 - slo` of the events may fail. Missed when, at
/// some second, both windows of a pair burn it faster than `burn` times
/// the rate that would spend exactly the budget (the SRE workbook's
/// multi-window, multi-burn-rate alerts). Window lengths scale with
/// `--duration` like the timeline.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBudgetObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The share of events that must succeed, e.g. `99.5%`.
    pub slo: Percent,
    /// What counts: a step's or a channel's requests, a journey's ends.
    /// Default: every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<BudgetOf>,
    /// Pairs of windows; the objective is missed when both of one pair
    /// burn over its `burn` at the same second.
    #[schemars(length(min = 1))]
    pub windows: Vec<BurnWindows>,
    /// Events the short window must hold before its pair is judged at a
    /// second (a single failure among few events is no burn). Default:
    /// the events one failure is the whole budget of, `1 / (1 - slo)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_events: Option<u64>,
    /// Stop the run as soon as this objective is decided missed (however
    /// the rest went, it could no longer be met), not merely failing so
    /// far.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_early: bool,
    /// With `stop_early`: not before this far into the schedule. Default:
    /// 10% of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Duration>,
}

/// What an error budget counts: one of `step`, `journey`, `channel`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetOf {
    /// A step, `JOURNEY.STEP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRef>,
    /// A journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// A channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// A pair of burn-rate windows and their threshold.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BurnWindows {
    /// The long window (e.g. `1h`): the burn is sustained.
    pub long: Duration,
    /// The short window (e.g. `5m`): the burn is still going on.
    pub short: Duration,
    /// The burn rate both must exceed: 1 spends exactly the budget over
    /// the SLO's period, 14.4 spends 2% of a 30-day budget in an hour.
    pub burn: f64,
}

/// A latency percentile. Of a step: request latency; of a journey: time
/// from the intended start to completion; of a channel: its requests; of
/// nothing: every request.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyObjective {
    /// Names the objective in reports. Default: derived from its terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A step, `JOURNEY.STEP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRef>,
    /// A journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// A channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The percentile, from 0 (exclusive) to 100 (the maximum).
    pub p: f64,
    /// The bound.
    pub at_most: Duration,
    /// Only within this phase or fault window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    /// Only outside every fault window.
    #[serde(default)]
    pub outside_faults: bool,
    /// Fewer samples than this make the objective unjudgeable rather than
    /// met. Default: enough for the percentile to mean something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    /// Stop the run as soon as this objective is decided missed (however
    /// the rest went, it could no longer be met), not merely failing so
    /// far.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_early: bool,
    /// With `stop_early`: not before this far into the schedule. Default:
    /// 10% of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Duration>,
}

/// The share of failed requests (or journeys, for a journey).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRateObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A step, `JOURNEY.STEP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRef>,
    /// A journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// A channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The bound.
    pub at_most: Percent,
    /// Only these classes count. Default: every class.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ErrorClass>,
    /// Only within this phase or fault window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    /// Only outside every fault window.
    #[serde(default)]
    pub outside_faults: bool,
    /// Stop the run as soon as this objective is decided missed (however
    /// the rest went, it could no longer be met), not merely failing so
    /// far.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_early: bool,
    /// With `stop_early`: not before this far into the schedule. Default:
    /// 10% of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Duration>,
}

/// The share of arrivals that completed their journey before the deadline.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodputObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A journey. Default: every journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// The bound.
    pub at_least: Percent,
    /// Stop the run as soon as this objective is decided missed (however
    /// the rest went, it could no longer be met), not merely failing so
    /// far.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_early: bool,
    /// With `stop_early`: not before this far into the schedule. Default:
    /// 10% of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Duration>,
}

/// Completed work per second: journeys (for a journey), successful
/// requests (for a step, a channel or nothing).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThroughputObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A step, `JOURNEY.STEP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRef>,
    /// A journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// A channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The bound.
    pub at_least: Rate,
    /// Only within this phase or fault window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    /// Only outside every fault window.
    #[serde(default)]
    pub outside_faults: bool,
}

/// Recovery after a fault: within `within` of the fault's end, the
/// percentile is back under `at_most` and stays there.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The fault, by name.
    pub fault: String,
    /// A step, `JOURNEY.STEP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRef>,
    /// A journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// A channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The percentile, from 0 (exclusive) to 100.
    pub p: f64,
    /// The bound.
    pub at_most: Duration,
    /// How long after the fault's end the bound must hold again.
    pub within: Duration,
}

/// A counter of the twin's ledger.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The counter.
    pub counter: LedgerCounter,
    /// Its largest acceptable value at the end of the run.
    pub at_most: u64,
}

/// How far ours and theirs of a reconciliation may differ.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileObjective {
    /// The `books.reconcile` entry, by name.
    pub name: String,
    /// Ids ours but not theirs (paid by an applicant, never credited) at
    /// most this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_at_most: Option<u64>,
    /// Ids theirs but not ours (credited with no payment of this run) at
    /// most this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_at_most: Option<u64>,
}

/// A bound on a counter of the platform's books, or on arithmetic over
/// counters (`captured - credited`). `at_most`/`at_least` hold at every
/// reading from before the load to its end, or only after the settle with
/// `after_settle`; `delta_*` bound the change from before the load to
/// after the settle.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BooksObjective {
    /// Names the objective in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A counter of `books.counters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// Arithmetic over counters: `+ - * /`, parentheses, numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_at_most: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_at_least: Option<f64>,
    /// Judge `at_most`/`at_least` on the reading after the settle only.
    #[serde(default)]
    pub after_settle: bool,
}

/// Counters of the twin's ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerCounter {
    /// Payments captured.
    PaymentsCaptured,
    /// Quota units credited by callbacks.
    QuotaCredited,
    /// Captured payments whose callback is still on its way.
    CreditsPending,
    /// Captured payments whose callback was lost.
    CreditsLost,
    /// Captured payments not credited at the end (pending or lost).
    PaidNotCredited,
    /// Quota units spent on stamps.
    QuotaConsumed,
    /// Stamps made.
    StampsCompleted,
    /// Stamps that failed.
    StampsFailed,
    /// Serial numbers issued.
    SerialsIssued,
    /// Serial numbers spent on a failed stamp.
    SerialsWasted,
    /// Quota units refunded after a failed stamp.
    Refunds,
}

/// Invariants of the twin's ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// Every invariant below.
    All,
    /// Every captured payment is credited or visibly pending.
    PaymentsCredited,
    /// Every consumed quota unit has a stamp or a refund.
    QuotaAccounted,
    /// No serial number was issued twice.
    SerialsUnique,
}
