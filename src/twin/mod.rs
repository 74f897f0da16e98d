//! The twin: a reference e-Meterai platform to rehearse against, so a
//! rehearsal runs out of the box and the failure modes of September 2024
//! can be reproduced on purpose. An axum service with the platform's
//! channels (`storefront`, `stamping`, `partners`), its core (serial stock,
//! signing pool), an admin API (ledger, fault switches, metrics), and
//! capacity that comes only from its configuration, never from the HTTP
//! server: the uncapped endpoints (home page, ticket poll, quota read) stay
//! far faster than any rehearsal needs.
//!
//! It runs in-process for `surge run` (see [`start`]) or on its own
//! (`surge twin`, see [`serve`]). It never sends a request anywhere.

mod admin;
mod api;
mod app;
pub mod core;
mod expiring;
pub mod faults;
mod fitted;
pub mod ledger;
mod metrics;
mod partners;
mod pool;
mod random;
mod stamping;
mod storefront;
mod waiting_room;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::scenario::model::{OutageMode, TwinConfig};
use crate::scenario::refs::Channel;
use api::ApiError;

/// The platform's state: every channel, the core, the books and the
/// switches.
pub struct Twin {
    config: TwinConfig,
    faults: faults::Faults,
    ledger: ledger::Ledger,
    core: core::Core,
    storefront: storefront::Storefront,
    stamping: stamping::Stamping,
    partners: partners::Partners,
    fitted: Option<fitted::FittedPlatform>,
    metrics: metrics::Metrics,
    started: Instant,
    stop: watch::Sender<bool>,
}

impl Twin {
    pub fn new(config: TwinConfig) -> Arc<Twin> {
        let now = Instant::now();
        let ledger = ledger::Ledger::default();
        let core = core::Core::new(&config);
        let partners = partners::Partners::new(&config, &core, &ledger);
        Arc::new(Twin {
            storefront: storefront::Storefront::new(&config, now),
            stamping: stamping::Stamping::new(&config),
            faults: faults::Faults::default(),
            fitted: config.fitted.as_ref().map(fitted::FittedPlatform::new),
            metrics: metrics::Metrics::default(),
            stop: watch::channel(false).0,
            started: now,
            ledger,
            core,
            partners,
            config,
        })
    }

    pub fn config(&self) -> &TwinConfig {
        &self.config
    }

    /// The fault switches, for a fault timeline running in-process.
    pub fn faults(&self) -> &faults::Faults {
        &self.faults
    }

    /// The books now, with the invariants' verdicts.
    pub fn ledger(&self) -> ledger::Snapshot {
        self.ledger.snapshot()
    }

    pub(crate) fn uptime(&self, now: Instant) -> f64 {
        (now - self.started).as_secs_f64()
    }

    /// Runs background work (payment callbacks, stamp jobs) that ends when
    /// the twin stops.
    fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = work => {}
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
        });
    }

    /// Ends background work; requests already answered are unaffected.
    fn halt(&self) {
        self.stop.send_replace(true);
    }
}

/// The twin's HTTP routes.
pub fn router(twin: Arc<Twin>) -> Router {
    // A fitted platform replaces the twin's own channels.
    let channels = match twin.fitted {
        Some(_) => Router::new(),
        None => Router::new()
            .merge(storefront::routes())
            .merge(app::routes())
            .merge(stamping::routes(&twin.config))
            .merge(partners::routes(&twin.config)),
    };
    channels
        .merge(admin::routes())
        .fallback(unrouted)
        .layer(middleware::from_fn_with_state(twin.clone(), channel_faults))
        .layer(middleware::from_fn_with_state(twin.clone(), track))
        .with_state(twin)
}

/// A fitted platform's route, or 404.
async fn unrouted(State(twin): State<Arc<Twin>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(platform) = &twin.fitted {
        // Read what was sent, as the platform would have, so the
        // connection stays usable.
        let limit = twin.config.stamping.max_upload.0 as usize + 1;
        if axum::body::to_bytes(body, limit).await.is_err() {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("bodies are limited to {}", twin.config.stamping.max_upload),
            )
            .into_response();
        }
        if let Some(answer) = platform.answer(&parts.method, parts.uri.path()).await {
            return answer;
        }
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", parts.method, parts.uri.path()),
    )
    .into_response()
}

/// The channel a request belongs to, from its path.
fn channel_of(path: &str) -> Option<Channel> {
    let mut parts = path.trim_start_matches('/').split('/');
    match parts.next()? {
        "storefront" => Some(Channel::Storefront),
        "stamping" => Some(Channel::Stamping),
        "partners" => parts.next().map(|p| Channel::Partner(p.to_string())),
        _ => None,
    }
}

/// Applies the switches on the request's channel: outage, added latency,
/// injected errors.
async fn channel_faults(State(twin): State<Arc<Twin>>, req: Request, next: Next) -> Response {
    let effect = match channel_of(req.uri().path()) {
        Some(channel) => twin.faults.channel(&channel),
        None => return next.run(req).await,
    };
    match effect.outage {
        Some(OutageMode::Unavailable) => {
            return ApiError::unavailable("this channel is down").into_response();
        }
        Some(OutageMode::Hang) => {
            // Hold the request until the switch is off; a client gives up
            // long before the cap.
            let channel = channel_of(req.uri().path()).expect("matched above");
            let cap = Instant::now() + std::time::Duration::from_secs(300);
            twin.faults
                .wait(Some(cap), |f, _| match f.channel(&channel).outage {
                    Some(_) => faults::Wait::OnChange,
                    None => faults::Wait::Ready,
                })
                .await;
        }
        None => {}
    }
    if let Some((delay, jitter)) = effect.latency {
        tokio::time::sleep(random::jittered(delay, jitter)).await;
    }
    if let Some((rate, status)) = effect.error
        && random::chance(rate)
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return ApiError::new(status, "injected", "an error injected by a fault switch")
            .into_response();
    }
    next.run(req).await
}

/// Counts and times every request for `/metrics`.
async fn track(State(twin): State<Arc<Twin>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    twin.metrics
        .observe(route, response.status().as_u16(), started.elapsed());
    response
}

/// Serves the twin on `listener` until `shutdown` completes, then lets
/// requests in flight finish and stops background work.
pub async fn serve(
    listener: TcpListener,
    twin: Arc<Twin>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(twin.clone());
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    twin.halt();
    result
}

/// A twin serving in the background of this process.
pub struct Running {
    pub addr: SocketAddr,
    pub twin: Arc<Twin>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Starts a twin on `addr` (port 0 for any free port).
pub async fn start(config: TwinConfig, addr: SocketAddr) -> std::io::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let twin = Twin::new(config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, twin.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        twin,
        stop,
        task,
    })
}

impl Running {
    /// `http://ADDR`, the base URL of every channel.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits until the server has.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}
