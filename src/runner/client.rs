//! The HTTP clients surge builds itself, for a target with TLS settings:
//! a rustls configuration from the scenario's checked material (the system's
//! roots unless `ca_only`, the `ca` bundle, a client certificate), and a
//! certificate check that also accepts a server presenting exactly a
//! certificate listed in `ca`, as curl and Go do: a self-signed certificate
//! made with `openssl req -x509` is marked as a CA, which WebPKI alone
//! refuses as a server's own. Its name is still checked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::scenario::tls::Material;

/// A client for requests whose host is `resolve.0`, sent to `resolve.1`,
/// when a `server_name` replaced the URL's host.
pub fn build(
    m: &Material,
    resolve: Option<(String, Vec<SocketAddr>)>,
) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(Verifier::new(m, provider.clone())?);
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &m.identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(|e| e.to_string())?,
        None => builder.with_no_client_auth(),
    };
    // As goose builds its users' client: no cookie store (journeys keep
    // their own), the step sets each request's timeout.
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(3600))
        .user_agent(concat!("surge/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(config);
    if let Some((name, addrs)) = &resolve {
        b = b.resolve_to_addrs(name, addrs);
    }
    b.build().map_err(|e| {
        std::iter::successors(Some(&e as &dyn std::error::Error), |s| s.source())
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(": ")
    })
}

/// WebPKI on the trusted roots, plus the certificates of `ca` pinned, or
/// nothing checked at all (`insecure_skip_verify`).
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    insecure: bool,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    fn new(m: &Material, provider: Arc<CryptoProvider>) -> Result<Verifier, String> {
        let mut roots = rustls::RootCertStore::empty();
        if !m.roots_only {
            // Unreadable system certificates are skipped, as every client
            // does; the private CA is what matters here.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
        for cert in &m.roots {
            // A certificate WebPKI cannot anchor on (a CA certificate that
            // is also the server's) is still pinned below.
            let _ = roots.add(cert.clone());
        }
        let webpki = if m.insecure || roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        };
        if webpki.is_none() && !m.insecure && m.roots.is_empty() {
            return Err(
                "no certificate to trust: the system has none and `ca` is not given".into(),
            );
        }
        Ok(Verifier {
            webpki,
            pinned: m.roots.clone(),
            insecure: m.insecure,
            provider,
        })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let checked = match &self.webpki {
            Some(w) => {
                w.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        };
        match checked {
            Ok(v) => Ok(v),
            Err(e)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                // Trusted by name in `ca`: its name must still match.
                let parsed = ParsedCertificate::try_from(end_entity).map_err(|_| e.clone())?;
                verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
