//! `surge import access-log` on real logs: a real nginx (Debian's
//! `nginx-light`, started here on a loopback port with its own
//! `log_format`) logs a load surge drives with known phases and mix, and
//! the import must give them back; fixtures cover the edges logs have
//! (rotation, gzip, IPv6, escaped quotes, `-`, CONNECT, invalid UTF-8, a
//! cut last line, a daylight-saving change, JSON lines); and `load.curve`
//! must drive a run second by second.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, surge};

/// nginx's own log_format for the test: combined plus `$msec`, so times
/// have milliseconds (a format given verbatim, as users do).
const NGINX_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $msec"#;

/// A running nginx, stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts nginx in `dir` (config, temp paths, logs all inside it).
fn nginx(dir: &Path) -> Nginx {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is not installed: run `bash tests/setup.sh` (Debian package nginx-light)");
    let port = free_port();
    let log = dir.join("access.log");
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  log_format surge '{NGINX_FORMAT}';\n  access_log {log} surge;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  keepalive_requests 100000;\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
        d = dir.display(),
        log = log.display(),
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nginx did not listen within 20s: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx { child, port, log }
}

/// `surge import access-log ARGS` → (exit code, stdout, stderr).
fn import(args: &[&str]) -> (i32, String, String) {
    let out = surge()
        .arg("import")
        .arg("access-log")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_log_written_by_nginx_under_known_phases_imports_back_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let web = nginx(dir.path());
    let ids: String = (0..50)
        .map(|i| format!("{:06x}\n", 0x8f3a9c + i * 7919))
        .collect();
    std::fs::write(dir.path().join("orders.csv"), format!("id\n{ids}")).unwrap();
    // A ramp 10 to 40/s, a plateau at 40/s, a step down to 20/s; arrivals
    // evenly spaced so every bin's count is known exactly.
    let driving = format!(
        "version: 1\nname: driving\nseed: 3\ntarget: {{base_url: 'http://127.0.0.1:{}'}}\n\
         load:\n  arrivals: uniform\n  phases:\n\
         \x20   - {{name: ramp, duration: 30s, from: 10/s, to: 40/s}}\n\
         \x20   - {{name: plateau, duration: 30s, rate: 40/s}}\n\
         \x20   - {{name: step, duration: 30s, rate: 20/s}}\n\
         mix: {{buy: 2, stamp: 1, quota: 1}}\n\
         data: {{orders: {{file: orders.csv, pick: random}}}}\n\
         journeys:\n\
         \x20 buy: {{channel: storefront, feed: orders, steps: [{{name: order, path: '/storefront/orders/{{orders.id}}'}}]}}\n\
         \x20 stamp: {{channel: stamping, steps: [{{name: stamp, method: POST, path: /stamping/stamp}}]}}\n\
         \x20 quota: {{channel: storefront, steps: [{{name: quota, path: '/api/quota?u={{arrival}}'}}]}}\n",
        web.port
    );
    let driving_file = common::scenario_file(dir.path(), "driving", &driving);
    let (code, stdout, stderr) = common::run_scenario(&driving_file, &dir.path().join("run"), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines = std::fs::read_to_string(&web.log).unwrap().lines().count();
    // 2,550 arrivals, each journey's count rounded up by evenly spaced
    // arrivals (half-way points): at most one more per journey.
    assert!(
        (2550..=2553).contains(&lines),
        "nginx logged {lines} requests"
    );

    let out = dir.path().join("eve.yaml");
    let target = format!("http://127.0.0.1:{}", web.port);
    let base_args = [
        s(&web.log),
        "--format",
        NGINX_FORMAT,
        "--entry",
        "GET /storefront/orders/{id}",
        "--entry",
        "POST /stamping/stamp",
        "--entry",
        "GET /api/quota",
        "--bin",
        "10s",
        "--target",
        &target,
    ];
    let mut args = base_args.to_vec();
    args.extend(["--out", s(&out)]);
    let (code, stdout, stderr) = import(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The route table: the ids collapsed, the mix within 1 point.
    for (route, share) in [
        ("GET     /storefront/orders/{id}", 50.0),
        ("POST    /stamping/stamp", 25.0),
        ("GET     /api/quota", 25.0),
    ] {
        let row = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(route))
            .unwrap_or_else(|| panic!("no route {route} in\n{stdout}"));
        let got: f64 = row
            .split_whitespace()
            .find(|w| w.ends_with('%'))
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap();
        assert!((got - share).abs() <= 1.0, "{route}: {got}% vs {share}%");
    }

    // The phases come back: three, a ramp then two constants.
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let phases = doc["load"]["phases"].as_sequence().unwrap();
    assert_eq!(phases.len(), 3, "{phases:?}\n{stdout}");
    let rate = |v: &serde_yaml::Value| -> f64 {
        surge::scenario::units::parse_rate(v.as_str().unwrap())
            .unwrap()
            .as_per_second()
    };
    let near = |got: f64, want: f64, tol: f64| (got - want).abs() <= tol * want;
    assert!(
        near(rate(&phases[0]["from"]), 10.0, 0.1) && near(rate(&phases[0]["to"]), 40.0, 0.05),
        "{phases:?}"
    );
    assert!(near(rate(&phases[1]["rate"]), 40.0, 0.02), "{phases:?}");
    assert!(near(rate(&phases[2]["rate"]), 20.0, 0.02), "{phases:?}");

    // Every bin of the log within the fit error of the written phases, and
    // the total within 1%: the log's own counts, second by second, come
    // from --exact.
    let exact = dir.path().join("exact.yaml");
    let mut args = base_args.to_vec();
    args.extend(["--out", s(&exact), "--exact"]);
    let (code, stdout2, stderr2) = import(&args);
    assert_eq!(code, 0, "{stdout2}{stderr2}");
    let curve = surge::scenario::curve::load(&dir.path().join("exact.curve.csv"), "c").unwrap();
    let (fitted, _) = surge::scenario::load(&out).unwrap();
    let mut total = 0.0;
    for (i, bin) in curve.counts.chunks(10).enumerate() {
        let seen: f64 = bin.iter().sum();
        let a = i as f64 * 10.0;
        let model = fitted.timeline.arrivals_between(a, a + bin.len() as f64);
        assert!(
            (seen - model).abs() <= (0.05 * model).max(1.0),
            "bin {i}: {seen} in the log, {model:.1} fitted\n{stdout}"
        );
        total += model;
    }
    assert!((total - 2550.0).abs() <= 25.5, "{total} fitted vs 2550");

    // The written scenario validates and runs against the same nginx.
    surge().arg("validate").arg(&out).assert().success();
    let (code, stdout, stderr) =
        common::run_scenario(&out, &dir.path().join("rerun"), &["--duration", "6s"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let summary = common::read_summary(&dir.path().join("rerun"));
    let completed: u64 = summary["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            j["outcomes"]["completed_in_time"].as_u64().unwrap()
                + j["outcomes"]["completed_late"].as_u64().unwrap()
        })
        .sum();
    assert!(completed > 100, "{summary}");
}

/// Writes `lines` to `path`, gzipped when it ends in `.gz`.
fn write_log(path: &Path, lines: &[Vec<u8>], trailing_newline: bool) {
    let mut bytes = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        bytes.extend_from_slice(l);
        if i + 1 < lines.len() || trailing_newline {
            bytes.push(b'\n');
        }
    }
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        bytes = gz.finish().unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// A combined line at `utc_s` seconds after 2026-10-25 00:59:40 UTC, in
/// Central European time: +0200 before 01:00 UTC, +0100 after (the night
/// summer time ends, so local clocks go 02:59:59 → 02:00:00).
fn cet_line(utc_s: u64, client: &str, request: &[u8], status: u16, agent: &str) -> Vec<u8> {
    let utc = 59 * 60 + 40 + utc_s; // seconds after 00:00 UTC
    let (offset_h, tz) = if utc < 3600 {
        (2, "+0200")
    } else {
        (1, "+0100")
    };
    let local = utc + offset_h * 3600;
    let time = format!(
        "25/Oct/2026:{:02}:{:02}:{:02} {tz}",
        local / 3600,
        local / 60 % 60,
        local % 60
    );
    let mut line = format!("{client} - - [{time}] \"").into_bytes();
    line.extend_from_slice(request);
    line.extend_from_slice(format!("\" {status} 12 \"-\" \"{agent}\"").as_bytes());
    line
}

#[test]
fn rotated_gzipped_and_odd_lines_are_read_in_time_order_across_a_clock_change() {
    let dir = tempfile::tempdir().unwrap();
    let main_line = |t: u64| {
        cet_line(
            t,
            "10.0.0.1",
            format!("GET /a/{t} HTTP/1.1").as_bytes(),
            200,
            "curl/8",
        )
    };
    let oldest: Vec<Vec<u8>> = (0..10).map(main_line).collect();
    let older: Vec<Vec<u8>> = (10..20).map(main_line).collect();
    let mut newest: Vec<Vec<u8>> = (20..40).map(main_line).collect();
    newest.extend([
        cet_line(25, "2001:db8::7", b"GET /b HTTP/1.1", 200, "Mozilla"),
        cet_line(
            25,
            "10.0.0.2",
            b"GET /b HTTP/1.1",
            200,
            r#"Agent \"quoted\" 1.0"#,
        ),
        cet_line(26, "10.0.0.3", b"-", 400, "-"),
        cet_line(
            26,
            "10.0.0.3",
            b"CONNECT example.com:443 HTTP/1.1",
            405,
            "-",
        ),
        cet_line(27, "10.0.0.4", b"GET /c/\xff\xfe HTTP/1.1", 404, "\u{00e9}"),
        b"10.0.0.5 - - [25/Oct/2026:02:00:3".to_vec(),
    ]);
    let paths = [
        dir.path().join("access.log"),
        dir.path().join("access.log.2.gz"),
        dir.path().join("access.log.1"),
    ];
    write_log(&paths[0], &newest, false);
    write_log(&paths[1], &oldest, true);
    write_log(&paths[2], &older, true);
    let out = dir.path().join("odd.yaml");
    let (code, stdout, stderr) = import(&[
        s(&paths[0]),
        s(&paths[1]),
        s(&paths[2]),
        "--entry",
        "GET /a/{id}",
        "--exact",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("read 46 lines from 3 files (0 unreadable, 0 outside the window, 2 not a request for a path"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cut short (no newline, unreadable), left out:")
            && stdout.contains("access.log:26"),
        "{stdout}"
    );
    // Local 02:59:40 +02:00 to 02:00:20 +01:00 is 40 seconds, not -59m.
    assert!(
        stdout.contains("window 2026-10-25 02:59:40 +02:00 to 2026-10-25 03:00:20 +02:00 (40s): 43 requests, 40 arrivals"),
        "{stdout}"
    );
    let curve = std::fs::read_to_string(dir.path().join("odd.curve.csv")).unwrap();
    let counts: Vec<&str> = curve
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(counts, vec!["1"; 40], "one arrival every second, in order");
    surge().arg("validate").arg(&out).assert().success();

    // A window across the clock change, given in UTC: 20 of the 40
    // seconds, the odd lines (at 01:00:05 to 01:00:07 UTC) inside it.
    let (code, stdout, stderr) = import(&[
        s(&paths[0]),
        s(&paths[1]),
        s(&paths[2]),
        "--entry",
        "GET /a/{id}",
        "--from",
        "2026-10-25T00:59:50Z",
        "--to",
        "2026-10-25T01:00:10Z",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("0 unreadable, 20 outside the window, 2 not a request for a path"),
        "{stdout}"
    );
    assert!(
        stdout.contains("window 2026-10-25 02:59:50 +02:00 to 2026-10-25 03:00:10 +02:00 (20s): 23 requests, 20 arrivals"),
        "{stdout}"
    );
}

#[test]
fn json_lines_with_epoch_milliseconds_and_renamed_fields() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.jsonl");
    let t0: u64 = 1_796_554_805_000;
    let lines: Vec<Vec<u8>> = [0u64, 400, 900, 1500, 2100, 2200]
        .iter()
        .map(|ms| {
            format!(r#"{{"ts": {}, "verb": "POST", "uri": "/stamping/stamp", "status": 201, "remote_addr": "10.1.1.{}"}}"#, t0 + ms, ms % 7)
                .into_bytes()
        })
        .collect();
    write_log(&log, &lines, true);
    let out = dir.path().join("j.yaml");
    let (code, stdout, stderr) = import(&[
        s(&log),
        "--format",
        "json",
        "--field",
        "time=ts",
        "--field",
        "path=uri",
        "--field",
        "method=verb",
        "--entry",
        "POST /stamping/stamp",
        "--exact",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let curve = std::fs::read_to_string(dir.path().join("j.curve.csv")).unwrap();
    assert_eq!(curve, "second,arrivals\n0,3\n1,1\n2,2\n");
}

#[test]
fn a_wrong_format_is_refused_with_the_lines_it_could_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut lines: Vec<Vec<u8>> = (0..50)
        .map(|t| cet_line(t, "10.0.0.1", b"GET / HTTP/1.1", 200, "x"))
        .collect();
    lines.insert(7, b"this is not an access log line".to_vec());
    write_log(&log, &lines, true);
    let out = dir.path().join("x.yaml");
    let (code, _, stderr) = import(&[s(&log), "--out", s(&out)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("1 of 51 lines (2.0%) could not be read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("access.log:8: the line does not match the format"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the format is likely wrong"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written on bad input");

    // A format string that cannot split lines is located in the string.
    let (code, _, stderr) = import(&[
        s(&log),
        "--out",
        s(&out),
        "--format",
        "$remote_addr$status [$time_local] \"$request\"",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`$status` follows `$remote_addr` with nothing between them"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n              ^"),
        "a caret under the 13th character:\n{stderr}"
    );
}

#[test]
fn a_base_scenario_keeps_its_journeys_and_comments_and_gets_the_mix() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut lines = Vec::new();
    for t in 0..120u64 {
        lines.push(cet_line(
            t,
            "10.0.0.1",
            format!("GET /storefront/orders/{:x}9f1 HTTP/1.1", t).as_bytes(),
            200,
            "x",
        ));
        if t % 2 == 0 {
            lines.push(cet_line(
                t,
                "10.0.0.2",
                b"POST /stamping/stamp HTTP/1.1",
                200,
                "x",
            ));
        }
        if t % 4 == 0 {
            lines.push(cet_line(
                t,
                "10.0.0.3",
                b"GET /api/quota HTTP/1.1",
                200,
                "x",
            ));
        }
    }
    write_log(&log, &lines, true);
    let base = common::scenario_file(
        dir.path(),
        "base",
        "# Our deadline eve, by hand.\nversion: 1\nname: base\ntarget: {twin: {}}\n\
         load:\n  max_in_flight: 77\n  phases: [{name: guess, duration: 1m, rate: 5/s}]\n\
         # the journeys are ours\njourneys:\n\
         \x20 buy: {channel: storefront, steps: [{name: order, path: '/storefront/orders/{arrival}'}]}\n\
         \x20 stamp-it: {channel: stamping, steps: [{name: s, method: POST, path: /stamping/stamp}]}\n",
    );
    let out = dir.path().join("merged.yaml");
    let (code, stdout, stderr) = import(&[
        s(&log),
        "--scenario",
        s(&base),
        "--entry",
        "GET /storefront/orders/{id}",
        "--entry",
        "POST /stamping/stamp",
        "--entry",
        "GET /api/quota",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("not in the scenario: GET /api/quota (14.3% of arrivals)"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("# Our deadline eve, by hand.") && text.contains("# the journeys are ours"),
        "{text}"
    );
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(doc["mix"]["buy"].as_u64(), Some(120));
    assert_eq!(doc["mix"]["stamp-it"].as_u64(), Some(60));
    assert_eq!(
        doc["load"]["max_in_flight"].as_u64(),
        Some(77),
        "the base's load keys kept"
    );
    assert_ne!(doc["load"]["phases"][0]["name"].as_str(), Some("guess"));
    surge().arg("validate").arg(&out).assert().success();

    // A base whose deadline names one of its own phases: the file is
    // written, refused by validation, and the hint names the new phases.
    let pinned = common::scenario_file(
        dir.path(),
        "pinned",
        &std::fs::read_to_string(&base)
            .unwrap()
            .replace("version: 1\n", "version: 1\ndeadline: guess.end\n"),
    );
    let (code, _, stderr) = import(&[
        s(&log),
        "--scenario",
        s(&pinned),
        "--entry",
        "POST /stamping/stamp",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no phase is named `guess`"), "{stderr}");
    assert!(
        stderr.contains("the imported phases are `0259-0301`"),
        "{stderr}"
    );
    let (code, _, stderr) = import(&[
        s(&log),
        "--scenario",
        s(&pinned),
        "--entry",
        "POST /stamping/stamp",
        "--deadline",
        "03:00:30",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "--deadline replaces the base's: {stderr}");

    // An explicit map to a journey the base lacks is refused by name.
    let (code, _, stderr) = import(&[
        s(&log),
        "--scenario",
        s(&base),
        "--map",
        "GET /api/quota=quota",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the base has no journey `quota`; it has buy, stamp-it"),
        "{stderr}"
    );
}

#[test]
fn a_curve_drives_a_run_second_by_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server::start();
    let counts = [3u64, 0, 5, 2, 8, 1, 0, 4];
    let mut csv = String::from("second,arrivals\n");
    for (i, c) in counts.iter().enumerate() {
        csv += &format!("{i},{c}\n");
    }
    std::fs::write(dir.path().join("eve.csv"), csv).unwrap();
    let file = common::scenario_file(
        dir.path(),
        "curve",
        &format!(
            "version: 1\nname: curve\ntarget: {{base_url: '{}'}}\n\
             load: {{arrivals: uniform, drain: 5s, curve: {{file: eve.csv}}}}\n\
             journeys: {{j: {{channel: storefront, steps: [{{name: s, path: /fast}}]}}}}\n",
            server.url
        ),
    );
    let run = dir.path().join("run");
    let (code, stdout, stderr) = common::run_scenario(&file, &run, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let journeys = std::fs::read_to_string(run.join("journeys.csv")).unwrap();
    let mut per = vec![0u64; counts.len()];
    let mut lines = journeys.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let second: usize = cells[col("second")].parse().unwrap();
        if second < per.len() {
            per[second] += cells[col("scheduled")].parse::<u64>().unwrap();
        }
    }
    assert_eq!(per, counts, "{journeys}");

    // A bad count is located by line, through `surge validate`.
    std::fs::write(dir.path().join("eve.csv"), "second,arrivals\n0,3\n1,-2\n").unwrap();
    let out = surge().arg("validate").arg(&file).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("eve.csv:3: `-2` is not a count of arrivals"),
        "{text}"
    );
}

#[test]
fn the_shipped_sample_imports_onto_the_shipped_base_as_the_readme_shows() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("from-logs.yaml");
    std::fs::copy(common::repo("scenarios/examples/from-logs.yaml"), &base).unwrap();
    let out = dir.path().join("eve.yaml");
    let log = common::repo("scenarios/examples/logs/eve-sample.log.gz");
    let (code, stdout, stderr) = import(&[
        s(&log),
        "--scenario",
        s(&base),
        "--out",
        s(&out),
        "--entry",
        "POST /storefront/login",
        "--entry",
        "POST /partners/{partner}/login",
        "--deadline",
        "18:58",
        "--scale",
        "2",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The sample's shape (see its script): 1/s, a climb to 5/s, 5/s, 8/s.
    let (fitted, _) = surge::scenario::load(&out).unwrap();
    let phases = &fitted.timeline.phases;
    assert_eq!(phases.len(), 4, "{stdout}");
    let near = |got: f64, want: f64| (got - want).abs() <= 0.15 * want;
    assert!(
        near(phases[0].from, 1.0) && near(phases[1].to, 5.0),
        "{phases:?}"
    );
    assert!(
        near(phases[2].from, 5.0) && near(phases[3].from, 8.0),
        "{phases:?}"
    );
    assert_eq!(fitted.file.load.scale, 2.0);
    let mix = &fitted.file.mix;
    assert_eq!((mix["buyer"], mix["post-office"]), (7884.0, 3340.0));
    assert!(
        std::fs::read_to_string(dir.path().join("eve.fit.html"))
            .unwrap()
            .contains("<svg")
    );
}

#[test]
fn without_entry_routes_a_clients_first_request_after_a_quiet_gap_is_an_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut lines = Vec::new();
    // One client: three requests, 40 minutes of quiet, two more; another
    // client (same address, another agent) once. A third behind the same
    // proxy address, told apart by its agent.
    for t in [0u64, 10, 20, 2420, 2430] {
        lines.push(cet_line(
            t,
            "10.0.0.1",
            b"GET /storefront/ HTTP/1.1",
            200,
            "phone",
        ));
    }
    lines.push(cet_line(
        15,
        "10.0.0.1",
        b"GET /storefront/ HTTP/1.1",
        200,
        "laptop",
    ));
    write_log(&log, &lines, true);
    let out = dir.path().join("s.yaml");
    let (code, stdout, stderr) = import(&[s(&log), "--out", s(&out)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("6 requests, 3 arrivals"), "{stdout}");
    // A shorter gap cuts the first client's requests 10 s apart too.
    let (code, stdout, stderr) = import(&[s(&log), "--out", s(&out), "--session-gap", "5s"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("6 requests, 6 arrivals"), "{stdout}");
}

#[test]
fn a_scale_with_three_extra_zeros_is_written_but_refused_with_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let lines: Vec<Vec<u8>> = (0..600)
        .flat_map(|t| {
            (0..20).map(move |k| {
                cet_line(
                    t,
                    &format!("10.0.{k}.1"),
                    b"POST /stamping/stamp HTTP/1.1",
                    200,
                    "x",
                )
            })
        })
        .collect();
    write_log(&log, &lines, true);
    let out = dir.path().join("big.yaml");
    let (code, _, stderr) = import(&[
        s(&log),
        "--out",
        s(&out),
        "--entry",
        "POST /stamping/stamp",
        "--scale",
        "20000",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("big.yaml was written but does not validate"),
        "{stderr}"
    );
    assert!(stderr.contains("arrivals for one process"), "{stderr}");
    assert!(out.exists());
    let (code, _, stderr) = import(&[s(&log), "--out", s(&out), "--phases", "20000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--phases 20000: give 1 to 200"), "{stderr}");
}
