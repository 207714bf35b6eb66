//! systemd's notify protocol (`Type=notify`), spoken by hand over the datagram socket named
//! by `$NOTIFY_SOCKET` (a path, or an abstract name starting with `@`): `READY=1` once the
//! daemon has recovered and entered its loop, `STATUS=…` with what it is doing,
//! `WATCHDOG=1` from the main loop only (so a loop that hangs stops feeding the watchdog and
//! systemd restarts the daemon), `STOPPING=1` when it stops. Without `$NOTIFY_SOCKET`
//! every call does nothing. A failed send is logged once and never stops the daemon.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// A connection to the service manager, when the daemon runs under one.
#[derive(Debug)]
pub struct Notify {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    /// Half the watchdog interval systemd asked for (`$WATCHDOG_USEC`), when it asked.
    pub watchdog_every: Option<Duration>,
    warned: bool,
}

impl Notify {
    /// From the environment (`$NOTIFY_SOCKET`, `$WATCHDOG_USEC`, `$WATCHDOG_PID`).
    pub fn from_env() -> Notify {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let addr = address(&path.to_string_lossy())?;
            let s = UnixDatagram::unbound().ok()?;
            Some((s, addr))
        });
        let for_me = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && for_me)
            .map(|u| Duration::from_micros(u) / 2);
        Notify {
            socket,
            watchdog_every,
            warned: false,
        }
    }

    /// Sends one message (`KEY=VALUE` lines).
    pub fn send(&mut self, message: &str) {
        let Some((socket, addr)) = &self.socket else {
            return;
        };
        if let Err(e) = socket.send_to_addr(message.as_bytes(), addr)
            && !self.warned
        {
            self.warned = true;
            tracing::warn!("cannot notify the service manager: {e}");
        }
    }

    pub fn ready(&mut self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn status(&mut self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn watchdog(&mut self) {
        if self.watchdog_every.is_some() {
            self.send("WATCHDOG=1");
        }
    }

    pub fn stopping(&mut self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// The socket address `$NOTIFY_SOCKET` names: `@name` is in the abstract namespace.
fn address(text: &str) -> Option<std::os::unix::net::SocketAddr> {
    if let Some(name) = text.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()
    } else if text.starts_with('/') {
        std::os::unix::net::SocketAddr::from_pathname(text).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_abstract_names_are_addresses_and_anything_else_is_not() {
        assert!(address("/run/systemd/notify").is_some());
        assert!(address("@unyo-test").is_some());
        assert!(address("relative/path").is_none());
        assert!(address("").is_none());
    }

    #[test]
    fn a_path_socket_receives_ready_status_watchdog_and_stopping() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut n = Notify {
            socket: Some((
                UnixDatagram::unbound().expect("socket"),
                address(&path.display().to_string()).expect("address"),
            )),
            watchdog_every: Some(Duration::from_secs(5)),
            warned: false,
        };
        n.ready("running: 3 jobs\nsecond line");
        n.watchdog();
        n.status("2 runs");
        n.stopping("stopping");
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        for _ in 0..4 {
            let len = listener.recv(&mut buf).expect("recv");
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        assert_eq!(
            got,
            vec![
                "READY=1\nSTATUS=running: 3 jobs second line",
                "WATCHDOG=1",
                "STATUS=2 runs",
                "STOPPING=1\nSTATUS=stopping"
            ]
        );
    }
}
