//! The proxy's HTTP control API, so toxics can be switched live by a
//! person, a script or `surge run` itself. Toxics are the same JSON as a
//! scenario's fault entries (`fault`, `toxicity`, `stream`, `name`).
//!
//! - `GET /proxies`: every proxy with its address, upstream and toxics
//! - `GET /proxies/{name}/toxics`
//! - `POST /proxies/{name}/toxics`: switch one on; answers `{"id": N}`
//! - `DELETE /proxies/{name}/toxics/{id}`: switch one off
//! - `DELETE /proxies/{name}/toxics`: switch all off

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::json;

use super::{Proxy, ProxyError, ToxicSpec};

pub type Proxies = Arc<BTreeMap<String, Arc<Proxy>>>;

pub fn router(proxies: Proxies) -> Router {
    Router::new()
        .route("/proxies", get(list_proxies))
        .route(
            "/proxies/{name}/toxics",
            get(list_toxics).post(add).delete(clear),
        )
        .route("/proxies/{name}/toxics/{id}", delete(remove))
        .with_state(proxies)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn find(proxies: &Proxies, name: &str) -> Result<Arc<Proxy>, Box<Response>> {
    proxies.get(name).cloned().ok_or_else(|| {
        let known: Vec<&String> = proxies.keys().collect();
        Box::new(error(
            StatusCode::NOT_FOUND,
            format!("no proxy named `{name}`; there are {known:?}"),
        ))
    })
}

async fn list_proxies(State(proxies): State<Proxies>) -> Json<serde_json::Value> {
    Json(json!(
        proxies
            .values()
            .map(|p| json!({
                "name": p.name,
                "listen": p.addr().to_string(),
                "upstream": p.upstream.to_string(),
                "connections": p.connections(),
                "toxics": p.list(),
            }))
            .collect::<Vec<_>>()
    ))
}

async fn list_toxics(State(proxies): State<Proxies>, Path(name): Path<String>) -> Response {
    match find(&proxies, &name) {
        Ok(p) => Json(p.list()).into_response(),
        Err(r) => *r,
    }
}

async fn add(
    State(proxies): State<Proxies>,
    Path(name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    // A body the server would not take (too large, cut off) is answered
    // like every other error of this API: JSON.
    let body = match body {
        Ok(b) => b,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let spec: ToxicSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "not a toxic: {e}; send e.g. {{\"fault\": {{\"latency\": {{\"delay\": \"100ms\"}}}}, \"toxicity\": \"50%\"}}"
                ),
            );
        }
    };
    match proxy.add(spec) {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

async fn remove(State(proxies): State<Proxies>, Path((name, id)): Path<(String, u64)>) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match proxy.remove(id) {
        Ok(view) => Json(json!({ "removed": view.id, "name": view.name })).into_response(),
        Err(e @ ProxyError::Unknown(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

async fn clear(State(proxies): State<Proxies>, Path(name): Path<String>) -> Response {
    match find(&proxies, &name) {
        Ok(p) => Json(json!({ "removed": p.clear() })).into_response(),
        Err(r) => *r,
    }
}
