//! The storefront channel: the home page, the waiting room, login by
//! one-time password (delivered to a simulated phone inbox, late under
//! load), orders, payment, and the quota a payment buys. Capture answers at
//! once; the provider's callback that credits the quota comes later, on
//! its own schedule, and is idempotent by payment id, so a duplicated
//! callback never credits twice and a lost one shows up in the ledger.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use super::Twin;
use super::api::{ApiError, ApiResult, Body, bearer};
use super::expiring::Expiring;
use super::random;
use super::waiting_room::{Params, TicketView, WaitingRoom};
use crate::scenario::model::TwinConfig;

/// One-time passwords not used within this long are forgotten.
const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Entries of quota history kept per account.
const HISTORY: usize = 20;

pub fn routes() -> Router<Arc<Twin>> {
    Router::new()
        .route("/storefront", get(home))
        .route("/storefront/", get(home))
        .route("/storefront/queue", post(join))
        .route("/storefront/queue/{ticket}", get(ticket))
        .route("/storefront/login", post(login))
        .route("/storefront/otp/{challenge}", get(otp))
        .route("/storefront/login/verify", post(verify))
        .route("/storefront/orders", post(create_order))
        .route("/storefront/orders/{order}", get(order))
        .route("/storefront/orders/{order}/pay", post(pay))
        .route("/storefront/quota", get(quota))
}

struct Challenge {
    phone: Arc<str>,
    code: String,
    deliver_at: Instant,
}

#[derive(Clone, Debug, Serialize)]
struct HistoryEntry {
    at_s: f64,
    change: i64,
    reason: &'static str,
}

/// An applicant's quota and its recent history.
#[derive(Default)]
pub struct Account {
    quota: u64,
    history: VecDeque<HistoryEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum OrderStatus {
    AwaitingPayment,
    /// Captured; the credit is on its way (or lost).
    Paid,
    Credited,
}

struct Order {
    phone: Arc<str>,
    quantity: u64,
    status: OrderStatus,
}

/// A captured payment whose callback has not credited it yet.
struct Credit {
    phone: Arc<str>,
    order: String,
    quantity: u64,
}

pub struct Storefront {
    room: Mutex<WaitingRoom>,
    challenges: Mutex<Expiring<String, Challenge>>,
    sessions: Mutex<Expiring<String, Arc<str>>>,
    accounts: Mutex<Expiring<Arc<str>, Account>>,
    orders: Mutex<Expiring<String, Order>>,
    /// Payment id → its credit, until the callback arrives or is lost.
    pending: Mutex<HashMap<String, Credit>>,
    next: AtomicU64,
}

impl Storefront {
    pub fn new(config: &TwinConfig, now: Instant) -> Self {
        let room = &config.waiting_room;
        let session = config.accounts.session_ttl.0;
        Storefront {
            room: Mutex::new(WaitingRoom::new(
                room.admission_ttl.0,
                room.idle_timeout.0,
                now,
            )),
            challenges: Mutex::new(Expiring::new(CHALLENGE_TTL)),
            sessions: Mutex::new(Expiring::new(session)),
            accounts: Mutex::new(Expiring::new(session)),
            orders: Mutex::new(Expiring::new(session)),
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }

    fn id(&self, prefix: char) -> String {
        format!("{prefix}{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// The phone number behind the request's session.
    pub fn session(&self, headers: &HeaderMap, now: Instant) -> ApiResult<Arc<str>> {
        let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
        let sessions = self.sessions.lock().expect("sessions lock");
        sessions
            .get(&token.to_string(), now)
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }

    /// Applies `change` to an account (created on first use). Accounts idle
    /// past the session TTL are forgotten unless they still hold quota.
    pub fn with_account<R>(
        &self,
        phone: &Arc<str>,
        now: Instant,
        change: impl FnOnce(&mut Account) -> R,
    ) -> R {
        let mut accounts = self.accounts.lock().expect("accounts lock");
        if accounts.touch(phone, now).is_none() {
            let expired = accounts.insert(phone.clone(), Account::default(), now);
            for (key, account) in expired.into_iter().filter(|(_, a)| a.quota > 0) {
                accounts.insert(key, account, now);
            }
        }
        change(accounts.get_mut(phone, now).expect("just ensured"))
    }

    pub fn waiting(&self, now: Instant) -> u64 {
        self.room.lock().expect("room lock").stats(now).waiting
    }

    pub fn pending_credits(&self) -> usize {
        self.pending.lock().expect("pending lock").len()
    }

    /// The payment's callback arrived: credit it once.
    fn credit(&self, twin: &Twin, payment: &str, now: Instant) {
        let Some(credit) = self.pending.lock().expect("pending lock").remove(payment) else {
            twin.ledger.record(|c| c.duplicate_callbacks_ignored += 1);
            return;
        };
        let at_s = twin.uptime(now);
        self.with_account(&credit.phone, now, |a| {
            a.quota += credit.quantity;
            a.push(at_s, credit.quantity as i64, "credited");
            twin.ledger.record(|c| {
                c.credits_pending -= 1;
                c.payments_credited += 1;
                c.quota_credited += credit.quantity;
            });
        });
        twin.ledger.credited(&credit.order);
        if let Some(order) = self
            .orders
            .lock()
            .expect("orders lock")
            .get_mut(&credit.order, now)
        {
            order.status = OrderStatus::Credited;
        }
    }

    /// The payment's callback was lost: paid, never credited.
    fn lose(&self, twin: &Twin, payment: &str) {
        if self
            .pending
            .lock()
            .expect("pending lock")
            .remove(payment)
            .is_some()
        {
            twin.ledger.record(|c| {
                c.credits_pending -= 1;
                c.credits_lost += 1;
            });
        }
    }
}

impl Account {
    /// Takes one unit of quota, or says there is none.
    pub fn spend(&mut self, at_s: f64, reason: &'static str) -> bool {
        if self.quota == 0 {
            return false;
        }
        self.quota -= 1;
        self.push(at_s, -1, reason);
        true
    }

    pub fn refund(&mut self, at_s: f64) {
        self.quota += 1;
        self.push(at_s, 1, "refund");
    }

    fn push(&mut self, at_s: f64, change: i64, reason: &'static str) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(HistoryEntry {
            at_s,
            change,
            reason,
        });
    }
}

/// The callback of one payment: late, maybe lost, maybe twice, and held
/// while a core outage (or its recovery) suspends credits.
async fn deliver(twin: Arc<Twin>, payment: String) {
    let delay = twin
        .faults
        .callbacks()
        .delay
        .unwrap_or(twin.config.payments.callback_delay);
    tokio::time::sleep(random::sample(&delay)).await;
    let retries = twin.config.payments.callback_retries;
    let mut left = retries.map_or(0, |r| r.attempts);
    let effect = loop {
        let effect = twin.faults.callbacks();
        if !random::chance(effect.drop) {
            break effect;
        }
        match retries {
            Some(r) if left > 0 => {
                left -= 1;
                tokio::time::sleep(r.every.0).await;
            }
            _ => {
                twin.storefront.lose(&twin, &payment);
                return;
            }
        }
    };
    twin.faults.wait(None, |f, now| f.credits(now)).await;
    twin.storefront.credit(&twin, &payment, Instant::now());
    if random::chance(effect.duplicate) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        twin.storefront.credit(&twin, &payment, Instant::now());
    }
}

/// The waiting room's settings now: a switch's, or the configured ones.
fn room_params(twin: &Twin) -> Params {
    let cfg = &twin.config.waiting_room;
    match twin.faults.waiting_room() {
        Some(f) => Params {
            enabled: true,
            admit_per_s: f.admit.as_per_second(),
            queue: f.queue.unwrap_or(cfg.queue),
        },
        None => Params {
            enabled: cfg.enabled,
            admit_per_s: cfg.admit.as_per_second(),
            queue: cfg.queue,
        },
    }
}

const HOME: &str = "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>e-Meterai (surge twin)</title></head>\
<body><h1>e-Meterai</h1><p>Beli dan bubuhkan e-Meterai untuk dokumen Anda. This is surge's twin of an e-Meterai \
storefront, for rehearsals.</p><ul><li>POST /storefront/queue</li><li>POST /storefront/login</li>\
<li>POST /storefront/orders</li><li>POST /stamping/documents</li></ul><p><a href=\"/storefront/app\">Open the storefront page</a> \
(the whole journey in a browser).</p></body></html>";

async fn home() -> Html<&'static str> {
    Html(HOME)
}

async fn join(State(twin): State<Arc<Twin>>) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let now = Instant::now();
    let params = room_params(&twin);
    let view = twin
        .storefront
        .room
        .lock()
        .expect("room lock")
        .join(now, params);
    match view {
        Some(v) => Ok((StatusCode::CREATED, Json(v))),
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_full",
            "the waiting room is full; try again later",
        )
        .retry_after(30)),
    }
}

async fn ticket(
    State(twin): State<Arc<Twin>>,
    Path(ticket): Path<String>,
) -> ApiResult<Json<TicketView>> {
    let params = room_params(&twin);
    let view =
        twin.storefront
            .room
            .lock()
            .expect("room lock")
            .poll(&ticket, Instant::now(), params);
    view.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::GONE,
            "ticket_lost",
            format!("ticket `{ticket}` is unknown or lost its place; join again"),
        )
    })
}

#[derive(Deserialize)]
struct LoginRequest {
    phone: String,
}

async fn login(
    State(twin): State<Arc<Twin>>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let phone = req.phone.trim();
    if phone.is_empty() || phone.len() > 64 {
        return Err(ApiError::bad_request("`phone` must be 1 to 64 characters"));
    }
    let now = Instant::now();
    let store = &twin.storefront;
    let challenge = store.id('C');
    let deliver_at = now + random::sample(&twin.config.accounts.otp_delay);
    let entry = Challenge {
        phone: phone.into(),
        code: random::otp_code(),
        deliver_at,
    };
    store
        .challenges
        .lock()
        .expect("challenges lock")
        .insert(challenge.clone(), entry, now);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "challenge": challenge, "sent_to": phone })),
    ))
}

/// The applicant's phone inbox: the code, once the message has arrived.
async fn otp(
    State(twin): State<Arc<Twin>>,
    Path(challenge): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let now = Instant::now();
    let challenges = twin.storefront.challenges.lock().expect("challenges lock");
    let c = challenges
        .get(&challenge, now)
        .ok_or_else(|| ApiError::not_found("challenge", &challenge))?;
    Ok(Json(if now >= c.deliver_at {
        json!({ "delivered": true, "code": c.code })
    } else {
        json!({ "delivered": false })
    }))
}

#[derive(Deserialize)]
struct VerifyRequest {
    challenge: String,
    code: String,
}

async fn verify(
    State(twin): State<Arc<Twin>>,
    Body(req): Body<VerifyRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let now = Instant::now();
    let store = &twin.storefront;
    let phone = {
        let mut challenges = store.challenges.lock().expect("challenges lock");
        let c = challenges
            .get(&req.challenge, now)
            .ok_or_else(|| ApiError::not_found("challenge", &req.challenge))?;
        if c.code != req.code {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_code",
                "the one-time password does not match",
            ));
        }
        let phone = c.phone.clone();
        challenges.remove(&req.challenge);
        phone
    };
    let returning = &twin.config.accounts.returning;
    let at_s = twin.uptime(now);
    let quota = store.with_account(&phone, now, |a| {
        // Returning applicants bought their quota earlier in the season.
        if a.history.is_empty()
            && a.quota == 0
            && phone.starts_with(returning.prefix.as_str())
            && returning.quota > 0
        {
            a.quota = u64::from(returning.quota);
            a.push(at_s, i64::from(returning.quota), "bought earlier");
        }
        a.quota
    });
    let session = random::token();
    store
        .sessions
        .lock()
        .expect("sessions lock")
        .insert(session.clone(), phone, now);
    Ok(Json(json!({ "session": session, "quota": quota })))
}

#[derive(Deserialize)]
struct OrderRequest {
    quantity: u64,
}

async fn create_order(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    Body(req): Body<OrderRequest>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let now = Instant::now();
    let store = &twin.storefront;
    let phone = store.session(&headers, now)?;
    if !(1..=10).contains(&req.quantity) {
        return Err(ApiError::bad_request("`quantity` must be from 1 to 10"));
    }
    if !twin.faults.core(now).sales_open {
        return Err(ApiError::unavailable(
            "sales are closed while the platform recovers",
        ));
    }
    if room_params(&twin).enabled {
        let admission = headers
            .get("x-admission")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !store
            .room
            .lock()
            .expect("room lock")
            .admits(&admission.to_string(), now)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "not_admitted",
                "the waiting room is on: join the queue and send `X-Admission` with your admission token",
            ));
        }
    }
    let order = store.id('O');
    let amount = req.quantity * twin.config.payments.unit_price;
    let entry = Order {
        phone,
        quantity: req.quantity,
        status: OrderStatus::AwaitingPayment,
    };
    store
        .orders
        .lock()
        .expect("orders lock")
        .insert(order.clone(), entry, now);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "order": order, "quantity": req.quantity, "amount": amount })),
    ))
}

async fn order(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    Path(order): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let now = Instant::now();
    let phone = twin.storefront.session(&headers, now)?;
    let mut orders = twin.storefront.orders.lock().expect("orders lock");
    let o = orders
        .touch(&order, now)
        .filter(|o| o.phone == phone)
        .ok_or_else(|| ApiError::not_found("order", &order))?;
    Ok(Json(
        json!({ "order": order, "quantity": o.quantity, "status": o.status }),
    ))
}

async fn pay(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    Path(order): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let now = Instant::now();
    let store = &twin.storefront;
    let phone = store.session(&headers, now)?;
    let payment = format!("P{}", order.trim_start_matches('O'));
    let quantity = {
        let mut orders = store.orders.lock().expect("orders lock");
        let o = orders
            .touch(&order, now)
            .filter(|o| o.phone == phone)
            .ok_or_else(|| ApiError::not_found("order", &order))?;
        if o.status != OrderStatus::AwaitingPayment {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_paid",
                format!("order `{order}` is paid already"),
            ));
        }
        o.status = OrderStatus::Paid;
        o.quantity
    };
    let credit = Credit {
        phone,
        order: order.clone(),
        quantity,
    };
    store
        .pending
        .lock()
        .expect("pending lock")
        .insert(payment.clone(), credit);
    twin.ledger.record(|c| {
        c.payments_captured += 1;
        c.credits_pending += 1;
    });
    let task = twin.clone();
    let id = payment.clone();
    twin.spawn(async move { deliver(task, id).await });
    Ok(Json(
        json!({ "payment": payment, "order": order, "status": "captured" }),
    ))
}

async fn quota(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let now = Instant::now();
    let phone = twin.storefront.session(&headers, now)?;
    let (balance, history) = twin
        .storefront
        .with_account(&phone, now, |a| (a.quota, a.history.clone()));
    Ok(Json(json!({ "balance": balance, "history": history })))
}
