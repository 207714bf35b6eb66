//! The machine and the operating-system user unyo runs as, for the record (runs, incidents,
//! the audit trail). Imports nothing of unyo's: every layer may ask.

/// This machine's name, for the record.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The operating-system user running unyo.
pub fn os_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// Whether a run's owner token (`host:pid:start`, see `engine::owner`) names process `pid`
/// on `host`.
pub fn owner_is(owner: &str, host: &str, pid: i64) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let _start = parts.next();
    let p = parts.next().and_then(|p| p.parse::<i64>().ok());
    parts.next() == Some(host) && p == Some(pid)
}
