//! Fuzz the run, not only the file: valid scenarios with extreme but
//! allowed values (rates to 200,000/s, thousands of users, megabyte
//! bodies, zero lateness, one-millisecond timeouts) each run for a second
//! against a real loopback server, under a cap on the process's memory.
//! Every run ends on time with exit 0, 1 or 3 and a complete run folder:
//! never a panic, an abort or a hang.

mod common;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{read_summary, scenario_file, server};
use proptest::prelude::*;

/// Address space the run may take: far above what these runs need, far
/// below what a mis-sized allocation asks for (which must not abort).
const MEMORY_CAP: u64 = 8 << 30;

#[derive(Debug, Clone)]
struct Extreme {
    seed: u64,
    poisson: bool,
    max_in_flight: u32,
    max_lateness_ms: u64,
    drain_ms: u64,
    from: u32,
    to: u32,
    attempts: u32,
    timeout_ms: u64,
    think_ms: u64,
    pdf_kib: u64,
}

fn extremes() -> impl Strategy<Value = Extreme> {
    (
        any::<u64>(),
        any::<bool>(),
        prop_oneof![Just(1u32), 1u32..64, Just(3000)],
        prop_oneof![Just(0u64), 0u64..2000],
        prop_oneof![Just(0u64), 0u64..1000],
        prop_oneof![Just(0u32), 1u32..1000, Just(200_000)],
        prop_oneof![Just(0u32), 1u32..1000, Just(200_000)],
        1u32..6,
        prop_oneof![Just(1u64), 1u64..3000],
        prop_oneof![Just(0u64), 0u64..300],
        prop_oneof![Just(1u64), 1u64..4096],
    )
        .prop_map(|t| Extreme {
            seed: t.0,
            poisson: t.1,
            max_in_flight: t.2,
            max_lateness_ms: t.3,
            drain_ms: t.4,
            from: t.5,
            to: t.6.max(u32::from(t.5 == 0)),
            attempts: t.7,
            timeout_ms: t.8,
            think_ms: t.9,
            pdf_kib: t.10,
        })
}

fn text(e: &Extreme, url: &str) -> String {
    format!(
        "version: 1\nname: fuzz\nseed: {}\ntarget: {{ base_url: \"{url}\" }}\n\
         load: {{ arrivals: {}, max_in_flight: {}, max_lateness: {}ms, drain: {}ms, \
         phases: [{{ name: p, duration: 1s, from: {}/s, to: {}/s }}] }}\n\
         journeys:\n  get:\n    channel: storefront\n    patience: {{ attempts: {}, backoff: {{ initial: 1ms, max: 50ms }} }}\n    steps:\n\
         \x20     - {{ name: look, path: /fast, timeout: {}ms, think: {}ms }}\n\
         \x20     - {{ name: send, method: POST, path: /echo, pdf: {}KiB, timeout: {}ms }}\n",
        e.seed,
        if e.poisson { "poisson" } else { "uniform" },
        e.max_in_flight,
        e.max_lateness_ms,
        e.drain_ms,
        e.from,
        e.to,
        e.attempts,
        e.timeout_ms,
        e.think_ms,
        e.pdf_kib,
        e.timeout_ms,
    )
}

#[test]
fn runs_of_extreme_allowed_values_end_on_time_with_a_complete_folder() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let n = std::sync::atomic::AtomicUsize::new(0);
    proptest!(config, |(e in extremes())| {
        let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let file = scenario_file(dir.path(), &format!("fuzz-{n}"), &text(&e, &server.url));
        let out = dir.path().join(format!("run-{n}"));
        let began = Instant::now();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"));
        cmd.arg("run").arg(&file).arg("--out").arg(&out).arg("-q");
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let cap = libc::rlimit { rlim_cur: MEMORY_CAP, rlim_max: MEMORY_CAP };
                if libc::setrlimit(libc::RLIMIT_AS, &cap) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let output = cmd.output().unwrap();
        let took = began.elapsed();
        let err = String::from_utf8_lossy(&output.stderr);
        prop_assert!(
            matches!(output.status.code(), Some(0 | 1 | 3)),
            "{e:?}: {:?}: {err}", output.status
        );
        // One second of schedule, the drain, settling, and finishing.
        let limit = Duration::from_millis(1000 + e.drain_ms) + Duration::from_secs(8);
        prop_assert!(took < limit, "{e:?}: took {took:?}");
        let s = read_summary(&out);
        prop_assert_eq!(&s["status"], "completed", "{:?}", e);
        prop_assert!(s["gate"]["verdict"].is_string());
        let load = &s["load"];
        prop_assert_eq!(
            load["scheduled"].as_u64(),
            Some(load["started"].as_u64().unwrap() + load["dropped"].as_u64().unwrap())
        );
        for f in ["report.html", "summary.md", "junit.xml", "latency.hlog", "timeline.csv"] {
            prop_assert!(out.join(f).exists(), "{f}");
        }
    });
}
