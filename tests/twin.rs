//! The twin over real HTTP: each channel's journey, each fault switch's
//! effect, the waiting room's rate, idempotent callbacks, the document
//! store's bound, and the ledger reconciling after hundreds of concurrent
//! journeys. Every twin listens on 127.0.0.1:0. Timing checks use explicit
//! tolerances; the exact timing logic is unit-tested on a paused clock.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use surge::pdf::PdfTemplate;
use surge::scenario::model::{Distribution, Partner, PartnerKind, Refill, TwinConfig};
use surge::scenario::units::{Duration as D, Size};
use surge::twin::{self, Running};

/// A twin tuned for tests: quick OTPs and callbacks, fast signing.
fn quick() -> TwinConfig {
    let mut c = TwinConfig::default();
    c.accounts.otp_delay = Distribution::new(D::from_millis(5), D::from_millis(20));
    c.payments.callback_delay = Distribution::new(D::from_millis(20), D::from_millis(60));
    c.core.signing.service_time = Distribution::new(D::from_millis(5), D::from_millis(20));
    c
}

struct Client {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
}

impl Client {
    fn new(running: &Running) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: running.base_url(),
            session: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.session {
            Some(s) => req.bearer_auth(s),
            None => req,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .auth(self.http.get(self.url(path)))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .auth(self.http.post(self.url(path)))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .auth(self.http.post(self.url(path)))
            .body(bytes)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Polls `path` until `done` holds (at most `limit`).
    async fn poll(&self, path: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + limit;
        loop {
            let (status, body) = self.get(path).await;
            assert!(status.is_success(), "{path}: {status} {body}");
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < until,
                "{path} never reached the state: {body}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Logs in with `phone` through the OTP inbox; keeps the session.
    async fn login(&mut self, phone: &str) -> Value {
        let (status, body) = self
            .post("/storefront/login", json!({ "phone": phone }))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let challenge = body["challenge"].as_str().unwrap().to_string();
        let inbox = self
            .poll(
                &format!("/storefront/otp/{challenge}"),
                Duration::from_secs(5),
                |b| b["delivered"] == true,
            )
            .await;
        let (status, body) = self
            .post(
                "/storefront/login/verify",
                json!({ "challenge": challenge, "code": inbox["code"] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.session = body["session"].as_str().map(String::from);
        body
    }

    /// Orders and pays `quantity` stamps; returns the order id.
    async fn buy(&self, quantity: u64, admission: Option<&str>) -> String {
        let mut req = self
            .auth(self.http.post(self.url("/storefront/orders")))
            .json(&json!({ "quantity": quantity }));
        if let Some(a) = admission {
            req = req.header("x-admission", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let order = r.json::<Value>().await.unwrap()["order"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = self
            .post(&format!("/storefront/orders/{order}/pay"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "captured");
        order
    }

    /// Uploads a document and stamps it; returns (document, final job).
    async fn stamp(&self, id: u64) -> (String, Value) {
        let (status, body) = self
            .post_bytes("/stamping/documents", PdfTemplate::new(4_000).render(id))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let document = body["document"].as_str().unwrap().to_string();
        let (status, body) = self
            .post(&format!("/stamping/documents/{document}/stamp"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let job = body["job"].as_str().unwrap().to_string();
        let done = self
            .poll(
                &format!("/stamping/jobs/{job}"),
                Duration::from_secs(10),
                |b| b["state"] != "signing",
            )
            .await;
        (document, done)
    }

    async fn partner(&self, name: &str) -> Client {
        let (status, body) = self
            .post(
                &format!("/partners/{name}/login"),
                json!({ "client_id": name }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            session: body["token"].as_str().map(String::from),
        }
    }

    async fn fault(&self, on: &str, fault: Value) -> u64 {
        let (status, body) = self
            .post("/admin/faults", json!({ "on": on, "fault": fault }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().unwrap()
    }

    async fn clear(&self, id: u64) {
        let r = self
            .http
            .delete(self.url(&format!("/admin/faults/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn ledger(&self) -> Value {
        self.get("/admin/ledger").await.1
    }
}

async fn start(config: TwinConfig) -> (Running, Client) {
    let running = twin::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = Client::new(&running);
    (running, client)
}

fn holds(ledger: &Value, invariant: &str) -> bool {
    ledger["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["invariant"] == invariant && v["holds"] == true)
}

/// Waits for every payment callback and stamp job to settle.
async fn settled(c: &Client) -> Value {
    c.poll("/admin/ledger", Duration::from_secs(10), |l| {
        l["counters"]["credits_pending"] == 0 && l["counters"]["quota_stamps_in_progress"] == 0
    })
    .await
}

#[tokio::test]
async fn storefront_journey_from_queue_to_download() {
    let mut config = quick();
    config.waiting_room.enabled = true;
    let (twin, mut c) = start(config).await;
    let (status, ticket) = c.post("/storefront/queue", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let ticket = c
        .poll(
            &format!("/storefront/queue/{}", ticket["ticket"].as_str().unwrap()),
            Duration::from_secs(5),
            |t| t["admitted"] == true,
        )
        .await;
    let admission = ticket["admission"].as_str().unwrap().to_string();

    let login = c.login("081234567890").await;
    assert_eq!(login["quota"], 0);
    let order = c.buy(2, Some(&admission)).await;
    let credited = c
        .poll(
            &format!("/storefront/orders/{order}"),
            Duration::from_secs(5),
            |o| o["status"] == "credited",
        )
        .await;
    assert_eq!(credited["quantity"], 2);
    let (_, quota) = c.get("/storefront/quota").await;
    assert_eq!(quota["balance"], 2);

    let (document, job) = c.stamp(1).await;
    assert_eq!(job["state"], "done", "{job}");
    let r = c
        .auth(
            c.http
                .get(c.url(&format!("/stamping/documents/{document}/stamped"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let stamped = r.bytes().await.unwrap();
    let original = PdfTemplate::new(4_000).render(1);
    assert!(
        stamped.starts_with(&original),
        "the original bytes are kept intact"
    );
    let tail = String::from_utf8_lossy(&stamped[original.len()..]).to_string();
    let digest = surge::twin::core::sha256_hex(&original);
    assert!(
        tail.contains(&format!("serial: {}", job["serial"].as_str().unwrap()))
            && tail.contains(&digest),
        "{tail}"
    );

    let (_, quota) = c.get("/storefront/quota").await;
    assert_eq!(quota["balance"], 1);
    let ledger = settled(&c).await;
    assert!(
        holds(&ledger, "payments_credited")
            && holds(&ledger, "quota_accounted")
            && holds(&ledger, "serials_unique")
    );
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn returning_applicants_hold_quota_and_new_ones_do_not() {
    let (twin, mut c) = start(quick()).await;
    assert_eq!(c.login("returning-77").await["quota"], 2);
    let (_, job) = c.stamp(5).await;
    assert_eq!(job["state"], "done");
    c.login("0899").await;
    let (status, body) = c
        .post_bytes("/stamping/documents", PdfTemplate::new(2_000).render(6))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = c
        .post(
            &format!(
                "/stamping/documents/{}/stamp",
                body["document"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"], "no_quota");
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn uploads_must_be_pdfs_within_the_limit_and_need_a_session() {
    let mut config = quick();
    config.stamping.max_upload = Size(10_000);
    let (twin, mut c) = start(config).await;
    let (status, _) = c
        .post_bytes("/stamping/documents", PdfTemplate::new(2_000).render(1))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    c.login("returning-1").await;
    let (status, body) = c
        .post_bytes("/stamping/documents", b"GIF89a not a pdf".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"], "not_pdf");
    let (status, body) = c
        .post_bytes("/stamping/documents", PdfTemplate::new(20_000).render(2))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["message"].as_str().unwrap().contains("10KB"), "{body}");
    let (status, _) = c
        .post_bytes("/stamping/documents", PdfTemplate::new(9_000).render(3))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn partners_stamp_through_the_core_and_resellers_run_dry() {
    let mut config = quick();
    config.partners.insert(
        "tiny".into(),
        Partner {
            kind: PartnerKind::Reseller,
            stock: 3,
            refill: None,
        },
    );
    config.partners.insert(
        "restocked".into(),
        Partner {
            kind: PartnerKind::Reseller,
            stock: 2,
            refill: Some(Refill {
                below: 2,
                batch: 10,
            }),
        },
    );
    let (twin, c) = start(config).await;
    let pos = c.partner("pos").await;
    let (status, body) = pos
        .post_bytes("/partners/pos/stamp", PdfTemplate::new(2_000).render(1))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["serial"].as_str().unwrap().starts_with("EM2024"));

    let tiny = c.partner("tiny").await;
    let (status, body) = tiny
        .post("/partners/tiny/serials", json!({ "count": 3 }))
        .await;
    assert_eq!(
        (status, body["serials"].as_array().unwrap().len()),
        (StatusCode::OK, 3)
    );
    let (status, body) = tiny
        .post("/partners/tiny/serials", json!({ "count": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["message"].as_str().unwrap().contains("stok habis"),
        "{body}"
    );
    assert_eq!(tiny.get("/partners/tiny/balance").await.1["stock"], 0);

    let restocked = c.partner("restocked").await;
    restocked
        .post("/partners/restocked/serials", json!({ "count": 1 }))
        .await;
    assert_eq!(
        restocked.get("/partners/restocked/balance").await.1["stock"],
        11,
        "1 left + a batch of 10"
    );

    // A serial bought earlier can be stamped once, and only once.
    let (_, sold) = restocked
        .post("/partners/restocked/serials", json!({ "count": 1 }))
        .await;
    let serial = sold["serials"][0].as_str().unwrap().to_string();
    let path = format!("/partners/restocked/stamp?serial={serial}");
    let (status, body) = restocked
        .post_bytes(&path, PdfTemplate::new(2_000).render(2))
        .await;
    assert_eq!(
        (status, body["serial"].as_str()),
        (StatusCode::OK, Some(serial.as_str()))
    );
    let (status, _) = restocked
        .post_bytes(&path, PdfTemplate::new(2_000).render(3))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, _) = tiny.get("/partners/pos/balance").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token is good for its own partner only"
    );
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn a_core_outage_stops_pass_through_counters_not_reseller_sales_and_recovers_in_stages() {
    let (twin, mut c) = start(quick()).await;
    c.login("returning-5").await;
    let pos = c.partner("pos").await;
    let reseller = c.partner("reseller-a").await;
    let id = c
        .fault("twin/core", json!({ "outage": { "recovery": { "stamping": "0s", "credits": "1s", "sales": "2s" } } }))
        .await;
    let (status, _) = pos
        .post_bytes("/partners/pos/stamp", PdfTemplate::new(2_000).render(1))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = pos.get("/partners/pos/balance").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = reseller
        .post("/partners/reseller-a/serials", json!({ "count": 1 }))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "resellers sell from their own stock: {body}"
    );
    let (status, _) = c.post("/storefront/orders", json!({ "quantity": 1 })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "sales are closed");

    c.clear(id).await;
    let cleared = Instant::now();
    let (status, _) = pos
        .post_bytes("/partners/pos/stamp", PdfTemplate::new(2_000).render(2))
        .await;
    assert_eq!(status, StatusCode::OK, "stamping comes back first");
    let (status, _) = c.post("/storefront/orders", json!({ "quantity": 1 })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "sales reopen last");
    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(cleared.elapsed())).await;
    let (status, _) = c.post("/storefront/orders", json!({ "quantity": 1 })).await;
    assert_eq!(status, StatusCode::CREATED);
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn credits_are_held_during_an_outage_and_applied_after_it() {
    let (twin, mut c) = start(quick()).await;
    c.login("0811").await;
    let order = c.buy(1, None).await;
    let id = c.fault("twin/core", json!({ "outage": {} })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.get(&format!("/storefront/orders/{order}")).await.1["status"],
        "paid"
    );
    assert_eq!(
        c.ledger().await["counters"]["credits_pending"],
        1,
        "held, and visibly pending"
    );
    c.clear(id).await;
    c.poll(
        &format!("/storefront/orders/{order}"),
        Duration::from_secs(5),
        |o| o["status"] == "credited",
    )
    .await;
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn dropped_callbacks_are_counted_exactly() {
    let (twin, mut c) = start(quick()).await;
    c.login("0812").await;
    c.fault("twin/storefront", json!({ "callbacks_dropped": {} }))
        .await;
    for _ in 0..7 {
        c.buy(1, None).await;
    }
    let ledger = c
        .poll("/admin/ledger", Duration::from_secs(5), |l| {
            l["counters"]["credits_pending"] == 0
        })
        .await;
    assert_eq!(ledger["counters"]["credits_lost"], 7);
    assert_eq!(ledger["paid_not_credited"], 7);
    assert_eq!(ledger["counters"]["payments_credited"], 0);
    assert!(!holds(&ledger, "payments_credited"));
    assert_eq!(c.get("/storefront/quota").await.1["balance"], 0);
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn duplicated_callbacks_never_credit_twice() {
    let (twin, mut c) = start(quick()).await;
    c.login("0813").await;
    c.fault("twin/storefront", json!({ "callbacks_duplicated": {} }))
        .await;
    for _ in 0..5 {
        c.buy(2, None).await;
    }
    let ledger = c
        .poll("/admin/ledger", Duration::from_secs(5), |l| {
            l["counters"]["duplicate_callbacks_ignored"] == 5
        })
        .await;
    assert_eq!(ledger["counters"]["payments_credited"], 5);
    assert_eq!(ledger["counters"]["quota_credited"], 10);
    assert!(holds(&ledger, "payments_credited"));
    assert_eq!(c.get("/storefront/quota").await.1["balance"], 10);
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn delayed_callbacks_arrive_late() {
    let (twin, mut c) = start(quick()).await;
    c.login("0814").await;
    c.fault(
        "twin/storefront",
        json!({ "callbacks_delayed": { "delay": { "median": "800ms", "p99": "800ms" } } }),
    )
    .await;
    let paid = Instant::now();
    let order = c.buy(1, None).await;
    c.poll(
        &format!("/storefront/orders/{order}"),
        Duration::from_secs(5),
        |o| o["status"] == "credited",
    )
    .await;
    let waited = paid.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_millis(2000),
        "{waited:?}"
    );
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn channel_latency_error_rate_and_outage_switches() {
    let (twin, c) = start(quick()).await;
    let id = c
        .fault(
            "twin/storefront",
            json!({ "latency": { "delay": "300ms" } }),
        )
        .await;
    let t = Instant::now();
    assert_eq!(
        c.http
            .get(c.url("/storefront/"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1000),
        "{took:?}"
    );
    let t = Instant::now();
    c.http.get(c.url("/healthz")).send().await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "other routes are not slowed"
    );
    c.clear(id).await;

    let id = c
        .fault(
            "twin/storefront",
            json!({ "error_rate": { "rate": "30%", "status": 500 } }),
        )
        .await;
    let mut failed = 0;
    for _ in 0..400 {
        if c.http
            .get(c.url("/storefront/"))
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::INTERNAL_SERVER_ERROR
        {
            failed += 1;
        }
    }
    // 30% of 400 is 120; three standard deviations are about 27.
    assert!((93..=147).contains(&failed), "{failed} of 400 failed");
    c.clear(id).await;

    let id = c
        .fault("twin/stamping", json!({ "outage": { "mode": "hang" } }))
        .await;
    let r = c
        .http
        .get(c.url("/stamping/jobs/J1"))
        .timeout(Duration::from_millis(400))
        .send()
        .await;
    assert!(
        r.unwrap_err().is_timeout(),
        "a hanging channel holds requests"
    );
    c.clear(id).await;
    let (status, _) = c.get("/stamping/jobs/J1").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the channel answers again"
    );
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn core_switches_slow_fail_and_exhaust_signing() {
    let (twin, mut c) = start(quick()).await;
    c.login("returning-9").await;
    let id = c
        .fault("twin/core", json!({ "latency": { "delay": "500ms" } }))
        .await;
    let t = Instant::now();
    let (_, job) = c.stamp(1).await;
    assert_eq!(job["state"], "done");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    c.clear(id).await;

    let id = c
        .fault(
            "twin/core",
            json!({ "error_rate": { "rate": "100%", "status": 500 } }),
        )
        .await;
    let (_, job) = c.stamp(2).await;
    assert_eq!(job["state"], "failed", "{job}");
    c.clear(id).await;
    let ledger = settled(&c).await;
    assert_eq!(ledger["counters"]["serials_wasted"], 1);
    assert_eq!(ledger["counters"]["refunds"], 1);
    assert!(
        holds(&ledger, "quota_accounted"),
        "the failed stamp was refunded: {ledger}"
    );
    assert_eq!(
        c.get("/storefront/quota").await.1["balance"],
        1,
        "2 - 1 stamped - 1 failed + 1 refunded"
    );

    c.fault("twin/core", json!({ "stock_exhausted": {} })).await;
    let pos = c.partner("pos").await;
    let (status, body) = pos
        .post("/partners/pos/serials", json!({ "count": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "stock_exhausted");
    c.fault("twin/partner/reseller-a", json!({ "stock_exhausted": {} }))
        .await;
    let reseller = c.partner("reseller-a").await;
    let (status, _) = reseller
        .post("/partners/reseller-a/serials", json!({ "count": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn the_signing_queue_refuses_beyond_its_bound_with_retry_after() {
    let mut config = quick();
    config.core.signing.workers = 1;
    config.core.signing.queue = 2;
    config.core.signing.service_time = Distribution::new(D::from_millis(500), D::from_millis(500));
    let (twin, c) = start(config).await;
    let pos = c.partner("pos").await;
    let sends: Vec<_> = (0..6)
        .map(|i| {
            let req = pos
                .auth(pos.http.post(pos.url("/partners/pos/stamp")))
                .body(PdfTemplate::new(2_000).render(i));
            tokio::spawn(async move { req.send().await.unwrap() })
        })
        .collect();
    let mut refused = 0;
    for s in sends {
        let r = s.await.unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(r.headers()["retry-after"], "1");
            refused += 1;
        }
    }
    // One signs, two wait, three are refused (one more may slip in as the
    // first finishes).
    assert!((2..=3).contains(&refused), "{refused}");
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn the_waiting_room_admits_at_its_rate_and_guards_orders() {
    let mut config = quick();
    config.waiting_room.enabled = true;
    config.waiting_room.admit = surge::scenario::units::Rate::per_second(20.0);
    let (twin, mut c) = start(config).await;
    c.login("0815").await;
    let (status, body) = c.post("/storefront/orders", json!({ "quantity": 1 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mut tickets = Vec::new();
    for _ in 0..100 {
        tickets.push(
            c.post("/storefront/queue", json!({})).await.1["ticket"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut admitted = 0;
    for t in &tickets {
        if c.get(&format!("/storefront/queue/{t}")).await.1["admitted"] == true {
            admitted += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // One walks in, then 20 per second.
    let expected = 1.0 + 20.0 * elapsed;
    assert!(
        (admitted as f64 - expected).abs() <= 6.0,
        "{admitted} admitted, {expected:.0} expected"
    );
    let ticket = c.get(&format!("/storefront/queue/{}", tickets[0])).await.1;
    let order = c.buy(1, ticket["admission"].as_str()).await;
    assert!(order.starts_with('O'));
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn a_waiting_room_switch_caps_admissions_then_lets_go() {
    let (twin, c) = start(quick()).await;
    let id = c
        .fault(
            "twin/storefront",
            json!({ "waiting_room": { "admit": "1/s", "queue": 3 } }),
        )
        .await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(c.post("/storefront/queue", json!({})).await.0.as_u16());
    }
    // One walks in, three wait, the rest find the queue full.
    assert_eq!(codes, [201, 201, 201, 201, 503, 503]);
    c.clear(id).await;
    let (status, body) = c.post("/storefront/queue", json!({})).await;
    assert_eq!(
        (status, body["admitted"].clone()),
        (StatusCode::CREATED, json!(true))
    );
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn the_document_store_stays_within_its_byte_budget() {
    let mut config = quick();
    config.stamping.store_limit = Size(100_000);
    let (twin, mut c) = start(config).await;
    c.login("returning-3").await;
    let mut documents = Vec::new();
    for i in 0..20 {
        let (status, body) = c
            .post_bytes("/stamping/documents", PdfTemplate::new(20_000).render(i))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        documents.push(body["document"].as_str().unwrap().to_string());
    }
    let metrics = c
        .http
        .get(c.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let held: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("surge_twin_documents_bytes "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((60_000.0..=100_000.0).contains(&held), "{held}");
    let (status, body) = c
        .post(
            &format!("/stamping/documents/{}/stamp", documents[0]),
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the oldest was let go: {body}"
    );
    twin.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_count_routes_and_expose_gauges() {
    let (twin, c) = start(quick()).await;
    for _ in 0..3 {
        c.http.get(c.url("/storefront/")).send().await.unwrap();
    }
    c.http.get(c.url("/nope")).send().await.unwrap();
    let text = c
        .http
        .get(c.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("surge_twin_requests_total{route=\"/storefront/\",status=\"2xx\"} 3"),
        "{text}"
    );
    assert!(text.contains("surge_twin_requests_total{route=\"unmatched\",status=\"4xx\"} 1"));
    assert!(text.contains("surge_twin_request_seconds_count{route=\"/storefront/\"} 3"));
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("surge_twin_request_seconds_bucket{route=\"/storefront/\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 13);
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]) && buckets[12] == 3,
        "cumulative buckets: {buckets:?}"
    );
    for gauge in [
        "surge_twin_signing_queue",
        "surge_twin_core_stock",
        "surge_twin_partner_stock{partner=\"reseller-a\"} 5000",
    ] {
        assert!(text.contains(gauge), "{gauge} missing");
    }
    twin.stop().await.unwrap();
}

/// Hundreds of applicants and counters at once: with no fault, every
/// invariant holds exactly and every counter adds up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_reconciles_after_a_concurrent_burst() {
    let mut config = quick();
    config.core.signing.workers = 16;
    config.core.signing.queue = 1000;
    let (twin, c) = start(config).await;
    let base = c.base.clone();
    let applicants: Vec<_> = (0..300)
        .map(|i| {
            let base = base.clone();
            tokio::spawn(async move {
                let mut c = Client {
                    http: reqwest::Client::new(),
                    base,
                    session: None,
                };
                c.login(&format!("08{i:09}")).await;
                let order = c.buy(1, None).await;
                c.poll(
                    &format!("/storefront/orders/{order}"),
                    Duration::from_secs(20),
                    |o| o["status"] == "credited",
                )
                .await;
                let (_, job) = c.stamp(i).await;
                assert_eq!(job["state"], "done", "{job}");
            })
        })
        .collect();
    let pos = c.partner("pos").await;
    let counters: Vec<_> = (0..100)
        .map(|i| {
            let req = pos
                .auth(pos.http.post(pos.url("/partners/pos/stamp")))
                .body(PdfTemplate::new(2_000).render(10_000 + i));
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    for a in applicants {
        a.await.unwrap();
    }
    for s in counters {
        assert_eq!(s.await.unwrap(), StatusCode::OK);
    }
    let ledger = settled(&c).await;
    let n = &ledger["counters"];
    assert_eq!(n["payments_captured"], 300);
    assert_eq!(n["payments_credited"], 300);
    assert_eq!(n["quota_consumed"], 300);
    assert_eq!(n["quota_stamps_completed"], 300);
    assert_eq!(n["partner_stamps_completed"], 100);
    assert_eq!(
        n["serials_issued"],
        5000 + 400,
        "reseller-a's 5000, then one per stamp"
    );
    assert_eq!(n["serials_reissued"], 0);
    assert!(
        ledger["invariants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["holds"] == true),
        "{ledger}"
    );
    twin.stop().await.unwrap();
}
