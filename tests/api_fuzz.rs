//! The twin's routes, its admin API and the proxy's control API fed what a
//! broken client or a fuzzer sends (random bytes, JSON of every shape and
//! wrong type, nesting thousands deep, bodies of megabytes): each answer
//! is a success or a 4xx with a JSON error, never a 5xx or a dropped
//! connection, and both servers stay up with bounded memory. Real servers
//! on loopback, bounded in cases and time.

use proptest::prelude::*;
use serde_json::Value;
use surge::scenario::model::TwinConfig;

/// Routes that take a body: the twin's, then the proxy's control API.
const TWIN_ROUTES: [&str; 11] = [
    "/admin/faults",
    "/storefront/queue",
    "/storefront/login",
    "/storefront/login/verify",
    "/storefront/orders",
    "/storefront/orders/o-1/pay",
    "/stamping/documents",
    "/stamping/documents/d-1/stamp",
    "/partners/pos/login",
    "/partners/pos/serials",
    "/partners/pos/stamp",
];

struct Servers {
    runtime: tokio::runtime::Runtime,
    twin: String,
    proxy: String,
    client: reqwest::Client,
}

fn servers() -> Servers {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (twin, proxy) = runtime.block_on(async {
        let running = surge::twin::start(TwinConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let twin = running.base_url();
        std::mem::forget(running);
        let upstream = "127.0.0.1:9".to_string();
        let control = surge::proxy::control::Control::new(Default::default());
        control
            .create(surge::proxy::toxiproxy::ProxyIn {
                name: Some("p".into()),
                upstream: Some(upstream),
                ..Default::default()
            })
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            async move { axum::serve(listener, surge::proxy::control::router(control)).await },
        );
        (twin, format!("http://{addr}"))
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    Servers {
        runtime,
        twin,
        proxy,
        client,
    }
}

impl Servers {
    /// POSTs `body` as JSON and checks the answer.
    fn post(&self, url: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
        let (status, text) = self.runtime.block_on(async {
            let r = self
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("{url}: no answer: {e}")))?;
            let status = r.status();
            Ok::<_, TestCaseError>((status, r.text().await.unwrap_or_default()))
        })?;
        prop_assert!(!status.is_server_error(), "{url}: {status} {text}");
        if status.is_client_error() {
            let json: Value = serde_json::from_str(&text)
                .map_err(|_| TestCaseError::fail(format!("{url}: {status} is not JSON: {text}")))?;
            prop_assert!(json.get("error").is_some(), "{url}: {text}");
        }
        Ok(())
    }

    fn alive(&self) {
        self.runtime.block_on(async {
            for url in [
                format!("{}/admin/ledger", self.twin),
                format!("{}/proxies", self.proxy),
            ] {
                let r = self.client.get(&url).send().await.unwrap();
                assert_eq!(r.status(), 200, "{url}");
            }
        });
    }
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("name"),
            Just("on"),
            Just("fault"),
            Just("for"),
            Just("phone"),
            Just("otp"),
            Just("quantity"),
            Just("document"),
            Just("serials"),
            Just("count"),
            Just("toxicity"),
            Just("latency"),
            Just("upstream"),
            Just("downstream"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("on".to_string()),
                    Just("fault".to_string()),
                    Just("for".to_string()),
                    Just("phone".to_string()),
                    Just("quantity".to_string()),
                    Just("latency".to_string()),
                    Just("toxicity".to_string()),
                    Just("type".to_string()),
                    Just("attributes".to_string()),
                    Just("stream".to_string()),
                    Just("enabled".to_string()),
                    ".{0,12}".prop_map(|s| s),
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        (1usize..20_000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes()),
        (1usize..20_000)
            .prop_map(|d| format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d)).into_bytes()),
    ]
}

#[test]
fn malformed_bodies_get_a_json_4xx_and_the_servers_stay_up() {
    let s = servers();
    let mut urls: Vec<String> = TWIN_ROUTES
        .iter()
        .map(|r| format!("{}{r}", s.twin))
        .collect();
    urls.push(format!("{}/proxies/p/toxics", s.proxy));
    urls.push(format!("{}/proxies/none/toxics", s.proxy));
    urls.push(format!("{}/proxies/p/toxics/latency_downstream", s.proxy));
    urls.push(format!("{}/proxies/p", s.proxy));
    urls.push(format!("{}/populate", s.proxy));
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(body in bodies(), pick in 0..urls.len())| {
        s.post(&urls[pick], body)?;
    });
    // Bodies of megabytes: refused, not buffered without end. The server
    // answers at once (a JSON 413, or the route's answer) and closes the
    // connection while the client still sends, which the client may see as
    // an error instead of the answer; either way the server must stay up.
    for url in &urls {
        if let Err(e) = s.post(url, vec![b'['; 24 << 20]) {
            assert!(e.to_string().contains("no answer"), "{e}");
        }
        s.alive();
    }
    let rss_kb: u64 = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    assert!(rss_kb < 1024 * 1024, "peak memory {rss_kb} KB");
}
