//! Prometheus remote write against a real Prometheus (the Debian package,
//! started here on loopback with its remote-write receiver): after a run,
//! Prometheus holds the run's series and their totals equal the run's
//! `summary.json`; an unreachable endpoint warns and the run goes on with
//! the undelivered samples counted; a bad header is refused before load.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{http_get as get, read_summary, run_scenario, scenario_file, server};
use serde_json::Value;

/// A Prometheus server on a free loopback port, stopped when dropped.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global: { scrape_interval: 1m }\n").unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (Debian package `prometheus`; tests/setup.sh installs it)");
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&format!("{}/-/ready", prometheus.url)).is_none() {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    /// The value of an instant query with one result, if any.
    fn query(&self, promql: &str) -> Option<f64> {
        let url = format!("{}/api/v1/query?query={}", self.url, url_escape(promql));
        let body: Value = serde_json::from_str(&get(&url)?).ok()?;
        let result = &body["data"]["result"][0]["value"][1];
        result.as_str()?.parse().ok()
    }
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn scenario(dir: &Path, url: &str) -> std::path::PathBuf {
    scenario_file(
        dir,
        "pushed",
        &format!(
            "version: 1\nname: pushed\ntarget: {{ base_url: \"{url}\" }}\n\
             load: {{ phases: [{{ name: p, duration: 3s, rate: 20/s }}] }}\n\
             journeys:\n  j: {{ channel: storefront, steps: [{{ name: ok, path: /fast }}, {{ name: bad, path: /bad }}] }}\n\
             faults:\n  - {{ name: slow-link, at: 1s, for: 1s, on: proxy/storefront, fault: {{ latency: {{ delay: 1ms }} }} }}\n"
        ),
    )
}

#[test]
fn a_real_prometheus_holds_the_run_s_series_and_totals() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let prometheus = Prometheus::start(dir.path());
    let file = scenario(dir.path(), &server.url);
    let out = dir.path().join("run-1");
    let rw = format!("{}/api/v1/write", prometheus.url);
    let (code, stdout, stderr) = run_scenario(&file, &out, &["--prometheus-rw", &rw]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("WARNING"), "{stderr}");
    let summary = read_summary(&out);
    let steps = summary["steps"].as_array().unwrap();
    let requests: u64 = steps.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    let failed: u64 = steps
        .iter()
        .map(|s| s["requests"].as_u64().unwrap() - s["ok"].as_u64().unwrap())
        .sum();
    assert!(requests > 60 && failed > 30, "{requests} {failed}");

    let run = "run_id=\"pushed-run-1\"";
    let total = prometheus.query(&format!("sum(surge_requests_total{{{run}}})"));
    assert_eq!(total, Some(requests as f64));
    let bad = prometheus.query(&format!(
        "sum(surge_requests_total{{{run},step=\"bad\",outcome=\"http_4xx\"}})"
    ));
    assert_eq!(bad, Some(failed as f64));
    let scheduled = prometheus.query(&format!(
        "sum(surge_arrivals_total{{{run},state=\"scheduled\"}})"
    ));
    assert_eq!(scheduled, summary["load"]["scheduled"].as_f64());
    let count = prometheus.query(&format!(
        "sum(surge_request_duration_seconds_count{{{run},step=\"ok\"}})"
    ));
    assert_eq!(count, Some(steps[0]["requests"].as_f64().unwrap()));
    let p99 = prometheus.query(&format!(
        "histogram_quantile(0.99, sum by (le) (surge_request_duration_seconds_bucket{{{run},step=\"ok\"}}))"
    ));
    assert!(p99.is_some_and(|p| p > 0.0 && p <= 0.25), "{p99:?}");
    assert_eq!(
        prometheus.query(&format!(
            "surge_run_info{{{run},shard=\"1/1\",scenario=\"pushed\"}}"
        )),
        Some(1.0)
    );
    let was_on = prometheus.query(&format!(
        "max_over_time(surge_fault_active{{{run},fault=\"slow-link\",target=\"proxy/storefront\"}}[5m])"
    ));
    assert_eq!(was_on, Some(1.0), "the fault was seen on");

    // Every panel of the shipped Grafana dashboard has data for this run.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo("docs/grafana/surge-dashboard.json")).unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 6);
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$run_id", "pushed-run-1")
                .replace("$__rate_interval", "5m");
            let expr = format!("max_over_time(({expr})[5m:1s])");
            assert!(
                prometheus.query(&expr).is_some(),
                "panel `{}` has no data: {expr}",
                panel["title"]
            );
        }
    }
}

#[test]
fn an_unreachable_endpoint_warns_and_the_run_goes_on() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), &server.url);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = dir.path().join("out");
    let rw = format!("http://{closed}/api/v1/write");
    let started = Instant::now();
    let (code, stdout, stderr) = run_scenario(&file, &out, &["--prometheus-rw", &rw]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run was held up"
    );
    assert!(
        stderr.contains(&format!("remote write to {rw} failed")),
        "{stderr}"
    );
    assert!(
        stderr.contains("samples could not be delivered"),
        "{stderr}"
    );
    assert!(out.join("summary.json").exists());

    // A header that is not `Name: value`, or names an unset secret, is
    // refused before any load.
    for header in [
        "no colon",
        "Authorization: Bearer ${SURGE_TEST_UNSET_TOKEN}",
    ] {
        let out = dir.path().join("refused");
        let (code, _, stderr) = run_scenario(
            &file,
            &out,
            &["--prometheus-rw", &rw, "--prometheus-rw-header", header],
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("--prometheus-rw-header"), "{stderr}");
        assert!(!out.exists(), "no run folder for a refused run");
    }
}
