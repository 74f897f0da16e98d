//! Another platform, as `surge fit` measured it, served by the twin: each
//! route answers with the status and JSON body the platform gave, after
//! its service time, waiting first for a worker of its pool when it has
//! one (a bounded line: 503 beyond it, 504 past the pool's timeout). So
//! `capacity`, `whatif` and `predict` reach the SRE's own platform through
//! its fitted model. While a fitted platform is configured, the twin's own
//! channels are off: its routes are the fitted ones.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::pool::Pool;
use super::random;
use crate::scenario::model::{Distribution, Fitted};

struct Route {
    method: Method,
    /// `None`: any one segment.
    segments: Vec<Option<String>>,
    pool: Option<Arc<Pool>>,
    service: Option<Distribution>,
    status: StatusCode,
    body: Option<serde_json::Value>,
}

pub struct FittedPlatform {
    routes: Vec<Route>,
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_matches('/')
        .split('/')
}

impl FittedPlatform {
    /// The platform of `config`; a route naming a pool that is not there
    /// serves without one (validation refuses such a file first).
    pub fn new(config: &Fitted) -> FittedPlatform {
        let pools: HashMap<&str, Arc<Pool>> = config
            .pools
            .iter()
            .map(|(name, p)| (name.as_str(), Pool::new(p.workers, p.queue, p.timeout.0)))
            .collect();
        let routes = config
            .routes
            .iter()
            .map(|r| Route {
                method: Method::from_bytes(r.method.as_str().as_bytes()).unwrap_or(Method::GET),
                segments: segments(&r.path)
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect(),
                pool: r.pool.as_deref().and_then(|p| pools.get(p).cloned()),
                service: r.service_time,
                status: StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
                body: r.body.clone(),
            })
            .collect();
        FittedPlatform { routes }
    }

    fn find(&self, method: &Method, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = segments(path).collect();
        self.routes.iter().find(|r| {
            r.method == method
                && r.segments.len() == parts.len()
                && r.segments
                    .iter()
                    .zip(&parts)
                    .all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
        })
    }

    /// The answer to `method path`, or `None` when no route matches.
    pub async fn answer(&self, method: &Method, path: &str) -> Option<Response> {
        let route = self.find(method, path)?;
        let service = route
            .service
            .as_ref()
            .map(random::sample)
            .unwrap_or_default();
        if let Some(pool) = &route.pool {
            let Some(slot) = pool.enter() else {
                return Some(
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "queue_full",
                        "every worker is busy and the line is full; try again shortly",
                    )
                    .retry_after(1)
                    .into_response(),
                );
            };
            if pool
                .serve(slot, || tokio::time::sleep(service))
                .await
                .is_err()
            {
                return Some(
                    ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "worker_timeout",
                        "no worker became free in time",
                    )
                    .into_response(),
                );
            }
        } else if !service.is_zero() {
            tokio::time::sleep(service).await;
        }
        let body = route.body.clone().unwrap_or(serde_json::Value::Null);
        Some((route.status, Json(body)).into_response())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scenario::model::{FittedPool, FittedRoute};
    use crate::scenario::refs::Method as StepMethod;
    use crate::scenario::units::Duration as D;

    fn platform(workers: u32, queue: u32) -> Arc<FittedPlatform> {
        let fixed = Distribution::new(D::from_millis(100), D::from_millis(100));
        let config = Fitted {
            pools: [(
                "p".to_string(),
                FittedPool {
                    workers,
                    queue,
                    timeout: D::from_secs(1),
                },
            )]
            .into_iter()
            .collect(),
            routes: vec![FittedRoute {
                method: StepMethod::Get,
                path: "/jobs/{job}".into(),
                pool: Some("p".into()),
                service_time: Some(fixed),
                status: 200,
                body: Some(serde_json::json!({ "state": "done" })),
            }],
        };
        Arc::new(FittedPlatform::new(&config))
    }

    #[tokio::test(start_paused = true)]
    async fn a_pool_bounds_throughput_and_its_line_refuses_beyond() {
        let p = platform(2, 10);
        let t0 = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move {
                    let r = p
                        .answer(&Method::GET, &format!("/jobs/J{i}"))
                        .await
                        .unwrap();
                    (r.status(), tokio::time::Instant::now() - t0)
                })
            })
            .collect();
        let mut ends = Vec::new();
        for t in tasks {
            let (status, at) = t.await.unwrap();
            assert_eq!(status, StatusCode::OK);
            ends.push(at);
        }
        // Four requests of 100 ms on two workers: the last ends at 200 ms.
        assert_eq!(ends.iter().max(), Some(&Duration::from_millis(200)));
        assert!(
            p.answer(&Method::POST, "/jobs/J1").await.is_none(),
            "wrong method"
        );
        assert!(
            p.answer(&Method::GET, "/jobs").await.is_none(),
            "wrong shape"
        );

        let full = platform(1, 1);
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let p = full.clone();
                tokio::spawn(async move { p.answer(&Method::GET, "/jobs/x").await })
            })
            .collect();
        tokio::task::yield_now().await;
        let refused = full.answer(&Method::GET, "/jobs/y").await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        for b in busy {
            b.await.unwrap();
        }
    }
}
