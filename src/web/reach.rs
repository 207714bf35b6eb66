//! How a request reached the dashboard: which `Host` it named (loopback names, and the
//! configured `web.public_name`, pass; others get 421), whether it came over HTTPS, and from
//! which client. Behind a proxy (`web.behind_proxy`) the proxy's `X-Forwarded-Proto` and
//! `X-Forwarded-For` are believed only on connections from the proxy's addresses
//! (`web.proxies`); anyone else could write them.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::model::WebAccess;

/// What the guard found out about a request, for the pages and writes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// The browser spoke HTTPS to us or to the proxy: the session cookie is `Secure`.
    pub https: bool,
    /// The client's address (the proxy's word for it on the proxy's connections), when known.
    pub client: Option<IpAddr>,
}

/// How `headers` on a connection from `peer` reached the dashboard.
pub fn reach(access: &WebAccess, peer: Option<SocketAddr>, headers: &HeaderMap) -> Reach {
    let direct = Reach {
        https: access.tls.is_some(),
        client: peer.map(|p| p.ip()),
    };
    let Some(proxy) = &access.proxy else {
        return direct;
    };
    if !peer.is_some_and(|p| proxy.trusts(p.ip())) {
        return direct;
    }
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let https = get("x-forwarded-proto").is_some_and(|p| {
        // A chain of proxies lists one scheme each; the browser's is the first.
        p.split(',')
            .next()
            .is_some_and(|first| first.trim().eq_ignore_ascii_case("https"))
    });
    // The proxy appends the address it saw to the list; what came before it is the
    // client's own claim.
    let client = get("x-forwarded-for")
        .and_then(|f| f.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok())
        .or(direct.client);
    Reach { https, client }
}

/// True for a `Host` the dashboard answers: a loopback name or address, or the configured
/// public name, with any port.
pub fn host_allowed(access: &WebAccess, host: &str) -> bool {
    if loopback_host(host) {
        return true;
    }
    let Some(public) = &access.public_name else {
        return false;
    };
    let name = host_name(host);
    !name.is_empty() && name.eq_ignore_ascii_case(public.trim_matches(['[', ']']))
}

/// A `Host`'s name without its port (and without the brackets of an IPv6 address).
fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    }
}

/// True for a `Host` naming loopback: `localhost`, `127.x.x.x` or `[::1]`, with any port.
pub fn loopback_host(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Proxy, TlsFiles};

    #[test]
    fn only_loopback_hosts_pass() {
        for ok in [
            "127.0.0.1:8480",
            "localhost:8480",
            "LOCALHOST",
            "[::1]:8480",
            "127.1.2.3",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8480",
            "",
            "192.168.1.5:8480",
            "[::2]:80",
            "localhost.evil",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn the_public_name_passes_and_no_other() {
        let access = WebAccess {
            public_name: Some("unyo.city.example".to_owned()),
            ..WebAccess::default()
        };
        for ok in [
            "unyo.city.example",
            "UNYO.city.example:8443",
            "127.0.0.1:8480",
        ] {
            assert!(host_allowed(&access, ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "unyo.city.example.evil:443",
            "city.example",
            "",
        ] {
            assert!(!host_allowed(&access, bad), "{bad}");
        }
        assert!(!host_allowed(&WebAccess::default(), "unyo.city.example"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().expect("value"));
        }
        m
    }

    #[test]
    fn forwarded_headers_count_only_from_the_proxy() {
        let access = WebAccess {
            proxy: Some(Proxy {
                from: vec!["10.0.0.5".parse().expect("ip")],
            }),
            ..WebAccess::default()
        };
        let h = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
        ]);
        let from_proxy = reach(&access, Some("10.0.0.5:40000".parse().expect("addr")), &h);
        assert_eq!(
            from_proxy,
            Reach {
                https: true,
                client: Some("203.0.113.9".parse().expect("ip"))
            }
        );
        let from_else = reach(&access, Some("10.0.0.6:40000".parse().expect("addr")), &h);
        assert_eq!(
            from_else,
            Reach {
                https: false,
                client: Some("10.0.0.6".parse().expect("ip"))
            }
        );
        let plain = reach(
            &access,
            Some("10.0.0.5:1".parse().expect("addr")),
            &headers(&[("x-forwarded-proto", "http")]),
        );
        assert!(!plain.https);
        assert_eq!(plain.client, Some("10.0.0.5".parse().expect("ip")));
    }

    #[test]
    fn tls_is_https_whatever_the_headers_say() {
        let access = WebAccess {
            tls: Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into(),
            }),
            ..WebAccess::default()
        };
        let r = reach(
            &access,
            Some("127.0.0.1:1".parse().expect("addr")),
            &headers(&[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-for", "1.2.3.4"),
            ]),
        );
        assert_eq!(
            r,
            Reach {
                https: true,
                client: Some("127.0.0.1".parse().expect("ip"))
            }
        );
    }
}
