//! Helpers shared by the integration tests: the real `surge` binary, and
//! where the repository's files are.
#![allow(dead_code)]

use std::path::PathBuf;

/// The `surge` binary built for this test run.
pub fn surge() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("surge")
}

/// A path inside the repository.
pub fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A loopback port free a moment ago (for servers the tests start apart,
/// which must be told their port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped scenarios.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// An HTTP server for the runner's tests, on 127.0.0.1:0, on its own
/// thread and runtime (the binary under test is another process).
pub mod server {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde_json::{Value, json};

    pub struct Server {
        pub url: String,
        pub state: Arc<Shared>,
    }

    #[derive(Default)]
    pub struct Shared {
        /// Requests stall while `now` is inside this window.
        pub stall: Mutex<Option<(Instant, Instant)>>,
        /// `/staged` stalls requests arriving within this window, counted
        /// from the first request the server saw, until the window ends.
        pub staged: Mutex<Option<(Duration, Duration)>>,
        first: std::sync::OnceLock<Instant>,
        pub hits: AtomicU64,
        counters: Mutex<HashMap<String, u64>>,
        pub seen: Mutex<Vec<Value>>,
    }

    impl Shared {
        fn count(&self, key: &str) -> u64 {
            let mut c = self.counters.lock().unwrap();
            let n = c.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        }
    }

    async fn stall(state: &Shared) {
        let window = *state.stall.lock().unwrap();
        if let Some((from, to)) = window {
            let now = Instant::now();
            if now >= from && now < to {
                tokio::time::sleep(to - now).await;
            }
        }
    }

    /// Starts the server; it lives as long as the test process.
    pub fn start() -> Server {
        let state = Arc::new(Shared::default());
        let app = Router::new()
            .route("/fixed", get(|State(s): State<Arc<Shared>>| async move {
                s.hits.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                "ok"
            }))
            .route("/fast", get(|State(s): State<Arc<Shared>>| async move {
                s.hits.fetch_add(1, Ordering::Relaxed);
                stall(&s).await;
                "ok"
            }))
            .route("/flaky/{key}/{fails}", get(|State(s): State<Arc<Shared>>, Path((key, fails)): Path<(String, u64)>| async move {
                if s.count(&key) <= fails { (StatusCode::SERVICE_UNAVAILABLE, "busy") } else { (StatusCode::OK, "ok") }
            }))
            .route("/bad", get(|| async { (StatusCode::BAD_REQUEST, "no") }))
            .route("/status/{code}", get(|Path(code): Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT), "as asked")
            }))
            .route("/delay/{ms}", get(|Path(ms): Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "ok"
            }))
            .route("/staged", get(|State(s): State<Arc<Shared>>| async move {
                let first = *s.first.get_or_init(Instant::now);
                let window = *s.staged.lock().unwrap();
                if let Some((from, to)) = window {
                    let (from, to) = (first + from, first + to);
                    let now = Instant::now();
                    if now >= from && now < to {
                        tokio::time::sleep(to - now).await;
                    }
                }
                "ok"
            }))
            .route("/echo", post(|State(s): State<Arc<Shared>>, Json(body): Json<Value>| async move {
                s.seen.lock().unwrap().push(body.clone());
                Json(json!({ "body": body }))
            }))
            // An applicant's fate by its arrival number: `RULES` is a
            // comma-separated list of `fail:FROM-TO:EVERY` (a 500 for
            // arrivals n in [FROM, TO) with n % EVERY == EVERY - 1) and
            // `slow:FROM-TO:MS` (answer after MS ms for n in [FROM, TO)).
            .route("/arrival/{n}/{rules}", get(|Path((n, rules)): Path<(u64, String)>| async move {
                let mut status = StatusCode::OK;
                for rule in rules.split(',') {
                    let parts: Vec<&str> = rule.split(':').collect();
                    let (from, to) = parts[1].split_once('-').unwrap();
                    let (from, to): (u64, u64) = (from.parse().unwrap(), to.parse().unwrap());
                    let k: u64 = parts[2].parse().unwrap();
                    if !(from..to).contains(&n) {
                        continue;
                    }
                    match parts[0] {
                        "fail" if n % k == k - 1 => status = StatusCode::INTERNAL_SERVER_ERROR,
                        "slow" => tokio::time::sleep(Duration::from_millis(k)).await,
                        _ => {}
                    }
                }
                (status, "as the rules say")
            }))
            .route("/poll/{key}", get(|State(s): State<Arc<Shared>>, Path(key): Path<String>| async move {
                let n = s.count(&format!("poll-{key}"));
                Json(json!({ "ready": n >= 3, "calls": n }))
            }))
            .with_state(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Server {
            url: format!("http://{addr}"),
            state,
        }
    }
}

/// Serves `app` on a free loopback port from a thread of its own (a
/// current-thread runtime), for as long as the test process lives; its
/// base URL.
pub fn serve(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// Writes a scenario file into `dir`, naming the target `base_url`.
pub fn scenario_file(dir: &std::path::Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, body).unwrap();
    path
}

/// `surge run SCENARIO --out OUT -q EXTRA...` on the real binary, to run.
fn run_command(
    scenario: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"));
    cmd.arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .args(extra);
    cmd
}

/// `surge run SCENARIO --out OUT -q EXTRA...` on the real binary:
/// (exit code, stdout, stderr).
pub fn run_scenario(
    scenario: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> (i32, String, String) {
    let output = run_command(scenario, out, extra).output().unwrap();
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The same run started in the background, its output discarded (nothing
/// reads it while the test waits).
pub fn spawn_run(
    scenario: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Child {
    run_command(scenario, out, extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The same run; (exit code, stdout and stderr together).
pub fn run_printed(scenario: &std::path::Path, out: &std::path::Path) -> (i32, String) {
    let (code, stdout, stderr) = run_scenario(scenario, out, &[]);
    (code, stdout + &stderr)
}

/// Reads a run folder's summary.
pub fn read_summary(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json exists");
    serde_json::from_str(&text).unwrap()
}

/// The entry of `list` (journeys, steps...) named `name`.
pub fn named<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// Sends Ctrl-C (SIGINT) to `child` and waits for it to end, within 10 s.
pub fn interrupt_within_10s(
    child: &mut std::process::Child,
    what: &str,
) -> std::process::ExitStatus {
    let sent = std::time::Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            sent.elapsed() < std::time::Duration::from_secs(10),
            "{what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The verdict of the objective named `name` in a summary's gate.
pub fn objective<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    named(&summary["gate"]["objectives"], name)
}

/// A GET over plain HTTP/1.0 on loopback, without a client library: the
/// body, on a 200 (real servers started by the tests answer it).
pub fn http_get(url: &str) -> Option<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_string())
}

/// `surge twin` on a free port, stopped when dropped.
pub struct Twin {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `surge twin` on a free port of loopback.
pub fn twin() -> Twin {
    twin_with(&[])
}

/// Starts `surge twin` on a free port of loopback with more arguments
/// (`--config FILE`).
pub fn twin_with(args: &[&str]) -> Twin {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("surge"))
        .args(["twin", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
        let mut why = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut why);
        panic!("surge twin {args:?} printed no address: {line}{why}");
    };
    let url = url.to_string();
    // Drained, not closed: a twin writing to a closed pipe would fail.
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Twin { child, url }
}

/// Raw TCP upstreams for the proxy's tests, on 127.0.0.1:0, served on the
/// test's own runtime.
pub mod tcp {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An upstream that echoes what it reads.
    pub async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// An upstream that sends `n` numbered bytes on connect, then closes.
    pub async fn sender(n: usize) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let _ = s.write_all(&numbered(n)).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        addr
    }

    /// Awaits `f`, failing the test after 15 s instead of hanging the
    /// suite.
    pub async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(15), f)
            .await
            .expect("no answer within 15 s")
    }

    /// The round trip of a small message through `addr` to an echo.
    pub async fn round_trip(addr: SocketAddr) -> std::time::Duration {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let t = std::time::Instant::now();
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        bounded(s.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"ping");
        t.elapsed()
    }

    /// `n` bytes counting 0 to 250 over and over: a reordered or lost
    /// byte shows.
    pub fn numbered(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }
}
