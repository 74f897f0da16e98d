//! The stamping channel: an applicant uploads a PDF, asks for a stamp, and
//! downloads the stamped file. A stamp spends one unit of quota and one
//! serial number, then waits for the core's signature; it runs as a job
//! the applicant polls. A failed signature wastes its serial number (the
//! number was spent) and refunds the quota unit, so the ledger reconciles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::Twin;
use super::api::{ApiError, ApiResult};
use super::core::{Serial, sha256_hex};
use super::expiring::Expiring;
use crate::pdf;
use crate::scenario::model::TwinConfig;
use crate::scenario::units::Size;

pub fn routes(config: &TwinConfig) -> Router<Arc<Twin>> {
    // One byte over the limit is enough to know the upload is too large.
    let limit = DefaultBodyLimit::max(config.stamping.max_upload.0 as usize + 1);
    Router::new()
        .route("/stamping/documents", post(upload).layer(limit))
        .route("/stamping/documents/{document}/stamp", post(stamp))
        .route("/stamping/documents/{document}/stamped", get(download))
        .route("/stamping/jobs/{job}", get(job))
}

/// Checks an uploaded body: within the size limit, and a PDF.
pub fn accept_pdf(body: Result<Bytes, BytesRejection>, limit: Size) -> ApiResult<Bytes> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("documents are limited to {limit}; compress or split the file"),
        )
    };
    let bytes = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => ApiError::bad_request(r.body_text()),
    })?;
    if bytes.len() as u64 > limit.0 {
        return Err(too_large());
    }
    if !pdf::is_pdf(&bytes) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_pdf",
            "only PDF documents can be stamped (the file must start with %PDF-)",
        ));
    }
    Ok(bytes)
}

struct Document {
    owner: Arc<str>,
    bytes: Bytes,
    sha256: String,
    stamp: Option<(Serial, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum JobState {
    Signing,
    Done,
    Failed,
}

struct Job {
    owner: Arc<str>,
    document: String,
    serial: Serial,
    state: JobState,
    error: Option<String>,
}

/// Documents, held within a byte budget: the oldest go first.
struct Store {
    docs: Expiring<String, Document>,
    bytes: u64,
    limit: u64,
}

impl Store {
    fn insert(&mut self, id: String, doc: Document, now: Instant) {
        let size = doc.bytes.len() as u64;
        while self.bytes + size > self.limit {
            match self.docs.pop_oldest() {
                Some((_, old)) => self.bytes -= old.bytes.len() as u64,
                None => break,
            }
        }
        self.bytes += size;
        for (_, old) in self.docs.insert(id, doc, now) {
            self.bytes -= old.bytes.len() as u64;
        }
    }
}

pub struct Stamping {
    store: Mutex<Store>,
    jobs: Mutex<Expiring<String, Job>>,
    next: AtomicU64,
}

impl Stamping {
    pub fn new(config: &TwinConfig) -> Self {
        let retention = config.stamping.retention.0;
        Stamping {
            store: Mutex::new(Store {
                docs: Expiring::new(retention),
                bytes: 0,
                limit: config.stamping.store_limit.0,
            }),
            jobs: Mutex::new(Expiring::new(retention)),
            next: AtomicU64::new(1),
        }
    }

    /// Document bytes held now.
    pub fn stored_bytes(&self) -> u64 {
        self.store.lock().expect("store lock").bytes
    }

    fn finish(&self, job: &str, outcome: Result<(Serial, String), String>, now: Instant) {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        let Some(j) = jobs.get_mut(&job.to_string(), now) else {
            return;
        };
        match outcome {
            Ok((serial, signature)) => {
                j.state = JobState::Done;
                let mut store = self.store.lock().expect("store lock");
                if let Some(doc) = store.docs.get_mut(&j.document, now) {
                    doc.stamp = Some((serial, signature));
                }
            }
            Err(e) => {
                j.state = JobState::Failed;
                j.error = Some(e);
            }
        }
    }
}

async fn upload(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let now = Instant::now();
    let owner = twin.storefront.session(&headers, now)?;
    let bytes = accept_pdf(body, twin.config.stamping.max_upload)?;
    let sha256 = sha256_hex(&bytes);
    let stamping = &twin.stamping;
    let id = format!("D{}", stamping.next.fetch_add(1, Ordering::Relaxed));
    let size = bytes.len();
    let doc = Document {
        owner,
        bytes,
        sha256: sha256.clone(),
        stamp: None,
    };
    stamping
        .store
        .lock()
        .expect("store lock")
        .insert(id.clone(), doc, now);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "document": id, "bytes": size, "sha256": sha256 })),
    ))
}

/// Stamps an uploaded document: spends quota, takes a serial and a
/// signature, and keeps the ledger straight on every way that can fail.
/// Long because each failure must refund or record in the same place the
/// success is booked, under one ledger change, for the invariants to hold.
async fn stamp(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    Path(document): Path<String>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let now = Instant::now();
    let owner = twin.storefront.session(&headers, now)?;
    let digest = {
        let store = twin.stamping.store.lock().expect("store lock");
        let doc = store.docs.get(&document, now).filter(|d| d.owner == owner);
        let doc = doc.ok_or_else(|| ApiError::not_found("document", &document))?;
        if doc.stamp.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_stamped",
                "this document carries a stamp already",
            ));
        }
        doc.sha256.clone()
    };
    if !twin.faults.core(now).signing_open {
        return Err(ApiError::unavailable(
            "stamping is unavailable while the core is down",
        ));
    }
    // A place in the signing queue first: a full queue refuses before any
    // quota or serial number is spent.
    let slot = twin.core.enter()?;
    let at_s = twin.uptime(now);
    let paid = twin.storefront.with_account(&owner, now, |a| {
        let paid = a.spend(at_s, "stamp");
        if paid {
            twin.ledger.record(|c| {
                c.quota_consumed += 1;
                c.quota_stamps_in_progress += 1;
            });
        }
        paid
    });
    if !paid {
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "no_quota",
            "no e-Meterai quota left on this account; buy quota at the storefront",
        ));
    }
    let serial = match twin.core.issue(1, &twin.faults, &twin.ledger) {
        Ok(serials) => serials[0],
        Err(e) => {
            refund(&twin, &owner, now, false);
            return Err(e.into());
        }
    };
    twin.core.spend(serial);
    let job = format!("J{}", twin.stamping.next.fetch_add(1, Ordering::Relaxed));
    let entry = Job {
        owner: owner.clone(),
        document,
        serial,
        state: JobState::Signing,
        error: None,
    };
    twin.stamping
        .jobs
        .lock()
        .expect("jobs lock")
        .insert(job.clone(), entry, now);
    let task = twin.clone();
    let id = job.clone();
    twin.spawn(async move {
        let outcome = task.core.sign(slot, &task.faults, serial, &digest).await;
        let now = Instant::now();
        match &outcome {
            Ok(_) => task.ledger.record(|c| {
                c.quota_stamps_in_progress -= 1;
                c.quota_stamps_completed += 1;
            }),
            Err(_) => refund(&task, &owner, now, true),
        }
        let outcome = outcome
            .map(|sig| (serial, sig))
            .map_err(|e| ApiError::from(e).message);
        task.stamping.finish(&id, outcome, now);
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "job": job, "serial": serial.to_string(), "state": JobState::Signing })),
    ))
}

/// Gives back the quota unit of a stamp that did not happen; `wasted`
/// when its serial number was spent on the failed signature.
fn refund(twin: &Twin, owner: &Arc<str>, now: Instant, wasted: bool) {
    let at_s = twin.uptime(now);
    twin.storefront.with_account(owner, now, |a| {
        a.refund(at_s);
        twin.ledger.record(|c| {
            c.quota_stamps_in_progress -= 1;
            c.refunds += 1;
            if wasted {
                c.stamps_failed += 1;
                c.serials_wasted += 1;
            }
        });
    });
}

async fn job(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    Path(job): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let now = Instant::now();
    let owner = twin.storefront.session(&headers, now)?;
    let jobs = twin.stamping.jobs.lock().expect("jobs lock");
    let j = jobs
        .get(&job, now)
        .filter(|j| j.owner == owner)
        .ok_or_else(|| ApiError::not_found("job", &job))?;
    Ok(Json(json!({
        "job": job,
        "document": j.document,
        "state": j.state,
        "serial": j.serial.to_string(),
        "error": j.error,
    })))
}

async fn download(
    State(twin): State<Arc<Twin>>,
    headers: HeaderMap,
    Path(document): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let now = Instant::now();
    let owner = twin.storefront.session(&headers, now)?;
    let store = twin.stamping.store.lock().expect("store lock");
    let doc = store
        .docs
        .get(&document, now)
        .filter(|d| d.owner == owner)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::GONE,
                "document_gone",
                format!("document `{document}` is unknown or no longer kept"),
            )
        })?;
    let Some((serial, signature)) = &doc.stamp else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_stamped",
            "the document has no stamp yet; poll its job",
        ));
    };
    let stamped = pdf::stamp(&doc.bytes, &serial.to_string(), &doc.sha256, signature);
    Ok(([(header::CONTENT_TYPE, "application/pdf")], stamped))
}
