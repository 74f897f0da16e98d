//! The fault timeline, carried out during a run: each fault is switched on
//! at its offset and off at its end, on the run's own clock, on its target
//! (a switch of the in-process twin, the admin API of a twin running
//! apart, the built-in proxy in front of a channel, or an external hook).
//! Faults run as independent tasks, so windows may overlap. Every start
//! and stop instant is recorded (seconds from the run's start) for the
//! summary, and the names of the faults on at each second go into
//! `timeline.csv`. A fault that fails to apply is recorded with its error;
//! what can be checked before load starts (a twin admin API or a hook that
//! does not answer) stops the run there instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::net::host_port;
use crate::proxy::{Proxy, ToxicSpec};
use crate::scenario::Scenario;
use crate::scenario::model::{FaultKind, HttpCall};
use crate::scenario::refs::FaultOn;
use crate::summary::round;
use crate::twin::Twin;

/// Why the fault timeline cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    #[error(
        "fault `{fault}` acts on `{on}`, but the target has no twin admin API at {url} ({reason}); run the target with `surge twin`, or use `proxy/...` or `hook` faults"
    )]
    NoTwinAdmin {
        fault: String,
        on: String,
        url: String,
        reason: String,
    },
    #[error(
        "fault `{fault}`: its hook {url} cannot be reached ({reason}); start the fault injector first, or fix the URL"
    )]
    HookUnreachable {
        fault: String,
        url: String,
        reason: String,
    },
    #[error("fault `{fault}`: channel `{channel}` has no upstream to proxy: {reason}")]
    NoUpstream {
        fault: String,
        channel: String,
        reason: String,
    },
    #[error("cannot start the proxy for `{channel}`: {source}")]
    Proxy {
        channel: String,
        source: crate::proxy::ProxyError,
    },
}

/// What a fault did, for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Seconds from the run's start at which it took effect.
    pub applied_s: Option<f64>,
    /// Seconds from the run's start at which it was lifted.
    pub removed_s: Option<f64>,
    /// Why it could not be applied or lifted.
    pub error: Option<String>,
}

/// One fault of the timeline.
#[derive(Clone, Debug)]
struct Planned {
    name: String,
    on: FaultOn,
    kind: FaultKind,
    toxicity: Option<crate::scenario::units::Percent>,
    stream: Option<crate::scenario::model::Stream>,
    start: Duration,
    end: Duration,
}

/// Where faults go.
#[derive(Default)]
pub struct Targets {
    /// The twin inside this process.
    pub twin: Option<Arc<Twin>>,
    /// The base URL of a twin running apart (an external target).
    pub twin_admin: Option<String>,
    /// The proxy in front of each channel that has proxy faults.
    pub proxies: HashMap<String, Arc<Proxy>>,
}

/// How a fault that is on can be switched off.
#[derive(Clone, Debug)]
enum Handle {
    Twin(u64),
    Admin(u64),
    Proxy(String, u64),
    Hook,
}

/// Carries out a scenario's faults.
pub struct Driver {
    planned: Vec<Planned>,
    targets: Targets,
    client: reqwest::Client,
    records: Mutex<Vec<Record>>,
    on: Mutex<Vec<Option<Handle>>>,
    /// Set when the run ends: no fault starts after that.
    over: std::sync::atomic::AtomicBool,
}

impl Driver {
    /// The timeline of `scenario` against `targets`. On a shard other than
    /// the first (`shard` is 0-based), faults on a shared target (the twin,
    /// hooks) are left to shard 1, so each is applied once; proxy faults
    /// act on the shard's own proxy and are applied by every shard.
    pub fn new(scenario: &Scenario, targets: Targets, shard: u64) -> Driver {
        let planned: Vec<Planned> = scenario
            .timeline
            .faults
            .iter()
            .filter(|w| shard == 0 || matches!(scenario.file.faults[w.index].on, FaultOn::Proxy(_)))
            .map(|w| {
                let f = &scenario.file.faults[w.index];
                Planned {
                    name: w.name.clone(),
                    on: f.on.clone(),
                    kind: f.fault.clone(),
                    toxicity: f.toxicity,
                    stream: f.stream,
                    start: w.start,
                    end: w.end,
                }
            })
            .collect();
        let n = planned.len();
        Driver {
            planned,
            targets,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
            records: Mutex::new(vec![Record::default(); n]),
            on: Mutex::new(vec![None; n]),
            over: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.planned.is_empty()
    }

    /// Checks before load starts what can be checked: a twin apart answers
    /// on its admin API, hooks accept connections.
    pub async fn check(&self) -> Result<(), FaultsError> {
        for p in &self.planned {
            match (&p.on, &p.kind) {
                (FaultOn::Twin(_), _) if self.targets.twin.is_none() => {
                    let url = format!("{}/admin/faults", self.admin_base());
                    let reason = match self
                        .client
                        .get(&url)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => continue,
                        Ok(r) => format!("it answered {}", r.status()),
                        Err(e) => e.to_string(),
                    };
                    return Err(FaultsError::NoTwinAdmin {
                        fault: p.name.clone(),
                        on: p.on.to_string(),
                        url,
                        reason,
                    });
                }
                (FaultOn::Hook, FaultKind::Hook(hook)) => {
                    for call in std::iter::once(&hook.start).chain(hook.stop.as_ref()) {
                        let url = render_url(call);
                        reachable(&url)
                            .await
                            .map_err(|reason| FaultsError::HookUnreachable {
                                fault: p.name.clone(),
                                url: url.clone(),
                                reason,
                            })?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Carries out the timeline from `t0`; returns when every fault has
    /// been switched on and off (or `stop` says the run ended first).
    pub async fn run(self: Arc<Self>, t0: Instant) {
        let mut tasks = Vec::new();
        for i in 0..self.planned.len() {
            let me = self.clone();
            tasks.push(tokio::spawn(async move { me.one(i, t0).await }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn one(&self, i: usize, t0: Instant) {
        let p = &self.planned[i];
        tokio::time::sleep_until(t0 + p.start).await;
        if self.over.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let applied = self.apply(p).await;
        let at = t0.elapsed().as_secs_f64();
        match applied {
            Ok(handle) => {
                self.on.lock().expect("fault lock")[i] = Some(handle);
                self.records.lock().expect("fault lock")[i].applied_s = Some(round(at, 3));
            }
            Err(e) => {
                log::warn!("fault `{}` could not be applied: {e}", p.name);
                self.records.lock().expect("fault lock")[i].error = Some(e);
                return;
            }
        }
        tokio::time::sleep_until(t0 + p.end).await;
        self.lift(i, t0).await;
    }

    /// Switches fault `i` off, if it is on.
    async fn lift(&self, i: usize, t0: Instant) {
        let Some(handle) = self.on.lock().expect("fault lock")[i].take() else {
            return;
        };
        let p = &self.planned[i];
        let result = self.remove(p, handle).await;
        let at = round(t0.elapsed().as_secs_f64(), 3);
        let mut records = self.records.lock().expect("fault lock");
        match result {
            Ok(()) => records[i].removed_s = Some(at),
            Err(e) => {
                log::warn!("fault `{}` could not be lifted: {e}", p.name);
                records[i].error = Some(format!("could not be lifted: {e}"));
            }
        }
    }

    /// Lifts every fault still on: the run ended (or was interrupted)
    /// before their windows closed. They count as lifted at that moment.
    pub async fn lift_all(&self, t0: Instant) {
        self.over.store(true, std::sync::atomic::Ordering::Release);
        for i in 0..self.planned.len() {
            self.lift(i, t0).await;
        }
    }

    /// The names of the faults that were on at some moment of second
    /// `second` of the run (`[second, second + 1)`), for `timeline.csv`.
    pub fn active_during(&self, second: u64) -> String {
        let (from, to) = (second as f64, second as f64 + 1.0);
        let records = self.records.lock().expect("fault lock");
        self.planned
            .iter()
            .zip(records.iter())
            .filter(|(_, r)| {
                r.applied_s.is_some_and(|a| a < to) && r.removed_s.is_none_or(|e| e > from)
            })
            .map(|(p, _)| p.name.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Each fault's name and what it did.
    pub fn records(&self) -> Vec<(String, Record)> {
        let records = self.records.lock().expect("fault lock");
        self.planned
            .iter()
            .zip(records.iter())
            .map(|(p, r)| (p.name.clone(), r.clone()))
            .collect()
    }

    async fn apply(&self, p: &Planned) -> Result<Handle, String> {
        match &p.on {
            FaultOn::Twin(_) => match &self.targets.twin {
                Some(twin) => twin
                    .faults()
                    .apply(
                        Some(p.name.clone()),
                        &p.on,
                        p.kind.clone(),
                        twin.config(),
                        Instant::now(),
                    )
                    .map(Handle::Twin)
                    .map_err(|e| e.to_string()),
                None => {
                    let body = json!({ "name": p.name, "on": p.on.to_string(), "fault": p.kind });
                    let url = format!("{}/admin/faults", self.admin_base());
                    let reply = self
                        .call(
                            reqwest::Method::POST,
                            &url,
                            &[],
                            Some(body),
                            Duration::from_secs(5),
                            3,
                        )
                        .await?;
                    reply["id"].as_u64().map(Handle::Admin).ok_or_else(|| {
                        format!("the twin's admin API answered without an id: {reply}")
                    })
                }
            },
            FaultOn::Proxy(channel) => {
                let key = channel.to_string();
                let proxy = self
                    .targets
                    .proxies
                    .get(&key)
                    .ok_or_else(|| format!("no proxy runs in front of `{key}`"))?;
                proxy
                    .add(ToxicSpec {
                        name: Some(p.name.clone()),
                        fault: p.kind.clone(),
                        toxicity: p.toxicity,
                        stream: p.stream,
                    })
                    .map(|id| Handle::Proxy(key, id))
                    .map_err(|e| e.to_string())
            }
            FaultOn::Hook => match &p.kind {
                FaultKind::Hook(hook) => self.hook(&hook.start).await.map(|_| Handle::Hook),
                other => Err(format!(
                    "`on: hook` takes a hook fault, not `{}`",
                    other.name()
                )),
            },
        }
    }

    async fn remove(&self, p: &Planned, handle: Handle) -> Result<(), String> {
        match handle {
            Handle::Twin(id) => match &self.targets.twin {
                Some(twin) => twin
                    .faults()
                    .clear(id, Instant::now())
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => Err("the twin is gone".into()),
            },
            Handle::Admin(id) => {
                let url = format!("{}/admin/faults/{id}", self.admin_base());
                self.call(
                    reqwest::Method::DELETE,
                    &url,
                    &[],
                    None,
                    Duration::from_secs(5),
                    3,
                )
                .await
                .map(|_| ())
            }
            Handle::Proxy(key, id) => match self.targets.proxies.get(&key) {
                Some(proxy) => proxy.remove(id).map(|_| ()).map_err(|e| e.to_string()),
                None => Err(format!("no proxy runs in front of `{key}`")),
            },
            Handle::Hook => match &p.kind {
                FaultKind::Hook(hook) => match &hook.stop {
                    Some(stop) => self.hook(stop).await.map(|_| ()),
                    None => Ok(()),
                },
                _ => Ok(()),
            },
        }
    }

    fn admin_base(&self) -> String {
        self.targets
            .twin_admin
            .clone()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string()
    }

    async fn hook(&self, call: &HttpCall) -> Result<serde_json::Value, String> {
        let url = render_url(call);
        let headers: Vec<(String, String)> = call
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.render(&|_| None).unwrap_or_default()))
            .collect();
        let body = match &call.json {
            Some(j) => Some(j.render(&|_| None).map_err(|e| e.to_string())?),
            None => None,
        };
        let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::POST);
        self.call(
            method,
            &url,
            &headers,
            body,
            call.timeout.0,
            call.attempts.max(1),
        )
        .await
    }

    /// An HTTP call, tried up to `attempts` times with doubling backoff
    /// from 200 ms; a 2xx answer is success (its JSON body, or null).
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<serde_json::Value>,
        timeout: Duration,
        attempts: u32,
    ) -> Result<serde_json::Value, String> {
        let mut backoff = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let mut req = self.client.request(method.clone(), url).timeout(timeout);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    return Ok(r.json().await.unwrap_or(serde_json::Value::Null));
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    last = format!("{method} {url} answered {status}: {}", text.trim());
                }
                Err(e) => last = format!("{method} {url}: {e}"),
            }
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(format!("{last} (after {attempts} tries)"))
    }
}

fn render_url(call: &HttpCall) -> String {
    call.url.render(&|_| None).unwrap_or_default()
}

/// Whether a TCP connection to `url`'s host and port opens.
async fn reachable(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let (host, port) = host_port(&parsed)?;
    match tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 3s".into()),
    }
}

/// Whether a proxy fault acts on HTTP requests (and so cannot see those
/// inside TLS), rather than on the bytes of a connection.
pub fn sees_requests(kind: &crate::scenario::model::FaultKind) -> bool {
    use crate::scenario::model::FaultKind;
    matches!(kind, FaultKind::ErrorRate(_) | FaultKind::HttpDelay(_))
}

/// The upstream `host:port` of a base URL, resolved. Through TLS the proxy
/// forwards bytes it cannot read: `http_faults` (a fault that sees
/// requests) needs plain `http`.
pub fn upstream_of(base: &str, http_faults: Option<&str>) -> Result<SocketAddr, String> {
    let url = url::Url::parse(base).map_err(|e| format!("`{base}` is not a URL: {e}"))?;
    if let (Some(kind), "https") = (http_faults, url.scheme()) {
        return Err(format!(
            "`{kind}` acts on HTTP requests, which `{base}` hides inside TLS; on an https channel \
             the connection faults work (latency, bandwidth, slow_close, timeout, reset_peer, \
             slicer, limit_data, down), or fault the platform itself with `on: hook`"
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the proxy forwards HTTP over TCP; `{base}` is {}",
            url.scheme()
        ));
    }
    let (host, port) = host_port(&url)?;
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("`{host}` resolves to no address"))
}

/// `base` with its host and port replaced by `addr` (the proxy's).
pub fn through_proxy(base: &str, addr: SocketAddr) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            let _ = url.set_ip_host(addr.ip());
            let _ = url.set_port(Some(addr.port()));
            url.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => base.to_string(),
    }
}
