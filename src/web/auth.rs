//! Logins and sessions: passwords hashed with argon2 (Argon2id, the crate's default
//! parameters, a random salt), session tokens of 256 bits from the operating system kept in
//! the database only as their SHA-256, the session cookie, and the CSRF token of a session
//! (derived from its token, so it needs no column and dies with the session). Nothing here
//! logs a password or a token.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "unyo_session";

/// A password's argon2 PHC string (`$argon2id$v=19$...`) with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// A hash that no password is known to match (of a random token, made once), verified for
/// an unknown user so that the answer takes as long as for a wrong password.
static NOBODY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    new_token()
        .and_then(|t| hash_password(&t))
        .unwrap_or_default()
});

/// Whether `password` matches `hash` (`None`: an unknown user, checked against a hash no
/// password matches, taking the same time).
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (NOBODY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// A new session token: 32 bytes from the operating system, in hex.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the system: {e}"))?;
    Ok(hex(&bytes))
}

/// What the database keeps of a token: its SHA-256 in hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The CSRF token of the session whose token is `token`: a hash of it under its own label,
/// so it cannot be turned back into the session token nor into its database hash.
pub fn csrf_token(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"unyo csrf\0");
    h.update(token.as_bytes());
    hex(&h.finalize())
}

/// Equality that takes the same time wherever the first difference is.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session token the request's cookie carries, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value for a new session (`secure` once the dashboard is served over TLS).
pub fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Whether a POST says it comes from another site: `Sec-Fetch-Site` other than
/// `same-origin` (or `none`, typed by the user) where the browser sends it (every current
/// one does, and decides it better than we could); otherwise an `Origin` whose host is not
/// the request's `Host`. (`Origin: null` is what Chromium sends for a same-origin form
/// under our `Referrer-Policy: no-referrer`, so it alone decides nothing.) A request with
/// neither header (a script, curl) is not cross-site by these, and still needs its
/// session's CSRF token.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match get("origin") {
        None | Some("null") => false,
        Some(origin) => {
            let host = get("host").unwrap_or("");
            let origin_host = origin
                .split_once("://")
                .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
            !origin_host.eq_ignore_ascii_case(host)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse", Some(&h)));
        assert!(!verify_password("correct hors", Some(&h)));
        assert!(!verify_password("correct horse", None));
        // Two hashes of one password differ (a random salt each).
        assert_ne!(h, hash_password("correct horse").expect("hash"));
    }

    #[test]
    fn tokens_are_256_bits_and_their_hashes_differ_from_them() {
        let t = new_token().expect("token");
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token().expect("token"));
        assert_ne!(token_hash(&t), t);
        assert_ne!(csrf_token(&t), token_hash(&t));
        assert!(same(&csrf_token(&t), &csrf_token(&t)));
        assert!(!same(&csrf_token(&t), &token_hash(&t)));
        assert!(!same("ab", "abc"));
    }

    #[test]
    fn cross_site_posts_are_told_apart() {
        let h = |pairs: &[(&'static str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().expect("value"));
            }
            m
        };
        let host = ("host", "127.0.0.1:8480");
        assert!(!cross_site(&h(&[host])));
        assert!(!cross_site(&h(&[
            host,
            ("origin", "http://127.0.0.1:8480")
        ])));
        assert!(!cross_site(&h(&[host, ("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&h(&[host, ("origin", "http://evil.example")])));
        assert!(!cross_site(&h(&[
            host,
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(cross_site(&h(&[
            host,
            ("origin", "null"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(cross_site(&h(&[
            host,
            ("origin", "http://127.0.0.1:8480"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(cross_site(&h(&[host, ("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&h(&[host, ("sec-fetch-site", "same-site")])));
    }

    #[test]
    fn the_cookie_is_read_only_when_well_formed() {
        let t = "a".repeat(64);
        let mut m = HeaderMap::new();
        m.insert(
            header::COOKIE,
            format!("x=1; {COOKIE}={t}").parse().expect("cookie"),
        );
        assert_eq!(cookie_token(&m), Some(t));
        m.insert(
            header::COOKIE,
            format!("{COOKIE}=zz").parse().expect("cookie"),
        );
        assert_eq!(cookie_token(&m), None);
    }
}
