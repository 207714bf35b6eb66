//! Credentials copied from a command line or an environment line (option flags, variables,
//! URLs with a password, `mysql -pSECRET`), named so the report can warn, never shown.

use std::sync::LazyLock;

use regex::Regex;

/// Option flags that carry a credential: `--password=x`, `--api-key x`.
static CREDENTIAL_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|\s)(--?[a-z-]*(?:password|passwd|token|secret|api-?key))(?:=|\s+)[^\s-]")
        .expect("static regex")
});
/// `PGPASSWORD=x cmd`, `MYSQL_PWD=x cmd`.
static CREDENTIAL_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|(])([A-Za-z_]*(?i:password|passwd|token|secret|api_?key|_pwd)[A-Za-z0-9_]*)=[^\s]")
        .expect("static regex")
});
/// `scheme://user:pass@host`.
static CREDENTIAL_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@").expect("static regex")
});
/// The MySQL clients' `-pSECRET` (a password glued to `-p`).
static MYSQL_P: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bmysql[a-z]*\b.*\s-p[^\s]").expect("static regex"));

/// What in a command line looks like a credential (never the value itself): `--password=`,
/// `-p...` of a MySQL client, `PGPASSWORD=`, a URL with `user:password@`.
pub fn credentials(command: &str) -> Vec<String> {
    let mut found = Vec::new();
    for c in CREDENTIAL_FLAG.captures_iter(command) {
        found.push(format!("`{}`", &c[1]));
    }
    if MYSQL_P.is_match(command) {
        found.push("`-p` of a MySQL client".to_owned());
    }
    for c in CREDENTIAL_VAR.captures_iter(command) {
        found.push(format!("`{}=`", &c[1]));
    }
    if CREDENTIAL_URL.is_match(command) {
        found.push("a URL with `user:password@`".to_owned());
    }
    found
}
