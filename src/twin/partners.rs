//! The partner channels: distributors who sell e-Meterai to walk-in
//! customers. A reseller holds its own stock of serial numbers (bought from
//! the core, restocked when low if it has a refill rule) and keeps selling
//! from it while the core is down, until it runs dry ("stok habis"). A
//! pass-through counter, such as the post office, holds nothing and calls
//! the core for every operation, so a core outage stops it at once.
//! Stamping always needs the core's signature.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::Twin;
use super::api::{ApiError, ApiResult, Body, bearer};
use super::core::{CoreError, Serial, sha256_hex};
use super::expiring::Expiring;
use super::ledger::Ledger;
use super::random;
use super::stamping::accept_pdf;
use crate::scenario::model::{PartnerKind, Refill, TwinConfig};

/// Serial numbers one request may buy.
const MAX_BATCH: u64 = 100;

pub fn routes(config: &TwinConfig) -> Router<Arc<Twin>> {
    let limit = DefaultBodyLimit::max(config.stamping.max_upload.0 as usize + 1);
    Router::new()
        .route("/partners/{partner}/login", post(login))
        .route("/partners/{partner}/balance", get(balance))
        .route("/partners/{partner}/serials", post(serials))
        .route("/partners/{partner}/stamp", post(stamp).layer(limit))
}

struct Partner {
    kind: PartnerKind,
    /// A reseller's own serial numbers.
    pool: Mutex<VecDeque<Serial>>,
    refill: Option<Refill>,
}

pub struct Partners {
    by_name: HashMap<String, Partner>,
    /// Session token → partner name.
    tokens: Mutex<Expiring<String, String>>,
}

impl Partners {
    /// The partners of `config`; resellers receive their starting stock.
    pub fn new(config: &TwinConfig, core: &super::core::Core, ledger: &Ledger) -> Self {
        let by_name = config
            .partners
            .iter()
            .map(|(name, p)| {
                let pool = if p.kind == PartnerKind::Reseller {
                    core.issue_initial(p.stock, ledger)
                } else {
                    vec![]
                };
                let partner = Partner {
                    kind: p.kind,
                    pool: Mutex::new(pool.into()),
                    refill: p.refill.clone(),
                };
                (name.clone(), partner)
            })
            .collect();
        Partners {
            by_name,
            tokens: Mutex::new(Expiring::new(config.accounts.session_ttl.0)),
        }
    }

    /// Stock held by each reseller now.
    pub fn stocks(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = self
            .by_name
            .iter()
            .filter(|(_, p)| p.kind == PartnerKind::Reseller)
            .map(|(n, p)| (n.as_str(), p.pool.lock().expect("pool lock").len()))
            .collect();
        out.sort();
        out
    }

    fn get(&self, name: &str) -> ApiResult<&Partner> {
        self.by_name
            .get(name)
            .ok_or_else(|| ApiError::not_found("partner", name))
    }

    /// The partner the request's token belongs to, which must be `name`.
    fn authorize(&self, name: &str, headers: &HeaderMap, now: Instant) -> ApiResult<&Partner> {
        let partner = self.get(name)?;
        let token = bearer(headers)
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        match self.tokens.lock().expect("tokens lock").get(&token, now) {
            Some(owner) if owner == name => Ok(partner),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

fn stok_habis(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "stock_exhausted",
        format!("stok habis: {name} has no serial numbers left"),
    )
}

/// Takes `n` serial numbers for a sale or a stamp: from the reseller's own
/// pool (restocking from the core when low), or from the core.
fn take(twin: &Twin, name: &str, partner: &Partner, n: u64) -> ApiResult<Vec<Serial>> {
    if partner.kind == PartnerKind::PassThrough {
        return Ok(twin.core.issue(n, &twin.faults, &twin.ledger)?);
    }
    let mut pool = partner.pool.lock().expect("pool lock");
    if twin.faults.reseller_exhausted(name) || (pool.len() as u64) < n {
        let at_ms = (twin.uptime(Instant::now()) * 1000.0) as u64;
        twin.ledger.stock_out(name, at_ms);
        return Err(stok_habis(name));
    }
    let taken: Vec<Serial> = pool.drain(..n as usize).collect();
    if let Some(rule) = &partner.refill
        && (pool.len() as u64) < rule.below
    {
        // Restocking needs the core; a failed attempt is retried on the
        // next sale.
        if let Ok(more) = twin.core.issue(rule.batch, &twin.faults, &twin.ledger) {
            pool.extend(more);
        }
    }
    Ok(taken)
}

#[derive(Deserialize)]
struct LoginRequest {
    client_id: String,
}

async fn login(
    State(twin): State<Arc<Twin>>,
    Path(name): Path<String>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let partner = twin.partners.get(&name)?;
    if req.client_id != name {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown_client",
            "`client_id` is not this partner's",
        ));
    }
    let token = random::token();
    twin.partners.tokens.lock().expect("tokens lock").insert(
        token.clone(),
        name.clone(),
        Instant::now(),
    );
    Ok(Json(
        json!({ "token": token, "partner": name, "kind": partner.kind }),
    ))
}

async fn balance(
    State(twin): State<Arc<Twin>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let partner = twin.partners.authorize(&name, &headers, Instant::now())?;
    let stock = match partner.kind {
        PartnerKind::Reseller if twin.faults.reseller_exhausted(&name) => 0,
        PartnerKind::Reseller => partner.pool.lock().expect("pool lock").len() as u64,
        PartnerKind::PassThrough => {
            twin.core.gate(&twin.faults).await?;
            if twin.faults.core(Instant::now()).stock_exhausted {
                0
            } else {
                twin.core.remaining()
            }
        }
    };
    Ok(Json(
        json!({ "partner": name, "kind": partner.kind, "stock": stock }),
    ))
}

#[derive(Deserialize)]
struct SerialsRequest {
    #[serde(default = "one")]
    count: u64,
}

fn one() -> u64 {
    1
}

async fn serials(
    State(twin): State<Arc<Twin>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Body(req): Body<SerialsRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let partner = twin.partners.authorize(&name, &headers, Instant::now())?;
    if !(1..=MAX_BATCH).contains(&req.count) {
        return Err(ApiError::bad_request(format!(
            "`count` must be from 1 to {MAX_BATCH}"
        )));
    }
    if partner.kind == PartnerKind::PassThrough {
        twin.core.gate(&twin.faults).await?;
    }
    let serials = take(&twin, &name, partner, req.count)?;
    let serials: Vec<String> = serials.iter().map(Serial::to_string).collect();
    Ok(Json(json!({ "partner": name, "serials": serials })))
}

#[derive(Deserialize)]
struct StampQuery {
    serial: Option<String>,
}

async fn stamp(
    State(twin): State<Arc<Twin>>,
    Path(name): Path<String>,
    Query(query): Query<StampQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let partner = twin.partners.authorize(&name, &headers, Instant::now())?;
    let bytes = accept_pdf(body, twin.config.stamping.max_upload)?;
    let digest = sha256_hex(&bytes);
    // Queue first: a full signing queue refuses before a serial is spent.
    let slot = twin.core.enter()?;
    twin.core.gate(&twin.faults).await?;
    let serial = match &query.serial {
        Some(text) => {
            let serial: Serial = text
                .parse()
                .map_err(|_| ApiError::bad_request(format!("`{text}` is not a serial number")))?;
            if !twin.core.spend(serial) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "serial_unusable",
                    format!("serial `{text}` was never issued, or is spent already"),
                ));
            }
            serial
        }
        None => {
            let serial = take(&twin, &name, partner, 1)?[0];
            twin.core.spend(serial);
            serial
        }
    };
    match twin.core.sign(slot, &twin.faults, serial, &digest).await {
        Ok(signature) => {
            twin.ledger.record(|c| c.partner_stamps_completed += 1);
            Ok(Json(json!({
                "partner": name,
                "serial": serial.to_string(),
                "sha256": digest,
                "signature": signature,
            })))
        }
        Err(e) => {
            twin.ledger.record(|c| {
                c.stamps_failed += 1;
                c.serials_wasted += 1;
            });
            Err(match e {
                // A hung core would have timed the client out anyway.
                CoreError::Timeout => {
                    ApiError::from(e).retry_after(Duration::from_secs(5).as_secs() as u32)
                }
                _ => e.into(),
            })
        }
    }
}
