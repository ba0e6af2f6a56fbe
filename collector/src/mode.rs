//! How the collector treats incoming hits, plus the textual spelling shared
//! by the control API and the CLI (`ok`, `503,retry-after=5`, `delay-250`…).

use std::fmt;
use std::time::Duration;

/// Behaviour of the collection endpoint; see each variant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answer `200` with an empty body.
    #[default]
    Ok,
    /// Answer this status, optionally with a `Retry-After` header (seconds).
    Status { code: u16, retry_after: Option<u32> },
    /// Close the listening socket (connects get `ECONNREFUSED`) and every
    /// open connection. Leaving this mode re-binds the same port.
    Refuse,
    /// Read the request, then reset the connection without answering.
    Reset,
    /// Write part of a status line, then reset the connection.
    ResetMidResponse,
    /// Read the request and never answer; the socket stays open until the
    /// mode changes or the collector stops.
    Hang,
    /// Answer `200` after this delay.
    Delay(Duration),
    /// Answer `200` with a body of this many bytes, written as fast as the
    /// client reads (a hostile or broken server).
    HugeBody(u64),
    /// Answer `302 Found` with `Location: /redirected?<the same query>` (a
    /// captive portal, a moved endpoint), and `200` to that target: a client
    /// that follows redirects shows up as a second request, delivered.
    Redirect,
}

impl Mode {
    /// Parses the spellings produced by [`Display`](fmt::Display):
    /// `ok`, `refuse`, `reset`, `reset-mid`, `hang`, `redirect`, `delay-<ms>`,
    /// `body-<bytes>`, `<status>` and `<status>,retry-after=<secs>`.
    pub fn parse(s: &str) -> Result<Mode, String> {
        let s = s.trim().to_ascii_lowercase();
        let mode = match s.as_str() {
            "ok" => Mode::Ok,
            "refuse" => Mode::Refuse,
            "reset" => Mode::Reset,
            "reset-mid" => Mode::ResetMidResponse,
            "hang" => Mode::Hang,
            "redirect" => Mode::Redirect,
            _ => {
                if let Some(bytes) = s.strip_prefix("body-") {
                    let bytes = bytes
                        .parse()
                        .map_err(|_| format!("bad size in {s:?}: expected body-<bytes>"))?;
                    Mode::HugeBody(bytes)
                } else if let Some(ms) = s.strip_prefix("delay-") {
                    let ms = ms.parse().map_err(|_| {
                        format!("bad delay in {s:?}: expected delay-<milliseconds>")
                    })?;
                    Mode::Delay(Duration::from_millis(ms))
                } else {
                    parse_status(&s)?
                }
            }
        };
        Ok(mode)
    }
}

fn parse_status(s: &str) -> Result<Mode, String> {
    let unknown = || {
        format!(
            "unknown mode {s:?}: expected ok, refuse, reset, reset-mid, hang, redirect, delay-<ms>, body-<bytes> or a status code 200-599"
        )
    };
    let (code, retry) = match s.split_once(',') {
        Some((code, retry)) => (code, Some(retry)),
        None => (s, None),
    };
    if code.len() != 3 {
        return Err(unknown());
    }
    let code: u16 = code.parse().map_err(|_| unknown())?;
    if !(200..=599).contains(&code) {
        return Err(unknown());
    }
    let retry_after = match retry {
        None => None,
        Some(r) => {
            let secs = r
                .trim()
                .strip_prefix("retry-after=")
                .ok_or_else(|| format!("bad option in {s:?}: expected retry-after=<secs>"))?;
            Some(
                secs.parse()
                    .map_err(|_| format!("bad retry-after in {s:?}"))?,
            )
        }
    };
    Ok(Mode::Status { code, retry_after })
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Ok => f.write_str("ok"),
            Mode::Status {
                code,
                retry_after: None,
            } => write!(f, "{code}"),
            Mode::Status {
                code,
                retry_after: Some(secs),
            } => write!(f, "{code},retry-after={secs}"),
            Mode::Refuse => f.write_str("refuse"),
            Mode::Reset => f.write_str("reset"),
            Mode::ResetMidResponse => f.write_str("reset-mid"),
            Mode::Hang => f.write_str("hang"),
            Mode::Delay(d) => write!(f, "delay-{}", d.as_millis()),
            Mode::HugeBody(bytes) => write!(f, "body-{bytes}"),
            Mode::Redirect => f.write_str("redirect"),
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        let modes = [
            Mode::Ok,
            Mode::Refuse,
            Mode::Reset,
            Mode::ResetMidResponse,
            Mode::Hang,
            Mode::Delay(Duration::from_millis(250)),
            Mode::HugeBody(1 << 30),
            Mode::Redirect,
            Mode::Status {
                code: 404,
                retry_after: None,
            },
            Mode::Status {
                code: 503,
                retry_after: Some(7),
            },
        ];
        for mode in modes {
            assert_eq!(Mode::parse(&mode.to_string()), Ok(mode.clone()), "{mode}");
        }
        assert_eq!(Mode::parse(" OK "), Ok(Mode::Ok));
    }

    #[test]
    fn rejects_bad_spellings() {
        for bad in [
            "",
            "fast",
            "delay-",
            "delay-x",
            "42",
            "1000",
            "099",
            "600",
            "503,foo=1",
            "503,retry-after=x",
        ] {
            assert!(Mode::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
