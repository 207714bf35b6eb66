//! `web:` in `unyo.yaml`: where the dashboard listens and how it is reached. Loopback needs
//! nothing more. Any other address is reachable from other machines, so it needs HTTPS
//! (`tls:`, served by unyo) or a reverse proxy that terminates TLS (`behind_proxy: true`),
//! and the name users reach it by (`public_name`), which the `Host` check accepts. Checked
//! here; served by `web`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::spec::{Diagnostic, Diagnostics, WebSpec};

/// How the dashboard is reached, besides its address (`Settings::web`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebAccess {
    /// HTTPS served by unyo (`web.tls`).
    pub tls: Option<TlsFiles>,
    /// A reverse proxy in front (`web.behind_proxy`).
    pub proxy: Option<Proxy>,
    /// The name users reach the dashboard by (`web.public_name`), lower case, no port.
    pub public_name: Option<String>,
    /// Reading needs a login: the address is not loopback, or a proxy brings requests from
    /// elsewhere.
    pub login_to_read: bool,
}

/// `web.tls`: PEM files, absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `web.behind_proxy` and the addresses the proxy connects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub from: Vec<IpAddr>,
}

impl Proxy {
    /// Whether a connection from `peer` is the proxy's (then its forwarded headers count).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.from.contains(&peer)
    }
}

/// The proxy's addresses when `web.proxies` does not say: the same machine.
const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// `web:` checked: the address (`None` when absent or wrong) and how it is reached.
pub(super) fn web(
    raw: &WebSpec,
    root: &Path,
    file: &Path,
    diags: &mut Diagnostics,
) -> (Option<SocketAddr>, WebAccess) {
    let mut access = WebAccess::default();
    if let Some(t) = &raw.tls {
        match (&t.value.cert, &t.value.key) {
            (Some(cert), Some(key)) => {
                access.tls = Some(TlsFiles {
                    cert: root.join(&cert.value),
                    key: root.join(&key.value),
                })
            }
            (cert, _) => diags.push(Diagnostic::spanned(
                file,
                t,
                format!(
                    "`web.tls` needs `{}`: the PEM file of the {}",
                    if cert.is_none() { "cert" } else { "key" },
                    if cert.is_none() {
                        "certificate chain"
                    } else {
                        "certificate's private key"
                    }
                ),
            )),
        }
    }
    let behind_proxy = raw.behind_proxy.as_ref().is_some_and(|b| b.value);
    if behind_proxy {
        let mut from = Vec::new();
        match &raw.proxies {
            None => from.extend(LOOPBACK),
            Some(list) => {
                for a in &list.value {
                    match a.parse::<IpAddr>() {
                        Ok(ip) => from.push(ip),
                        Err(_) => diags.push(Diagnostic::spanned(
                            file,
                            list,
                            format!(
                                "`web.proxies`: `{a}` is not an IP address (the proxy's, e.g. \
                                 `10.0.0.5`)"
                            ),
                        )),
                    }
                }
            }
        }
        access.proxy = Some(Proxy { from });
    } else if let Some(list) = &raw.proxies {
        diags.push(Diagnostic::spanned(
            file,
            list,
            "`web.proxies` needs `behind_proxy: true`",
        ));
    }
    if let Some(n) = &raw.public_name {
        match public_name(&n.value) {
            Ok(name) => access.public_name = Some(name),
            Err(why) => diags.push(Diagnostic::spanned(
                file,
                n,
                format!("`web.public_name`: {why}"),
            )),
        }
    }
    let listen = raw
        .listen
        .as_ref()
        .and_then(|listen| match listen.value.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                diags.push(Diagnostic::spanned(
                    file,
                    listen,
                    format!(
                        "`web.listen`: `{}` is not HOST:PORT with an IP address (e.g. \
                         `127.0.0.1:8480`)",
                        listen.value
                    ),
                ));
                None
            }
        });
    if let (Some(a), Some(spanned)) = (listen, &raw.listen)
        && !a.ip().is_loopback()
    {
        if access.tls.is_none() && !behind_proxy && raw.tls.is_none() {
            diags.push(Diagnostic::spanned(
                file,
                spanned,
                format!(
                    "`web.listen`: `{a}` is not a loopback address, and the dashboard would \
                     show the records to other machines over plain HTTP: add `tls: {{ cert: \
                     FILE, key: FILE }}` (PEM files) to serve HTTPS, or `behind_proxy: true` \
                     when a reverse proxy in front terminates TLS; either needs \
                     `public_name: NAME`, the name users reach it by (or listen on \
                     `127.0.0.1:PORT`)"
                ),
            ));
        } else if raw.public_name.is_none() {
            diags.push(Diagnostic::spanned(
                file,
                spanned,
                format!(
                    "`web.listen`: `{a}` is not a loopback address: add `public_name: NAME`, \
                     the name users reach the dashboard by (its `Host`; others are refused)"
                ),
            ));
        }
    }
    if behind_proxy
        && raw.public_name.is_none()
        && let Some(b) = &raw.behind_proxy
    {
        diags.push(Diagnostic::spanned(
            file,
            b,
            "`web.behind_proxy` needs `public_name: NAME`, the name users reach the dashboard \
             by through the proxy (its `Host`; others are refused)",
        ));
    }
    if access.tls.is_some()
        && behind_proxy
        && let Some(b) = &raw.behind_proxy
    {
        diags.push(Diagnostic::spanned(
            file,
            b,
            "`web.behind_proxy` and `web.tls` exclude each other: the proxy terminates TLS \
             and talks plain HTTP to unyo, or unyo serves HTTPS itself",
        ));
    }
    access.login_to_read = behind_proxy || listen.is_some_and(|a| !a.ip().is_loopback());
    (listen, access)
}

/// A host name or IP address as a `Host` header names it, without port.
fn public_name(text: &str) -> Result<String, String> {
    let name = text.trim().to_ascii_lowercase();
    let ip = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(&name);
    if ip.parse::<IpAddr>().is_ok() {
        return Ok(name);
    }
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "`{text}` is not a host name (letters, digits, `-` and `.`, no port, e.g. \
             `unyo.city.example`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_names_are_host_names_without_port() {
        assert_eq!(
            public_name("Unyo.City.example").as_deref(),
            Ok("unyo.city.example")
        );
        assert_eq!(public_name("10.0.0.5").as_deref(), Ok("10.0.0.5"));
        for bad in ["", "unyo.city.example:443", "a b", "-x.example", "x..y"] {
            assert!(public_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_proxy_is_trusted_from_its_addresses_only() {
        let p = Proxy {
            from: LOOPBACK.to_vec(),
        };
        assert!(p.trusts("127.0.0.1".parse().expect("ip")));
        assert!(p.trusts("::1".parse().expect("ip")));
        assert!(p.trusts("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!p.trusts("127.0.0.2".parse().expect("ip")));
        assert!(!p.trusts("10.0.0.5".parse().expect("ip")));
    }
}
