//! The lean client of plain-HTTP places: each user keeps one hyper
//! HTTP/1.1 connection per place and sends on it directly. reqwest, kept
//! for `https` (TLS, client certificates), `--goose-metrics` and a
//! redirect's later hops, builds every request through its layers: a
//! client clone, a redirect policy that parses the URL back, a header map
//! from nothing, a pool checkout; at 2,000 requests/s they were most of a
//! request's CPU. Here a step's request target and fixed headers are built
//! once, with the plan, and a request clones them. What a user sees is
//! what reqwest gave it: the same headers (`host`, `user-agent`,
//! `accept: */*`), a request not yet written when the server closed an
//! idle connection sent again on a new one, connections timed (name
//! lookup and TCP connect), failures classed alike, and a connection that
//! timed out or failed mid-exchange closed rather than reused.

use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{ACCEPT, HOST, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::scenario::model::ErrorClass;

/// The `user-agent` every request carries, as reqwest's did.
pub const AGENT: &str = concat!("surge/", env!("CARGO_PKG_VERSION"));

/// Where a plain-HTTP place's connections go, parsed once.
#[derive(Debug)]
pub struct Origin {
    host: String,
    port: u16,
    /// `host` and `port` as the URL named them (a default port left out).
    authority: String,
    /// The headers every request to it starts from.
    fixed: HeaderMap,
}

impl Origin {
    /// The origin of an `http://` base URL; `None` for anything else.
    pub fn of(base: &str) -> Option<Origin> {
        let url = url::Url::parse(base).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_string(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str()?),
            None => url.host_str()?.to_string(),
        };
        let mut fixed = HeaderMap::with_capacity(8);
        fixed.insert(HOST, HeaderValue::from_str(&authority).ok()?);
        fixed.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        fixed.insert(ACCEPT, HeaderValue::from_static("*/*"));
        Some(Origin {
            host,
            port,
            authority,
            fixed,
        })
    }

    /// A request's headers to start from.
    pub fn headers(&self) -> HeaderMap {
        self.fixed.clone()
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// A path and query as the request line carries it, when `path` is one
/// reqwest would have sent unchanged (no character it would encode, no
/// dot segment it would remove, no fragment it would drop); otherwise
/// `None`, and the caller goes through `url` as reqwest did.
pub fn request_target(path: &str) -> Option<Uri> {
    let plain = path.starts_with('/')
        && !path.contains("/.")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b));
    if !plain {
        return None;
    }
    Uri::try_from(path).ok()
}

/// Why an exchange on the lean client failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("cannot resolve `{host}`: {source}")]
    Dns { host: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("connecting to {addr} timed out after {after:?}")]
    ConnectTimeout { addr: String, after: Duration },
    #[error("the response timed out after {after:?}")]
    Timeout { after: Duration },
    #[error("the exchange failed")]
    Http(#[source] hyper::Error),
}

impl Failure {
    pub fn class(&self) -> ErrorClass {
        match self {
            Failure::Dns { .. } => ErrorClass::Dns,
            Failure::Connect { source, .. } => super::journey::class_of(source, false, true),
            Failure::ConnectTimeout { .. } => ErrorClass::ConnectTimeout,
            Failure::Timeout { .. } => ErrorClass::Timeout,
            Failure::Http(e) => super::journey::class_of(e, false, false),
        }
    }
}

/// A response read to its end.
pub struct Answer {
    pub head: hyper::http::response::Parts,
    pub body: Bytes,
}

/// hyper's side of a connection: the future that does its I/O.
type Driver = Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// One user's connection to one origin. Its I/O is driven by the user's
/// own task while the user waits on it, not by a task of its own: a
/// request then wakes one task, not two, and the machine charges for
/// every task woken after a sleep.
#[derive(Default)]
pub struct Conn {
    sender: Option<SendRequest<Full<Bytes>>>,
    driver: Option<Driver>,
    /// The origin `sender` is connected to.
    to: Option<String>,
    /// Addresses of a name resolved once.
    addrs: Vec<SocketAddr>,
}

impl Conn {
    /// Sends `request` to `origin` and reads the whole response, within
    /// `timeout`; also says how long the connection it opened took, if it
    /// opened one.
    pub async fn exchange(
        &mut self,
        origin: &Origin,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> (Result<Answer, Failure>, Option<Duration>) {
        let mut connecting: Option<Instant> = None;
        let mut connected = None;
        let deadline = Instant::now() + timeout;
        let out = tokio::time::timeout_at(
            deadline,
            self.send(origin, request, &mut connecting, &mut connected),
        )
        .await;
        match out {
            Ok(Ok(answer)) => (Ok(answer), connected),
            Ok(Err(e)) => {
                self.close();
                (Err(e), connected)
            }
            Err(_elapsed) => {
                // Mid-exchange: the connection's state is unknown, so it is
                // closed, as a browser does when it gives up.
                self.close();
                let e = match connecting {
                    Some(_) => Failure::ConnectTimeout {
                        addr: origin.authority.clone(),
                        after: timeout,
                    },
                    None => Failure::Timeout { after: timeout },
                };
                (Err(e), connected)
            }
        }
    }

    async fn send(
        &mut self,
        origin: &Origin,
        mut request: Request<Full<Bytes>>,
        connecting: &mut Option<Instant>,
        connected: &mut Option<Duration>,
    ) -> Result<Answer, Failure> {
        if self.to.as_deref() != Some(origin.authority.as_str()) {
            self.close();
            self.addrs.clear();
            self.to = Some(origin.authority.clone());
        }
        loop {
            // Reads whatever the idle connection holds: a server that
            // closed it is seen here.
            drive_once(&mut self.driver).await;
            let reused = match (self.sender.as_mut(), self.driver.is_some()) {
                // An idle connection the server closed is not an error: a
                // new one is opened, as reqwest's pool does.
                (Some(s), true) => driven(&mut self.driver, s.ready()).await.is_ok(),
                _ => false,
            };
            if !reused {
                self.close();
                *connecting = Some(Instant::now());
                let (sender, driver) = self.connect(origin).await?;
                *connected = connecting.take().map(|t| t.elapsed());
                self.sender = Some(sender);
                self.driver = Some(driver);
            }
            let sender = self.sender.as_mut().expect("connected above");
            let sent = sender.try_send_request(request);
            let response = match driven(&mut self.driver, sent).await {
                Ok(r) => r,
                Err(mut e) => match e.take_message() {
                    // Closed before the request was written: it never
                    // reached the server, so it is sent on a new connection.
                    Some(unsent) if reused => {
                        self.close();
                        request = unsent;
                        continue;
                    }
                    _ => return Err(Failure::Http(e.into_error())),
                },
            };
            return driven(&mut self.driver, read(response)).await;
        }
    }

    fn close(&mut self) {
        self.sender = None;
        self.driver = None;
    }

    async fn connect(
        &mut self,
        origin: &Origin,
    ) -> Result<(SendRequest<Full<Bytes>>, Driver), Failure> {
        if self.addrs.is_empty() {
            self.addrs = resolve(origin).await?;
        }
        let mut last = None;
        for addr in &self.addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // As reqwest's connector: requests are small and each
                    // waits for its answer.
                    let _ = stream.set_nodelay(true);
                    let (sender, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream))
                            .await
                            .map_err(Failure::Http)?;
                    return Ok((sender, Box::pin(conn)));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Failure::Connect {
            addr: origin.authority.clone(),
            source: last.unwrap_or_else(|| io::Error::other("the name has no address")),
        })
    }
}

/// Runs `work` while driving the connection's I/O. A connection that ends
/// is dropped; its error, if any, reaches `work` through hyper.
async fn driven<F: Future>(driver: &mut Option<Driver>, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Some(d) = driver.as_mut()
            && d.as_mut().poll(cx).is_ready()
        {
            *driver = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// Drives the connection's I/O once, without waiting.
async fn drive_once(driver: &mut Option<Driver>) {
    poll_fn(|cx| {
        if let Some(d) = driver.as_mut()
            && d.as_mut().poll(cx).is_ready()
        {
            *driver = None;
        }
        Poll::Ready(())
    })
    .await
}

/// The addresses of `origin`: an IP address as it is, a name looked up.
async fn resolve(origin: &Origin) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = origin.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, origin.port)]);
    }
    let dns = |source| Failure::Dns {
        host: origin.host.clone(),
        source,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((origin.host.as_str(), origin.port))
        .await
        .map_err(dns)?
        .collect();
    if addrs.is_empty() {
        return Err(dns(io::Error::other("no address")));
    }
    Ok(addrs)
}

/// Reads a response's body to its end.
async fn read(response: Response<hyper::body::Incoming>) -> Result<Answer, Failure> {
    let (head, body) = response.into_parts();
    let body = body.collect().await.map_err(Failure::Http)?.to_bytes();
    Ok(Answer { head, body })
}

/// Failures classed from real exchanges on loopback, as reqwest's were
/// (`journey::transport_tests`).
#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn get(path: &str) -> Request<Full<Bytes>> {
        let mut r = Request::new(Full::default());
        *r.uri_mut() = request_target(path).unwrap();
        r
    }

    /// A server answering each connection with `reply` after reading a
    /// request head, then holding it open for a second.
    async fn server(reply: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(reply).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                });
            }
        });
        format!("http://{addr}")
    }

    async fn class(base: &str, timeout: Duration) -> (ErrorClass, String) {
        let origin = Origin::of(base).unwrap();
        let (out, _) = Conn::default().exchange(&origin, get("/"), timeout).await;
        let e = out.err().expect("the exchange fails");
        (e.class(), crate::human::error_chain(&e))
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_and_a_bad_name_is_dns() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (c, what) = class(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).await;
        assert_eq!(c, ErrorClass::ConnectRefused, "{what}");
        assert!(what.contains("refused"), "{what}");
        // `.invalid` never resolves (RFC 2606).
        let (c, what) = class("http://surge-test.invalid", Duration::from_secs(5)).await;
        assert_eq!(c, ErrorClass::Dns, "{what}");
    }

    #[tokio::test]
    async fn a_cut_answer_is_a_reset_and_a_silent_one_a_timeout() {
        let cut = server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart").await;
        // The server drops the connection once its second is over.
        let (c, what) = class(&cut, Duration::from_secs(5)).await;
        assert_eq!(c, ErrorClass::Reset, "{what}");
        let silent = server(b"").await;
        let (c, what) = class(&silent, Duration::from_millis(200)).await;
        assert_eq!(c, ErrorClass::Timeout, "{what}");
        assert!(what.contains("timed out after 200ms"), "{what}");
    }

    #[tokio::test]
    async fn a_connection_is_reused_until_an_exchange_fails_on_it() {
        let ok = server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        let origin = Origin::of(&ok).unwrap();
        let mut conn = Conn::default();
        let (first, opened) = conn
            .exchange(&origin, get("/"), Duration::from_secs(5))
            .await;
        assert_eq!(&first.unwrap().body[..], b"ok");
        assert!(opened.is_some(), "the first exchange opens the connection");
        // This server answers once per connection: the second exchange
        // waits on the same connection, times out, and the connection is
        // dropped, so the third opens a new one.
        let (second, again) = conn
            .exchange(&origin, get("/"), Duration::from_millis(100))
            .await;
        assert_eq!(second.err().unwrap().class(), ErrorClass::Timeout);
        assert!(again.is_none(), "the second is sent on the open connection");
        let (third, reopened) = conn
            .exchange(&origin, get("/"), Duration::from_secs(5))
            .await;
        assert_eq!(&third.unwrap().body[..], b"ok");
        assert!(reopened.is_some(), "a failed connection is not reused");
    }

    #[test]
    fn a_path_reqwest_would_rewrite_is_left_to_the_url_parser() {
        assert!(request_target("/a/b?c=d&e=%20").is_some());
        for path in ["/a b", "/a/../b", "/a#f", "/é", "a", "/{x}"] {
            assert!(request_target(path).is_none(), "{path}");
        }
        let o = Origin::of("http://127.0.0.1:8080/").unwrap();
        assert_eq!(o.headers()[HOST], "127.0.0.1:8080");
        assert_eq!(
            Origin::of("http://localhost").unwrap().authority(),
            "localhost"
        );
        assert!(Origin::of("https://127.0.0.1").is_none());
    }
}
