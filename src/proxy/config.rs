//! `surge proxy --config FILE`: the proxies to start with. Two forms:
//!
//! Toxiproxy's JSON config (what `toxiproxy-server -config` takes), a list:
//!
//! ```json
//! [{ "name": "storefront", "listen": "127.0.0.1:18080", "upstream": "127.0.0.1:8080", "enabled": true }]
//! ```
//!
//! or surge's YAML, which can also switch toxics on from the start:
//!
//! ```yaml
//! control: 127.0.0.1:8474          # the control API (default)
//! proxies:
//!   - name: storefront
//!     listen: 127.0.0.1:18080      # port 0: any free port (printed)
//!     upstream: 127.0.0.1:8080     # must be on loopback unless allowed
//!     enabled: true                # false: refuses connections
//!     toxics:                      # optional: on from the start
//!       - { fault: { latency: { delay: 100ms, jitter: 10ms } }, toxicity: 50% }
//! allow_hosts: []                  # upstream hosts allowed off loopback
//! ```
//!
//! Addresses are checked when the proxies start (the API's checks), not
//! here: this reads the file and says where it is wrong.

use std::net::SocketAddr;

use serde::Deserialize;

use super::ToxicSpec;
use super::toxiproxy::ProxyIn;
use crate::scenario::model::FaultKind;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    #[serde(default)]
    pub control: Option<SocketAddr>,
    #[serde(default)]
    pub proxies: Vec<ProxyEntry>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyEntry {
    pub name: String,
    /// `host:port` to listen on. Default: any port on 127.0.0.1.
    #[serde(default)]
    pub listen: Option<String>,
    /// `host:port` of the upstream.
    pub upstream: String,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub toxics: Vec<ToxicSpec>,
}

fn enabled() -> bool {
    true
}

impl ProxyEntry {
    /// The entry as the API creates a proxy.
    pub fn as_api(&self) -> ProxyIn {
        ProxyIn {
            name: Some(self.name.clone()),
            listen: self.listen.clone(),
            upstream: Some(self.upstream.clone()),
            enabled: Some(self.enabled),
            _toxics: None,
        }
    }
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
    let parse = |line, column, message| ConfigError::Parse {
        path: shown.clone(),
        line,
        column,
        message,
    };
    // Toxiproxy's config is a JSON list; surge's a YAML mapping.
    let config = if text.trim_start().starts_with('[') {
        let list: Vec<ProxyIn> = serde_json::from_str(&text).map_err(|e| {
            parse(
                e.line(),
                e.column(),
                format!("{e} (a Toxiproxy config: a list of {{name, listen, upstream, enabled}})"),
            )
        })?;
        from_toxiproxy(list).map_err(|message| ConfigError::Invalid {
            path: shown.clone(),
            message,
        })?
    } else {
        // Faults are one-key mappings (`fault: { latency: {...} }`), as in
        // a scenario, which serde_yaml reads only through singleton maps.
        let yaml = serde_yaml::Deserializer::from_str(&text);
        serde_yaml::with::singleton_map_recursive::deserialize::<ProxyConfig, _>(yaml).map_err(
            |e| {
                let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
                parse(line, column, e.to_string())
            },
        )?
    };
    check(&config).map_err(|message| ConfigError::Invalid {
        path: shown,
        message,
    })?;
    Ok(config)
}

fn from_toxiproxy(list: Vec<ProxyIn>) -> Result<ProxyConfig, String> {
    let mut proxies = Vec::new();
    for (i, p) in list.into_iter().enumerate() {
        let missing = |field: &str| format!("proxy {} has no `{field}`", i + 1);
        proxies.push(ProxyEntry {
            name: p
                .name
                .filter(|n| !n.is_empty())
                .ok_or_else(|| missing("name"))?,
            listen: p.listen,
            upstream: p
                .upstream
                .filter(|u| !u.is_empty())
                .ok_or_else(|| missing("upstream"))?,
            enabled: p.enabled.unwrap_or(true),
            toxics: Vec::new(),
        });
    }
    Ok(ProxyConfig {
        proxies,
        ..ProxyConfig::default()
    })
}

fn check(config: &ProxyConfig) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    for p in &config.proxies {
        if !names.insert(&p.name) {
            return Err(format!("two proxies are named `{}`", p.name));
        }
        let mut toxics = std::collections::BTreeSet::new();
        for t in &p.toxics {
            if matches!(t.fault, FaultKind::Down(_)) {
                return Err(format!(
                    "proxy `{}`: `down` is not a toxic here; write `enabled: false` on the proxy",
                    p.name
                ));
            }
            if !super::applies(&t.fault) {
                return Err(format!(
                    "proxy `{}`: `{}` is not a proxy fault; the proxy takes latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, error_rate and http_delay",
                    p.name,
                    t.fault.name()
                ));
            }
            if !toxics.insert(toxic_name(t)) {
                return Err(format!(
                    "proxy `{}`: two toxics are named `{}`; give each a `name`",
                    p.name,
                    toxic_name(t)
                ));
            }
        }
    }
    Ok(())
}

/// A config toxic's name: its own, or Toxiproxy's default `TYPE_STREAM`,
/// so the API finds it by the name Toxiproxy would give it.
pub fn toxic_name(t: &ToxicSpec) -> String {
    t.name
        .clone()
        .unwrap_or_else(|| super::toxiproxy::default_name(&t.fault, t.stream.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_yaml(text: &str) -> Result<ProxyConfig, ConfigError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        read(file.path())
    }

    fn with_toxic(fault: &str) -> String {
        format!(
            "proxies:\n  - name: storefront\n    upstream: 127.0.0.1:8080\n    toxics:\n      - {{ fault: {fault} }}\n"
        )
    }

    #[test]
    fn a_fault_only_the_twin_applies_is_refused_by_name() {
        let err = read_yaml(&with_toxic("{ stock_exhausted: {} }")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("`stock_exhausted` is not a proxy fault"),
            "{message}"
        );
    }

    #[test]
    fn down_as_a_toxic_points_to_enabled_false() {
        let message = read_yaml(&with_toxic("{ down: {} }"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("write `enabled: false`"), "{message}");
    }

    #[test]
    fn a_misspelt_toxic_key_is_located() {
        let text = with_toxic("{ latency: { delay: 100ms } }, toxicty: 50%");
        match read_yaml(&text) {
            Err(ConfigError::Parse { line, message, .. }) => {
                assert_eq!(line, 5, "{message}");
                assert!(message.contains("toxicty"), "{message}");
            }
            other => panic!("expected a located parse error, got {other:?}"),
        }
    }

    #[test]
    fn tcp_toxics_and_http_faults_are_proxy_faults() {
        for fault in [
            "{ latency: { delay: 100ms } }",
            "{ error_rate: { rate: 30%, status: 503 } }",
            "{ http_delay: { rate: 50%, delay: 200ms } }",
        ] {
            let config = read_yaml(&with_toxic(fault));
            assert!(config.is_ok(), "{fault}: {:?}", config.err());
        }
    }
}
