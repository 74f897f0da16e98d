//! TLS towards an external target, against real HTTPS servers on loopback
//! with a CA made at test time: a private CA trusted only when given,
//! mutual TLS per channel, a certificate for another name, certificates
//! not checked (and said so), the `tls` error class for every way a
//! handshake fails, and TLS mistakes found by `surge validate` at their
//! line.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{read_summary, run_scenario, scenario_file, surge};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

/// A certificate and its key, as PEM files.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

/// A private CA and what it signed, written into a folder.
struct Pki {
    ca: PathBuf,
    /// For 127.0.0.1.
    server: Pair,
    /// For `other.example.test` only.
    other: Pair,
    client: Pair,
    /// A client certificate of another CA's, which servers refuse.
    stranger: Pair,
    /// A client certificate that expired in 2021.
    expired: Pair,
    /// For `localhost` only.
    local: Pair,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

fn leaf(
    dir: &Path,
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> Pair {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    write_pair(dir, name, &cert, &key)
}

/// Writes `NAME.pem` and `NAME.key` into `dir`.
fn write_pair(dir: &Path, name: &str, cert: &rcgen::Certificate, key: &KeyPair) -> Pair {
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

/// A target at `addr` trusting `ca`, with more `tls` fields after it.
fn ca_target(addr: SocketAddr, ca: &Path, more: &str) -> String {
    format!(
        "target:\n  base_url: https://{addr}\n  tls: {{ ca: {}{more} }}\n",
        yaml_path(ca)
    )
}

fn pki(dir: &Path) -> Pki {
    let (params, key, pem) = ca("surge test CA");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, pem).unwrap();
    let issuer = Issuer::new(params, key);
    let (other_params, other_key, _) = ca("another CA");
    let other_issuer = Issuer::new(other_params, other_key);
    use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    Pki {
        ca: ca_path,
        server: leaf(dir, "server", &["127.0.0.1"], ServerAuth, &issuer),
        other: leaf(dir, "other", &["other.example.test"], ServerAuth, &issuer),
        local: leaf(dir, "local", &["localhost"], ServerAuth, &issuer),
        client: leaf(dir, "client", &["surge-client"], ClientAuth, &issuer),
        stranger: leaf(dir, "stranger", &["stranger"], ClientAuth, &other_issuer),
        expired: {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["old-client".to_string()]).unwrap();
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            params.extended_key_usages = vec![ClientAuth];
            let cert = params.signed_by(&key, &issuer).unwrap();
            write_pair(dir, "expired", &cert, &key)
        },
    }
}

/// A real HTTPS server on loopback answering `200 ok` to every request,
/// requiring a client certificate of `client_ca` when given. It runs on
/// threads of its own until the test process ends.
fn https_server(pair: &Pair, client_ca: Option<&Path>) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pair.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, &mut tcp);
                serve(&mut tls);
            });
        }
    });
    addr
}

/// HTTP/1.1 on one connection: each request (headers only) gets `ok`.
fn serve(stream: &mut impl ReadWrite) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
        if stream
            .write_all(answer)
            .and_then(|_| stream.flush())
            .is_err()
        {
            return;
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A short run of one journey: one GET on each channel given.
fn scenario(dir: &Path, name: &str, target: &str, channels: &[&str]) -> PathBuf {
    let steps: String = channels
        .iter()
        .enumerate()
        .map(|(i, c)| format!("      - {{ name: s{i}, channel: {c}, path: /hello }}\n"))
        .collect();
    let body = format!(
        "version: 1\nname: {name}\n{target}\
         load: {{ arrivals: uniform, phases: [{{ name: p, duration: 2s, rate: 10/s }}] }}\n\
         journeys:\n  j:\n    channel: storefront\n    steps:\n{steps}"
    );
    scenario_file(dir, name, &body)
}

/// (requests, tls failures, every failure) of the run, from summary.json.
fn outcome(summary: &Value) -> (u64, u64, u64) {
    let steps = summary["steps"].as_array().unwrap();
    let requests = steps.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    let count = |class: Option<&str>| {
        summary["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| class.is_none_or(|c| e["class"] == c))
            .map(|e| e["count"].as_u64().unwrap())
            .sum()
    };
    (requests, count(Some("tls")), count(None))
}

fn run(dir: &Path, file: &Path, out: &str) -> (Value, String) {
    let out = dir.join(out);
    let (_, stdout, stderr) = run_scenario(file, &out, &[]);
    assert!(
        out.join("summary.json").is_file(),
        "no run folder:\n{stdout}{stderr}"
    );
    (read_summary(&out), stdout + &stderr)
}

fn yaml_path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_private_ca_is_trusted_when_given_and_its_absence_is_a_tls_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let addr = https_server(&pki.server, None);
    let with_ca = ca_target(addr, &pki.ca, "");
    let file = scenario(dir.path(), "ca", &with_ca, &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "ca");
    let (requests, _, failed) = outcome(&summary);
    assert!(requests >= 15, "{text}");
    assert_eq!(failed, 0, "with the CA every request succeeds:\n{text}");
    // Each new connection's connect and handshake is timed, per step.
    let connect = &summary["steps"][0]["connect"];
    let opened = connect["count"].as_u64().unwrap_or(0);
    assert!(opened >= 1 && opened <= requests, "{connect}\n{text}");
    assert!(connect["p50_us"].as_u64().unwrap() > 0, "{connect}");
    assert!(
        text.contains(&format!("{opened}, p99 ")),
        "the step table shows them:\n{text}"
    );

    let bare = format!("target: {{ base_url: \"https://{addr}\" }}\n");
    let file = scenario(dir.path(), "no-ca", &bare, &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "no-ca");
    let (requests, tls, failed) = outcome(&summary);
    assert!(requests >= 15, "{text}");
    assert_eq!(
        (tls, failed),
        (requests, requests),
        "an unknown CA is a TLS failure, not a refused connection:\n{text}"
    );
    // The first message of the kind is kept, and says why.
    let tls_errors = summary["errors"].as_array().unwrap();
    let what = tls_errors[0]["examples"][0]["what"]
        .as_str()
        .unwrap_or_default();
    assert!(what.contains("UnknownIssuer"), "{what}");
    assert!(
        text.contains("e.g. tls: j."),
        "the terminal shows it:\n{text}"
    );
}

#[test]
fn a_self_signed_certificate_marked_as_a_ca_is_trusted_when_given() {
    // What `openssl req -x509 -addext subjectAltName=IP:127.0.0.1` makes:
    // a self-signed certificate with CA:TRUE, which WebPKI alone refuses
    // as a server's own certificate.
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "staging");
    let cert = params.self_signed(&key).unwrap();
    let pair = write_pair(dir.path(), "self", &cert, &key);
    let addr = https_server(&pair, None);
    let target = |more: &str| ca_target(addr, &pair.cert, more);
    let file = scenario(dir.path(), "self", &target(""), &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "self");
    let (requests, _, failed) = outcome(&summary);
    assert!(requests >= 15 && failed == 0, "{text}");
    // Pinned, but its name is still checked.
    let wrong = target(", server_name: elsewhere.example.test");
    let file = scenario(dir.path(), "self-wrong-name", &wrong, &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "self-wrong-name");
    let (requests, tls, _) = outcome(&summary);
    assert!(requests >= 15 && tls == requests, "{text}");
}

#[test]
fn mutual_tls_per_channel_needs_the_client_certificate_of_the_right_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let open = https_server(&pki.server, None);
    let mtls = https_server(&pki.server, Some(&pki.ca));
    // The storefront needs only the CA; the partner channel also a client
    // certificate, which the target's CA is merged with.
    let target = |pair: Option<&Pair>| {
        let tls = pair.map_or(String::new(), |p| {
            format!(
                ", tls: {{ client_cert: {}, client_key: {} }}",
                yaml_path(&p.cert),
                yaml_path(&p.key)
            )
        });
        format!(
            "target:\n  base_url: https://{open}\n  tls: {{ ca: {} }}\n  channels:\n    \
             partner/pos: {{ base_url: \"https://{mtls}\"{tls} }}\n",
            yaml_path(&pki.ca)
        )
    };
    let channels = ["storefront", "partner/pos"];
    let file = scenario(dir.path(), "mtls", &target(Some(&pki.client)), &channels);
    let (summary, text) = run(dir.path(), &file, "mtls");
    let (requests, _, failed) = outcome(&summary);
    assert!(requests >= 30, "{text}");
    assert_eq!(failed, 0, "{text}");

    for (name, pair) in [("no-cert", None), ("stranger", Some(&pki.stranger))] {
        let file = scenario(dir.path(), name, &target(pair), &channels);
        let (summary, text) = run(dir.path(), &file, name);
        let steps = summary["steps"].as_array().unwrap();
        let partner = steps
            .iter()
            .find(|s| s["channel"] == "partner/pos")
            .unwrap();
        let store = steps.iter().find(|s| s["channel"] == "storefront").unwrap();
        assert_eq!(store["ok"], store["requests"], "{text}");
        let sent = partner["requests"].as_u64().unwrap();
        assert!(sent >= 15, "{text}");
        assert_eq!(
            partner["errors"]["tls"].as_u64(),
            Some(sent),
            "a refused client certificate is a TLS failure ({name}):\n{text}"
        );
    }
}

#[test]
fn server_name_checks_the_name_the_certificate_carries() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let addr = https_server(&pki.other, None);
    let target = |more: &str| ca_target(addr, &pki.ca, more);
    let file = scenario(dir.path(), "mismatch", &target(""), &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "mismatch");
    let (requests, tls, _) = outcome(&summary);
    assert!(requests >= 15 && tls == requests, "{text}");

    let named = target(", server_name: other.example.test");
    let file = scenario(dir.path(), "named", &named, &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "named");
    let (requests, _, failed) = outcome(&summary);
    assert!(requests >= 15 && failed == 0, "{text}");
}

#[test]
fn unchecked_certificates_are_warned_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let addr = https_server(&pki.server, None);
    let target =
        format!("target:\n  base_url: https://{addr}\n  tls: {{ insecure_skip_verify: true }}\n");
    let file = scenario(dir.path(), "insecure", &target, &["storefront"]);
    let (summary, text) = run(dir.path(), &file, "insecure");
    let (requests, _, failed) = outcome(&summary);
    assert!(requests >= 15 && failed == 0, "{text}");
    assert!(text.contains("NOT verified"), "{text}");
    assert_eq!(
        summary["target"]["tls_unverified"],
        serde_json::json!(["target"])
    );
    let html = std::fs::read_to_string(dir.path().join("insecure/report.html")).unwrap();
    assert!(html.contains("TLS certificates NOT verified"));
}

#[test]
fn tls_mistakes_are_found_by_validate_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let validate = |name: &str, tls: &str, url: &str| {
        let target = format!("target:\n  base_url: {url}\n  tls: {tls}\n");
        let file = scenario(dir.path(), name, &target, &["storefront"]);
        let o = surge().arg("validate").arg(&file).output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.code(), text)
    };
    let url = "https://127.0.0.1:9";
    let cases = [
        ("missing", "{ ca: nowhere.pem }".to_string(), "no file at"),
        (
            "not-pem",
            format!("{{ ca: {} }}", yaml_path(&pki.server.key)),
            "holds no PEM certificate",
        ),
        (
            "wrong-key",
            format!(
                "{{ client_cert: {}, client_key: {} }}",
                yaml_path(&pki.client.cert),
                yaml_path(&pki.server.key)
            ),
            "does not belong to the certificate",
        ),
        (
            "half",
            format!("{{ client_cert: {} }}", yaml_path(&pki.client.cert)),
            "needs its key",
        ),
        ("ca-only", "{ ca_only: true }".to_string(), "trusts nothing"),
        (
            "expired",
            format!(
                "{{ client_cert: {}, client_key: {} }}",
                yaml_path(&pki.expired.cert),
                yaml_path(&pki.expired.key)
            ),
            "expired on Fri, 01 Jan 2021",
        ),
    ];
    for (name, tls, expected) in &cases {
        let (code, text) = validate(name, tls, url);
        assert_eq!(code, Some(2), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
        assert!(
            text.contains(&format!("{name}.yaml:")) && text.contains("target.tls"),
            "located: {text}"
        );
        assert!(
            !text.contains("PRIVATE KEY"),
            "key material is never printed: {text}"
        );
    }
    let (code, text) = validate(
        "http",
        &format!("{{ ca: {} }}", yaml_path(&pki.ca)),
        "http://127.0.0.1:9",
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("do nothing"), "{text}");
    let (code, text) = validate("fine", &format!("{{ ca: {} }}", yaml_path(&pki.ca)), url);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn the_own_platform_example_validates_with_its_material_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let examples = common::repo("scenarios/examples");
    let file = dir.path().join("own-platform.yaml");
    std::fs::copy(examples.join("own-platform.yaml"), &file).unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    for name in ["accounts.csv", "partners.jsonl"] {
        std::fs::copy(
            examples.join("data").join(name),
            dir.path().join("data").join(name),
        )
        .unwrap();
    }
    let validate = || {
        let o = surge().arg("validate").arg(&file).output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.code(), text)
    };
    // Without its certificates the example says which file is missing.
    let (code, text) = validate();
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("target.tls.ca: no file at"), "{text}");

    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let pki = pki(&certs);
    std::fs::rename(&pki.ca, certs.join("staging-ca.pem")).unwrap();
    std::fs::rename(&pki.client.cert, certs.join("pos.pem")).unwrap();
    std::fs::rename(&pki.client.key, certs.join("pos.key")).unwrap();
    let (code, text) = validate();
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_proxied_https_channel_is_checked_against_its_own_host_name() {
    // A proxy fault puts the proxy's address in the channel's URL; the
    // certificate names the host the scenario gave, which is still the
    // name sent and checked.
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let addr = https_server(&pki.local, None);
    let target = format!(
        "target:\n  base_url: https://localhost:{}\n  tls: {{ ca: {} }}\n",
        addr.port(),
        yaml_path(&pki.ca)
    );
    let file = scenario(dir.path(), "proxied", &target, &["storefront"]);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(
        "faults:\n  - { name: slow, at: 0s, for: 2s, on: proxy/storefront, fault: { latency: { delay: 5ms } } }\n",
    );
    std::fs::write(&file, text).unwrap();
    let (summary, text) = run(dir.path(), &file, "proxied");
    let (requests, tls, failed) = outcome(&summary);
    assert!(requests >= 15, "{text}");
    assert_eq!((tls, failed), (0, 0), "{text}");
    let p50 = summary["steps"][0]["latency"]["p50_us"].as_u64().unwrap();
    assert!(
        p50 >= 5_000,
        "the requests went through the proxy: p50 {p50} us"
    );
}
