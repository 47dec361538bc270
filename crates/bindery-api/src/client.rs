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
        if headers.contains_key("x-forwarded-for") && is_internal(peer) {
            warn_untrusted_proxy(peer);
        }
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

/// Says once per process that requests seem to come through a proxy that is not trusted: every client behind it then
/// shares its address, and so the limits per address (failed logins among them) apply to all of them together.
fn warn_untrusted_proxy(peer: IpAddr) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "requests carry X-Forwarded-For from a private or loopback peer that is not a trusted proxy; if a load \
             balancer sits in front of this server, list it with --trusted-proxy, or every client behind it shares \
             one address for rate limits and login throttles"
        );
    }
}

/// Private, loopback and link-local peers are where proxies sit; a public peer that sends the header is a client
/// writing it itself, which is not worth a warning.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
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
        assert!(is_internal(ip("10.1.2.3")) && is_internal(ip("::1")) && is_internal(ip("fd00::1")));
        assert!(!is_internal(ip("203.0.113.9")) && !is_internal(ip("2001:db8::1")));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(through_proxies(ip("10.0.0.1"), &headers(&["nonsense"]), &proxies), ip("10.0.0.1"));
        assert_eq!(through_proxies(ip("10.0.0.1"), &headers(&["[2001:db8::1]"]), &proxies), ip("2001:db8::1"));
    }
}
