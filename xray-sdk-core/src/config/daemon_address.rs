//! The daemon's addresses, in every form `AWS_XRAY_DAEMON_ADDRESS` takes.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// A host and a port. The host may be a name, resolved when the address is used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The host: an IPv4 address, a bracket-less IPv6 address, or a name.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// Resolves the endpoint to socket addresses, preferring IPv4.
    ///
    /// # Errors
    /// The resolver's error, or `NotFound` when the name has no address.
    pub fn resolve(&self) -> std::io::Result<SocketAddr> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where the daemon receives segments (UDP) and serves the sampling API (TCP).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DaemonAddress {
    /// The UDP endpoint for segment documents.
    pub udp: Endpoint,
    /// The TCP endpoint for the sampling API.
    pub tcp: Endpoint,
}

impl Default for DaemonAddress {
    /// `127.0.0.1:2000` for both.
    fn default() -> Self {
        let ep = Endpoint {
            host: "127.0.0.1".to_owned(),
            port: 2000,
        };
        DaemonAddress {
            udp: ep.clone(),
            tcp: ep,
        }
    }
}

/// A malformed daemon address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid daemon address {value:?}: {reason}; expected host:port or \"tcp:host:port udp:host:port\""
)]
pub struct DaemonAddressError {
    /// The text given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn parse_endpoint(text: &str) -> Result<Endpoint, &'static str> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or("an IPv6 host needs the form [addr]:port")?;
        (host, port)
    } else {
        let (host, port) = text.split_once(':').ok_or("missing :port")?;
        if port.contains(':') {
            return Err("too many ':' (write IPv6 hosts as [addr]:port)");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("empty host");
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the port is not a number");
    }
    let port: u16 = port.parse().map_err(|_| "the port is out of range")?;
    if port == 0 {
        return Err("port 0");
    }
    Ok(Endpoint {
        host: host.to_owned(),
        port,
    })
}

impl DaemonAddress {
    /// Parses `host:port` (both protocols on one address) or `tcp:host:port udp:host:port` in either order.
    ///
    /// Compared with the Python SDK: surrounding whitespace and repeated spaces are accepted, IPv6 hosts are
    /// accepted as `[addr]:port`, and trailing junk (`127.0.0.1:2000:extra`), an empty host, a signed port or a
    /// port outside 1–65535 are errors instead of being ignored or failing at send time.
    ///
    /// # Errors
    /// [`DaemonAddressError`] saying what is wrong.
    pub fn parse(value: &str) -> Result<Self, DaemonAddressError> {
        let err = |reason| DaemonAddressError {
            value: value.to_owned(),
            reason,
        };
        let parts: Vec<&str> = value.split_whitespace().collect();
        match parts.as_slice() {
            [single] => {
                let ep = parse_endpoint(single).map_err(err)?;
                Ok(DaemonAddress {
                    udp: ep.clone(),
                    tcp: ep,
                })
            }
            [a, b] => {
                let (mut udp, mut tcp) = (None, None);
                for part in [a, b] {
                    let (proto, rest) = part
                        .split_once(':')
                        .ok_or_else(|| err("each of two addresses needs a tcp: or udp: prefix"))?;
                    let slot = match proto {
                        "udp" => &mut udp,
                        "tcp" => &mut tcp,
                        _ => return Err(err("each of two addresses needs a tcp: or udp: prefix")),
                    };
                    if slot.is_some() {
                        return Err(err("the same protocol is given twice"));
                    }
                    *slot = Some(parse_endpoint(rest).map_err(err)?);
                }
                match (udp, tcp) {
                    (Some(udp), Some(tcp)) => Ok(DaemonAddress { udp, tcp }),
                    _ => Err(err("both tcp: and udp: are needed")),
                }
            }
            [] => Err(err("empty")),
            _ => Err(err("more than two addresses")),
        }
    }
}

impl FromStr for DaemonAddress {
    type Err = DaemonAddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DaemonAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.udp == self.tcp {
            write!(f, "{}", self.udp)
        } else {
            write!(f, "tcp:{} udp:{}", self.tcp, self.udp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = DaemonAddress::parse("udp:127.0.0.2:8080 tcp:192.168.0.1:3000").unwrap();
        assert_eq!(a.udp.to_string(), "127.0.0.2:8080");
        assert_eq!(a.tcp.to_string(), "192.168.0.1:3000");
        assert_eq!(a.to_string(), "tcp:192.168.0.1:3000 udp:127.0.0.2:8080");
        let b = DaemonAddress::parse(" [::1]:2000\n").unwrap();
        assert_eq!(b.udp.host, "::1");
        for bad in [
            "",
            "x",
            ":2000",
            "h:0",
            "h:70000",
            "h:+1",
            "h:1:extra",
            "tcp:a:1",
            "udp:a:1 udp:b:2",
            "a:1 b:2 c:3",
        ] {
            assert!(DaemonAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
