//! Where the load goes. The built-in twin is started in-process on a free
//! loopback port, on threads of its own (named `surge-twin`, so the
//! generator's CPU can be told from the target's). An external target must
//! be on loopback (127.0.0.0/8 or ::1, or a name that resolves only there)
//! unless its host is listed in `target.allow_hosts` or the user passed
//! `--allow-remote-target`; it must also accept a connection before any
//! load starts. Every place (the target, a channel with a URL or TLS
//! settings of its own) gets a client recipe, an `https` one built from the
//! scenario's checked TLS material.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use super::client::Recipe;
use crate::net::{host_port, resolves_to_loopback};
use crate::recorder::cpu::TWIN_THREAD;
use crate::scenario::model::{Target, Tls, TwinConfig};
use crate::twin::{self, Running};

/// Why the target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "refusing to load `{host}`: it is not on loopback. List it in `target.allow_hosts`, or pass \
         --allow-remote-target, if you mean to load it"
    )]
    NotLoopback { host: String },
    #[error("the target at {shown} does not accept connections: {reason}")]
    Unreachable { shown: String, reason: String },
    #[error("cannot start the twin: {0}")]
    Twin(std::io::Error),
    #[error("the target's URL {shown} is not usable: {reason}")]
    BadUrl { shown: String, reason: String },
    #[error("the TLS settings of {what} cannot be used: {reason}")]
    Tls { what: String, reason: String },
}

/// The target, ready to be loaded.
pub struct Resolved {
    /// Base URL per channel (`storefront`, `partner/pos`, ...).
    pub bases: HashMap<String, String>,
    /// The base URL of channels not listed.
    pub default_base: String,
    /// How summaries and messages show the target (never a secret).
    pub shown: String,
    pub kind: &'static str,
    /// The in-process twin and its runtime, when the target is the twin.
    pub twin: Option<(tokio::runtime::Runtime, Running)>,
    /// How each place's clients are built (set by `secure`).
    pub clients: Clients,
    /// Where certificates are not checked (`target`, or channels).
    pub unverified: Vec<String>,
    /// The host each proxied channel's URL named before its proxy took
    /// its place: the name its certificate is checked against.
    pub proxied: HashMap<String, String>,
}

/// The client recipes of a target: one per channel with a URL or TLS
/// settings of its own, and the target's for the others.
pub struct Clients {
    pub channels: HashMap<String, Recipe>,
    pub default: Recipe,
}

impl Default for Clients {
    fn default() -> Clients {
        Clients {
            channels: HashMap::new(),
            default: Recipe::plain(),
        }
    }
}

impl Clients {
    /// The places in a fixed order (the target's first), and the index of
    /// each channel's place.
    pub fn places(&self) -> (Vec<Recipe>, HashMap<String, usize>) {
        let mut channels: Vec<(&String, &Recipe)> = self.channels.iter().collect();
        channels.sort_by_key(|(c, _)| *c);
        let mut recipes = vec![self.default.clone()];
        let mut index = HashMap::new();
        for (channel, recipe) in channels {
            index.insert(channel.clone(), recipes.len());
            recipes.push(recipe.clone());
        }
        (recipes, index)
    }
}

impl Resolved {
    /// The base URL of `channel`: its own, or the target's.
    pub fn base_of(&self, channel: &str) -> String {
        self.bases
            .get(channel)
            .cloned()
            .unwrap_or_else(|| self.default_base.clone())
    }

    /// Stops an in-process twin, returning its ledger first.
    pub fn stop(self) -> Option<crate::summary::Snapshot> {
        let (runtime, running) = self.twin?;
        let ledger = running.twin.ledger();
        // A graceful stop waits for open connections; users left behind
        // after the cut may still hold some, so the wait is bounded.
        let _ = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), running.stop()).await });
        runtime.shutdown_timeout(Duration::from_secs(2));
        Some(ledger)
    }
}

/// Starts the twin, or checks the external target.
pub fn resolve(target: &Target, allow_remote: bool) -> Result<Resolved, TargetError> {
    match &target.twin {
        Some(config) => start_twin(config.clone()),
        None => external(target, allow_remote),
    }
}

fn start_twin(config: TwinConfig) -> Result<Resolved, TargetError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(TWIN_THREAD)
        .enable_all()
        .build()
        .map_err(TargetError::Twin)?;
    let running = runtime
        .block_on(twin::start(
            config,
            "127.0.0.1:0".parse().expect("a socket address"),
        ))
        .map_err(TargetError::Twin)?;
    let base = running.base_url();
    Ok(Resolved {
        bases: HashMap::new(),
        default_base: base.clone(),
        shown: format!("{base} (built-in twin)"),
        kind: "twin",
        twin: Some((runtime, running)),
        clients: Clients::default(),
        unverified: Vec::new(),
        proxied: HashMap::new(),
    })
}

fn external(target: &Target, allow_remote: bool) -> Result<Resolved, TargetError> {
    let base = target
        .base_url
        .as_ref()
        .expect("validated: a target has twin or base_url");
    let render = |t: &crate::scenario::template::Template| t.render(&|_| None).unwrap_or_default();
    let shown = |t: &crate::scenario::template::Template| {
        if t.has_secret() {
            "the target URL (from the environment)".to_string()
        } else {
            format!("`{t}`")
        }
    };
    let mut urls = vec![(render(base), shown(base))];
    let mut bases = HashMap::new();
    for (channel, spec) in &target.channels {
        let url = spec.base_url();
        bases.insert(channel.clone(), render(url));
        urls.push((render(url), shown(url)));
    }
    let mut endpoints = BTreeSet::new();
    for (text, shown) in &urls {
        let url = url::Url::parse(text).map_err(|e| TargetError::BadUrl {
            shown: shown.clone(),
            reason: e.to_string(),
        })?;
        let (host, port) = host_port(&url).map_err(|reason| TargetError::BadUrl {
            shown: shown.clone(),
            reason,
        })?;
        let host = host.to_string();
        let allowed = allow_remote
            || target
                .allow_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host));
        if !allowed && !resolves_to_loopback(&host, port) {
            return Err(TargetError::NotLoopback {
                host: if urls.iter().any(|(_, s)| s.contains("environment")) {
                    "the target".into()
                } else {
                    host
                },
            });
        }
        endpoints.insert((host, port, shown.clone()));
    }
    for (host, port, shown) in &endpoints {
        reachable(host, *port).map_err(|reason| TargetError::Unreachable {
            shown: shown.clone(),
            reason,
        })?;
    }
    Ok(Resolved {
        bases,
        default_base: render(base),
        shown: if base.has_secret() {
            "(from the environment)".into()
        } else {
            base.to_string()
        },
        kind: "external",
        twin: None,
        clients: Clients::default(),
        unverified: Vec::new(),
        proxied: HashMap::new(),
    })
}

/// Builds the client recipes once the base URLs are final (a proxied
/// channel's goes through its proxy): plain for `http`, from the checked
/// TLS material for `https`. A channel's `tls` overrides the target's
/// field by field; a `server_name` becomes the host of the channel's URLs,
/// resolved to the address the URL named, so it is both sent (SNI) and
/// checked. A proxied `https` channel keeps its own host's name so.
pub fn secure(
    resolved: &mut Resolved,
    target: &Target,
    base_dir: &Path,
) -> Result<(), TargetError> {
    let none = Tls::default();
    let base_tls = target.tls.as_ref().unwrap_or(&none);
    // Every place's URL is read before any is rewritten for its server name.
    let mut places = vec![(None, resolved.default_base.clone(), base_tls.clone())];
    let mut channels: Vec<&String> = target.channels.keys().collect();
    channels.extend(
        resolved
            .bases
            .keys()
            .filter(|c| !target.channels.contains_key(*c)),
    );
    for channel in channels {
        let mut tls = match target.channels.get(channel).and_then(|c| c.tls()) {
            Some(own) => base_tls.overridden_by(own),
            None => base_tls.clone(),
        };
        if tls.server_name.is_none() {
            tls.server_name = resolved.proxied.get(channel).cloned();
        }
        places.push((Some(channel.clone()), resolved.base_of(channel), tls));
    }
    for (channel, url, tls) in places {
        let what = channel
            .as_ref()
            .map_or("target".to_string(), |c| format!("channel {c}"));
        let (recipe, base) = if url.starts_with("https:") {
            recipe_for(&url, &tls, base_dir, &what)?
        } else {
            (Recipe::plain(), url)
        };
        if tls.insecure_skip_verify == Some(true) {
            resolved.unverified.push(what);
        }
        match channel {
            None => {
                resolved.default_base = base;
                resolved.clients.default = recipe;
            }
            Some(c) => {
                resolved.bases.insert(c.clone(), base);
                resolved.clients.channels.insert(c, recipe);
            }
        }
    }
    Ok(())
}

/// A client of `url` with `tls` (`https`) or a plain one, and the URL
/// its requests go to (named for `server_name` when one is set): what a
/// books HTTP source is read with.
pub fn client_for(
    url: &str,
    tls: &Tls,
    base_dir: &Path,
) -> Result<(reqwest::Client, String), String> {
    let (recipe, url) = if url.starts_with("https:") {
        recipe_for(url, tls, base_dir, "books source").map_err(|e| e.to_string())?
    } else {
        (Recipe::plain(), url.to_string())
    };
    Ok((recipe.client()?, url))
}

/// A client recipe for `url` with `tls`, and the URL its requests go to.
fn recipe_for(
    url: &str,
    tls: &Tls,
    base_dir: &Path,
    what: &str,
) -> Result<(Recipe, String), TargetError> {
    let bad = |reason: String| TargetError::Tls {
        what: what.to_string(),
        reason,
    };
    let material = crate::scenario::tls::load(tls, base_dir).map_err(|problems| {
        bad(problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; "))
    })?;
    let mut base = url.to_string();
    let mut resolve = None;
    if let Some(name) = &material.server_name {
        let mut parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let (host, port) = host_port(&parsed).map_err(bad)?;
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| bad(format!("cannot resolve `{host}`: {e}")))?
            .collect();
        parsed
            .set_host(Some(name))
            .map_err(|e| bad(format!("`{name}` cannot be a host: {e}")))?;
        base = parsed.as_str().trim_end_matches('/').to_string();
        resolve = Some((name.clone(), addrs));
    }
    Ok((Recipe::new(&material, resolve).map_err(bad)?, base))
}

fn reachable(host: &str, port: u16) -> Result<(), String> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}
