//! The storefront page a person uses: `/storefront/app` walks the whole
//! storefront journey (log in by one-time password, queue, order, pay,
//! wait for the credit, upload, stamp, download) through the twin's own
//! API, with its script and style served beside it and nothing fetched
//! from elsewhere. It is what a browser records for `surge import har`,
//! and what README's walkthrough opens.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use super::Twin;

const PAGE: &str = include_str!("app/index.html");
const SCRIPT: &str = include_str!("app/app.js");
const STYLE: &str = include_str!("app/app.css");

pub fn routes() -> Router<Arc<Twin>> {
    Router::new()
        .route("/storefront/app", get(|| async { Html(PAGE) }))
        .route("/storefront/app/", get(|| async { Html(PAGE) }))
        .route("/storefront/app/app.js", get(script))
        .route("/storefront/app/app.css", get(style))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}
