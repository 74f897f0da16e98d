//! `surge run --dashboard`, seen by a real headless Chromium (the Debian
//! package, installed by tests/setup.sh): while the run goes, the page
//! shows the requests `/metrics` counts at that moment and the fault that
//! is on; at the end, the verdict `summary.json` holds. `/metrics` passes
//! `promtool check metrics` mid-run. A port in use, or an address off
//! loopback, is refused before any load.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get as get, read_summary, run_scenario, scenario_file, server};

/// Requests counted by `/metrics` now.
fn requests_in_metrics(base: &str) -> u64 {
    requests_in_metrics_opt(base).expect("/metrics answers")
}

/// The page once it shows the objectives as judged so far, within `wait`.
fn running_verdict(base: &str, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    loop {
        let dom = browse(&format!("{base}/"));
        // A dump without the page (Chromium gave up on a busy machine) is
        // one more try, not the answer.
        if find_element(&dom, "judged_at").is_some_and(|t| t.starts_with("(so far, at ")) {
            return dom;
        }
        assert!(Instant::now() < deadline, "no running verdict shown");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The page as headless Chromium renders it (scripts run).
fn browse(url: &str) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--dump-dom",
            url,
        ])
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs (Debian package `chromium`; tests/setup.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the element with `id` in a dumped page.
fn element(dom: &str, id: &str) -> String {
    find_element(dom, id).unwrap_or_else(|| panic!("no #{id} in the page"))
}

/// The text of the element with `id`, if the page has it.
fn find_element(dom: &str, id: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let open = start + dom[start..].find('>')? + 1;
    let close = open + dom[open..].find("</")?;
    Some(dom[open..close].to_string())
}

fn scenario(dir: &Path, url: &str) -> std::path::PathBuf {
    scenario_file(
        dir,
        "watched",
        &format!(
            "version: 1\nname: watched\ntarget: {{ base_url: \"{url}\" }}\n\
             load: {{ phases: [{{ name: p, duration: 20s, rate: 20/s }}] }}\n\
             journeys:\n  j: {{ channel: storefront, steps: [{{ name: fast, path: /fast }}] }}\n\
             faults:\n  - {{ name: slow-link, at: 0s, for: 18s, on: proxy/storefront, fault: {{ latency: {{ delay: 1ms }} }} }}\n\
             objectives:\n  - error_rate: {{ at_most: 1% }}\n"
        ),
    )
}

#[test]
fn a_real_browser_sees_the_run_as_it_goes_and_its_verdict_at_the_end() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), &server.url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let out = dir.path().join("out");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args([
            "-q",
            "--dashboard",
            &format!("127.0.0.1:{port}"),
            "--dashboard-linger",
            "30s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Browse once requests are counted and the fault is on.
    let deadline = Instant::now() + Duration::from_secs(20);
    let fault_on = |text: &str| {
        text.lines()
            .any(|l| l.starts_with("surge_fault_active{fault=\"slow-link\"") && l.ends_with(" 1"))
    };
    while requests_in_metrics_opt(&base).is_none_or(|n| n == 0)
        || !get(&format!("{base}/metrics")).is_some_and(|t| fault_on(&t))
    {
        assert!(
            Instant::now() < deadline,
            "the dashboard never counted a request with the fault on"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Mid-run: promtool accepts /metrics; the page shows what /metrics
    // counts (between a reading before and one after), and the fault on.
    let metrics = get(&format!("{base}/metrics")).unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package `prometheus`)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let before = requests_in_metrics(&base);
    let dom = browse(&format!("{base}/"));
    let after = requests_in_metrics(&base);
    let shown: u64 = element(&dom, "requests").trim().parse().unwrap();
    assert!(
        before <= shown && shown <= after && shown > 0,
        "page {shown}, /metrics {before}..{after}"
    );
    assert!(
        element(&dom, "faults").contains("slow-link"),
        "the fault on is shown"
    );
    assert_eq!(element(&dom, "status"), "running");
    let channels = &dom[dom.find("id=\"channels\"").unwrap()..];
    let channels = &channels[..channels.find("</table>").unwrap()];
    assert!(
        channels.contains("<td>storefront</td>"),
        "latency per channel: {channels}"
    );

    // Later, the objectives as judged so far (every few seconds).
    let dom = running_verdict(&base, Duration::from_secs(15));
    assert!(
        dom.contains("<td>error rate of all requests ≤ 1%</td>"),
        "the objective is listed"
    );

    // The end: the page shows the verdict summary.json holds, and links
    // the report, which is served.
    let deadline = Instant::now() + Duration::from_secs(40);
    let dom = loop {
        let dom = browse(&format!("{base}/"));
        if element(&dom, "status").starts_with("ended") {
            break dom;
        }
        assert!(Instant::now() < deadline, "the page never showed the end");
        std::thread::sleep(Duration::from_millis(500));
    };
    let summary = read_summary(&out);
    let verdict = summary["gate"]["verdict"].as_str().unwrap();
    assert_eq!(element(&dom, "status"), format!("ended: {verdict}"));
    let judgement = summary["gate"]["objectives"][0]["judgement"]
        .as_str()
        .unwrap();
    assert!(
        dom.contains(&format!("class=\"{judgement}\">{judgement}</td>")),
        "the final judgement of the objective is shown"
    );
    assert_eq!(element(&dom, "judged_at"), "(final)");
    let requests: u64 = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(element(&dom, "requests"), requests.to_string());
    assert!(get(&format!("{base}/report")).is_some_and(|r| r.contains("<html")));
    let shot = dir.path().join("dashboard.png");
    let _ = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1100,1300", &format!("{base}/")])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status();
    assert!(shot.exists(), "a screenshot was written");
    // SURGE_SCREENSHOT=PATH keeps it (README's picture is made so).
    if let Ok(keep) = std::env::var("SURGE_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn requests_in_metrics_opt(base: &str) -> Option<u64> {
    get(&format!("{base}/metrics")).map(|text| {
        text.lines()
            .filter(|l| l.starts_with("surge_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    })
}

#[test]
fn a_port_in_use_or_an_address_off_loopback_is_refused_before_load() {
    let server = server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), &server.url);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = dir.path().join("out");
    let (code, _, stderr) = run_scenario(&file, &out, &["--dashboard", &addr]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot listen there"), "{stderr}");
    assert!(!out.exists(), "refused before any run folder");
    let (code, _, stderr) = run_scenario(&file, &out, &["--dashboard", "0.0.0.0:0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--allow-remote-dashboard"), "{stderr}");
    assert_eq!(
        server.state.hits.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn against_the_twin_the_page_shows_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        "ledger",
        "version: 1\nname: ledger\ntarget: { twin: {} }\n\
         load: { phases: [{ name: p, duration: 20s, rate: 5/s }] }\n\
         journeys:\n  j: { channel: storefront, steps: [{ name: login, method: POST, path: /storefront/login, json: { phone: \"0812{arrival}\" } }] }\n\
         objectives:\n  - ledger: { counter: paid_not_credited, at_most: 0 }\n",
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args([
            "-q",
            "--dashboard",
            &format!("127.0.0.1:{port}"),
            "--dashboard-linger",
            "20s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let dom = loop {
        if requests_in_metrics_opt(&base).is_some_and(|n| n > 0) {
            break browse(&format!("{base}/"));
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard never counted a request"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The ledger objective is judged mid-run on the ledger the page shows,
    // not called unjudgeable. The run is long enough that a busy machine,
    // where each Chromium dump takes seconds, still sees it running (at 9 s
    // a CI run here saw only the final verdict).
    let judged = running_verdict(&base, Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    assert!(!judged.contains("has no ledger"), "{judged}");
    assert!(judged.contains("class=\"met\">met</td>"), "{judged}");
    assert!(
        element(&dom, "ledger").contains("paid but not credited"),
        "{}",
        element(&dom, "ledger")
    );
}
