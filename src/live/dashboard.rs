//! `surge run --dashboard`: a live page of the run, served while it runs.
//! `/` is the page (every asset in the binary), `/events` streams one JSON
//! message per recorded second (server-sent events) from the recorder's
//! flush, the same figures the run folder gets, `/metrics` gives the run's
//! series in the Prometheus text format, and `/report` the finished
//! `report.html` once the run is judged. The listener is bound before any
//! load, so a port in use is refused up front.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::metrics::{Shared, text};
use crate::folder::Outcome;
use crate::recorder::observe::{Observer, Second};
use crate::scenario::model::ErrorClass;

/// Seconds a page opened late is shown again (ten minutes).
const KEPT: usize = 600;

/// Why the dashboard cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(
        "--dashboard {addr}: cannot listen there: {reason}; pick another port (--dashboard 127.0.0.1:PORT)"
    )]
    Bind { addr: String, reason: String },
    #[error(
        "--dashboard {0}: off loopback, anyone who reaches it sees the run; pass --allow-remote-dashboard if you mean it"
    )]
    NotLoopback(String),
}

#[derive(Default)]
struct Live {
    metrics: Option<Shared>,
    /// The page's opening facts (scenario, steps, faults) and the seconds
    /// so far, for a page opened late.
    hello: Value,
    seconds: std::collections::VecDeque<(u64, String)>,
    /// The verdict, once judged.
    end: Option<String>,
    /// The objectives as judged on the run folder so far.
    verdicts: Option<String>,
    report: Option<PathBuf>,
}

/// The dashboard: its listener, and what it shows.
pub struct Board {
    pub addr: SocketAddr,
    live: Arc<Mutex<Live>>,
    events: broadcast::Sender<String>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Board({})", self.addr)
    }
}

impl Board {
    /// Binds `addr` and starts serving on a thread of its own.
    pub fn serve(addr: &str, allow_remote: bool) -> Result<Arc<Board>, DashboardError> {
        let bind = |reason: String| DashboardError::Bind {
            addr: addr.to_string(),
            reason,
        };
        let parsed: SocketAddr = addr
            .parse()
            .map_err(|_| bind("not an address (HOST:PORT, e.g. 127.0.0.1:5665)".into()))?;
        if !parsed.ip().is_loopback() && !allow_remote {
            return Err(DashboardError::NotLoopback(addr.to_string()));
        }
        let listener = std::net::TcpListener::bind(parsed).map_err(|e| bind(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| bind(e.to_string()))?;
        let local = listener.local_addr().map_err(|e| bind(e.to_string()))?;
        let (events, _) = broadcast::channel(64);
        let board = Arc::new(Board {
            addr: local,
            live: Arc::default(),
            events,
        });
        let served = board.clone();
        std::thread::Builder::new()
            .name("surge-dashboard".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let app = Router::new()
                        .route("/", get(page))
                        .route("/events", get(stream_events))
                        .route("/metrics", get(metrics))
                        .route("/report", get(report))
                        .with_state(served);
                    let _ = axum::serve(listener, app).await;
                });
            })
            .map_err(|e| bind(e.to_string()))?;
        Ok(board)
    }

    /// The observer that feeds the board, for a run of `metrics`' series;
    /// `hello` is what the page shows before the first second. The
    /// objectives are judged on the run folder as it grows, on a thread of
    /// their own; `twin`'s ledger goes with every second.
    pub fn observer(
        self: &Arc<Board>,
        metrics: Shared,
        hello: Value,
        judging: Judging,
        twin: Option<Arc<crate::twin::Twin>>,
    ) -> Box<dyn Observer> {
        {
            let mut live = self.live.lock().expect("dashboard lock");
            live.metrics = Some(metrics);
            live.hello = hello;
        }
        if !judging.objectives.is_empty() {
            let board = self.clone();
            let ledger = twin.clone();
            let _ = std::thread::Builder::new()
                .name("surge-dashboard-judge".into())
                .spawn(move || judge_while_running(&board, &judging, ledger.as_deref()));
        }
        Box::new(Feed {
            board: self.clone(),
            twin,
        })
    }

    /// The run was judged (no gate: it could not be): the page shows the
    /// verdict and the objectives as judged, and links the report.
    pub fn finished(&self, summary: &crate::summary::Summary, report: PathBuf) {
        let (gate, elapsed_s) = (summary.gate.as_ref(), summary.run.elapsed_s);
        // No gate: the run could not be judged, which the page shows as
        // invalid.
        let verdict = gate.map_or("invalid", |g| g.verdict.as_str());
        let mut reasons = gate.map_or_else(Vec::new, |g| g.validity.reasons.clone());
        reasons.extend(crate::report::rows::stopped_early(summary));
        let verdicts = gate.map(|g| objectives_message(&g.objectives, elapsed_s));
        let message = json!({"type": "end", "verdict": verdict, "reasons": reasons}).to_string();
        let mut live = self.live.lock().expect("dashboard lock");
        if let Some(v) = verdicts {
            live.verdicts = Some(v.clone());
            let _ = self.events.send(v);
        }
        live.end = Some(message.clone());
        live.report = Some(report);
        let _ = self.events.send(message);
    }
}

/// What the running verdicts are judged with.
pub struct Judging {
    pub dir: PathBuf,
    pub objectives: Vec<crate::scenario::model::Objective>,
    /// The channel of every step (`JOURNEY.STEP`) and journey.
    pub channels: std::collections::HashMap<String, String>,
}

/// Judging reads the run folder so far; it runs at most every
/// `JUDGE_EVERY`, and never takes more than a tenth of its thread's time.
const JUDGE_EVERY: Duration = Duration::from_secs(5);

/// Judges the objectives on the run folder as it grows, until the run is
/// judged for good. A read that meets a row being written is skipped.
/// Ledger objectives are judged on `twin`'s ledger as it stands (an
/// in-process twin's); without one the gate says why they are not.
fn judge_while_running(board: &Board, judging: &Judging, twin: Option<&crate::twin::Twin>) {
    let mut wait = JUDGE_EVERY;
    loop {
        std::thread::sleep(wait);
        if board.live.lock().expect("dashboard lock").end.is_some() {
            return;
        }
        let started = std::time::Instant::now();
        let Ok(mut data) = crate::rundata::RunData::load(&judging.dir) else {
            continue;
        };
        data.rebuild_totals(|name| judging.channels.get(name).cloned());
        data.summary.ledger = twin.map(crate::twin::Twin::ledger);
        let gate = crate::gate::judge(
            &judging.objectives,
            &data,
            crate::summary::DEFAULT_RATE_TOLERANCE,
        );
        let message = objectives_message(&gate.objectives, data.summary.run.elapsed_s);
        board.live.lock().expect("dashboard lock").verdicts = Some(message.clone());
        let _ = board.events.send(message);
        wait = JUDGE_EVERY.max(started.elapsed() * 10);
    }
}

/// Each objective's verdict and measure, as the page shows them.
fn objectives_message(objectives: &[crate::summary::ObjectiveResult], at_s: f64) -> String {
    let list: Vec<Value> = objectives
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "kind": o.kind,
                "judgement": o.judgement,
                "measured": crate::report::value(o.measured, &o.unit),
                "bound": crate::report::value(Some(o.bound), &o.unit),
                "detail": o.detail,
            })
        })
        .collect();
    json!({"type": "objectives", "at_s": at_s, "objectives": list}).to_string()
}

/// Feeds the board each second.
struct Feed {
    board: Arc<Board>,
    twin: Option<Arc<crate::twin::Twin>>,
}

impl Observer for Feed {
    fn second(&mut self, s: &Second<'_>) {
        let ledger = self
            .twin
            .as_ref()
            .map(|t| crate::report::rows::ledger(&t.ledger()));
        let mut live = self.board.live.lock().expect("dashboard lock");
        let totals = live
            .metrics
            .as_ref()
            .map(|m| m.lock().expect("metrics lock").totals());
        let message = second_message(s, ledger, totals);
        if live.seconds.len() == KEPT {
            live.seconds.pop_front();
        }
        live.seconds.push_back((s.second, message.clone()));
        let _ = self.board.events.send(message);
    }
}

/// One second as the page reads it; `totals`, the whole run's counts so
/// far (a page opened late has only the last seconds).
fn second_message(s: &Second<'_>, ledger: Option<String>, totals: Option<Value>) -> String {
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| {
        (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
    };
    let steps: Vec<Value> = s
        .names
        .steps
        .iter()
        .zip(s.steps)
        .zip(s.latency)
        .map(|((name, c), h)| {
            json!({
                "name": name.label,
                "channel": name.channel,
                "requests": c.requests,
                "failed": c.requests.saturating_sub(c.ok),
                "p50_ms": ms(h, 0.5),
                "p90_ms": ms(h, 0.9),
                "p99_ms": ms(h, 0.99),
            })
        })
        .collect();
    // Each channel: its steps' counts and latency added up.
    let mut channels: Vec<(&str, u64, u64, hdrhistogram::Histogram<u64>)> = Vec::new();
    for ((name, c), h) in s.names.steps.iter().zip(s.steps).zip(s.latency) {
        let i = match channels.iter().position(|(ch, ..)| *ch == name.channel) {
            Some(i) => i,
            None => {
                channels.push((&name.channel, 0, 0, crate::folder::histogram()));
                channels.len() - 1
            }
        };
        let slot = &mut channels[i];
        slot.1 += c.requests;
        slot.2 += c.requests.saturating_sub(c.ok);
        let _ = slot.3.add(h);
    }
    let channels: Vec<Value> = channels
        .iter()
        .map(|(name, requests, failed, h)| {
            json!({
                "name": name,
                "requests": requests,
                "failed": failed,
                "p50_ms": ms(h, 0.5),
                "p90_ms": ms(h, 0.9),
                "p99_ms": ms(h, 0.99),
            })
        })
        .collect();
    let mut errors = serde_json::Map::new();
    for class in ErrorClass::ALL {
        let n: u64 = s.steps.iter().map(|c| c.failures[class.index()]).sum();
        if n > 0 {
            errors.insert(class.name().into(), n.into());
        }
    }
    let sum = |f: &dyn Fn(&crate::folder::JourneyCounts) -> u64| -> u64 {
        s.journeys.iter().map(f).sum()
    };
    let mut lag = crate::folder::histogram();
    for h in s.lag {
        let _ = lag.add(h);
    }
    json!({
        "type": "second",
        "second": s.second,
        "scheduled": sum(&|c| c.scheduled),
        "started": sum(&|c| c.started),
        "late": sum(&|c| c.late),
        "dropped": sum(&|c| c.dropped),
        "completed": sum(&|c| c.finished[Outcome::CompletedInTime.index()] + c.finished[Outcome::CompletedLate.index()]),
        "in_time": sum(&|c| c.finished[Outcome::CompletedInTime.index()]),
        "abandoned": sum(&|c| c.finished[Outcome::Abandoned.index()]),
        "failed": sum(&|c| c.finished[Outcome::Failed.index()]),
        "requests": s.steps.iter().map(|c| c.requests).sum::<u64>(),
        "errors": errors,
        "steps": steps,
        "channels": channels,
        "in_flight": s.in_flight,
        "lag_p99_ms": ms(&lag, 0.99),
        "cpu_pct": s.cpu_pct,
        "ledger": ledger,
        "books": s.books,
        "totals": totals,
        "faults": s.faults,
    })
    .to_string()
}

/// The page, with the run so far in it (the messages `/events` sends, as
/// one JSON list): it is drawn as the page loads, then followed with
/// `/events?after=SECOND`.
async fn page(State(board): State<Arc<Board>>) -> Html<String> {
    let snapshot = format!("[{}]", backlog(&board, None).join(",")).replace("</", "<\\/");
    Html(include_str!("dashboard.html").replacen("[/*SNAPSHOT*/]", &snapshot, 1))
}

async fn metrics(State(board): State<Arc<Board>>) -> Response {
    let live = board.live.lock().expect("dashboard lock");
    let body = live
        .metrics
        .as_ref()
        .map(|m| text(&m.lock().expect("metrics lock")))
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn report(State(board): State<Arc<Board>>) -> Response {
    let path = board.live.lock().expect("dashboard lock").report.clone();
    match path.map(std::fs::read_to_string) {
        Some(Ok(html)) => Html(html).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            "the report is written when the run ends",
        )
            .into_response(),
    }
}

/// The opening facts (unless following on from `after`), the seconds so
/// far (after `after`), and the verdict if the run was judged.
fn backlog(board: &Board, after: Option<u64>) -> Vec<String> {
    let live = board.live.lock().expect("dashboard lock");
    let hello = json!({"type": "hello", "run": live.hello}).to_string();
    after
        .is_none()
        .then_some(hello)
        .into_iter()
        .chain(
            live.seconds
                .iter()
                .filter(|(s, _)| after.is_none_or(|a| *s > a))
                .map(|(_, m)| m.clone()),
        )
        .chain(live.verdicts.clone())
        .chain(live.end.clone())
        .collect()
}

#[derive(serde::Deserialize)]
struct Follow {
    after: Option<u64>,
}

/// The opening facts, the seconds so far (or those after `?after=N`), then
/// each new second as it is recorded, and the verdict at the end.
async fn stream_events(
    State(board): State<Arc<Board>>,
    axum::extract::Query(follow): axum::extract::Query<Follow>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let rx = board.events.subscribe();
    let backlog = backlog(&board, follow.after);
    use futures::StreamExt;
    let later = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(message) => return Some((message, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream = futures::stream::iter(backlog)
        .chain(later)
        .map(|message| Ok(Event::default().data(message)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}
