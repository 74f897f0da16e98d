//! The fault-injecting proxy: a TCP listener on loopback in front of one
//! upstream (a channel of the target), forwarding bytes both ways through
//! the toxics switched on at that moment. Toxics are added and removed
//! live: each chunk is passed through the set current when it is read, so
//! a change takes effect at the next chunk and no byte is lost. Each toxic
//! affects a connection with probability `toxicity`, decided once per
//! connection (as Toxiproxy does); HTTP faults (`error_rate`,
//! `http_delay`) act per request of an affected connection, by their
//! `rate`. `down`, or a proxy disabled, refuses new connections (the
//! listener is closed) and cuts open ones. `control` serves Toxiproxy's
//! HTTP API over a set of proxies, in Toxiproxy's vocabulary
//! (`toxiproxy`).

pub mod config;
pub mod control;
pub mod http;
pub mod toxic;
pub mod toxics;
pub mod toxiproxy;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use self::http::{Framer, Piece};
use self::toxic::{Link, Step, Toxic};
use crate::scenario::model::{FaultKind, Stream};
use crate::scenario::units::Percent;

/// Why a toxic could not be added or removed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "`{0}` is not a proxy fault; the proxy takes latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, down, error_rate and http_delay"
    )]
    NotAProxyFault(&'static str),
    #[error("no toxic with id {0}")]
    Unknown(u64),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A toxic as the control API and the scenario format write it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicSpec {
    /// Names it in listings. Default: its kind.
    #[serde(default)]
    pub name: Option<String>,
    pub fault: FaultKind,
    /// Share of connections affected (TCP toxics). Default 100%.
    #[serde(default)]
    pub toxicity: Option<Percent>,
    /// `downstream` (target to client, the default) or `upstream`.
    #[serde(default)]
    pub stream: Option<Stream>,
}

/// A toxic that is on, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct ToxicView {
    pub id: u64,
    pub name: String,
    pub kind: &'static str,
    pub stream: Stream,
    pub toxicity: f64,
    pub fault: FaultKind,
}

#[derive(Clone, Debug)]
enum Effect {
    Tcp(Arc<dyn Toxic>),
    /// Abort a share of requests with a status.
    Abort {
        rate: f64,
        status: u16,
    },
    /// Delay a share of requests.
    Delay {
        rate: f64,
        delay: Duration,
        jitter: Duration,
    },
    Down,
}

#[derive(Clone, Debug)]
struct Entry {
    view: ToxicView,
    effect: Effect,
}

/// What `fault` does through a proxy; `None` for a fault the proxy cannot
/// apply (one only the twin applies, as `stock_exhausted`).
fn effect_of(fault: &FaultKind) -> Option<Effect> {
    Some(match fault {
        FaultKind::Down(_) => Effect::Down,
        FaultKind::ErrorRate(e) => Effect::Abort {
            rate: e.rate.fraction(),
            status: e.status,
        },
        FaultKind::HttpDelay(d) => Effect::Delay {
            rate: d.rate.fraction(),
            delay: d.delay.0,
            jitter: d.jitter.0,
        },
        other => Effect::Tcp(toxics::build(other)?),
    })
}

/// Whether a proxy can apply `fault`, so a config is checked before
/// anything listens.
pub fn applies(fault: &FaultKind) -> bool {
    effect_of(fault).is_some()
}

impl Entry {
    fn new(id: u64, spec: ToxicSpec) -> Result<Entry, ProxyError> {
        let effect = effect_of(&spec.fault).ok_or(ProxyError::NotAProxyFault(spec.fault.name()))?;
        let view = ToxicView {
            id,
            name: spec.name.unwrap_or_else(|| spec.fault.name().to_string()),
            kind: spec.fault.name(),
            stream: spec.stream.unwrap_or_default(),
            toxicity: spec.toxicity.map_or(1.0, |t| t.fraction()),
            fault: spec.fault,
        };
        Ok(Entry { view, effect })
    }
}

#[derive(Default)]
struct Toxics {
    list: RwLock<Arc<Vec<Entry>>>,
    next: AtomicU64,
}

impl Toxics {
    fn current(&self) -> Arc<Vec<Entry>> {
        self.list.read().expect("toxic lock").clone()
    }
}

/// One proxy: a listener in front of one upstream.
pub struct Proxy {
    pub name: String,
    upstream: RwLock<SocketAddr>,
    addr: RwLock<SocketAddr>,
    /// A listener bound for a new address, for the accept loop to take.
    moved: Mutex<Option<TcpListener>>,
    toxics: Toxics,
    enabled: AtomicBool,
    stopped: AtomicBool,
    /// Bumped to cut every open connection (`down`, disabled, moved,
    /// stopped).
    cut: watch::Sender<u64>,
    /// Told when the toxic list or the state changes (the listener reacts).
    changed: watch::Sender<u64>,
    /// The last change the listener has carried out, so a caller can wait
    /// until a disabled proxy really refuses, or an enabled one accepts.
    applied: watch::Sender<u64>,
    connections: AtomicU64,
}

impl Proxy {
    /// Binds `listen` (port 0 for any) and serves until stopped.
    pub async fn start(
        name: &str,
        listen: SocketAddr,
        upstream: SocketAddr,
    ) -> Result<Arc<Proxy>, ProxyError> {
        let (listener, addr) = bind(listen).await?;
        let proxy = Arc::new(Proxy {
            name: name.to_string(),
            upstream: RwLock::new(upstream),
            addr: RwLock::new(addr),
            moved: Mutex::new(None),
            toxics: Toxics::default(),
            enabled: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            cut: watch::channel(0).0,
            changed: watch::channel(0).0,
            applied: watch::channel(0).0,
            connections: AtomicU64::new(0),
        });
        tokio::spawn(accept_loop(proxy.clone(), Some(listener)));
        Ok(proxy)
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        *self.addr.read().expect("addr lock")
    }

    /// Where connections go.
    pub fn upstream(&self) -> SocketAddr {
        *self.upstream.read().expect("upstream lock")
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Disabled, the proxy refuses new connections and cuts open ones;
    /// enabled again, it listens on the same address. Returns once the
    /// listener has done so.
    pub async fn set_enabled(&self, enabled: bool) -> Result<(), ProxyError> {
        self.enabled.store(enabled, Ordering::SeqCst);
        self.changed.send_modify(|g| *g += 1);
        if !enabled {
            self.cut.send_modify(|g| *g += 1);
        }
        self.settled().await
    }

    /// Waits until the listener has carried out every change so far.
    async fn settled(&self) -> Result<(), ProxyError> {
        let wanted = *self.changed.borrow();
        let mut applied = self.applied.subscribe();
        match tokio::time::timeout(Duration::from_secs(5), applied.wait_for(|a| *a >= wanted)).await
        {
            Ok(_) => Ok(()),
            Err(_) => Err(ProxyError::Listen {
                addr: self.addr(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "could not listen there again within 5 s",
                ),
            }),
        }
    }

    /// Sends new connections to `upstream`; open ones are cut, as
    /// Toxiproxy does when a proxy's upstream changes.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.write().expect("upstream lock") = upstream;
        self.cut.send_modify(|g| *g += 1);
    }

    /// Listens on `listen` instead (bound before the old address is let
    /// go, so a refused address changes nothing); open connections are cut.
    pub async fn set_listen(&self, listen: SocketAddr) -> Result<SocketAddr, ProxyError> {
        let (listener, addr) = bind(listen).await?;
        *self.addr.write().expect("addr lock") = addr;
        *self.moved.lock().expect("moved lock") = Some(listener);
        self.changed.send_modify(|g| *g += 1);
        self.cut.send_modify(|g| *g += 1);
        self.settled().await?;
        Ok(addr)
    }

    /// Stops listening and cuts every connection, for good; returns once
    /// the port is let go.
    pub async fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.changed.send_modify(|g| *g += 1);
        self.cut.send_modify(|g| *g += 1);
        let _ = self.settled().await;
    }

    /// Switches a toxic on; returns its id.
    pub fn add(&self, spec: ToxicSpec) -> Result<u64, ProxyError> {
        let id = self.toxics.next.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry::new(id, spec)?;
        let down = matches!(entry.effect, Effect::Down);
        self.edit(|list| {
            list.push(entry);
            Ok(())
        })?;
        // After the list: the accept loop relies on a `down` being listed
        // before connections are told to cut.
        if down {
            self.cut.send_modify(|g| *g += 1);
        }
        Ok(id)
    }

    /// Changes a toxic in place: same id, same place in the chain, and
    /// connections it affects stay affected (their dice are kept).
    pub fn replace(&self, id: u64, spec: ToxicSpec) -> Result<ToxicView, ProxyError> {
        let entry = Entry::new(id, spec)?;
        let view = entry.view.clone();
        self.edit(|list| {
            let at = list
                .iter()
                .position(|e| e.view.id == id)
                .ok_or(ProxyError::Unknown(id))?;
            list[at] = entry;
            Ok(())
        })?;
        Ok(view)
    }

    /// Changes the toxic list copy-on-write (connections keep reading the
    /// list they hold, never a half-changed one) and tells the listener.
    fn edit<R>(
        &self,
        change: impl FnOnce(&mut Vec<Entry>) -> Result<R, ProxyError>,
    ) -> Result<R, ProxyError> {
        let result = {
            let mut list = self.toxics.list.write().expect("toxic lock");
            let mut next = (**list).clone();
            let result = change(&mut next)?;
            *list = Arc::new(next);
            result
        };
        self.changed.send_modify(|g| *g += 1);
        Ok(result)
    }

    /// Switches a toxic off.
    pub fn remove(&self, id: u64) -> Result<ToxicView, ProxyError> {
        self.edit(|list| {
            let at = list
                .iter()
                .position(|e| e.view.id == id)
                .ok_or(ProxyError::Unknown(id))?;
            Ok(list.remove(at).view)
        })
    }

    /// Switches every toxic off.
    pub fn clear(&self) -> usize {
        self.edit(|list| Ok(std::mem::take(list).len()))
            .unwrap_or_default()
    }

    pub fn list(&self) -> Vec<ToxicView> {
        self.toxics
            .current()
            .iter()
            .map(|e| e.view.clone())
            .collect()
    }

    /// The toxic named `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<ToxicView> {
        self.find_by(|v| v.name == name)
    }

    /// The toxic of id `id`, if there is one.
    pub fn find_id(&self, id: u64) -> Option<ToxicView> {
        self.find_by(|v| v.id == id)
    }

    fn find_by(&self, matches: impl Fn(&ToxicView) -> bool) -> Option<ToxicView> {
        let toxics = self.toxics.current();
        toxics.iter().map(|e| &e.view).find(|v| matches(v)).cloned()
    }

    fn is_down(&self) -> bool {
        !self.is_enabled()
            || self
                .toxics
                .current()
                .iter()
                .any(|e| matches!(e.effect, Effect::Down))
    }
}

/// Binds `listen`; the listener and the address it got (port 0 resolved).
async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), ProxyError> {
    let failed = |source| ProxyError::Listen {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    Ok((listener, addr))
}

/// Accepts while up; while down or disabled, holds no listener
/// (connections are refused) and binds the same address again when it is
/// lifted; takes a moved listener in place of the old one.
async fn accept_loop(proxy: Arc<Proxy>, mut listener: Option<TcpListener>) {
    let mut changed = proxy.changed.subscribe();
    loop {
        let generation = *changed.borrow_and_update();
        if proxy.stopped.load(Ordering::SeqCst) {
            drop(listener);
            proxy.applied.send_replace(generation);
            return;
        }
        if let Some(moved) = proxy.moved.lock().expect("moved lock").take() {
            listener = Some(moved);
        }
        if proxy.is_down() {
            listener = None;
        } else if listener.is_none() {
            match TcpListener::bind(proxy.addr()).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    log::warn!(
                        "proxy {}: cannot listen again on {}: {e}",
                        proxy.name,
                        proxy.addr()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        proxy.applied.send_replace(generation);
        let Some(l) = &listener else {
            if changed.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((client, _)) = accepted {
                    // Subscribed now, so a `down` from here on cuts it; one
                    // that came while it was being accepted is seen below
                    // (`add` lists the toxic before it bumps `cut`).
                    let cut = proxy.cut.subscribe();
                    if proxy.is_down() {
                        reset(&client);
                        continue;
                    }
                    let n = proxy.connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(proxy.clone(), client, n, cut));
                }
            }
            c = changed.changed() => if c.is_err() { return },
        }
    }
}

/// Which toxics touch this connection: decided once per toxic, when the
/// connection first meets it.
#[derive(Default)]
struct Dice {
    affected: HashMap<u64, bool>,
}

impl Dice {
    fn affects(&mut self, entry: &Entry, rng: &mut rand::rngs::SmallRng) -> bool {
        *self.affected.entry(entry.view.id).or_insert_with(|| {
            entry.view.toxicity >= 1.0 || rng.random::<f64>() < entry.view.toxicity
        })
    }
}

/// What ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Open,
    Close,
    Reset,
}

async fn connection(proxy: Arc<Proxy>, client: TcpStream, n: u64, mut cut: watch::Receiver<u64>) {
    let upstream = match TcpStream::connect(proxy.upstream()).await {
        Ok(s) => s,
        Err(e) => {
            log::warn!(
                "proxy {}: upstream {} unreachable: {e}",
                proxy.name,
                proxy.upstream()
            );
            reset(&client);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let started = Instant::now();
    // Both directions share each socket by reference (not split halves):
    // a write half shuts its direction down when dropped, which would send
    // a FIN ahead of a reset.
    let client = Arc::new(client);
    let upstream = Arc::new(upstream);
    let (end_tx, end_rx) = watch::channel(End::Open);
    let dice = Arc::new(std::sync::Mutex::new(Dice::default()));
    let seed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(proxy.addr().port());
    let up = tokio::spawn(pipe(Pipe {
        proxy: proxy.clone(),
        stream: Stream::Upstream,
        from: client.clone(),
        to: upstream.clone(),
        client: client.clone(),
        link: Link::new(started, seed),
        dice: dice.clone(),
        end: end_tx.clone(),
        ended: end_rx.clone(),
        framer: Some(Framer::default()),
    }));
    let down = tokio::spawn(pipe(Pipe {
        proxy: proxy.clone(),
        stream: Stream::Downstream,
        from: upstream.clone(),
        to: client.clone(),
        client: client.clone(),
        link: Link::new(started, seed ^ 1),
        dice,
        end: end_tx.clone(),
        ended: end_rx.clone(),
        framer: None,
    }));
    // A direction that reads the end of its data passes the FIN on and
    // ends alone: the other stays open until its own end (a client that
    // half-closes after its request still reads the whole response). A
    // toxic that closes or resets, a failed write, or a cut ends both.
    let mut ended = end_rx;
    let (mut up, mut down) = (up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            _ = cut.changed() => { let _ = end_tx.send(End::Close); break; }
            _ = ended.wait_for(|e| *e != End::Open) => break,
            _ = &mut up, if !up_done => up_done = true,
            _ = &mut down, if !down_done => down_done = true,
        }
    }
    for (pipe, done) in [(up, up_done), (down, down_done)] {
        if !done {
            pipe.abort();
            let _ = pipe.await;
        }
    }
    if *end_tx.borrow() == End::Reset {
        reset(&client);
    }
    // The last handles of both sockets go here, closing them.
}

/// Makes the next close of `stream` a reset (RST) rather than a FIN.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

struct Pipe {
    proxy: Arc<Proxy>,
    stream: Stream,
    from: Arc<TcpStream>,
    to: Arc<TcpStream>,
    client: Arc<TcpStream>,
    link: Link,
    dice: Arc<std::sync::Mutex<Dice>>,
    end: watch::Sender<End>,
    ended: watch::Receiver<End>,
    /// Request framing, on the client-to-target stream only.
    framer: Option<Framer>,
}

impl Pipe {
    /// The TCP toxics acting on this direction of this connection now.
    fn toxics(&mut self, entries: &[Entry]) -> Vec<Arc<dyn Toxic>> {
        let mut dice = self.dice.lock().expect("dice lock");
        entries
            .iter()
            .filter(|e| e.view.stream == self.stream)
            .filter_map(|e| match &e.effect {
                Effect::Tcp(t) if dice.affects(e, &mut self.link.rng) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The earliest deadline of the toxics on this direction.
    fn deadline(&mut self) -> Option<(Instant, Step)> {
        let entries = self.proxy.toxics.current();
        let toxics = self.toxics(&entries);
        toxics
            .iter()
            .filter_map(|t| t.deadline(&self.link))
            .min_by_key(|(at, _)| *at)
    }

    /// Decides an HTTP request's fate: abort it, delay it, or let it pass.
    fn request_steps(&mut self, head: Vec<u8>) -> Vec<Step> {
        let entries = self.proxy.toxics.current();
        let mut steps = Vec::new();
        let mut dice = self.dice.lock().expect("dice lock");
        for e in entries.iter() {
            if matches!(e.effect, Effect::Tcp(_) | Effect::Down)
                || !dice.affects(e, &mut self.link.rng)
            {
                continue;
            }
            match e.effect {
                Effect::Abort { rate, status } if self.link.rng.random::<f64>() < rate => {
                    return vec![Step::Abort(status)];
                }
                Effect::Delay {
                    rate,
                    delay,
                    jitter,
                } if self.link.rng.random::<f64>() < rate => {
                    steps.push(Step::Wait(self.link.jittered(delay, jitter)));
                }
                _ => {}
            }
        }
        steps.push(Step::Write(head));
        steps
    }
}

/// One direction of a proxied connection: reads chunks, passes each
/// through the toxics in force and writes what they let through. Long
/// because the read, the live toxic swap and the write must share one loop
/// for no data to be lost when a toxic is added or removed mid-stream.
async fn pipe(mut p: Pipe) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut holding = false;
    let mut ended = p.ended.clone();
    loop {
        let deadline = p.deadline();
        let sleep_until = deadline
            .as_ref()
            .map_or(Instant::now() + Duration::from_secs(3600), |d| d.0);
        let read = tokio::select! {
            r = read_some(&p.from, &mut buf) => r,
            _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => {
                let step = deadline.expect("guarded").1;
                let _ = p.end.send(if step == Step::Reset { End::Reset } else { End::Close });
                return;
            }
            _ = ended.wait_for(|e| *e != End::Open) => return,
        };
        let n = match read {
            Err(_) => {
                let _ = p.end.send(End::Close);
                return;
            }
            Ok(0) => {
                let entries = p.proxy.toxics.current();
                let pause = p
                    .toxics(&entries)
                    .iter()
                    .map(|t| t.before_close())
                    .max()
                    .unwrap_or_default();
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                // The FIN follows the data before it (each write above was
                // awaited, delays included); this direction is done.
                shutdown_write(&p.to);
                return;
            }
            Ok(n) => n,
        };
        // HTTP framing first (per request), then the TCP toxics.
        let mut chunks: Vec<Vec<Step>> = Vec::new();
        if let Some(framer) = p.framer.as_mut() {
            let mut pieces = Vec::new();
            framer.feed(&buf[..n], &mut pieces);
            for piece in pieces {
                chunks.push(match piece {
                    Piece::Head(head) => p.request_steps(head),
                    Piece::Data(d) => vec![Step::Write(d)],
                });
            }
        } else {
            chunks.push(vec![Step::Write(buf[..n].to_vec())]);
        }
        let entries = p.proxy.toxics.current();
        let toxics = p.toxics(&entries);
        let refs: Vec<&dyn Toxic> = toxics.iter().map(|t| t.as_ref()).collect();
        for chunk in chunks {
            for step in chunk {
                let steps = match step {
                    Step::Write(d) => {
                        let steps = toxic::through(&refs, &mut p.link, d);
                        // Data read while a timeout toxic holds is dropped.
                        if holding && steps.contains(&Step::Hold) {
                            continue;
                        }
                        holding = false;
                        steps
                    }
                    other => vec![other],
                };
                for s in steps {
                    match s {
                        Step::Write(d) if d.is_empty() => {}
                        Step::Write(d) => {
                            if write_all(&p.to, &d).await.is_err() {
                                let _ = p.end.send(End::Close);
                                return;
                            }
                        }
                        Step::Wait(d) => tokio::time::sleep(d).await,
                        Step::Hold => holding = true,
                        Step::Close => {
                            let _ = p.end.send(End::Close);
                            return;
                        }
                        Step::Reset => {
                            let _ = p.end.send(End::Reset);
                            return;
                        }
                        Step::Abort(status) => {
                            let _ = write_all(&p.client, &http::abort_response(status)).await;
                            shutdown_write(&p.client);
                            let _ = p.end.send(End::Close);
                            return;
                        }
                    }
                }
            }
        }
    }
}

async fn read_some(s: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

async fn write_all(s: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        s.writable().await?;
        match s.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends a FIN on `s`: the peer reads the end of the data.
fn shutdown_write(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    // SAFETY: `s` owns a valid socket for the duration of the call.
    unsafe {
        libc::shutdown(s.as_raw_fd(), libc::SHUT_WR);
    }
}
