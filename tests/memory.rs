//! The memory estimate `surge validate` prints (and `surge run` refuses
//! by) is an upper bound that is not far off: checked against the peak
//! resident memory of a real run. Alone in its test binary, so the
//! children whose peak is measured are this run's only.

mod common;

use common::{scenario_file, server, surge};

/// The largest peak resident set of the children waited for, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills a plain struct owned here.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn the_memory_estimate_bounds_a_real_run_within_2x() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    // Users dominate: 3,000 of them, all busy on a 20 ms endpoint.
    let text = format!(
        "version: 1\nname: memory\ntarget: {{ base_url: \"{}\" }}\n\
         load: {{ max_in_flight: 3000, drain: 2s, phases: [{{ name: p, duration: 3s, rate: 400/s }}] }}\n\
         journeys:\n  get: {{ channel: storefront, steps: [{{ name: fixed, path: /fixed }}] }}\n",
        server.url
    );
    let file = scenario_file(dir.path(), "memory", &text);
    let out = surge().arg("validate").arg(&file).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let estimate_mb: u64 = said
        .split("peak memory about ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no estimate in {said}"));
    let run = dir.path().join("run");
    let status = surge()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&run)
        .arg("-q")
        .output()
        .unwrap()
        .status;
    assert!(matches!(status.code(), Some(0 | 1)), "{status}");
    let measured_mb = children_peak_rss() / (1024 * 1024);
    assert!(
        measured_mb <= estimate_mb && estimate_mb <= 2 * measured_mb,
        "estimate {estimate_mb} MB, measured peak {measured_mb} MB"
    );
}
