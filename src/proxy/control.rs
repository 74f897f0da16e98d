//! The proxy's control API: Toxiproxy's HTTP API (2.x), so its CLI, its
//! client libraries and the scripts built on them drive `surge proxy`
//! unchanged. The vocabulary (bodies, attribute units, errors) is in
//! `toxiproxy`; this holds the set of proxies and the routes:
//!
//! - `GET /version`; `POST /reset` (enable every proxy, remove every toxic)
//! - `GET /proxies` (by name); `POST /proxies`; `POST /populate`
//! - `GET`, `POST`/`PATCH` (update), `DELETE /proxies/{proxy}`
//! - `GET`, `POST /proxies/{proxy}/toxics`
//! - `GET`, `POST`/`PATCH` (update), `DELETE /proxies/{proxy}/toxics/{toxic}`
//!
//! Upstreams must be on loopback unless allowed by host, and a proxy
//! listens on loopback unless the server was started to listen anywhere:
//! an API that opens ports must not open them to the network by accident.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::toxiproxy::{self, ApiError, ProxyIn, ToxicIn};
use super::{Proxy, ToxicSpec};

/// Which addresses proxies may use.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Upstream hosts allowed off loopback.
    pub allow_hosts: Vec<String>,
    /// Proxies may listen off loopback.
    pub listen_anywhere: bool,
}

impl Policy {
    /// Where a proxy may listen: `listen` resolved, on loopback unless
    /// allowed. Toxiproxy takes an empty `listen` as any port; so does this,
    /// on 127.0.0.1.
    pub async fn listen(&self, listen: Option<&str>) -> Result<SocketAddr, ApiError> {
        let text = listen.filter(|l| !l.is_empty()).unwrap_or("127.0.0.1:0");
        let addr = resolve(text).await?;
        if !self.listen_anywhere && !addr.ip().is_loopback() {
            return Err(ApiError::Forbidden(format!(
                "listen `{text}` is off loopback; start `surge proxy --listen-anywhere` to listen there"
            )));
        }
        Ok(addr)
    }

    /// Where a proxy may send its connections: on loopback, or a host
    /// allowed by name.
    pub async fn upstream(&self, upstream: &str) -> Result<SocketAddr, ApiError> {
        let (host, port) = crate::net::split_host_port(upstream).ok_or_else(|| {
            ApiError::BadBody(format!(
                "upstream `{upstream}` is not host:port (e.g. 127.0.0.1:8080)"
            ))
        })?;
        let allowed = self
            .allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
        if !allowed && !crate::net::resolves_to_loopback(host, port) {
            return Err(ApiError::Forbidden(format!(
                "upstream `{host}` is not on loopback; list it under `allow_hosts` in the config or pass `--allow-host {host}` if you may load it"
            )));
        }
        resolve(upstream).await
    }
}

async fn resolve(text: &str) -> Result<SocketAddr, ApiError> {
    match tokio::net::lookup_host(text).await.map(|mut a| a.next()) {
        Ok(Some(a)) => Ok(a),
        Ok(None) | Err(_) => Err(ApiError::BadBody(format!(
            "cannot resolve `{text}`; give host:port, e.g. 127.0.0.1:8080"
        ))),
    }
}

/// A proxy as the API knows it.
struct Listed {
    proxy: Arc<Proxy>,
    /// The upstream as it was given (Toxiproxy shows it so).
    upstream: String,
}

impl Listed {
    fn json(&self) -> Value {
        json!({
            "name": self.proxy.name,
            "listen": self.proxy.addr().to_string(),
            "upstream": self.upstream,
            "enabled": self.proxy.is_enabled(),
            "toxics": self.proxy.list().iter().map(toxiproxy::toxic_json).collect::<Vec<_>>(),
        })
    }
}

/// The proxies of one `surge proxy`, changed only through here. One lock
/// over the set: API calls are few, and a toxic's name must be checked
/// free and taken in one step.
pub struct Control {
    proxies: Mutex<BTreeMap<String, Listed>>,
    policy: Policy,
}

type Reply = Result<(StatusCode, Value), ApiError>;

impl Control {
    pub fn new(policy: Policy) -> Arc<Control> {
        Arc::new(Control {
            proxies: Mutex::new(BTreeMap::new()),
            policy,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Creates a proxy (`POST /proxies`); the config file's proxies come
    /// this way too, so they meet the same checks.
    pub async fn create(&self, input: ProxyIn) -> Result<Arc<Proxy>, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let (name, upstream) = required(&input, None)?;
        if proxies.contains_key(&name) {
            return Err(ApiError::ProxyExists);
        }
        let listed = self.start(&name, &input, &upstream).await?;
        let proxy = listed.proxy.clone();
        proxies.insert(name, listed);
        Ok(proxy)
    }

    async fn start(&self, name: &str, input: &ProxyIn, upstream: &str) -> Result<Listed, ApiError> {
        let listen = self.policy.listen(input.listen.as_deref()).await?;
        let to = self.policy.upstream(upstream).await?;
        let proxy = Proxy::start(name, listen, to).await.map_err(unavailable)?;
        if input.enabled == Some(false) {
            proxy.set_enabled(false).await.map_err(unavailable)?;
        }
        Ok(Listed {
            proxy,
            upstream: upstream.to_string(),
        })
    }

    /// `POST /populate`: creates each proxy of the list, or replaces one of
    /// the same name whose listen or upstream differ (one that matches is
    /// kept as it is, toxics and all). The whole list is checked first.
    async fn populate(&self, input: Vec<ProxyIn>) -> Reply {
        let mut proxies = self.proxies.lock().await;
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in input.iter().enumerate() {
            let (name, _) = required(p, Some(i + 1))?;
            if !seen.insert(name.clone()) {
                return Err(ApiError::BadBody(format!(
                    "proxy `{name}` is listed twice (at proxy {})",
                    i + 1
                )));
            }
        }
        let mut done = Vec::new();
        for p in &input {
            let (name, upstream) = required(p, None)?;
            let result = match proxies.get_mut(&name) {
                Some(existing) if self.same_place(existing, p, &upstream).await => {
                    Ok(existing.json())
                }
                // Replaced, as Toxiproxy replaces it: a fresh proxy, without
                // toxics, enabled unless the list says otherwise. The same
                // proxy moved, so a port it keeps is never let go.
                Some(existing) => {
                    let fresh = ProxyIn {
                        enabled: Some(p.enabled.unwrap_or(true)),
                        ..p.clone()
                    };
                    let changed = self.change(existing, &fresh).await;
                    changed.map(|()| {
                        existing.proxy.clear();
                        existing.json()
                    })
                }
                None => self.start(&name, p, &upstream).await.map(|listed| {
                    let json = listed.json();
                    proxies.insert(name, listed);
                    json
                }),
            };
            match result {
                Ok(json) => done.push(json),
                Err(e) => {
                    // Toxiproxy's answer: the error, and what was done.
                    let mut body = e.body();
                    body["proxies"] = json!(done);
                    return Ok((status(&e), body));
                }
            }
        }
        Ok((StatusCode::CREATED, json!({ "proxies": done })))
    }

    /// Whether `p` asks for the listen address and upstream `existing` has.
    async fn same_place(&self, existing: &Listed, p: &ProxyIn, upstream: &str) -> bool {
        let Ok(listen) = self.policy.listen(p.listen.as_deref()).await else {
            return false;
        };
        existing.upstream == upstream && already_at(listen, existing.proxy.addr())
    }

    /// `POST`/`PATCH /proxies/{proxy}`.
    async fn update(&self, name: &str, input: ProxyIn) -> Reply {
        let mut proxies = self.proxies.lock().await;
        let listed = proxies.get_mut(name).ok_or(ApiError::ProxyNotFound)?;
        if input.name.as_deref().is_some_and(|n| n != name) {
            return Err(ApiError::BadBody(
                "a proxy's name cannot change; delete it and create it again".into(),
            ));
        }
        self.change(listed, &input).await?;
        Ok((StatusCode::OK, listed.json()))
    }

    /// A new listen address or upstream cuts open connections (as in
    /// Toxiproxy); `enabled: false` refuses new ones and cuts open ones.
    /// Everything is checked before anything changes.
    async fn change(&self, listed: &mut Listed, input: &ProxyIn) -> Result<(), ApiError> {
        let at = listed.proxy.addr();
        let listen = match input.listen.as_deref() {
            Some(l) if l != at.to_string() => Some(self.policy.listen(Some(l)).await?),
            _ => None,
        };
        let upstream = match input.upstream.as_deref() {
            Some(u) if u != listed.upstream => {
                Some((u.to_string(), self.policy.upstream(u).await?))
            }
            _ => None,
        };
        if let Some(l) = listen.filter(|l| !already_at(*l, at)) {
            listed.proxy.set_listen(l).await.map_err(unavailable)?;
        }
        if let Some((text, addr)) = upstream {
            listed.proxy.set_upstream(addr);
            listed.upstream = text;
        }
        if let Some(enabled) = input.enabled
            && enabled != listed.proxy.is_enabled()
        {
            listed
                .proxy
                .set_enabled(enabled)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn delete(&self, name: &str) -> Reply {
        let listed = self
            .proxies
            .lock()
            .await
            .remove(name)
            .ok_or(ApiError::ProxyNotFound)?;
        listed.proxy.stop().await;
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    async fn reset(&self) -> Reply {
        for listed in self.proxies.lock().await.values() {
            listed.proxy.clear();
            if !listed.proxy.is_enabled() {
                listed.proxy.set_enabled(true).await.map_err(unavailable)?;
            }
        }
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    async fn show(&self, name: &str) -> Reply {
        let proxies = self.proxies.lock().await;
        let listed = proxies.get(name).ok_or(ApiError::ProxyNotFound)?;
        Ok((StatusCode::OK, listed.json()))
    }

    async fn index(&self) -> Reply {
        let proxies = self.proxies.lock().await;
        let map: serde_json::Map<String, Value> = proxies
            .iter()
            .map(|(name, listed)| (name.clone(), listed.json()))
            .collect();
        Ok((StatusCode::OK, Value::Object(map)))
    }

    async fn toxics(&self, name: &str) -> Reply {
        let proxies = self.proxies.lock().await;
        let proxy = &proxies.get(name).ok_or(ApiError::ProxyNotFound)?.proxy;
        let list: Vec<Value> = proxy.list().iter().map(toxiproxy::toxic_json).collect();
        Ok((StatusCode::OK, json!(list)))
    }

    /// Adds a toxic; Toxiproxy answers 200 with it (not 201).
    async fn add_toxic(&self, name: &str, input: ToxicIn) -> Reply {
        let proxies = self.proxies.lock().await;
        let proxy = &proxies.get(name).ok_or(ApiError::ProxyNotFound)?.proxy;
        let spec: ToxicSpec = toxiproxy::new_toxic(input)?;
        let toxic = spec.name.clone().unwrap_or_default();
        if proxy.find(&toxic).is_some() {
            return Err(ApiError::ToxicExists);
        }
        let id = proxy
            .add(spec)
            .map_err(|e| ApiError::BadBody(e.to_string()))?;
        let view = proxy.find_id(id);
        Ok((
            StatusCode::OK,
            view.as_ref().map_or(Value::Null, toxiproxy::toxic_json),
        ))
    }

    async fn toxic(&self, name: &str, toxic: &str, change: Option<ToxicIn>) -> Reply {
        let proxies = self.proxies.lock().await;
        let proxy = &proxies.get(name).ok_or(ApiError::ProxyNotFound)?.proxy;
        let view = proxy.find(toxic).ok_or(ApiError::ToxicNotFound)?;
        let view = match change {
            None => view,
            Some(input) => {
                let spec = toxiproxy::updated_toxic(&view, input)?;
                proxy
                    .replace(view.id, spec)
                    .map_err(|e| ApiError::BadBody(e.to_string()))?
            }
        };
        Ok((StatusCode::OK, toxiproxy::toxic_json(&view)))
    }

    async fn remove_toxic(&self, name: &str, toxic: &str) -> Reply {
        let proxies = self.proxies.lock().await;
        let proxy = &proxies.get(name).ok_or(ApiError::ProxyNotFound)?.proxy;
        let id = proxy.find(toxic).ok_or(ApiError::ToxicNotFound)?.id;
        proxy.remove(id).map_err(|_| ApiError::ToxicNotFound)?;
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }
}

/// Whether a proxy listening at `at` already listens where `wanted` asks:
/// port 0 on the same host means any port, so where it is will do.
fn already_at(wanted: SocketAddr, at: SocketAddr) -> bool {
    wanted.ip() == at.ip() && (wanted.port() == 0 || wanted.port() == at.port())
}

/// A proxy's name and upstream, which Toxiproxy requires; `at` numbers the
/// proxy in a `/populate` list.
fn required(p: &ProxyIn, at: Option<usize>) -> Result<(String, String), ApiError> {
    let place = at.map(|i| format!(" at proxy {i}")).unwrap_or_default();
    let name = p.name.clone().filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| ApiError::MissingField(format!("name{place}")))?;
    let upstream = p.upstream.clone().filter(|u| !u.is_empty());
    let upstream = upstream.ok_or_else(|| ApiError::MissingField(format!("upstream{place}")))?;
    Ok((name, upstream))
}

/// A request's JSON body, or why it cannot be read: every error of this
/// API is JSON, a body too large included.
fn input<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|r| ApiError::Unreadable {
        status: r.status().as_u16(),
        message: r.body_text(),
    })?;
    toxiproxy::parse(&body)
}

fn unavailable(e: super::ProxyError) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

fn status(e: &ApiError) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn respond(reply: Reply) -> Response {
    match reply {
        Ok((code, _)) if code == StatusCode::NO_CONTENT => code.into_response(),
        Ok((code, body)) => (code, Json(body)).into_response(),
        Err(e) => (status(&e), Json(e.body())).into_response(),
    }
}

pub fn router(control: Arc<Control>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/proxies", get(index).post(create))
        .route("/populate", post(populate))
        .route(
            "/proxies/{proxy}",
            get(show).post(update).patch(update).delete(delete),
        )
        .route("/proxies/{proxy}/toxics", get(toxics).post(add_toxic))
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(toxic)
                .post(update_toxic)
                .patch(update_toxic)
                .delete(remove_toxic),
        )
        .fallback(unknown)
        .layer(axum::middleware::from_fn(no_browsers))
        .with_state(control)
}

/// Refuses browsers, as Toxiproxy does: a page must not be able to open
/// ports or cut connections on the machine that views it.
async fn no_browsers(request: Request, next: Next) -> Response {
    let browser = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser {
        let e = ApiError::Forbidden("User agent not allowed".into());
        return (StatusCode::FORBIDDEN, Json(e.body())).into_response();
    }
    next.run(request).await
}

async fn unknown() -> Response {
    let e = json!({
        "error": "no such endpoint; this is Toxiproxy's API: /version, /reset, /populate, /proxies, /proxies/{proxy}, /proxies/{proxy}/toxics, /proxies/{proxy}/toxics/{toxic}",
        "status": 404,
    });
    (StatusCode::NOT_FOUND, Json(e)).into_response()
}

async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION"), "server": "surge proxy" }))
}

async fn reset(State(c): State<Arc<Control>>) -> Response {
    respond(c.reset().await)
}

async fn index(State(c): State<Arc<Control>>) -> Response {
    respond(c.index().await)
}

async fn create(State(c): State<Arc<Control>>, body: Result<Bytes, BytesRejection>) -> Response {
    let reply = async {
        let proxy = c.create(input(body)?).await?;
        c.show(&proxy.name)
            .await
            .map(|(_, body)| (StatusCode::CREATED, body))
    };
    respond(reply.await)
}

async fn populate(State(c): State<Arc<Control>>, body: Result<Bytes, BytesRejection>) -> Response {
    let reply = async { c.populate(input(body)?).await };
    respond(reply.await)
}

async fn show(State(c): State<Arc<Control>>, Path(proxy): Path<String>) -> Response {
    respond(c.show(&proxy).await)
}

async fn update(
    State(c): State<Arc<Control>>,
    Path(proxy): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let reply = async { c.update(&proxy, input(body)?).await };
    respond(reply.await)
}

async fn delete(State(c): State<Arc<Control>>, Path(proxy): Path<String>) -> Response {
    respond(c.delete(&proxy).await)
}

async fn toxics(State(c): State<Arc<Control>>, Path(proxy): Path<String>) -> Response {
    respond(c.toxics(&proxy).await)
}

async fn add_toxic(
    State(c): State<Arc<Control>>,
    Path(proxy): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let reply = async { c.add_toxic(&proxy, input(body)?).await };
    respond(reply.await)
}

async fn toxic(
    State(c): State<Arc<Control>>,
    Path((proxy, toxic)): Path<(String, String)>,
) -> Response {
    respond(c.toxic(&proxy, &toxic, None).await)
}

async fn update_toxic(
    State(c): State<Arc<Control>>,
    Path((proxy, toxic)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let reply = async { c.toxic(&proxy, &toxic, Some(input(body)?)).await };
    respond(reply.await)
}

async fn remove_toxic(
    State(c): State<Arc<Control>>,
    Path((proxy, toxic)): Path<(String, String)>,
) -> Response {
    respond(c.remove_toxic(&proxy, &toxic).await)
}
