//! Protection against server-side request forgery (SSRF) for webhooks.
//!
//! A webhook URL is chosen by whoever configures the sink, and the worker
//! that posts to it usually runs inside a private network, next to databases,
//! admin consoles and the cloud provider's metadata service. Without a check,
//! a URL such as `http://169.254.169.254/…` or a host name that resolves to
//! `10.0.0.5` turns the outbox into a way to reach those. So deliveries go
//! only to public addresses, unless the operator lists an address or network
//! in an [`Allowlist`] (`BINDERY_WEBHOOK_ALLOW` in the binary; tests allow
//! `127.0.0.1` for their local receivers).
//!
//! The check has two halves, because reqwest handles two kinds of host
//! differently:
//!
//! * A host name goes through the client's DNS resolver. [`safe_client`]
//!   installs [`SafeResolver`], which drops forbidden addresses from every
//!   answer. Because the addresses checked are exactly the addresses the
//!   client then connects to, a name that resolves to a public address when
//!   checked and to a private one when used (DNS rebinding) gains nothing.
//! * A literal IP address never reaches a resolver, so [`check_url`] must be
//!   called on every URL before it is requested.
//!
//! Redirects are not followed (a public endpoint could redirect to an
//! internal one) and proxies from the environment are ignored (the proxy,
//! not this process, would pick the address, which would make the check
//! meaningless).

use crate::error::{ConfigError, DeliveryError};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use url::{Host, Url};

/// The setting an operator uses to allow private addresses, named in the
/// messages so that the fix is obvious.
const ALLOW_SETTING: &str = "BINDERY_WEBHOOK_ALLOW";

/// Why a webhook URL or host was refused. Every variant is permanent:
/// sending the same request again would be refused again.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SsrfError {
    /// The URL is not http or https.
    #[error("webhook URLs must use http or https, not {0:?}")]
    Scheme(String),
    /// The URL carries `user:password@`, which also hides the real host from
    /// a quick read (`http://trusted.example@10.0.0.1/`).
    #[error("webhook URLs must not contain a user name or password; the webhook signature authenticates deliveries")]
    Credentials,
    /// The URL has no host to connect to.
    #[error("the webhook URL has no host")]
    NoHost,
    /// The URL names a forbidden address literally.
    #[error("webhook address {ip} is a {kind} address; add it to {ALLOW_SETTING} to allow it")]
    ForbiddenAddress {
        /// The address in the URL.
        ip: IpAddr,
        /// What kind of address it is ("loopback", "private", …).
        kind: &'static str,
    },
    /// Every address a host name resolves to is forbidden.
    #[error(
        "webhook host {host} resolves only to private or loopback addresses ({}); add it to {ALLOW_SETTING} to allow",
        join(.addrs)
    )]
    ForbiddenHost {
        /// The name that was resolved.
        host: String,
        /// All the addresses it resolved to.
        addrs: Vec<IpAddr>,
    },
}

impl From<SsrfError> for DeliveryError {
    fn from(e: SsrfError) -> Self {
        DeliveryError::permanent(e.to_string())
    }
}

fn join(addrs: &[IpAddr]) -> String {
    addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Whether webhooks must not be delivered to `ip` (unless allowlisted).
///
/// True for every address that is not globally reachable: loopback,
/// unspecified, private, shared (carrier-grade NAT), link-local (including
/// the cloud metadata address 169.254.169.254), unique-local, multicast,
/// broadcast, documentation, benchmarking and reserved ranges, and for IPv6
/// forms that embed such an IPv4 address (IPv4-mapped, IPv4-compatible,
/// NAT64, 6to4, Teredo).
pub fn is_forbidden(ip: IpAddr) -> bool {
    forbidden_kind(ip).is_some()
}

/// What kind of forbidden address `ip` is, or `None` when it is public.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// IPv4 ranges that are not globally reachable (IANA special-purpose
/// registry), with the word used in messages.
const V4_RANGES: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "unspecified"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared (carrier-grade NAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "reserved (IETF protocol assignments)"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([192, 88, 99, 0], 24, "reserved (6to4 relay)"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([255, 255, 255, 255], 32, "broadcast"),
    ([240, 0, 0, 0], 4, "reserved"),
];

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, prefix, _)| bits & mask32(*prefix) == u32::from_be_bytes(*net))
        .map(|(_, _, kind)| *kind)
}

/// IPv6 ranges that are forbidden outright. Ranges that embed an IPv4
/// address are handled in [`forbidden_v6`], since their verdict depends on
/// that address.
const V6_RANGES: &[(u128, u8, &str)] = &[
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48, "local-use NAT64"),
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "discard-only"),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, "documentation"),
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, "documentation"),
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique-local"),
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local"),
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, "site-local"),
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast"),
];

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let low32 = Ipv4Addr::from(bits as u32);
    let in_net = |net: u128, prefix: u8| bits & mask128(prefix) == net;
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d)
    // addresses reach the embedded IPv4 address on a dual-stack socket;
    // IPv4-compatible ones (::a.b.c.d) are deprecated but judged the same way.
    if in_net(0xffff_0000_0000, 96) || in_net(0xffff_0000_0000_0000, 96) || in_net(0, 96) {
        return forbidden_v4(low32);
    }
    // NAT64 with the well-known prefix: the translator connects to the
    // embedded IPv4 address.
    if in_net(0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        return forbidden_v4(low32);
    }
    // 6to4 embeds the IPv4 address of the site's gateway in bits 16..48.
    if in_net(0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        return forbidden_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    // Teredo embeds the server address in bits 32..64 and the client's
    // address, inverted, in the last 32 bits.
    if in_net(0x2001_0000_0000_0000_0000_0000_0000_0000, 32) {
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return forbidden_v4(client).or_else(|| forbidden_v4(server));
    }
    V6_RANGES.iter().find(|(net, prefix, _)| in_net(*net, *prefix)).map(|(_, _, kind)| *kind)
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// An allowlist entry that is neither an IP address nor a CIDR network.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid {ALLOW_SETTING} entry {entry:?}: {reason}")]
pub struct AllowlistError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// One network: an address with its prefix length, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u32::from(ip) & mask32(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => u128::from(ip) & mask128(self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Addresses and networks an operator allows webhooks to reach even though
/// [`is_forbidden`] says they are private. Empty by default: nothing private
/// is reachable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    networks: Vec<Network>,
}

impl Allowlist {
    /// Parses a comma-separated list of IP addresses and CIDR networks, such
    /// as `127.0.0.1,10.0.0.0/8,::1`. Spaces around entries and empty entries
    /// are ignored, so an empty string is an empty list. IPv6 addresses may be
    /// written in brackets. Host bits after the prefix are ignored
    /// (`10.1.2.3/8` is `10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<Self, AllowlistError> {
        let networks =
            list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(parse_entry).collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// Whether `ip` is in one of the listed networks. An IPv4-mapped IPv6
    /// address matches the IPv4 entries, since it reaches the same host.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether a delivery may connect to `ip`: public addresses always, and
    /// forbidden ones only when listed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_forbidden(ip) || self.allows(ip)
    }
}

impl FromStr for Allowlist {
    type Err = AllowlistError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self.networks.iter().map(ToString::to_string).collect();
        f.write_str(&entries.join(","))
    }
}

fn parse_entry(entry: &str) -> Result<Network, AllowlistError> {
    let error = |reason: &str| AllowlistError { entry: entry.to_owned(), reason: reason.to_owned() };
    let (addr, prefix) = match entry.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (entry, None),
    };
    let addr = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr);
    let addr: IpAddr = addr.parse().map_err(|_| error("not an IP address or CIDR network (hosts are not accepted)"))?;
    // A bare IPv4-mapped address is the IPv4 host it maps to.
    let addr = if prefix.is_none() { addr.to_canonical() } else { addr };
    let full: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => full,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= full => p,
            _ => return Err(error(&format!("the prefix length must be a number from 0 to {full}"))),
        },
    };
    let addr = match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
    };
    Ok(Network { addr, prefix })
}

/// Checks a URL before it is requested: http or https only, no user name or
/// password, and a literal IP host must be public or allowlisted. Host names
/// pass here; [`SafeResolver`] checks what they resolve to.
pub fn check_url(url: &Url, allow: &Allowlist) -> Result<(), SsrfError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SsrfError::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SsrfError::Credentials);
    }
    let ip = match url.host() {
        None => return Err(SsrfError::NoHost),
        Some(Host::Domain("")) => return Err(SsrfError::NoHost),
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    match forbidden_kind(ip) {
        Some(kind) if !allow.allows(ip) => Err(SsrfError::ForbiddenAddress { ip, kind }),
        _ => Ok(()),
    }
}

/// A reqwest DNS resolver that asks the system resolver and keeps only the
/// addresses an [`Allowlist`] permits.
#[derive(Debug, Clone, Default)]
pub struct SafeResolver {
    allow: Arc<Allowlist>,
}

impl SafeResolver {
    /// A resolver that lets `allow` through in addition to public addresses.
    pub fn new(allow: Allowlist) -> Self {
        Self { allow: Arc::new(allow) }
    }

    /// Resolves `host` and filters the answer. Fails with
    /// [`SsrfError::ForbiddenHost`] when nothing is left, and with the
    /// resolver's own error when the name does not resolve.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        // Port 0 stands for "the scheme's port"; reqwest fills it in.
        let found: Vec<_> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|source| ResolveError::Lookup { host: host.to_owned(), source })?
            .collect();
        let (kept, dropped): (Vec<SocketAddr>, Vec<SocketAddr>) =
            found.iter().copied().partition(|a| self.allow.permits(a.ip()));
        if kept.is_empty() {
            return Err(ResolveError::Forbidden(SsrfError::ForbiddenHost {
                host: host.to_owned(),
                addrs: found.iter().map(|a| a.ip()).collect(),
            }));
        }
        if !dropped.is_empty() {
            tracing::debug!(host, dropped = %join(&dropped.iter().map(|a| a.ip()).collect::<Vec<_>>()),
                "ignoring private addresses of a webhook host");
        }
        Ok(kept)
    }
}

/// Why [`SafeResolver`] returned no address.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// The system resolver failed; this may pass.
    #[error("cannot resolve webhook host {host}: {source}")]
    Lookup {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// Every address was forbidden.
    #[error(transparent)]
    Forbidden(#[from] SsrfError),
}

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            match this.resolve_host(name.as_str()).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                // The SSRF error itself goes into the chain, so that callers
                // can find it with `downcast_ref` and treat it as permanent.
                Err(ResolveError::Forbidden(e)) => Err(Box::new(e) as _),
                Err(lookup) => Err(Box::new(lookup) as _),
            }
        })
    }
}

/// Finds an [`SsrfError`] in an error's source chain, as left there by
/// [`SafeResolver`] inside a reqwest error.
pub fn find_ssrf_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a SsrfError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<SsrfError>() {
            return Some(found);
        }
        if let Some(ResolveError::Forbidden(found)) = e.downcast_ref::<ResolveError>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// A client builder with the SSRF protections in place: the filtering
/// resolver, no redirects, no proxy, and `timeout` per request.
pub(crate) fn safe_builder(allow: Allowlist, timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(SafeResolver::new(allow)))
        .redirect(redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
}

/// An HTTP client that only connects to public addresses and to those in
/// `allow`, never follows redirects, ignores proxy settings from the
/// environment, and gives up on a request after `timeout`. URLs with a
/// literal IP host must still pass [`check_url`], because reqwest connects
/// to those without asking the resolver.
pub fn safe_client(allow: Allowlist, timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    safe_builder(allow, timeout).build().map_err(|e| ConfigError::HttpClient(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forbidden_addresses_are_recognised() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("::1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.0.1", "link-local"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.255", "shared (carrier-grade NAT)"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.0.170", "reserved (IETF protocol assignments)"),
            ("fec0::1", "site-local"),
            ("100::1", "discard-only"),
            ("64:ff9b:1::1", "local-use NAT64"),
            // IPv4-mapped, IPv4-translated and IPv4-compatible forms.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:0:192.168.0.1", "private"),
            ("::127.0.0.1", "loopback"),
            ("::10.0.0.1", "private"),
            // NAT64 well-known prefix.
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            // 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
            ("2002:7f00:1::1", "loopback"),
            ("2002:c0a8:101::1", "private"),
            // Teredo: the client address is stored inverted (~10.0.0.1).
            ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),
        ];
        for (addr, kind) in cases {
            assert_eq!(forbidden_kind(ip(addr)), Some(kind), "{addr}");
            assert!(is_forbidden(ip(addr)), "{addr}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:1.1.1.1",
            "64:ff9b::1.1.1.1",
            "2002:101:101::1",
            "2001:0:4136:e378:8000:63bf:fefe:fefe",
        ];
        for addr in public {
            assert_eq!(forbidden_kind(ip(addr)), None, "{addr}");
            assert!(!is_forbidden(ip(addr)), "{addr}");
        }
    }

    #[test]
    fn allowlists_parse_and_match() {
        let allow = Allowlist::parse(" 127.0.0.1, 10.0.0.0/8 ,::1,[fd00::]/8,").unwrap();
        assert_eq!(allow.to_string(), "127.0.0.1,10.0.0.0/8,::1,fd00::/8");
        for yes in ["127.0.0.1", "10.0.0.1", "10.255.0.9", "::1", "fd12::5", "::ffff:127.0.0.1"] {
            assert!(allow.allows(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "::2", "fc00::1", "192.168.0.1"] {
            assert!(!allow.allows(ip(no)), "{no}");
        }
        // Public addresses need no entry; forbidden ones need one.
        assert!(allow.permits(ip("1.1.1.1")));
        assert!(allow.permits(ip("10.1.1.1")));
        assert!(!allow.permits(ip("192.168.0.1")));
        // Host bits are cleared, a zero prefix matches the whole family.
        assert_eq!(Allowlist::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert!(Allowlist::parse("0.0.0.0/0").unwrap().allows(ip("192.168.7.7")));
        assert!(!Allowlist::parse("0.0.0.0/0").unwrap().allows(ip("fd00::1")));
        assert!(Allowlist::parse("").unwrap().is_empty());
        assert!(Allowlist::parse(" , ").unwrap().is_empty());
        assert_eq!("::ffff:10.0.0.1".parse::<Allowlist>().unwrap().to_string(), "10.0.0.1");
    }

    #[test]
    fn bad_allowlist_entries_are_errors() {
        for bad in ["localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0/8", "1.2.3.4/x", "127.0.0.1,nope"] {
            let err = Allowlist::parse(bad).unwrap_err();
            assert!(err.to_string().contains("BINDERY_WEBHOOK_ALLOW"), "{bad}: {err}");
        }
        let err = Allowlist::parse("127.0.0.1,nope").unwrap_err();
        assert_eq!(err.entry, "nope");
    }

    #[test]
    fn urls_are_checked() {
        let none = Allowlist::default();
        let local = Allowlist::parse("127.0.0.1,::1").unwrap();
        let check = |url: &str, allow: &Allowlist| check_url(&Url::parse(url).unwrap(), allow);
        assert_eq!(check("https://example.com/hook", &none), Ok(()));
        assert_eq!(check("http://1.1.1.1:8080/hook", &none), Ok(()));
        assert_eq!(check("http://[2606:4700::1111]/hook", &none), Ok(()));
        // Names are left to the resolver.
        assert_eq!(check("http://localhost/hook", &none), Ok(()));
        assert_eq!(check("ftp://example.com/", &none), Err(SsrfError::Scheme("ftp".into())));
        assert_eq!(check("file:///etc/passwd", &none), Err(SsrfError::Scheme("file".into())));
        assert_eq!(check("https://user:pw@example.com/", &none), Err(SsrfError::Credentials));
        assert_eq!(check("https://example.com@10.0.0.1/", &none), Err(SsrfError::Credentials));
        assert_eq!(
            check("http://127.0.0.1:9000/hook", &none),
            Err(SsrfError::ForbiddenAddress { ip: ip("127.0.0.1"), kind: "loopback" })
        );
        assert_eq!(check("http://127.0.0.1:9000/hook", &local), Ok(()));
        assert_eq!(check("http://[::1]/hook", &local), Ok(()));
        assert!(check("http://[::1]/hook", &none).is_err());
        assert!(check("http://[::ffff:127.0.0.1]/hook", &none).is_err());
        assert!(check("http://169.254.169.254/latest/meta-data/", &local).is_err());
        // The URL parser normalises odd IPv4 spellings, so they are caught too.
        assert!(check("http://2130706433/", &none).is_err());
        assert!(check("http://0x7f.1/", &none).is_err());
        assert!(check("http://0/", &none).is_err());
        let err = check("http://10.0.0.5/hook", &none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "webhook address 10.0.0.5 is a private address; add it to BINDERY_WEBHOOK_ALLOW to allow it"
        );
        assert!(!DeliveryError::from(err).retryable);
    }

    #[tokio::test]
    async fn the_resolver_filters_loopback_names() {
        let err = SafeResolver::default().resolve_host("localhost").await.unwrap_err();
        let ResolveError::Forbidden(ssrf) = &err else { panic!("expected an SSRF refusal, got {err}") };
        let message = ssrf.to_string();
        assert!(
            message.starts_with("webhook host localhost resolves only to private or loopback addresses ("),
            "{message}"
        );
        assert!(message.contains("127.0.0.1"), "{message}");
        assert!(message.ends_with("add it to BINDERY_WEBHOOK_ALLOW to allow"), "{message}");
        assert_eq!(find_ssrf_error(&err), Some(ssrf));

        let allowed =
            SafeResolver::new(Allowlist::parse("127.0.0.1").unwrap()).resolve_host("localhost").await.unwrap();
        assert!(!allowed.is_empty());
        assert!(allowed.iter().all(|a| a.ip() == ip("127.0.0.1")), "{allowed:?}");
    }
}
