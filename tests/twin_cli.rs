//! `surge twin` as a process: it prints where it listens, applies its
//! configuration file (a twin section or a whole scenario), refuses a bad
//! one with positions and exit 2, and stops cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::repo;

struct Twin {
    child: Child,
    base: String,
}

impl Twin {
    fn start(args: &[&str]) -> Twin {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("surge"))
            .args(["twin", "--listen", "127.0.0.1:0", "--workers", "1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Twin { child, base }
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let body = reqwest::blocking_get(&format!("{}{path}", self.base));
        serde_json::from_str(&body).unwrap()
    }

    fn terminate(mut self) -> i32 {
        // The shell's builtin `kill`: no procps needed on a fresh machine.
        let kill = format!("kill -TERM {}", self.child.id());
        let status = Command::new("sh").args(["-c", &kill]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap().code().expect("exited by itself")
    }
}

/// A tiny blocking GET: the tests need no async runtime for this.
mod reqwest {
    pub fn blocking_get(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}

#[test]
fn serves_until_sigterm_then_exits_zero() {
    let twin = Twin::start(&[]);
    assert_eq!(
        reqwest::blocking_get(&format!("{}/healthz", twin.base)),
        "ok\n"
    );
    let ledger = twin.get("/admin/ledger");
    assert_eq!(
        ledger["counters"]["serials_issued"], 5000,
        "reseller-a's default stock"
    );
    assert_eq!(twin.terminate(), 0);
}

#[test]
fn takes_its_knobs_from_a_twin_section_or_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let section = dir.path().join("twin.yaml");
    std::fs::write(
        &section,
        "core:\n  signing: { workers: 3 }\npartners:\n  kiosk: { kind: reseller, stock: 12 }\n",
    )
    .unwrap();
    let twin = Twin::start(&["--config", section.to_str().unwrap()]);
    let config = twin.get("/admin/config");
    assert_eq!(config["core"]["signing"]["workers"], 3);
    assert_eq!(config["partners"]["kiosk"]["stock"], 12);
    assert!(
        config["partners"].get("pos").is_none(),
        "given partners replace the defaults"
    );
    assert_eq!(twin.terminate(), 0);

    let scenario = repo("scenarios/cpns-2024-deadline-eve.yaml");
    let twin = Twin::start(&["--config", scenario.to_str().unwrap()]);
    let config = twin.get("/admin/config");
    assert_eq!(config["core"]["signing"]["workers"], 6);
    assert_eq!(config["partners"]["reseller-b"]["refill"]["batch"], 2000);
    assert_eq!(twin.terminate(), 0);
}

#[test]
fn refuses_a_bad_config_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("twin.yaml");
    std::fs::write(&bad, "core:\n  signing: { wrokers: 3 }\n").unwrap();
    let out = common::surge()
        .args(["twin", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("twin.yaml:2:14: error: core.signing.wrokers: unknown key `wrokers`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `workers`?"), "{stderr}");

    let external = dir.path().join("external.yaml");
    let text = "version: 1\nname: ext\ntarget: { base_url: \"http://127.0.0.1:9\" }\n\
                load: { phases: [{ name: a, duration: 5s, rate: 1/s }] }\n\
                journeys: { j: { channel: storefront, steps: [{ name: s, path: / }] } }\n";
    std::fs::write(&external, text).unwrap();
    let out = common::surge()
        .args(["twin", "--config"])
        .arg(&external)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("this scenario's target is not the built-in twin"),
        "{stderr}"
    );
}

#[test]
fn a_taken_port_is_a_run_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = common::surge()
        .args(["twin", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot listen on {addr}")));
}
