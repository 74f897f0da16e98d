//! `surge proxy` as a Toxiproxy: the real binary, driven over Toxiproxy's
//! HTTP API as its README documents it (request by request, bodies and
//! codes), each toxic's effect measured through a proxy made over the API,
//! Toxiproxy's own Python client library driving it unchanged, and a
//! scenario's `on: hook` fault switching a toxic on and off on the run's
//! clock. Upstreams are real servers on loopback started here.

mod common;

use common::tcp::{bounded, echo, numbered, round_trip, sender};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `surge proxy` on free ports; killed when dropped, passed or failed.
struct Server {
    child: std::process::Child,
    control: String,
    /// The listen address of each proxy of the config, in order.
    listens: Vec<SocketAddr>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .args(["proxy", "--control", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut listens = Vec::new();
    let control = loop {
        let line = lines
            .next()
            .expect("surge proxy printed its control API")
            .unwrap();
        if let Some(url) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
        {
            break url.to_string();
        }
        listens.extend(
            line.split_whitespace()
                .find_map(|w| w.parse::<SocketAddr>().ok()),
        );
    };
    Server {
        child,
        control,
        listens,
    }
}

/// One API call: (status, JSON body or null).
async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(&server.control).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    bounded(s.read_to_end(&mut reply)).await.unwrap();
    let reply = String::from_utf8(reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    // A chunked body (axum's JSON) is one chunk here: its size line, the
    // JSON, a zero chunk.
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split("\r\n").nth(1).unwrap_or("").to_string()
    } else {
        body.to_string()
    };
    let value = if json.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
    };
    (status, value)
}

/// Everything `addr` sends: (bytes, reads it took, time to the end, how
/// it ended).
async fn read_all(addr: SocketAddr) -> (Vec<u8>, usize, Duration, std::io::Result<()>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    let (mut out, mut reads) = (Vec::new(), 0);
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        match bounded(s.read(&mut buf)).await {
            Ok(0) => break Ok(()),
            Ok(n) => {
                reads += 1;
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) => break Err(e),
        }
    };
    (out, reads, t.elapsed(), end)
}

async fn new_proxy(server: &Server, name: &str, upstream: SocketAddr) -> SocketAddr {
    let (code, body) = call(
        server,
        "POST",
        "/proxies",
        Some(json!({ "name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string() })),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    body["listen"].as_str().unwrap().parse().unwrap()
}

async fn add_toxic(server: &Server, proxy: &str, toxic: Value) -> Value {
    let (code, body) = call(
        server,
        "POST",
        &format!("/proxies/{proxy}/toxics"),
        Some(toxic),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_toxiproxys_documentation_says() {
    let server = start(&[]);
    let upstream = echo().await;

    // Started with no config, as toxiproxy-server: no proxies.
    let (code, version) = call(&server, "GET", "/version", None).await;
    assert_eq!(code, 200);
    assert!(version["version"].is_string(), "{version}");
    assert_eq!(
        call(&server, "GET", "/proxies", None).await,
        (200, json!({}))
    );

    // Create: 201 and the proxy, enabled by default, port 0 resolved.
    let (code, created) = call(
        &server,
        "POST",
        "/proxies",
        Some(json!({ "name": "redis", "listen": "127.0.0.1:0", "upstream": upstream.to_string() })),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(created["name"], "redis");
    assert_eq!(created["upstream"], upstream.to_string());
    assert_eq!(created["enabled"], true);
    assert_eq!(created["toxics"], json!([]));
    let listen: SocketAddr = created["listen"].as_str().unwrap().parse().unwrap();
    assert_ne!(listen.port(), 0);
    round_trip(listen).await;

    // Errors as Toxiproxy words and codes them.
    let again = json!({ "name": "redis", "upstream": upstream.to_string() });
    assert_eq!(
        call(&server, "POST", "/proxies", Some(again)).await,
        (
            409,
            json!({ "error": "proxy already exists", "status": 409 })
        )
    );
    assert_eq!(
        call(&server, "POST", "/proxies", Some(json!({ "name": "x" }))).await,
        (
            400,
            json!({ "error": "missing required field: upstream", "status": 400 })
        )
    );
    assert_eq!(
        call(&server, "GET", "/proxies/nope", None).await,
        (404, json!({ "error": "proxy not found", "status": 404 }))
    );
    let (code, bad) = call(
        &server,
        "POST",
        "/proxies",
        Some(json!({ "name": "y", "upstrem": "z" })),
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body: unknown field `upstrem`"),
        "{bad}"
    );

    // List: an object by name; show: the proxy.
    let (code, all) = call(&server, "GET", "/proxies", None).await;
    assert_eq!(code, 200);
    assert_eq!(all["redis"], created);
    assert_eq!(
        call(&server, "GET", "/proxies/redis", None).await,
        (200, created.clone())
    );

    // Each toxic type: 200 (not 201) and the toxic with Toxiproxy's
    // defaults (name TYPE_STREAM, downstream, toxicity 1, attributes 0).
    let types = [
        ("latency", json!({ "latency": 0, "jitter": 0 })),
        ("bandwidth", json!({ "rate": 0 })),
        ("slow_close", json!({ "delay": 0 })),
        ("timeout", json!({ "timeout": 0 })),
        ("reset_peer", json!({ "timeout": 0 })),
        (
            "slicer",
            json!({ "average_size": 1, "size_variation": 0, "delay": 0 }),
        ),
        ("limit_data", json!({ "bytes": 0 })),
        ("http_error", json!({ "rate": 1.0, "status": 503 })),
        (
            "http_delay",
            json!({ "rate": 1.0, "delay": 0, "jitter": 0 }),
        ),
    ];
    for (kind, attributes) in &types {
        // Slicer needs a size; the others take Toxiproxy's zero defaults.
        let given = if *kind == "slicer" {
            json!({ "average_size": 1 })
        } else {
            json!({})
        };
        let toxic = add_toxic(
            &server,
            "redis",
            json!({ "type": kind, "stream": "upstream", "attributes": given }),
        )
        .await;
        assert_eq!(
            toxic,
            json!({ "name": format!("{kind}_upstream"), "type": kind, "stream": "upstream", "toxicity": 1, "attributes": attributes }),
        );
    }
    let (code, list) = call(&server, "GET", "/proxies/redis/toxics", None).await;
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), types.len());
    let (_, shown) = call(&server, "GET", "/proxies/redis", None).await;
    assert_eq!(shown["toxics"], list);
    for (kind, _) in &types {
        let (code, _) = call(
            &server,
            "DELETE",
            &format!("/proxies/redis/toxics/{kind}_upstream"),
            None,
        )
        .await;
        assert_eq!(code, 204);
    }

    // A named toxic, shown, updated by POST and by PATCH (attributes
    // given replace theirs, the rest stay), deleted.
    let toxic = add_toxic(
        &server,
        "redis",
        json!({ "name": "slow", "type": "latency", "toxicity": 0.5, "attributes": { "latency": 100, "jitter": 10 } }),
    )
    .await;
    assert_eq!(toxic["stream"], "downstream");
    assert_eq!(
        call(&server, "GET", "/proxies/redis/toxics/slow", None).await,
        (200, toxic)
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/proxies/redis/toxics",
            Some(json!({ "name": "slow", "type": "latency" }))
        )
        .await,
        (
            409,
            json!({ "error": "toxic already exists", "status": 409 })
        )
    );
    let (code, updated) = call(
        &server,
        "POST",
        "/proxies/redis/toxics/slow",
        Some(json!({ "attributes": { "latency": 250 } })),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        updated["attributes"],
        json!({ "latency": 250, "jitter": 10 })
    );
    assert_eq!(updated["toxicity"], 0.5);
    let (code, updated) = call(
        &server,
        "PATCH",
        "/proxies/redis/toxics/slow",
        Some(json!({ "toxicity": 1.0 })),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(updated["toxicity"], 1);
    assert_eq!(updated["attributes"]["latency"], 250);
    assert_eq!(
        call(&server, "DELETE", "/proxies/redis/toxics/slow", None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&server, "DELETE", "/proxies/redis/toxics/slow", None).await,
        (404, json!({ "error": "toxic not found", "status": 404 }))
    );

    // Bad toxics: 400 with the reason.
    let bad = [
        (
            json!({ "type": "latency", "stream": "sideways" }),
            "stream was invalid, can be either upstream or downstream",
        ),
        (json!({ "type": "latncy" }), "invalid toxic type"),
        (
            json!({ "type": "latency", "attributes": { "latency": "1s" } }),
            "bad request body",
        ),
        (
            json!({ "type": "latency", "attributes": { "delay": 100 } }),
            "no attribute `delay`",
        ),
        (
            json!({ "type": "latency", "toxicity": 2 }),
            "not a probability",
        ),
    ];
    for (toxic, says) in bad {
        let (code, body) = call(
            &server,
            "POST",
            "/proxies/redis/toxics",
            Some(toxic.clone()),
        )
        .await;
        assert_eq!(code, 400, "{toxic}");
        assert_eq!(body["status"], 400);
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{toxic}: {body}"
        );
    }

    // Disable: new connections refused, open ones cut; enable: back.
    let mut open = TcpStream::connect(listen).await.unwrap();
    open.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    open.read_exact(&mut buf).await.unwrap();
    let (code, off) = call(
        &server,
        "POST",
        "/proxies/redis",
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!((code, &off["enabled"]), (200, &json!(false)));
    let cut = bounded(open.read(&mut buf)).await;
    assert!(
        matches!(cut, Ok(0) | Err(_)),
        "an open connection was not cut: {cut:?}"
    );
    let refused = TcpStream::connect(listen).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    let (code, on) = call(
        &server,
        "PATCH",
        "/proxies/redis",
        Some(json!({ "enabled": true })),
    )
    .await;
    assert_eq!((code, &on["enabled"]), (200, &json!(true)));
    assert_eq!(
        on["listen"],
        listen.to_string(),
        "re-enabled on its own address"
    );
    round_trip(listen).await;

    // Reset: every proxy enabled, every toxic gone.
    add_toxic(&server, "redis", json!({ "type": "timeout" })).await;
    call(
        &server,
        "POST",
        "/proxies/redis",
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(
        call(&server, "POST", "/reset", None).await,
        (204, Value::Null)
    );
    let (_, after) = call(&server, "GET", "/proxies/redis", None).await;
    assert_eq!(
        (&after["enabled"], &after["toxics"]),
        (&json!(true), &json!([]))
    );
    round_trip(listen).await;

    // Populate: 201 and {"proxies": [...]}; a proxy that matches is kept
    // (toxics and all), one whose upstream differs is replaced, a new one
    // created.
    add_toxic(
        &server,
        "redis",
        json!({ "type": "latency", "attributes": { "latency": 5 } }),
    )
    .await;
    let other = echo().await;
    let list = json!([
        { "name": "redis", "listen": listen.to_string(), "upstream": upstream.to_string() },
        { "name": "mysql", "listen": "127.0.0.1:0", "upstream": other.to_string() },
    ]);
    let (code, populated) = call(&server, "POST", "/populate", Some(list.clone())).await;
    assert_eq!(code, 201, "{populated}");
    let proxies = populated["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2);
    assert_eq!(
        proxies[0]["toxics"].as_array().unwrap().len(),
        1,
        "kept with its toxic"
    );
    let mysql: SocketAddr = proxies[1]["listen"].as_str().unwrap().parse().unwrap();
    round_trip(mysql).await;
    let moved =
        json!([{ "name": "redis", "listen": listen.to_string(), "upstream": other.to_string() }]);
    let (code, populated) = call(&server, "POST", "/populate", Some(moved)).await;
    assert_eq!(code, 201);
    assert_eq!(populated["proxies"][0]["toxics"], json!([]), "replaced");
    assert_eq!(populated["proxies"][0]["upstream"], other.to_string());
    round_trip(listen).await;
    let (code, body) = call(&server, "POST", "/populate", Some(json!([{ "name": "z" }]))).await;
    assert_eq!(
        (code, body["error"].as_str().unwrap()),
        (400, "missing required field: upstream at proxy 1")
    );

    // Delete: 204, then the port is free and the name unknown.
    assert_eq!(call(&server, "DELETE", "/proxies/mysql", None).await.0, 204);
    assert_eq!(call(&server, "DELETE", "/proxies/mysql", None).await.0, 404);
    assert!(TcpStream::connect(mysql).await.is_err());

    // Off loopback: refused unless allowed; browsers refused outright.
    let (code, far) = call(
        &server,
        "POST",
        "/proxies",
        Some(json!({ "name": "far", "upstream": "203.0.113.7:80" })),
    )
    .await;
    assert_eq!(code, 403);
    assert!(
        far["error"]
            .as_str()
            .unwrap()
            .contains("--allow-host 203.0.113.7"),
        "{far}"
    );
    let (code, far) = call(
        &server,
        "POST",
        "/proxies",
        Some(json!({ "name": "far", "listen": "0.0.0.0:0", "upstream": upstream.to_string() })),
    )
    .await;
    assert_eq!(code, 403);
    assert!(
        far["error"].as_str().unwrap().contains("--listen-anywhere"),
        "{far}"
    );
    let mut s = TcpStream::connect(&server.control).await.unwrap();
    s.write_all(
        b"GET /proxies HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_toxic_does_what_toxiproxys_documentation_says() {
    let server = start(&[]);

    // latency: latency ± jitter, on every chunk.
    let at = new_proxy(&server, "latency", echo().await).await;
    add_toxic(
        &server,
        "latency",
        json!({ "type": "latency", "attributes": { "latency": 200, "jitter": 50 } }),
    )
    .await;
    let mut times = Vec::new();
    for _ in 0..8 {
        times.push(round_trip(at).await);
    }
    let (least, most) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    assert!(
        *least >= Duration::from_millis(148) && *most <= Duration::from_millis(330),
        "{times:?}"
    );
    assert!(
        *most - *least >= Duration::from_millis(5),
        "no jitter: {times:?}"
    );

    // bandwidth: rate in KB/s (1,000 bytes), within 10%.
    let at = new_proxy(&server, "bandwidth", sender(300_000).await).await;
    add_toxic(
        &server,
        "bandwidth",
        json!({ "type": "bandwidth", "attributes": { "rate": 100 } }),
    )
    .await;
    let (data, _, took, _) = read_all(at).await;
    assert_eq!(data, numbered(300_000));
    assert!(
        took >= Duration::from_millis(2700) && took <= Duration::from_millis(3300),
        "300 KB at 100 KB/s took {took:?}"
    );

    // timeout: no data gets through, the connection closes after it.
    let at = new_proxy(&server, "timeout", echo().await).await;
    add_toxic(
        &server,
        "timeout",
        json!({ "type": "timeout", "attributes": { "timeout": 1000 } }),
    )
    .await;
    let mut s = TcpStream::connect(at).await.unwrap();
    let t = Instant::now();
    s.write_all(b"ping").await.unwrap();
    let mut got = Vec::new();
    let end = bounded(s.read_to_end(&mut got)).await;
    assert!(got.is_empty(), "data got through a timeout");
    assert!(end.is_ok() || t.elapsed() >= Duration::from_millis(900));
    assert!(
        t.elapsed() >= Duration::from_millis(900) && t.elapsed() <= Duration::from_millis(1800),
        "closed after {:?}",
        t.elapsed()
    );

    // reset_peer: the connection is reset after its timeout.
    let at = new_proxy(&server, "reset", echo().await).await;
    add_toxic(
        &server,
        "reset",
        json!({ "type": "reset_peer", "attributes": { "timeout": 500 } }),
    )
    .await;
    let mut s = TcpStream::connect(at).await.unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    let end = bounded(s.read(&mut buf)).await;
    assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "reset after {:?}",
        t.elapsed()
    );

    // limit_data: closes once the bytes went through, not a byte more.
    let at = new_proxy(&server, "limit", sender(10_000).await).await;
    add_toxic(
        &server,
        "limit",
        json!({ "type": "limit_data", "attributes": { "bytes": 1000 } }),
    )
    .await;
    let (data, _, _, _) = read_all(at).await;
    assert_eq!(data, numbered(1000));

    // slicer: the same bytes, in pieces of about average_size, delay µs apart.
    let at = new_proxy(&server, "slicer", sender(10_000).await).await;
    add_toxic(
        &server,
        "slicer",
        json!({ "type": "slicer", "attributes": { "average_size": 100, "size_variation": 20, "delay": 2000 } }),
    )
    .await;
    let (data, reads, took, _) = read_all(at).await;
    assert_eq!(data, numbered(10_000));
    assert!(reads >= 40, "10 kB came in {reads} reads");
    assert!(
        took >= Duration::from_millis(150),
        "100 pieces 2 ms apart took {took:?}"
    );

    // slow_close: the data at once, the close after the delay.
    let at = new_proxy(&server, "slow_close", sender(100).await).await;
    add_toxic(
        &server,
        "slow_close",
        json!({ "type": "slow_close", "attributes": { "delay": 600 } }),
    )
    .await;
    let (data, _, took, _) = read_all(at).await;
    assert_eq!(data.len(), 100);
    assert!(took >= Duration::from_millis(550), "closed after {took:?}");

    // toxicity 0: no connection affected.
    let at = new_proxy(&server, "never", echo().await).await;
    add_toxic(
        &server,
        "never",
        json!({ "type": "latency", "toxicity": 0.0, "attributes": { "latency": 500 } }),
    )
    .await;
    assert!(round_trip(at).await < Duration::from_millis(200));

    // A half-closing client through a proxy made over the API, under a
    // toxic: the whole answer comes back.
    let at = new_proxy(&server, "half", echo().await).await;
    add_toxic(
        &server,
        "half",
        json!({ "type": "latency", "attributes": { "latency": 50 } }),
    )
    .await;
    let mut s = TcpStream::connect(at).await.unwrap();
    s.write_all(&numbered(10_000)).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    bounded(s.read_to_end(&mut back)).await.unwrap();
    assert_eq!(back, numbered(10_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxiproxys_python_client_drives_it_unchanged() {
    let server = start(&[]);
    let upstream = echo().await;
    let script = common::repo("tests/tools/toxiproxy_client.py");
    let control = server.control.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(control)
            .arg(upstream.to_string())
            .output()
    });
    let out = bounded(out).await.unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["running"], true);
    assert!(seen["plain_ms"].as_f64().unwrap() < 100.0, "{seen}");
    assert!(seen["slow_ms"].as_f64().unwrap() >= 290.0, "{seen}");
    assert!(seen["after_ms"].as_f64().unwrap() < 100.0, "{seen}");
    assert_eq!(seen["toxics"], json!(["latency_downstream"]));
    assert_eq!(seen["refused_while_down"], true);
    assert!(seen["back_ms"].as_f64().unwrap() < 100.0, "{seen}");
    assert_eq!(seen["invalid_toxic"], true);
    assert_eq!(seen["proxies_left"], json!([]));
}

#[test]
fn a_hook_fault_drives_the_proxy_over_toxiproxys_api() {
    let twin = common::twin();
    let dir = tempfile::tempdir().unwrap();
    // Toxiproxy's own config format, pointed at the twin.
    let config = dir.path().join("toxiproxy.json");
    std::fs::write(
        &config,
        json!([{ "name": "storefront", "listen": "127.0.0.1:0", "upstream": twin.url.trim_start_matches("http://"), "enabled": true }]).to_string(),
    )
    .unwrap();
    let server = start(&["--config", config.to_str().unwrap()]);
    let listen = server.listens[0];
    // The shipped example, on this test's ports.
    let example =
        std::fs::read_to_string(common::repo("scenarios/examples/toxiproxy-hook.yaml")).unwrap();
    let scenario = example
        .replace("127.0.0.1:18080", &listen.to_string())
        .replace("127.0.0.1:8474", &server.control);
    let path = dir.path().join("hook.yaml");
    std::fs::write(&path, scenario).unwrap();
    let out = dir.path().join("run");
    let (code, _, err) = common::run_scenario(
        &path,
        &out,
        &[
            "--set",
            "load.phases[0].duration=6s",
            "--set",
            "faults[0].at=2s",
            "--set",
            "faults[0].for=2s",
            "--set",
            "load.phases[0].rate=20/s",
        ],
    );
    let summary = common::read_summary(&out);
    let fault = &summary["timeline"]["faults"][0];
    assert!(fault["error"].is_null(), "{fault} {err}");
    let applied = fault["applied_s"].as_f64().unwrap();
    let removed = fault["removed_s"].as_f64().unwrap();
    assert!(
        (1.9..2.6).contains(&applied) && (3.9..4.6).contains(&removed),
        "{fault}"
    );
    // A third of the requests waited 300 ± 50 ms; the median did not.
    let step = common::named(&summary["steps"], "browse.home");
    let p50 = step["latency"]["p50_us"].as_f64().unwrap() / 1000.0;
    let p90 = step["latency"]["p90_us"].as_f64().unwrap() / 1000.0;
    assert!(p50 < 100.0 && p90 >= 240.0, "p50 {p50} ms, p90 {p90} ms");
    assert_eq!(code, 0, "{err}");
    // The stop hook removed the toxic.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, toxics) = rt.block_on(call(&server, "GET", "/proxies/storefront/toxics", None));
    assert_eq!((status, toxics), (200, json!([])));
}

/// surge's YAML config switches a toxic on from the start, written as a
/// scenario writes faults; the API lists it under Toxiproxy's default name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_config_starts_its_toxics_on() {
    let upstream = sender(10_000).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxies.yaml");
    std::fs::write(
        &config,
        format!(
            "proxies:\n  - name: limited\n    listen: 127.0.0.1:0\n    upstream: {upstream}\n    toxics:\n      - {{ fault: {{ limit_data: {{ bytes: 1000B }} }} }}\n"
        ),
    )
    .unwrap();
    let server = start(&["--config", config.to_str().unwrap()]);
    let (status, toxics) = call(&server, "GET", "/proxies/limited/toxics", None).await;
    assert_eq!(status, 200);
    assert_eq!(toxics[0]["name"], "limit_data_downstream", "{toxics}");
    assert_eq!(toxics[0]["attributes"]["bytes"], 1000, "{toxics}");
    let (data, _, _, _) = read_all(server.listens[0]).await;
    assert_eq!(data, numbered(1000));
}

#[test]
fn bad_configs_and_addresses_are_refused_before_anything_listens() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("toxiproxy.json");
    std::fs::write(
        &config,
        "[\n  { \"name\": \"redis\", \"listen\": \"127.0.0.1:0\",\n    \"upstraem\": \"127.0.0.1:6379\" }\n]\n",
    )
    .unwrap();
    let shown = config.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        // Located at the key, named, as every config error is.
        (&["--config", shown], "toxiproxy.json:3:"),
        (&["--control", "0.0.0.0:0"], "--listen-anywhere"),
        (&["--config", "/nonexistent.json"], "cannot read"),
    ];
    for (args, says) in cases {
        let out = common::surge().arg("proxy").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = common::surge()
        .args(["proxy", "--config", shown])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `upstraem`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_it_and_lets_its_ports_go() {
    let mut server = start(&[]);
    let listen = new_proxy(&server, "echo", echo().await).await;
    // A connection open through it when Ctrl-C comes.
    let mut open = TcpStream::connect(listen).await.unwrap();
    open.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    bounded(open.read_exact(&mut buf)).await.unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "surge proxy did not stop on Ctrl-C");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    // Both its ports are free again.
    assert!(TcpStream::connect(listen).await.is_err());
    assert!(TcpStream::connect(&server.control).await.is_err());
}
