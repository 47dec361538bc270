//! The client's address, through the proxies the operator trusts.
//!
//! Limits per client address need the address of the client, not of the load balancer in front of Bindery. A proxy
//! appends the address it received the request from to `X-Forwarded-For`; anyone can write anything before that. So
//! the header is read from the right: while the hop is a trusted proxy (`--trusted-proxy`, empty by default), the
//! address to its left is the one it saw; the first untrusted hop is the client. Without trusted proxies the header is
//! ignored and the connection's peer is the client.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use bindery_outbox::Allowlist;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The address a request came from (see the module's text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(of(parts, &state.options.trusted_proxies))
    }
}

/// The client address of a request.
pub fn of(parts: &Parts, trusted: &Allowlist) -> ClientAddr {
    // A router served without connection information (an in-process test) has no peer; all such requests share
    // one address.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip().to_canonical());
    ClientAddr(through_proxies(peer, &parts.headers, trusted))
}

fn through_proxies(peer: IpAddr, headers: &HeaderMap, trusted: &Allowlist) -> IpAddr {
    if !trusted.allows(peer) {
        return peer;
    }
    let mut client = peer;
    // Every X-Forwarded-For line, joined in order, read from the last hop back.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() else {
            // A hop that is not an address was written by someone untrusted: stop at the last address known good.
            break;
        };
        client = ip.to_canonical();
        if !trusted.allows(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_read_only_through_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = Allowlist::default();
        let proxies = Allowlist::parse("10.0.0.0/8").unwrap();
        // No trusted proxy: the header is anyone's word, and ignored.
        assert_eq!(through_proxies(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &none), ip("203.0.113.9"));
        // A peer that is not a trusted proxy: ignored too.
        assert_eq!(through_proxies(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &proxies), ip("203.0.113.9"));
        // Through two trusted proxies: the first untrusted hop from the right, whatever the client wrote before it.
        let h = headers(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(through_proxies(ip("10.0.0.1"), &h, &proxies), ip("198.51.100.7"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(through_proxies(ip("10.0.0.1"), &headers(&["nonsense"]), &proxies), ip("10.0.0.1"));
        assert_eq!(through_proxies(ip("10.0.0.1"), &headers(&["[2001:db8::1]"]), &proxies), ip("2001:db8::1"));
    }
}
