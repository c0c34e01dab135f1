//! The client's address, for throttles and logs. Behind a reverse proxy every request
//! comes from the proxy, so its address means nothing; the proxy says who it forwarded
//! for in `X-Forwarded-For` / `Forwarded`. Those headers are read only when the socket
//! peer is a proxy listed in `QVT_TRUSTED_PROXIES`: anyone else could write them to dodge
//! a limit.

use std::net::IpAddr;

use actix_web::{web, HttpRequest};
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed (addresses or networks).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `"10.0.0.1, 10.1.0.0/16"`; empty means none.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is neither an address nor a network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: the right-most forwarded address that is not a trusted
    /// proxy (the left-most ones are whatever the client chose to send).
    pub fn client(&self, peer: IpAddr, forwarded: &[IpAddr]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        forwarded
            .iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// The forwarded chain of a request, from `Forwarded` (`for=`) or else `X-Forwarded-For`.
fn forwarded_chain(req: &HttpRequest) -> Vec<IpAddr> {
    let all = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()))
            .collect()
    };
    let parse = |raw: &str| -> Option<IpAddr> {
        let raw = raw.trim_matches('"');
        // `[2001:db8::1]:4711`, `192.0.2.60:8080` or a bare address.
        let host = raw
            .strip_prefix('[')
            .and_then(|r| r.split_once(']').map(|(h, _)| h))
            .unwrap_or_else(|| match raw.rsplit_once(':') {
                Some((h, port)) if !h.contains(':') && port.parse::<u16>().is_ok() => h,
                _ => raw,
            });
        host.parse().ok()
    };
    let forwarded: Vec<IpAddr> = all("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for")
                    .then(|| parse(value))
                    .flatten()
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    all("x-forwarded-for")
        .iter()
        .filter_map(|s| parse(s))
        .collect()
}

/// The client's address (see the module's header); without a socket peer, `0.0.0.0`.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client(peer, &forwarded_chain(req)),
        None => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::parse("10.0.0.1, 10.1.0.0/16").unwrap();
        let spoofed = [ip("1.2.3.4")];
        // A client writing the header itself is still its socket address.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        // Through the proxy: the address the proxy appended, not what the client wrote.
        let chain = [ip("1.2.3.4"), ip("198.51.100.7")];
        assert_eq!(proxies.client(ip("10.0.0.1"), &chain), ip("198.51.100.7"));
        let through_two = [ip("198.51.100.7"), ip("10.1.4.4")];
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &through_two),
            ip("198.51.100.7")
        );
        assert!(TrustedProxies::parse("pas-une-adresse").is_err());
    }

    #[test]
    fn both_headers_are_read() {
        let req = TestRequest::default()
            .insert_header((
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=192.0.2.60",
            ))
            .to_http_request();
        assert_eq!(
            forwarded_chain(&req),
            vec![ip("2001:db8::1"), ip("192.0.2.60")]
        );
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "192.0.2.1, 198.51.100.2:8080"))
            .to_http_request();
        assert_eq!(
            forwarded_chain(&req),
            vec![ip("192.0.2.1"), ip("198.51.100.2")]
        );
    }
}
