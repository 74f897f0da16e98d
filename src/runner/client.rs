//! The HTTP clients requests are sent with. A `Recipe` per place (the
//! target, or a channel with a URL or TLS settings of its own) holds a
//! rustls configuration from the scenario's checked material (the system's
//! roots unless `ca_only`, the `ca` bundle, a client certificate), with a
//! certificate check that also accepts a server presenting exactly a
//! certificate listed in `ca`, as curl and Go do: a self-signed certificate
//! made with `openssl req -x509` is marked as a CA, which WebPKI alone
//! refuses as a server's own. Its name is still checked.
//!
//! Plain-HTTP places are sent to by the lean client (`http1`) unless
//! `--goose-metrics` asks for goose's bookkeeping; their recipe still
//! builds a client for it and for a redirect's later hops.
//!
//! Each user builds its own client from a recipe, as goose gives each user
//! its own: connections (and TLS handshakes) are per user, as they are per
//! applicant's browser, not shared by the whole surge. Every client times
//! the connections it opens (TCP connect and TLS handshake): a request
//! sent through `timing_connects` learns how long its new connection took.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::scenario::tls::Material;

/// How to build the clients of one place.
#[derive(Clone)]
pub struct Recipe {
    config: rustls::ClientConfig,
    /// Requests whose host is `.0` go to `.1`, when a `server_name`
    /// replaced the URL's host.
    resolve: Option<(String, Vec<SocketAddr>)>,
    /// Plain HTTP: no certificate is ever checked.
    plain: bool,
}

impl Recipe {
    /// A recipe for `https` with material `m`; one client is built to
    /// prove the recipe builds.
    pub fn new(m: &Material, resolve: Option<(String, Vec<SocketAddr>)>) -> Result<Recipe, String> {
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
        let recipe = Recipe {
            config,
            resolve,
            plain: false,
        };
        recipe.client()?;
        Ok(recipe)
    }

    /// A recipe for plain `http`: no certificate is ever checked, so the
    /// system's roots are not read.
    pub fn plain() -> Recipe {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the provider's default versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        Recipe {
            config,
            resolve: None,
            plain: true,
        }
    }

    /// Whether this is the recipe of a plain-HTTP place.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// A client with a connection pool of its own.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        // As goose builds its users' client: no cookie store (journeys keep
        // their own), the step sets each request's timeout.
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(3600))
            .user_agent(super::http1::AGENT)
            .tls_backend_preconfigured(self.config.clone())
            .connector_layer(TimedConnects);
        if let Some((name, addrs)) = &self.resolve {
            b = b.resolve_to_addrs(name, addrs);
        }
        b.build().map_err(|e| crate::human::error_chain(&e))
    }
}

tokio::task_local! {
    /// How long the connection a request opened took, while it is sent.
    static CONNECTED: Cell<Option<Duration>>;
}

/// Runs `request`, and says how long the connection it opened took (TCP
/// connect and TLS handshake), if it opened one.
pub async fn timing_connects<F: Future>(request: F) -> (F::Output, Option<Duration>) {
    CONNECTED
        .scope(Cell::new(None), async {
            let out = request.await;
            (out, CONNECTED.with(Cell::get))
        })
        .await
}

/// Times each connection a client opens. A connection hyper finishes in
/// the background (the request took an idle one meanwhile) is not timed:
/// no request waited for it.
#[derive(Clone, Copy)]
struct TimedConnects;

impl<S> tower_layer::Layer<S> for TimedConnects {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Timed<S> {
        Timed { inner }
    }
}

#[derive(Clone)]
struct Timed<S> {
    inner: S,
}

impl<S, R> tower_service::Service<R> for Timed<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let started = Instant::now();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let out = connecting.await;
            if out.is_ok() {
                let _ = CONNECTED.try_with(|c| c.set(Some(started.elapsed())));
            }
            out
        })
    }
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
