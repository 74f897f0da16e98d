//! The fault timeline's machinery for one run: a proxy in front of every
//! channel that has proxy faults (the channel's requests then go through
//! it), and the runtime the timeline runs on, apart from the generator's so
//! a busy generator does not delay a fault's start. Everything the
//! timeline needs is checked here, before any load starts.

use std::sync::Arc;

use super::target::Resolved;
use super::{RunError, io};
use crate::faults::{Driver, FaultsError, Targets, through_proxy, upstream_of};
use crate::scenario::Scenario;
use crate::scenario::refs::FaultOn;
use crate::schedule::Shard;

/// The run's fault driver, and the runtime it runs on when the scenario has
/// faults.
pub struct FaultRuntime {
    pub driver: Arc<Driver>,
    pub runtime: Option<tokio::runtime::Runtime>,
}

/// Starts a proxy in front of every channel that has proxy faults (its
/// requests then go through it), and checks what the fault timeline needs
/// before any load starts.
pub fn start(
    scenario: &Scenario,
    target: &mut Resolved,
    shard: Shard,
) -> Result<FaultRuntime, RunError> {
    let mut targets = Targets {
        twin: target
            .twin
            .as_ref()
            .map(|(_, running)| running.twin.clone()),
        twin_admin: target.twin.is_none().then(|| target.default_base.clone()),
        proxies: Default::default(),
    };
    // Each proxied channel once, with the first fault on it (named as the
    // timeline names it) for an error to point at.
    let mut channels: Vec<(String, String)> = Vec::new();
    for w in &scenario.timeline.faults {
        if let FaultOn::Proxy(channel) = &scenario.file.faults[w.index].on {
            let key = channel.to_string();
            if !channels.iter().any(|(k, _)| *k == key) {
                channels.push((key, w.name.clone()));
            }
        }
    }
    if scenario.file.faults.is_empty() {
        return Ok(FaultRuntime {
            driver: Arc::new(Driver::new(scenario, targets, shard.index)),
            runtime: None,
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("surge-faults")
        .enable_all()
        .build()
        .map_err(io("cannot start the fault runtime"))?;
    for (channel, fault) in channels {
        let base = target.base_of(&channel);
        let http_fault = scenario
            .file
            .faults
            .iter()
            .filter(|f| matches!(&f.on, FaultOn::Proxy(c) if c.to_string() == channel))
            .find(|f| crate::faults::sees_requests(&f.fault))
            .map(|f| f.fault.name());
        let upstream =
            upstream_of(&base, http_fault).map_err(|reason| FaultsError::NoUpstream {
                fault,
                channel: channel.clone(),
                reason,
            })?;
        let proxy = runtime
            .block_on(crate::proxy::Proxy::start(
                &channel,
                "127.0.0.1:0".parse().expect("an address"),
                upstream,
            ))
            .map_err(|source| FaultsError::Proxy {
                channel: channel.clone(),
                source,
            })?;
        if let Some(host) = url::Url::parse(&base)
            .ok()
            .and_then(|u| u.domain().map(str::to_string))
        {
            target.proxied.insert(channel.clone(), host);
        }
        target
            .bases
            .insert(channel.clone(), through_proxy(&base, proxy.addr()));
        targets.proxies.insert(channel, proxy);
    }
    let driver = Arc::new(Driver::new(scenario, targets, shard.index));
    runtime.block_on(driver.check())?;
    Ok(FaultRuntime {
        driver,
        runtime: Some(runtime),
    })
}
