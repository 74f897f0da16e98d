//! `GET /metrics` in the Prometheus text format: requests and latency per
//! route and status class, and the gauges that explain a rehearsal from
//! the platform's side (signing queue, busy workers, waiting room, stock,
//! pending credits, documents held). Recording is a few atomic additions
//! per request under a read lock; rendering happens only when scraped.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::Twin;

/// Upper bounds of the latency buckets, in seconds.
const BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct RouteStats {
    /// Responses by status class: 1xx to 5xx.
    by_class: [AtomicU64; 5],
    /// Cumulative bucket counts, as Prometheus wants them at render time;
    /// here each observation lands in its own bucket only.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<String, RouteStats>>,
}

impl Metrics {
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let routes = self.routes.read().expect("metrics lock");
        match routes.get(route) {
            Some(stats) => stats.add(status, elapsed),
            None => {
                drop(routes);
                let mut routes = self.routes.write().expect("metrics lock");
                routes
                    .entry(route.to_string())
                    .or_default()
                    .add(status, elapsed);
            }
        }
    }

    pub fn render(&self, twin: &Twin) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP surge_twin_requests_total Requests answered, by route and status class.\n",
        );
        out.push_str("# TYPE surge_twin_requests_total counter\n");
        let routes = self.routes.read().expect("metrics lock");
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        for name in &names {
            for (i, n) in routes[*name].by_class.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "surge_twin_requests_total{{route=\"{name}\",status=\"{}xx\"}} {n}",
                        i + 1
                    );
                }
            }
        }
        out.push_str("# HELP surge_twin_request_seconds Time to answer, by route.\n");
        out.push_str("# TYPE surge_twin_request_seconds histogram\n");
        for name in &names {
            let stats = &routes[*name];
            let mut cumulative = 0;
            for (i, bound) in BOUNDS.iter().enumerate() {
                cumulative += stats.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "surge_twin_request_seconds_bucket{{route=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += stats.buckets[BOUNDS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "surge_twin_request_seconds_bucket{{route=\"{name}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "surge_twin_request_seconds_sum{{route=\"{name}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "surge_twin_request_seconds_count{{route=\"{name}\"}} {cumulative}"
            );
        }
        drop(routes);
        gauges(&mut out, twin);
        out
    }
}

impl RouteStats {
    fn add(&self, status: u16, elapsed: Duration) {
        let class = (usize::from(status / 100)).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

fn gauges(out: &mut String, twin: &Twin) {
    let now = Instant::now();
    let (waiting, busy) = twin.core.load();
    let one = |v: f64| vec![(String::new(), v)];
    gauge(
        out,
        "surge_twin_signing_queue",
        "Stamps waiting for a signing worker.",
        &one(waiting as f64),
    );
    gauge(
        out,
        "surge_twin_signing_busy",
        "Signing workers at work.",
        &one(busy as f64),
    );
    gauge(
        out,
        "surge_twin_waiting_room",
        "Applicants waiting in the waiting room.",
        &one(twin.storefront.waiting(now) as f64),
    );
    gauge(
        out,
        "surge_twin_core_stock",
        "Serial numbers the core can still issue.",
        &one(twin.core.remaining() as f64),
    );
    let stocks: Vec<(String, f64)> = twin
        .partners
        .stocks()
        .into_iter()
        .map(|(p, n)| (format!("{{partner=\"{p}\"}}"), n as f64))
        .collect();
    gauge(
        out,
        "surge_twin_partner_stock",
        "Serial numbers a reseller holds.",
        &stocks,
    );
    gauge(
        out,
        "surge_twin_credits_pending",
        "Payments captured and not yet credited.",
        &one(twin.storefront.pending_credits() as f64),
    );
    gauge(
        out,
        "surge_twin_documents_bytes",
        "Bytes of documents held.",
        &one(twin.stamping.stored_bytes() as f64),
    );
    gauge(
        out,
        "surge_twin_faults_active",
        "Fault switches on.",
        &one(twin.faults.list(now).len() as f64),
    );
}
