//! HTTP/1 request framing on the client-to-target stream, so that HTTP
//! faults act per request, not per connection: a request head is gathered
//! whole (to decide on it before any of it is sent), then its body passes
//! by its `Content-Length`. A stream it cannot frame (chunked bodies,
//! HTTP/2, not HTTP at all) becomes opaque: it still flows, with TCP
//! toxics, but HTTP faults no longer apply to that connection.

/// The longest request head gathered; longer ones make the stream opaque.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug)]
enum State {
    Head(Vec<u8>),
    Body(u64),
    Opaque,
}

/// A piece of the client's stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// A whole request head (request line and headers, with the blank line).
    Head(Vec<u8>),
    /// Body bytes, or anything past the point framing stopped.
    Data(Vec<u8>),
}

#[derive(Debug)]
pub struct Framer {
    state: State,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            state: State::Head(Vec::new()),
        }
    }
}

impl Framer {
    /// Splits `data` into heads and data, keeping what is left of an
    /// unfinished head for the next call.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Piece>) {
        while !data.is_empty() {
            match &mut self.state {
                State::Opaque => {
                    out.push(Piece::Data(data.to_vec()));
                    return;
                }
                State::Body(left) => {
                    let n = (*left).min(data.len() as u64) as usize;
                    out.push(Piece::Data(data[..n].to_vec()));
                    *left -= n as u64;
                    data = &data[n..];
                    if *left == 0 {
                        self.state = State::Head(Vec::new());
                    }
                }
                State::Head(buf) => {
                    let before = buf.len();
                    buf.extend_from_slice(data);
                    // Not a request line (another protocol, or the rest of
                    // something unframed): pass everything on at once
                    // rather than wait for a head that never comes.
                    if !starts_like_a_request(buf) {
                        let all = std::mem::take(buf);
                        self.state = State::Opaque;
                        out.push(Piece::Data(all));
                        return;
                    }
                    // Look for the blank line from a little before the new
                    // bytes, in case it straddles two reads.
                    let from = before.saturating_sub(3);
                    let Some(end) = find(&buf[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
                        if buf.len() > MAX_HEAD {
                            let all = std::mem::take(buf);
                            self.state = State::Opaque;
                            out.push(Piece::Data(all));
                        }
                        return;
                    };
                    let consumed = end - before;
                    let mut head = std::mem::take(buf);
                    head.truncate(end);
                    data = &data[consumed..];
                    self.state = match body_length(&head) {
                        Some(0) => State::Head(Vec::new()),
                        Some(n) => State::Body(n),
                        None => State::Opaque,
                    };
                    out.push(Piece::Head(head));
                }
            }
        }
    }

    /// Whether the next byte starts a request head.
    pub fn at_boundary(&self) -> bool {
        matches!(&self.state, State::Head(b) if b.is_empty())
    }
}

/// Whether `buf` can be the start of an HTTP/1 request line: a method of
/// capital letters, then a space.
fn starts_like_a_request(buf: &[u8]) -> bool {
    let method = buf.iter().take_while(|b| b.is_ascii_uppercase()).count();
    match buf.get(method) {
        None => method <= 10,
        Some(b' ') => (1..=10).contains(&method),
        Some(_) => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The body length a request head announces: `Content-Length`, 0 without
/// one, `None` for a chunked body (or a head that does not parse).
fn body_length(head: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let request = lines.next()?;
    if !request.ends_with("HTTP/1.1") && !request.ends_with("HTTP/1.0") {
        return None;
    }
    let mut length = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
    }
    Some(length)
}

/// The response the proxy sends in place of the target's for an aborted
/// request. It closes the connection, so nothing of the request that the
/// target never saw is left in flight.
pub fn abort_response(status: u16) -> Vec<u8> {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Injected Fault");
    let body = format!(
        "{{\"error\":\"injected_fault\",\"message\":\"surge proxy answered {status} in place of the target\"}}"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-surge-fault: error_rate\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(framer: &mut Framer, parts: &[&[u8]]) -> Vec<Piece> {
        let mut out = Vec::new();
        for p in parts {
            framer.feed(p, &mut out);
        }
        out
    }

    #[test]
    fn requests_are_framed_across_reads_and_keep_alive() {
        let mut f = Framer::default();
        let got = pieces(
            &mut f,
            &[
                b"POST /a HTTP/1.1\r\nContent-Length: 5\r",
                b"\n\r\nhel",
                b"loGET /b HTTP/1.1\r\n\r\n",
            ],
        );
        assert_eq!(
            got,
            vec![
                Piece::Head(b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n".to_vec()),
                Piece::Data(b"hel".to_vec()),
                Piece::Data(b"lo".to_vec()),
                Piece::Head(b"GET /b HTTP/1.1\r\n\r\n".to_vec()),
            ]
        );
        assert!(f.at_boundary());
    }

    #[test]
    fn what_is_not_http_passes_at_once() {
        let mut f = Framer::default();
        assert_eq!(
            pieces(&mut f, &[b"ping"]),
            vec![Piece::Data(b"ping".to_vec())]
        );
        let mut f = Framer::default();
        assert_eq!(pieces(&mut f, &[b"GE"]), vec![]);
        assert_eq!(
            pieces(&mut f, &[b"T / HTTP/1.1\r\n\r\n"]),
            vec![Piece::Head(b"GET / HTTP/1.1\r\n\r\n".to_vec())]
        );
    }

    #[test]
    fn a_chunked_body_makes_the_stream_opaque() {
        let mut f = Framer::default();
        let got = pieces(
            &mut f,
            &[b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
        );
        assert!(matches!(got[0], Piece::Head(_)));
        assert_eq!(got[1], Piece::Data(b"5\r\nhello\r\n0\r\n\r\n".to_vec()));
        assert!(!f.at_boundary());
    }
}
