//! Network helpers shared by the runner, the proxy and the fault driver:
//! telling loopback from the rest and taking a host and port out of a URL
//! or a `host:port`. A leaf: it imports nothing of surge's, so every room
//! that touches the network can use it without an import loop.

use std::net::IpAddr;

/// Whether `host` is a loopback address, or a name every address of which
/// is loopback.
pub fn resolves_to_loopback(host: &str, port: u16) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    use std::net::ToSocketAddrs;
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// The host (IPv6 without its brackets) and port of a URL; the scheme's
/// port when the URL names none.
pub fn host_port(url: &url::Url) -> Result<(&str, u16), String> {
    let host = url
        .host_str()
        .ok_or("the URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']');
    Ok((host, url.port_or_known_default().unwrap_or(80)))
}

/// `host:port`, with `[v6]:port` too.
pub fn split_host_port(text: &str) -> Option<(&str, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_told_from_the_rest() {
        assert!(resolves_to_loopback("127.0.0.1", 80));
        assert!(resolves_to_loopback("127.9.9.9", 80));
        assert!(resolves_to_loopback("::1", 80));
        assert!(resolves_to_loopback("localhost", 80));
        assert!(!resolves_to_loopback("10.0.0.1", 80));
        assert!(!resolves_to_loopback("0.0.0.0", 80));
        assert!(!resolves_to_loopback("no-such-host.invalid", 80));
    }

    #[test]
    fn hosts_and_ports_come_out_of_urls_and_pairs() {
        let url = url::Url::parse("http://[::1]/x").unwrap();
        assert_eq!(host_port(&url), Ok(("::1", 80)));
        let url = url::Url::parse("https://example.test:8443").unwrap();
        assert_eq!(host_port(&url), Ok(("example.test", 8443)));
        assert_eq!(split_host_port("[::1]:9"), Some(("::1", 9)));
        assert_eq!(split_host_port("127.0.0.1"), None);
    }
}
