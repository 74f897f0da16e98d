//! The plain-HTTP client as a target sees it, through the real binary:
//! what a request carries, redirects followed as they always were (method
//! and body by status, credentials kept from another origin), connections
//! kept per user and reopened when the server closed an idle one, and the
//! same requests with `--goose-metrics` (which sends through reqwest).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use common::{named, read_summary, run_scenario as run, scenario_file};
use serde_json::{Value, json};

/// What a recording server saw of one request.
type Seen = Arc<Mutex<Vec<Value>>>;

/// A server that records every request and answers by path: `/to/STATUS/
/// PATH...` redirects with STATUS to `/PATH...` on the same origin,
/// `/away/STATUS` to `/landed` on `other`, anything else is a 200.
fn recording(other: Option<String>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let state = (seen.clone(), other);
    let app = Router::new().fallback(answer).with_state(Arc::new(state));
    (common::serve(app), seen)
}

async fn answer(
    State(state): State<Arc<(Seen, Option<String>)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let header = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string());
    state.0.lock().unwrap().push(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "host": header("host"),
        "user_agent": header("user-agent"),
        "accept": header("accept"),
        "cookie": header("cookie"),
        "authorization": header("authorization"),
        "referer": header("referer"),
        "content_type": header("content-type"),
        "body": String::from_utf8_lossy(&body),
    }));
    let parts: Vec<&str> = uri.path().trim_start_matches('/').splitn(3, '/').collect();
    let redirect = |status: &str, to: String| {
        let status = StatusCode::from_bytes(status.as_bytes()).unwrap();
        (status, [("location", to)]).into_response()
    };
    match parts.as_slice() {
        ["to", status, rest] => redirect(status, format!("/{rest}")),
        ["away", status] => redirect(status, format!("{}/landed", state.1.clone().unwrap())),
        _ => (StatusCode::OK, "landed").into_response(),
    }
}

fn scenario(url: &str, rate: &str, users: u32, steps: &str) -> String {
    format!(
        "version: 1\nname: t\nseed: 3\ntarget: {{ base_url: \"{url}\" }}\n\
         load: {{ arrivals: uniform, max_in_flight: {users}, phases: [{{ name: p, duration: 2s, rate: {rate} }}] }}\n\
         journeys:\n  j:\n    channel: storefront\n    patience: {{ attempts: 1 }}\n    \
         headers: {{ Authorization: \"Bearer tok-{{arrival}}\", Cookie: \"session=s{{arrival}}\" }}\n    \
         steps:\n{steps}\n"
    )
}

fn seen_at(seen: &Seen, path: &str) -> Vec<Value> {
    let all = seen.lock().unwrap();
    all.iter().filter(|r| r["path"] == path).cloned().collect()
}

#[test]
fn redirects_are_followed_as_reqwest_followed_them_on_both_paths() {
    let (away, away_seen) = recording(None);
    let (url, seen) = recording(Some(away.clone()));
    let host = url.trim_start_matches("http://").to_string();
    let steps = "      - { name: found, path: /to/302/one }
      - { name: other, method: POST, path: /to/303/two, json: { n: 1 } }
      - { name: kept, method: POST, path: /to/307/three, json: { n: 2 } }
      - { name: away, path: /away/302 }
      - { name: plain, path: \"/plain?n={arrival}\" }";
    for (flags, out) in [(vec![], "lean"), (vec!["--goose-metrics"], "goose")] {
        seen.lock().unwrap().clear();
        away_seen.lock().unwrap().clear();
        let dir = tempfile::tempdir().unwrap();
        let file = scenario_file(dir.path(), out, &scenario(&url, "2/s", 1, steps));
        let out = dir.path().join(out);
        let (code, stdout, stderr) = run(&file, &out, &flags);
        assert_eq!(code, 0, "{flags:?}: {stdout}{stderr}");
        let s = read_summary(&out);
        let j = named(&s["journeys"], "j");
        let done = j["outcomes"]["completed_in_time"].as_u64().unwrap()
            + j["outcomes"]["completed_late"].as_u64().unwrap();
        assert_eq!(done, 4, "{flags:?}: {j}");

        // What every request carries.
        let plain = seen_at(&seen, "/plain");
        assert_eq!(plain.len(), 4, "{flags:?}");
        for r in &plain {
            assert_eq!(r["host"], host.as_str(), "{flags:?}");
            assert_eq!(
                r["user_agent"],
                concat!("surge/", env!("CARGO_PKG_VERSION"))
            );
            assert_eq!(r["accept"], "*/*", "{flags:?}");
            assert!(r["query"].as_str().unwrap().starts_with("n="), "{r}");
        }
        // 302 on a GET and 303 on a POST: a GET of the new place, same
        // origin, so the credentials go along, with the referer.
        for (to, from) in [("/one", "/to/302/one"), ("/two", "/to/303/two")] {
            let landed = seen_at(&seen, to);
            assert_eq!(landed.len(), 4, "{flags:?} {to}");
            let r = &landed[0];
            assert_eq!(r["method"], "GET", "{flags:?} {to}: {r}");
            assert_eq!(r["body"], "", "{flags:?} {to}: {r}");
            assert_eq!(r["content_type"], Value::Null, "{flags:?} {to}: {r}");
            assert!(
                r["cookie"].as_str().unwrap().starts_with("session=s"),
                "{r}"
            );
            assert!(
                r["authorization"]
                    .as_str()
                    .unwrap()
                    .starts_with("Bearer tok-")
            );
            assert_eq!(r["referer"], format!("{url}{from}"), "{flags:?}");
        }
        // 307 keeps the method and the body.
        let kept = seen_at(&seen, "/three");
        assert_eq!(kept.len(), 4, "{flags:?}");
        assert_eq!(kept[0]["method"], "POST", "{flags:?}");
        assert_eq!(kept[0]["body"], "{\"n\":2}", "{flags:?}");
        assert_eq!(kept[0]["content_type"], "application/json");
        // To another origin: no cookie, no authorization.
        let landed = seen_at(&away_seen, "/landed");
        assert_eq!(landed.len(), 4, "{flags:?}");
        assert_eq!(landed[0]["cookie"], Value::Null, "{flags:?}: {}", landed[0]);
        assert_eq!(landed[0]["authorization"], Value::Null, "{flags:?}");
    }
}

/// A server that answers one request per connection with keep-alive
/// headers, then closes the connection 50 ms later, as a server with a
/// short idle timeout does; it counts the connections it accepted.
fn closes_idle() -> (String, Arc<Mutex<u64>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(0u64));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            *count.lock().unwrap() += 1;
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                std::thread::sleep(std::time::Duration::from_millis(50));
            });
        }
    });
    (url, accepted)
}

#[test]
fn connections_are_kept_per_user_and_reopened_when_the_server_closed_them() {
    let steps = "      - { name: get, path: /x }";
    // A keep-alive server: one user, one connection for every request.
    let (url, _) = recording(None);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "kept", &scenario(&url, "10/s", 1, steps));
    let out = dir.path().join("kept");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let s = read_summary(&out);
    let step = named(&s["steps"], "j.get");
    assert_eq!(step["requests"], 20);
    assert_eq!(step["connect"]["count"], 1, "{step}");

    // A server that closes each connection after its answer: every request
    // after the first finds its connection closed while idle, which is no
    // failure; it is sent on a new one, and each is timed.
    let (url, accepted) = closes_idle();
    let file = scenario_file(dir.path(), "closed", &scenario(&url, "4/s", 1, steps));
    let out = dir.path().join("closed");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let s = read_summary(&out);
    let step = named(&s["steps"], "j.get");
    assert_eq!(step["requests"], 8, "{step}");
    assert_eq!(step["ok"], 8, "{step}\n{stdout}");
    assert_eq!(step["connect"]["count"], 8, "{step}");
    // One more: the check, before the run, that the target accepts
    // connections.
    assert_eq!(*accepted.lock().unwrap(), 9);
}
