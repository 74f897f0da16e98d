//! TLS material of a scenario's target, read and checked where the
//! scenario is resolved: the CA bundle, the client certificate and its key.
//! A missing file, a file with no PEM in it, a key that does not sign for
//! its certificate are problems of the scenario, found before any load and
//! located at the field; the runner receives ready-to-use values. Key
//! material is never printed, and the run folder keeps only the paths.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::model::Tls;

/// What a TLS setting resolves to: the values a client is built from.
#[derive(Debug)]
pub struct Material {
    /// Certificates to trust (from `ca`).
    pub roots: Vec<CertificateDer<'static>>,
    /// Trust only `roots`.
    pub roots_only: bool,
    /// The client's certificate chain and key, for mutual TLS.
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    pub server_name: Option<String>,
    pub insecure: bool,
}

/// A problem with one field of a `tls` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The field (`ca`, `client_cert`, ...).
    pub field: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(field: &'static str, message: String, hint: &str) -> Problem {
        Problem {
            field,
            message,
            hint: (!hint.is_empty()).then(|| hint.to_string()),
        }
    }
}

/// Reads and checks `tls`, its paths relative to `base_dir`.
pub fn load(tls: &Tls, base_dir: &Path) -> Result<Material, Vec<Problem>> {
    let mut problems = Vec::new();
    let roots = match &tls.ca {
        Some(ca) => certificates("ca", ca, base_dir).unwrap_or_else(|p| {
            problems.push(p);
            Vec::new()
        }),
        None => Vec::new(),
    };
    let roots_only = tls.ca_only.unwrap_or(false);
    if roots_only && tls.ca.is_none() {
        problems.push(Problem::new(
            "ca_only",
            "`ca_only` trusts nothing without `ca`".into(),
            "give `ca: FILE.pem`, or drop `ca_only`",
        ));
    }
    let identity = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => identity(cert, key, base_dir).unwrap_or_else(|p| {
            problems.push(p);
            None
        }),
        (Some(_), None) => {
            problems.push(Problem::new(
                "client_cert",
                "a client certificate needs its key".into(),
                "add `client_key: FILE.key` (PEM)",
            ));
            None
        }
        (None, Some(_)) => {
            problems.push(Problem::new(
                "client_key",
                "a client key needs its certificate".into(),
                "add `client_cert: FILE.pem` (PEM, leaf first)",
            ));
            None
        }
        (None, None) => None,
    };
    if let Some(name) = &tls.server_name
        && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
    {
        problems.push(Problem::new(
            "server_name",
            format!("`{name}` is not a DNS name or an IP address"),
            "write the name the server's certificate carries, e.g. `staging.example.test`",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Material {
        roots,
        roots_only,
        identity,
        server_name: tls.server_name.clone(),
        insecure: tls.insecure_skip_verify.unwrap_or(false),
    })
}

/// The bytes of a file named in the scenario.
fn read(field: &'static str, file: &str, base_dir: &Path) -> Result<Vec<u8>, Problem> {
    let (full, size) = super::named_file(base_dir, file).map_err(|(message, hint)| Problem {
        field,
        message,
        hint: Some(hint),
    })?;
    if size > super::MAX_FILE_BYTES as u64 {
        return Err(Problem::new(
            field,
            format!("`{file}` is {size} bytes: too large for PEM material"),
            "give the PEM file itself",
        ));
    }
    std::fs::read(&full).map_err(|e| Problem::new(field, format!("cannot read `{file}`: {e}"), ""))
}

/// Every certificate of a PEM file, parsed.
fn chain(
    field: &'static str,
    file: &str,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(bytes).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(Problem::new(
            field,
            format!("`{file}` holds no PEM certificate"),
            "a PEM certificate starts with `-----BEGIN CERTIFICATE-----`",
        )),
        Err(e) => Err(Problem::new(
            field,
            format!("`{file}` is not valid PEM: {e}"),
            "a PEM certificate starts with `-----BEGIN CERTIFICATE-----`",
        )),
    }
}

fn certificates(
    field: &'static str,
    file: &str,
    base_dir: &Path,
) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let bytes = read(field, file, base_dir)?;
    let certs = chain(field, file, &bytes)?;
    // Each must parse as a certificate a verifier can anchor on.
    for der in &certs {
        rustls::server::ParsedCertificate::try_from(der).map_err(|e| {
            Problem::new(
                field,
                format!("`{file}` holds a certificate that cannot be used: {e}"),
                "",
            )
        })?;
    }
    Ok(certs)
}

/// The client's identity: its chain and a key that signs for the leaf.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn identity(cert: &str, key: &str, base_dir: &Path) -> Result<Option<Identity>, Problem> {
    let cert_pem = read("client_cert", cert, base_dir)?;
    let key_pem = read("client_key", key, base_dir)?;
    let certs = chain("client_cert", cert, &cert_pem)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        Problem::new(
            "client_key",
            format!("`{key}` holds no private key"),
            "give the key in PEM: `BEGIN PRIVATE KEY` (PKCS#8), `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`",
        )
    })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    rustls::sign::CertifiedKey::from_der(certs.clone(), private.clone_key(), &provider).map_err(
        |e| match e {
            rustls::Error::InconsistentKeys(_) => Problem::new(
                "client_key",
                format!("the key in `{key}` does not belong to the certificate in `{cert}`"),
                "give the key the certificate was issued for",
            ),
            other => Problem::new("client_key", format!("`{key}` cannot be used: {other}"), ""),
        },
    )?;
    in_date(cert, &certs[0])?;
    Ok(Some((certs, private)))
}

/// Refuses a client certificate outside its validity: a server would
/// refuse it at every handshake, and the run would measure only that.
fn in_date(file: &str, der: &CertificateDer<'_>) -> Result<(), Problem> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Err(Problem::new(
            "client_cert",
            format!("the first certificate in `{file}` is not valid X.509"),
            "give the client certificate first, then its issuers",
        ));
    };
    let validity = cert.validity();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let date = |t: x509_parser::time::ASN1Time| t.to_rfc2822().unwrap_or_else(|_| t.to_string());
    if validity.not_after.timestamp() < now {
        return Err(Problem::new(
            "client_cert",
            format!(
                "the certificate in `{file}` expired on {}",
                date(validity.not_after)
            ),
            "renew it (or point `client_cert` and `client_key` at a current pair)",
        ));
    }
    if validity.not_before.timestamp() > now {
        return Err(Problem::new(
            "client_cert",
            format!(
                "the certificate in `{file}` is not valid before {}",
                date(validity.not_before)
            ),
            "check the machine's clock, or use a certificate valid today",
        ));
    }
    Ok(())
}
