//! The fault-injecting proxy against real upstreams on loopback: each
//! toxic does what it says, within timing tolerances wide enough for a
//! busy 2-core machine and narrow enough to catch a toxic that does
//! nothing (or twice as much).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tcp::{bounded, echo, numbered, round_trip, sender};
use serde_json::json;
use surge::proxy::{Proxy, ToxicSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn spec(v: serde_json::Value) -> ToxicSpec {
    serde_json::from_value(v).expect("a toxic")
}

async fn proxy(upstream: SocketAddr) -> Arc<Proxy> {
    Proxy::start("test", "127.0.0.1:0".parse().unwrap(), upstream)
        .await
        .unwrap()
}

async fn read_all(addr: SocketAddr) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = bounded(s.read_to_end(&mut out)).await;
    (out, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_adds_what_it_says_and_goes_when_removed() {
    let p = proxy(echo().await).await;
    let plain = round_trip(p.addr()).await;
    let id = p
        .add(spec(
            json!({ "fault": { "latency": { "delay": "200ms" } } }),
        ))
        .unwrap();
    let slow = round_trip(p.addr()).await;
    let added = slow.saturating_sub(plain);
    assert!(
        added >= Duration::from_millis(190) && added <= Duration::from_millis(300),
        "latency added {added:?}"
    );
    p.remove(id).unwrap();
    assert!(round_trip(p.addr()).await < Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_what_it_says() {
    let p = proxy(sender(100_000).await).await;
    p.add(spec(
        json!({ "fault": { "bandwidth": { "rate": "100KB/s" } } }),
    ))
    .unwrap();
    let (data, took) = read_all(p.addr()).await;
    assert_eq!(data.len(), 100_000);
    // 100 KB at 100 KB/s: one second.
    assert!(
        took >= Duration::from_millis(900) && took <= Duration::from_millis(1500),
        "100 KB took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_resets_after_its_delay() {
    let p = proxy(echo().await).await;
    p.add(spec(
        json!({ "fault": { "reset_peer": { "after": "300ms" } } }),
    ))
    .unwrap();
    let mut s = TcpStream::connect(p.addr()).await.unwrap();
    let t = Instant::now();
    // Before the reset, data flows.
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    bounded(s.read_exact(&mut buf)).await.unwrap();
    let err = bounded(s.read(&mut buf)).await;
    let took = t.elapsed();
    let kind = err.map(|n| format!("read {n}")).unwrap_err().kind();
    assert_eq!(kind, std::io::ErrorKind::ConnectionReset);
    assert!(
        took >= Duration::from_millis(280) && took <= Duration::from_millis(600),
        "reset after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_swallows_data_then_closes() {
    let p = proxy(echo().await).await;
    p.add(spec(
        json!({ "fault": { "timeout": { "after": "400ms" } }, "stream": "upstream" }),
    ))
    .unwrap();
    let mut s = TcpStream::connect(p.addr()).await.unwrap();
    let t = Instant::now();
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    // Nothing comes back; the connection closes at the timeout.
    let n = bounded(s.read(&mut buf)).await.unwrap_or(0);
    let took = t.elapsed();
    assert_eq!(n, 0, "data got through a timeout");
    assert!(
        took >= Duration::from_millis(380) && took <= Duration::from_millis(800),
        "closed after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_close_delays_the_close_not_the_data() {
    let p = proxy(sender(10).await).await;
    p.add(spec(
        json!({ "fault": { "slow_close": { "delay": "400ms" } } }),
    ))
    .unwrap();
    let (data, took) = read_all(p.addr()).await;
    assert_eq!(data.len(), 10);
    assert!(
        took >= Duration::from_millis(380) && took <= Duration::from_millis(800),
        "closed after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_closes_at_the_limit() {
    let p = proxy(sender(10_000).await).await;
    p.add(spec(
        json!({ "fault": { "limit_data": { "bytes": "1KB" } } }),
    ))
    .unwrap();
    let (data, _) = read_all(p.addr()).await;
    assert_eq!(data.len(), 1000);
    let expected = numbered(1000);
    assert_eq!(data, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicer_delivers_everything_in_order_slowly() {
    let p = proxy(sender(2000).await).await;
    p.add(spec(
        json!({ "fault": { "slicer": { "average": "100B", "variation": "20B", "delay": "5ms" } } }),
    ))
    .unwrap();
    let (data, took) = read_all(p.addr()).await;
    let expected = numbered(2000);
    assert_eq!(data, expected);
    // About 20 pieces with 5 ms between them.
    assert!(took >= Duration::from_millis(60), "sliced in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refuses_connections_until_lifted() {
    let p = proxy(echo().await).await;
    let mut open = TcpStream::connect(p.addr()).await.unwrap();
    let id = p.add(spec(json!({ "fault": { "down": {} } }))).unwrap();
    // The open connection is cut, new ones are refused.
    let mut buf = [0u8; 1];
    let read = bounded(open.read(&mut buf)).await;
    assert_eq!(read.unwrap_or(0), 0);
    let mut refused = false;
    for _ in 0..50 {
        match TcpStream::connect(p.addr()).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    assert!(refused, "connections were not refused while down");
    p.remove(id).unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if TcpStream::connect(p.addr()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "the proxy did not come back");
    assert!(round_trip(p.addr()).await < Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_half_affects_about_half_the_connections() {
    let p = proxy(echo().await).await;
    // A toxic with an unmistakable effect: an affected connection is reset
    // at its first data, an unaffected one echoes.
    p.add(spec(
        json!({ "fault": { "reset_peer": { "after": "0s" } }, "toxicity": "50%" }),
    ))
    .unwrap();
    let mut affected = 0;
    for _ in 0..200 {
        let mut s = TcpStream::connect(p.addr()).await.unwrap();
        let mut buf = [0u8; 4];
        let echoed = async {
            s.write_all(b"ping").await?;
            bounded(s.read_exact(&mut buf)).await
        }
        .await;
        if echoed.is_err() {
            affected += 1;
        }
    }
    // Binomial(200, 0.5): 100 ± 4 standard deviations (28).
    assert!(
        (72..=128).contains(&affected),
        "{affected} of 200 connections affected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_come_and_go_without_losing_a_byte() {
    let p = proxy(echo().await).await;
    let mut s = TcpStream::connect(p.addr()).await.unwrap();
    let data: Vec<u8> = (0..400_000u32).map(|i| (i % 253) as u8).collect();
    let (mut r, mut w) = s.split();
    let writer = async {
        for (i, chunk) in data.chunks(4000).enumerate() {
            w.write_all(chunk).await.unwrap();
            if i % 10 == 0 {
                let id = p
                    .add(spec(json!({ "fault": { "latency": { "delay": "2ms" } } })))
                    .unwrap();
                tokio::task::yield_now().await;
                // Changed in place, as the API's toxic update does.
                p.replace(
                    id,
                    spec(json!({ "fault": { "slicer": { "average": "512B", "delay": "0s" } } })),
                )
                .unwrap();
                tokio::task::yield_now().await;
                p.remove(id).unwrap();
            }
        }
    };
    let reader = async {
        let mut got = vec![0u8; data.len()];
        bounded(r.read_exact(&mut got)).await.unwrap();
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    assert!(got == data, "bytes lost or reordered");
}

/// A raw HTTP/1.1 request; returns the status code.
fn http(addr: &str, method: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_proxy_runs_standalone_with_its_control_api() {
    use std::io::BufRead;
    // An HTTP upstream: the twin, as its own process.
    let mut twin = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .args(["twin", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(twin.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let upstream = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxy.yaml");
    std::fs::write(
        &config,
        format!(
            "control: 127.0.0.1:0\nproxies:\n  - {{ name: twin, listen: 127.0.0.1:0, upstream: {upstream} }}\n"
        ),
    )
    .unwrap();
    let mut proxy = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .args(["proxy", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both processes die with the test, passed or failed.
    struct Reap(Vec<std::process::Child>);
    impl Drop for Reap {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut lines = std::io::BufReader::new(proxy.stdout.take().unwrap()).lines();
    let listen = lines.next().unwrap().unwrap();
    let listen = listen
        .split_whitespace()
        .find(|w| w.parse::<SocketAddr>().is_ok())
        .unwrap()
        .to_string();
    let control = lines.next().unwrap().unwrap();
    let control = control
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap()
        .to_string();
    let _reap = Reap(vec![proxy, twin]);

    assert_eq!(http(&listen, "GET", "/storefront/", ""), 200);
    // surge's HTTP faults are toxic types of Toxiproxy's API.
    let added = http(
        &control,
        "POST",
        "/proxies/twin/toxics",
        r#"{"type":"http_error","attributes":{"rate":1.0,"status":503}}"#,
    );
    assert_eq!(added, 200);
    assert_eq!(http(&listen, "GET", "/storefront/", ""), 503);
    assert_eq!(
        http(
            &control,
            "DELETE",
            "/proxies/twin/toxics/http_error_downstream",
            ""
        ),
        204
    );
    assert_eq!(http(&listen, "GET", "/storefront/", ""), 200);
    // A toxic the proxy cannot apply is refused with a reason.
    let bad = http(
        &control,
        "POST",
        "/proxies/twin/toxics",
        r#"{"type":"stock_exhausted"}"#,
    );
    assert_eq!(bad, 400);
}

#[test]
fn a_proxy_config_with_a_remote_upstream_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxy.yaml");
    std::fs::write(
        &config,
        "proxies:\n  - { name: far, listen: 127.0.0.1:0, upstream: 203.0.113.7:80 }\n",
    )
    .unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .args(["proxy", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not on loopback") && err.contains("allow_hosts"),
        "{err}"
    );
}

/// An upstream that reads until the client's FIN, then answers with all it
/// read and closes: a request-then-wait client's server (BusyBox wget,
/// `nc -N`, RPCs that half-close after the request).
async fn answer_after_fin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                if s.read_to_end(&mut got).await.is_ok() {
                    let _ = s.write_all(&got).await;
                    let _ = s.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Sends `data`, half-closes, and reads the answer to its end.
async fn half_closed_round_trip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.split();
    let reading = async {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.map(|_| out)
    };
    let writing = async {
        w.write_all(data).await?;
        w.shutdown().await
    };
    let (read, written) = bounded(async { tokio::join!(reading, writing) }).await;
    written.expect("the request is sent");
    read.expect("the answer is read to its end, not reset")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_gets_the_whole_answer_under_each_toxic() {
    let p = proxy(answer_after_fin().await).await;
    let toxics = [
        None,
        Some(json!({ "fault": { "latency": { "delay": "20ms", "jitter": "5ms" } } })),
        Some(json!({ "fault": { "latency": { "delay": "20ms" } }, "stream": "upstream" })),
        Some(json!({ "fault": { "bandwidth": { "rate": "20MB/s" } } })),
        Some(
            json!({ "fault": { "slicer": { "average": "4KB", "variation": "1KB", "delay": "100us" } } }),
        ),
        Some(json!({ "fault": { "slow_close": { "delay": "50ms" } } })),
    ];
    for toxic in toxics {
        let id = toxic.as_ref().map(|t| p.add(spec(t.clone())).unwrap());
        for n in [100, 10_000, 1_000_000] {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let back = half_closed_round_trip(p.addr(), &data).await;
            assert_eq!(back.len(), n, "{n} bytes under {toxic:?}");
            assert!(back == data, "{n} bytes under {toxic:?}: the same bytes");
        }
        if let Some(id) = id {
            p.remove(id).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_half_closes_still_reads_the_client() {
    // The upstream sends its 200 kB and half-closes, then counts what the
    // client sends until the client's own FIN.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = l.local_addr().unwrap();
    let (count_tx, count_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let data: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
        s.write_all(&data).await.unwrap();
        s.shutdown().await.unwrap();
        let mut got = Vec::new();
        let read = s.read_to_end(&mut got).await.map(|_| got.len());
        let _ = count_tx.send(read);
    });
    let p = proxy(upstream).await;
    p.add(spec(json!({ "fault": { "latency": { "delay": "10ms" } } })))
        .unwrap();
    let mut s = TcpStream::connect(p.addr()).await.unwrap();
    let mut answer = Vec::new();
    bounded(s.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer.len(), 200_000, "the upstream's data, then its FIN");
    // The client's direction is still open: it sends, then half-closes.
    s.write_all(&vec![7u8; 50_000]).await.unwrap();
    s.shutdown().await.unwrap();
    let counted = bounded(count_rx).await.unwrap();
    assert_eq!(
        counted.expect("read to the client's FIN, not reset"),
        50_000
    );
}
