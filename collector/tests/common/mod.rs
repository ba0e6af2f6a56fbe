//! A deliberately dumb HTTP/1.1 client over `std::net::TcpStream`, so the
//! tests see exactly what went over the wire.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn connect(port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    // A generous bound so a broken collector fails the test instead of hanging it.
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    Ok(stream)
}

pub fn send(stream: &mut TcpStream, target: &str, extra_headers: &str) -> io::Result<()> {
    send_method(stream, "GET", target, extra_headers)
}

/// `method` with an empty body, `Host: 127.0.0.1` and `extra_headers`.
pub fn send_method(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    extra_headers: &str,
) -> io::Result<()> {
    let length = if method == "GET" {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{length}{extra_headers}\r\n"
    )?;
    stream.flush()
}

/// Reads one response: head up to the blank line, then `Content-Length` bytes.
pub fn read_response(stream: &mut TcpStream) -> io::Result<Response> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("EOF after {head:?}"),
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    })
}

/// One request on a fresh connection.
pub fn get(port: u16, target: &str) -> io::Result<Response> {
    let mut stream = connect(port)?;
    send(&mut stream, target, "Connection: close\r\n")?;
    read_response(&mut stream)
}

/// One POST with an empty body on a fresh connection.
pub fn post(port: u16, target: &str) -> io::Result<Response> {
    let mut stream = connect(port)?;
    send_method(&mut stream, "POST", target, "Connection: close\r\n")?;
    read_response(&mut stream)
}

/// One request on a fresh connection with exactly these header lines (each
/// ending in `\r\n`) and no others, not even `Host`: for forged headers.
pub fn raw(port: u16, method: &str, target: &str, headers: &str) -> io::Result<Response> {
    let mut stream = connect(port)?;
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    read_response(&mut stream)
}

/// Reads until EOF or error; returns the bytes seen and how it ended.
pub fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, io::Result<()>) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (seen, Ok(())),
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) => return (seen, Err(e)),
        }
    }
}
