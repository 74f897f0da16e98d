//! Prometheus remote write (protocol 1.0: a protobuf `WriteRequest`,
//! snappy block-compressed, POSTed): after each recorded second the run's
//! series as they stand are queued, and a thread of its own sends them,
//! retrying with backoff. The generator never waits for it: the queue is
//! bounded, and what cannot be queued or sent is counted and reported at
//! the end, never buffered without bound. Counters are cumulative, so a
//! lost push costs resolution, not totals.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::metrics::{Metrics, Sample, Shared};
use crate::recorder::observe::{Observer, Second};
use crate::scenario::template::Template;

/// Pushes waiting to be sent; beyond, a push is dropped (and counted).
const QUEUE: usize = 16;
/// Tries per push, and the wait before the second.
const TRIES: u32 = 3;
const FIRST_WAIT: Duration = Duration::from_millis(200);
/// How long the end of a run waits for the queue to drain.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<PromSample>,
}

#[derive(prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(prost::Message)]
struct PromSample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// Why remote write cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("--prometheus-rw `{0}` is not an http(s) URL")]
    Url(String),
    #[error(
        "--prometheus-rw-header `{0}` is not `Name: value` (a header name, a colon, a value; `${{ENV}}` reads a secret)"
    )]
    Header(String),
    #[error("--prometheus-rw-header: {0}")]
    Env(String),
}

/// One push: the encoded request and how many samples it carries.
struct Push {
    body: Vec<u8>,
    samples: u64,
}

/// What was delivered, for the end-of-run line.
#[derive(Default)]
struct Tally {
    sent: u64,
    unsent: u64,
    first_error: Option<String>,
}

/// The remote-write observer.
pub struct RemoteWrite {
    metrics: Shared,
    url: String,
    queue: Option<SyncSender<Push>>,
    sender: Option<JoinHandle<()>>,
    tally: Arc<Mutex<Tally>>,
}

/// The headers of `--prometheus-rw-header`, `${ENV}` read now.
pub fn headers(specs: &[String]) -> Result<HeaderMap, RemoteWriteError> {
    let mut map = HeaderMap::new();
    for spec in specs {
        let bad = || RemoteWriteError::Header(spec.clone());
        let (name, value) = spec.split_once(':').ok_or_else(bad)?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        let value = Template::parse(value.trim())
            .map_err(|e| RemoteWriteError::Env(e.to_string()))?
            .render(&|_| None)
            .map_err(|_| bad())?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| bad())?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

impl RemoteWrite {
    /// Starts the sender thread for `url` (checked by `LiveOptions`).
    pub fn start(
        metrics: Shared,
        url: &str,
        headers: HeaderMap,
    ) -> Result<RemoteWrite, RemoteWriteError> {
        let (tx, rx) = sync_channel(QUEUE);
        let tally = Arc::new(Mutex::new(Tally::default()));
        let sender = {
            let (to, tally) = (url.to_string(), tally.clone());
            std::thread::Builder::new()
                .name("surge-remote-write".into())
                .spawn(move || send_all(&to, headers, rx, &tally))
                .map_err(|_| RemoteWriteError::Url(url.to_string()))?
        };
        Ok(RemoteWrite {
            metrics,
            url: url.to_string(),
            queue: Some(tx),
            sender: Some(sender),
            tally,
        })
    }

    fn push(&mut self) {
        let push = {
            let metrics = self.metrics.lock().expect("metrics lock");
            let samples = metrics.samples();
            Push {
                samples: samples.len() as u64,
                body: encode(&metrics, &samples, now_ms()),
            }
        };
        let Some(queue) = &self.queue else { return };
        if let Err(TrySendError::Full(p) | TrySendError::Disconnected(p)) = queue.try_send(push) {
            self.tally.lock().expect("tally").unsent += p.samples;
        }
    }
}

impl Observer for RemoteWrite {
    fn second(&mut self, _: &Second<'_>) {
        self.push();
    }

    fn end(&mut self) -> Option<String> {
        drop(self.queue.take());
        if let Some(sender) = self.sender.take() {
            let deadline = std::time::Instant::now() + DRAIN;
            while !sender.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let t = self.tally.lock().expect("tally");
        (t.unsent > 0).then(|| {
            format!(
                "remote write to {}: {} of {} samples could not be delivered ({})",
                self.url,
                t.unsent,
                t.sent + t.unsent,
                t.first_error.as_deref().unwrap_or("the queue was full")
            )
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The samples as a snappy-compressed `WriteRequest`, labels sorted by
/// name as the protocol asks.
fn encode(metrics: &Metrics, samples: &[Sample], timestamp: i64) -> Vec<u8> {
    use prost::Message;
    let run = &metrics.run;
    let timeseries = samples
        .iter()
        .map(|s| {
            let mut labels: Vec<Label> = [
                ("__name__", s.name.to_string()),
                ("run_id", run.run_id.clone()),
                ("shard", run.shard.clone()),
            ]
            .into_iter()
            .chain(s.labels.iter().cloned())
            .map(|(name, value)| Label {
                name: name.to_string(),
                value,
            })
            .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            TimeSeries {
                labels,
                samples: vec![PromSample {
                    value: s.value,
                    timestamp,
                }],
            }
        })
        .collect();
    let raw = WriteRequest { timeseries }.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// The sender thread: each push POSTed, tried again with backoff on a
/// failure worth another try, counted when it cannot be delivered.
fn send_all(url: &str, headers: HeaderMap, rx: Receiver<Push>, tally: &Mutex<Tally>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .default_headers(headers)
        .build();
    let mut warned = false;
    while let Ok(push) = rx.recv() {
        let outcome = match &client {
            Ok(client) => runtime.block_on(deliver(client, url, push.body)),
            Err(e) => Err(e.to_string()),
        };
        let mut t = tally.lock().expect("tally");
        match outcome {
            Ok(()) => t.sent += push.samples,
            Err(reason) => {
                t.unsent += push.samples;
                if !warned {
                    warned = true;
                    eprintln!(
                        "surge: WARNING: remote write to {url} failed ({reason}); the run goes on, undelivered samples are counted"
                    );
                }
                t.first_error.get_or_insert(reason);
            }
        }
    }
}

async fn deliver(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(), String> {
    let mut wait = FIRST_WAIT;
    let mut last = String::new();
    for attempt in 1..=TRIES {
        let sent = client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            // The receiver refused the data: sending it again is no use.
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                return Err(format!(
                    "{} {}",
                    r.status(),
                    r.text().await.unwrap_or_default().trim()
                ));
            }
            Ok(r) => last = r.status().to_string(),
            Err(e) => last = crate::human::error_chain(&e),
        }
        if attempt < TRIES {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(last)
}
