//! Just enough HTTP/1.1 for a collection endpoint: read a request head
//! (plus any `Content-Length` body), decode its target, write a response.
//! Anything fancier (chunked bodies, pipelining tricks) is out of scope.

use std::fmt::Write as _;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Upper bound for a request head; a tracker's hit is far smaller, so more
/// means a broken or hostile client.
const MAX_HEAD: usize = 64 * 1024;
/// Upper bound for a body we are willing to read and throw away.
const MAX_BODY: usize = 1024 * 1024;

/// One parsed request. The body, if any, has already been consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// Raw query string, still percent-encoded, without the `?`.
    pub query: String,
    /// Whether the client wants the connection kept open afterwards.
    pub keep_alive: bool,
    /// Every `Host` header value, in order (a well-formed request has one).
    pub hosts: Vec<String>,
    /// The host named by an absolute-form target (`GET http://host/path`).
    pub target_host: Option<String>,
    /// Every `Origin` header value: browsers add one to cross-origin requests.
    pub origins: Vec<String>,
}

#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection failed or ended in the middle of a request.
    Broken,
    /// The peer sent something we cannot parse; answer 400 and close.
    Malformed(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Broken
    }
}

/// Reads the next request from `stream`. `buf` carries bytes already read
/// past the previous request across calls. `Ok(None)` is a clean EOF
/// between requests, which is how keep-alive clients say goodbye.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, ReadError> {
    let head_end = loop {
        if let Some(end) = find_head_end(buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Malformed("request head too large"));
        }
        if fill(stream, buf).await? == 0 {
            return if buf.iter().all(u8::is_ascii_whitespace) {
                Ok(None)
            } else {
                Err(ReadError::Broken)
            };
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end);
    let (request, body_len) = parse_head(&head)?;
    skip_body(stream, buf, body_len).await?;
    Ok(Some(request))
}

async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

async fn skip_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    len: usize,
) -> Result<(), ReadError> {
    while buf.len() < len {
        if fill(stream, buf).await? == 0 {
            return Err(ReadError::Broken);
        }
    }
    buf.drain(..len);
    Ok(())
}

/// Index just past the blank line ending the head. Bare `\n` line endings
/// are tolerated because hand-written test clients often send them.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    // Leading blank lines before a request line are allowed (RFC 9112 §2.2).
    let start = buf.iter().position(|b| !b"\r\n".contains(b))?;
    let mut line_start = start;
    for (i, &b) in buf.iter().enumerate().skip(start) {
        if b != b'\n' {
            continue;
        }
        let line = &buf[line_start..i];
        if line.is_empty() || line == b"\r" {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

fn parse_head(head: &str) -> Result<(Request, usize), ReadError> {
    let mut lines = head
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| l.is_empty());
    let request_line = lines
        .next()
        .ok_or(ReadError::Malformed("missing request line"))?;
    let mut parts = request_line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Malformed("unsupported HTTP version")),
    };

    let mut body_len = 0usize;
    let mut connection = None;
    let mut hosts = Vec::new();
    let mut origins = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Malformed("bad header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body_len = value
                .parse()
                .map_err(|_| ReadError::Malformed("bad Content-Length"))?;
            if body_len > MAX_BODY {
                return Err(ReadError::Malformed("body too large"));
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Malformed("Transfer-Encoding is not supported"));
        } else if name.eq_ignore_ascii_case("connection") {
            connection = Some(value.to_ascii_lowercase());
        } else if name.eq_ignore_ascii_case("host") {
            hosts.push(value.to_owned());
        } else if name.eq_ignore_ascii_case("origin") {
            origins.push(value.to_owned());
        }
    }
    let keep_alive = match connection.as_deref() {
        Some(v) if v.split(',').any(|t| t.trim() == "close") => false,
        Some(v) if v.split(',').any(|t| t.trim() == "keep-alive") => true,
        _ => !http10,
    };

    let (target_host, path, query) = split_target(target);
    let request = Request {
        method: method.to_owned(),
        path,
        query,
        keep_alive,
        hosts,
        target_host,
        origins,
    };
    Ok((request, body_len))
}

/// Splits a request target into path and raw query, accepting the
/// absolute form (`http://host/path?q`) that proxies-minded clients send;
/// for that form, also returns the host it names.
fn split_target(target: &str) -> (Option<String>, String, String) {
    let (host, origin) = match target.split_once("://") {
        Some((_, rest)) => {
            let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let origin = rest.find('/').map_or("/", |i| &rest[i..]);
            (Some(rest[..host_end].to_owned()), origin)
        }
        None => (None, target),
    };
    let origin = origin.split_once('#').map_or(origin, |(before, _)| before);
    let (path, query) = match origin.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (origin.to_owned(), String::new()),
    };
    (host, path, query)
}

/// Decodes `a=1&b=x%20y` into ordered pairs. `+` is kept literally: the
/// tracker percent-encodes spaces, so a `+` on the wire really is a plus.
pub(crate) fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// `%XX` to bytes; malformed escapes pass through untouched rather than
/// failing, so a test can still see what a buggy tracker sent.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A complete response, ready to be written.
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::empty(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into().into_bytes())
    }

    pub fn json(body: String) -> Self {
        Response::empty(200)
            .header("Content-Type", "application/json")
            .body(body.into_bytes())
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Serialises the response; `close` adds `Connection: close` so the
    /// client knows not to reuse the socket.
    pub fn to_bytes(&self, close: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    pub async fn write_to<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        close: bool,
    ) -> io::Result<()> {
        stream.write_all(&self.to_bytes(close)).await?;
        stream.flush().await
    }
}

/// Reason phrases for the codes tests are likely to use; clients must not
/// rely on them, so a generic fallback is fine.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse_all(raw: &[u8]) -> Vec<Result<Option<Request>, String>> {
        let mut reader = raw;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let r = read_request(&mut reader, &mut buf)
                .await
                .map_err(|e| format!("{e:?}"));
            let done = !matches!(r, Ok(Some(_)));
            out.push(r);
            if done {
                return out;
            }
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn parses_keep_alive_requests_and_skips_bodies() {
        let raw = b"GET /hit.xiti?s=1 HTTP/1.1\r\nHost: x\r\n\r\n\
                    POST /p HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc\
                    GET /last HTTP/1.0\n\n";
        let got = run(parse_all(raw));
        let reqs: Vec<_> = got
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned().flatten())
            .collect();
        assert_eq!(reqs.len(), 3);
        assert_eq!(
            (
                reqs[0].path.as_str(),
                reqs[0].query.as_str(),
                reqs[0].keep_alive
            ),
            ("/hit.xiti", "s=1", true)
        );
        assert_eq!(
            (reqs[1].method.as_str(), reqs[1].keep_alive),
            ("POST", false)
        );
        assert_eq!(
            (reqs[2].path.as_str(), reqs[2].keep_alive),
            ("/last", false)
        );
        assert!(matches!(got.last(), Some(Ok(None))));
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        let first_error = |raw: &[u8]| run(parse_all(raw)).remove(0).unwrap_err();
        assert!(first_error(b"HELLO\r\n\r\n").starts_with("Malformed"));
        assert!(first_error(b"GET / HTTP/2\r\n\r\n").starts_with("Malformed"));
        assert!(
            first_error(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .starts_with("Malformed")
        );
        assert_eq!(first_error(b"GET / HTTP/1.1\r\nHost"), "Broken");
        assert_eq!(
            first_error(b"GET / HTTP/1.1\r\nContent-Length: 9\r\n\r\nab"),
            "Broken"
        );
    }

    #[test]
    fn splits_targets() {
        let split = split_target;
        assert_eq!(split("/a?b=c#frag"), (None, "/a".into(), "b=c".into()));
        assert_eq!(
            split("http://h:1/x?y"),
            (Some("h:1".into()), "/x".into(), "y".into())
        );
        assert_eq!(
            split("http://h:1"),
            (Some("h:1".into()), "/".into(), String::new())
        );
        assert_eq!(split("http://h?q").0.as_deref(), Some("h"));
    }

    #[test]
    fn records_host_and_origin_headers() {
        let raw = b"GET http://a.example/x HTTP/1.1\r\nhost: one\r\nHOST: two\r\n\
                    Origin: http://b.example\r\n\r\nGET /y HTTP/1.0\r\n\r\n";
        let got = run(parse_all(raw));
        let first = got[0].as_ref().unwrap().as_ref().unwrap();
        assert_eq!(first.hosts, ["one", "two"]);
        assert_eq!(first.target_host.as_deref(), Some("a.example"));
        assert_eq!(first.origins, ["http://b.example"]);
        let second = got[1].as_ref().unwrap().as_ref().unwrap();
        assert!(
            second.hosts.is_empty() && second.target_host.is_none() && second.origins.is_empty()
        );
    }

    #[test]
    fn decodes_queries() {
        let got = decode_query("a=1&&b=x%20y+z&flag&bad=%zz%4&utf=%C3%A9&lossy=%FF");
        let want = [
            ("a", "1"),
            ("b", "x y+z"),
            ("flag", ""),
            ("bad", "%zz%4"),
            ("utf", "é"),
            ("lossy", "\u{FFFD}"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn serialises_responses() {
        let r = Response::empty(503).header("Retry-After", "5");
        assert_eq!(
            String::from_utf8(r.to_bytes(true)).unwrap(),
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}
