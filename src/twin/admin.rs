//! The operator's side of the twin: the ledger and its invariants, the
//! fault switches (list, turn on, turn off), the configuration in force,
//! and Prometheus metrics. All routes in one place, like toxiproxy's API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::Twin;
use super::api::{ApiError, ApiResult, Body};
use super::faults::{FaultError, View};
use super::ledger::Snapshot;
use crate::scenario::model::FaultKind;
use crate::scenario::refs::FaultOn;
use crate::scenario::units::Duration;

pub fn routes() -> Router<Arc<Twin>> {
    Router::new()
        .route("/admin/ledger", get(ledger))
        .route("/admin/ledger/credited", get(credited))
        .route("/admin/faults", get(list).post(apply).delete(clear_all))
        .route("/admin/faults/{id}", delete(clear))
        .route("/admin/config", get(config))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
}

async fn ledger(State(twin): State<Arc<Twin>>) -> Json<Snapshot> {
    Json(twin.ledger.snapshot())
}

/// The orders whose payment was credited: the twin's side of a books
/// reconciliation (`values: $.orders`).
async fn credited(State(twin): State<Arc<Twin>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "orders": twin.ledger.credited_orders() }))
}

async fn list(State(twin): State<Arc<Twin>>) -> Json<Vec<View>> {
    Json(twin.faults.list(Instant::now()))
}

/// `POST /admin/faults`: the same fields as a scenario's fault entry, with
/// `for` optional (without it the switch stays on until deleted).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    name: Option<String>,
    on: FaultOn,
    fault: FaultKind,
    #[serde(rename = "for")]
    lasts: Option<Duration>,
}

impl From<FaultError> for ApiError {
    fn from(e: FaultError) -> ApiError {
        let (status, code) = match e {
            FaultError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fault"),
            FaultError::Conflict { .. } => (StatusCode::CONFLICT, "fault_conflict"),
            FaultError::Unknown(_) => (StatusCode::NOT_FOUND, "not_found"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

async fn apply(
    State(twin): State<Arc<Twin>>,
    Body(req): Body<FaultRequest>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let id = twin
        .faults
        .apply(req.name, &req.on, req.fault, &twin.config, Instant::now())?;
    if let Some(lasts) = req.lasts {
        let task = twin.clone();
        twin.spawn(async move {
            tokio::time::sleep(lasts.0).await;
            // Already off if someone deleted it meanwhile.
            let _ = task.faults.clear(id, Instant::now());
        });
    }
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn clear(
    State(twin): State<Arc<Twin>>,
    Path(id): Path<u64>,
) -> ApiResult<Json<serde_json::Value>> {
    let gone = twin.faults.clear(id, Instant::now())?;
    Ok(Json(json!({ "cleared": id, "name": gone.name })))
}

async fn clear_all(State(twin): State<Arc<Twin>>) -> Json<serde_json::Value> {
    Json(json!({ "cleared": twin.faults.clear_all() }))
}

async fn config(State(twin): State<Arc<Twin>>) -> impl IntoResponse {
    Json(twin.config.clone())
}

async fn metrics(State(twin): State<Arc<Twin>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        twin.metrics.render(&twin),
    )
}
