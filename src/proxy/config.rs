//! `surge proxy --config FILE`: proxies on their own, each in front of one
//! upstream, with a control API. The file:
//!
//! ```yaml
//! control: 127.0.0.1:8474          # the control API (default)
//! proxies:
//!   - name: storefront
//!     listen: 127.0.0.1:18080      # port 0: any free port (printed)
//!     upstream: 127.0.0.1:8080     # must be on loopback unless allowed
//!     toxics:                      # optional: on from the start
//!       - { fault: { latency: { delay: 100ms, jitter: 10ms } }, toxicity: 50% }
//! allow_hosts: []                  # upstream hosts allowed off loopback
//! ```

use std::net::SocketAddr;

use serde::Deserialize;

use super::ToxicSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    #[serde(default = "default_control")]
    pub control: SocketAddr,
    pub proxies: Vec<ProxyEntry>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

fn default_control() -> SocketAddr {
    "127.0.0.1:8474".parse().expect("an address")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyEntry {
    pub name: String,
    pub listen: SocketAddr,
    /// `host:port` of the upstream.
    pub upstream: String,
    #[serde(default)]
    pub toxics: Vec<ToxicSpec>,
}

/// Why a proxy configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

pub fn read(path: &std::path::Path) -> Result<ProxyConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let config: ProxyConfig = serde_yaml::from_str(&text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        ConfigError::Parse {
            path: shown.clone(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    let invalid = |message: String| ConfigError::Invalid {
        path: shown.clone(),
        message,
    };
    if config.proxies.is_empty() {
        return Err(invalid(
            "`proxies` is empty; list at least one proxy".into(),
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for p in &config.proxies {
        if !names.insert(&p.name) {
            return Err(invalid(format!("two proxies are named `{}`", p.name)));
        }
        let (host, port) = crate::net::split_host_port(&p.upstream).ok_or_else(|| {
            invalid(format!(
                "proxy `{}`: upstream `{}` is not host:port (e.g. 127.0.0.1:8080)",
                p.name, p.upstream
            ))
        })?;
        let allowed = config
            .allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
        if !allowed && !crate::net::resolves_to_loopback(host, port) {
            return Err(invalid(format!(
                "proxy `{}`: upstream `{host}` is not on loopback; add it to `allow_hosts` if you may load it",
                p.name
            )));
        }
        for t in &p.toxics {
            if super::toxics::build(&t.fault).is_none()
                && !matches!(
                    t.fault,
                    crate::scenario::model::FaultKind::Down(_)
                        | crate::scenario::model::FaultKind::ErrorRate(_)
                        | crate::scenario::model::FaultKind::HttpDelay(_)
                )
            {
                return Err(invalid(format!(
                    "proxy `{}`: `{}` is not a proxy fault",
                    p.name,
                    t.fault.name()
                )));
            }
        }
    }
    Ok(config)
}
