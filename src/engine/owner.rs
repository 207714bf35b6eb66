//! Who runs a run: every running run records its owner, the unyo process driving it, as
//! `host:pid:start` (start = the process start time in clock ticks after boot, so a reused
//! pid is never mistaken for the owner). A run whose owner is gone was left behind by a
//! crash and is recovered as interrupted.

use std::sync::OnceLock;

use crate::exec::orphans::process_start;

/// This process as an owner token.
pub fn me() -> String {
    static ME: OnceLock<String> = OnceLock::new();
    ME.get_or_init(|| {
        let pid = std::process::id();
        let start = process_start(pid).unwrap_or(0);
        format!("{}:{pid}:{start}", crate::domain::host::hostname())
    })
    .clone()
}

/// Whether the process named by an owner token is alive: `Some(false)` when it is certainly
/// gone, `None` when this machine cannot tell (another host, or a token it cannot read).
pub fn alive(owner: &str) -> Option<bool> {
    let mut parts = owner.rsplitn(3, ':');
    let start: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    if host != crate::domain::host::hostname() {
        return None;
    }
    Some(process_start(pid) == Some(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_stranger_is_not() {
        assert_eq!(alive(&me()), Some(true));
        let host = crate::domain::host::hostname();
        // Same pid, another start time: a reused pid.
        assert_eq!(
            alive(&format!("{host}:{}:1", std::process::id())),
            Some(false)
        );
        assert_eq!(alive("elsewhere.example:1:1"), None);
        assert_eq!(alive("garbage"), None);
    }
}
