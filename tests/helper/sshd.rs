//! A real OpenSSH server (Debian's `openssh-server`) on a loopback port, started by a test
//! with its own host key, its own configuration and an authorized key made for it: key
//! authentication only. Stopped on drop. Also the OS users a test creates (`useradd`) and
//! removes, and a count of the live processes running an exact command line.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{Tree, unique, wait_for};

/// `sshd -D` on 127.0.0.1; the login user is root (the tests run as root).
pub struct Sshd {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "unyo-test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success(), "ssh-keygen: {out:?}");
}

/// The `TYPE KEY` of a public key file.
pub fn public_key(path: &Path) -> String {
    let text = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
    let mut parts = text.split_whitespace();
    format!(
        "{} {}",
        parts.next().expect("type"),
        parts.next().expect("key")
    )
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("authorize");
        // sshd wants its privilege separation folder.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nMaxSessions 100\nMaxStartups 100\nLogLevel VERBOSE\n",
            dir = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("config");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).expect("log"))
            .spawn()
            .expect("start sshd (Debian package openssh-server)");
        let s = Sshd {
            child: Some(child),
            dir,
            port,
        };
        wait_for("sshd to listen", || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        s
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    pub fn host_key(&self) -> String {
        public_key(&self.dir.path().join("host_key"))
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Logins sshd accepted so far (one per connection, shared or not).
    pub fn logins(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }

    /// A `hosts:` entry for unyo.yaml naming this server as `name`.
    pub fn host_entry(&self, name: &str) -> String {
        format!(
            "  {name}:\n    address: 127.0.0.1\n    port: {}\n    user: root\n    identity: {}\n    \
             host_key: \"{}\"\n",
            self.port,
            self.client_key().display(),
            self.host_key()
        )
    }

    /// Writes unyo.yaml with `kill_grace: 1s`, `hosts:` holding `box` (this server) and
    /// `extra` entries.
    pub fn settings(&self, t: &Tree, extra: &str) {
        t.file(
            "unyo.yaml",
            &format!("kill_grace: 1s\nhosts:\n{}{extra}", self.host_entry("box")),
        );
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A key pair made for a test (never authorized anywhere): its private key file.
pub fn stray_key(dir: &Path) -> PathBuf {
    let path = dir.join(format!("stray-{}", unique()));
    keygen(&path);
    path
}

/// Live (non-zombie) processes whose command line is exactly `argv`.
pub fn processes_running(argv: &[&str]) -> Vec<i64> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if cmdline == want && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// An OS user (and a group of its own it is a member of besides its primary group), created
/// with `useradd` and removed with its home when dropped.
pub struct OsUser {
    pub name: String,
    pub group: String,
}

impl OsUser {
    pub fn create() -> OsUser {
        let n = unique() % 1_000_000_000;
        let name = format!("unyo-t{n}");
        let group = format!("unyo-g{n}");
        let ok = |c: &mut Command| {
            let out = c.output().expect("run");
            assert!(out.status.success(), "{c:?}: {out:?}");
        };
        ok(Command::new("groupadd").arg(&group));
        ok(Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-G"])
            .arg(&group)
            .arg(&name));
        OsUser { name, group }
    }

    fn id(&self, flag: &str, what: &str) -> u32 {
        let out = Command::new("id").arg(flag).arg(what).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("number")
    }

    pub fn uid(&self) -> u32 {
        self.id("-u", &self.name)
    }

    /// The id of its extra group.
    pub fn extra_gid(&self) -> u32 {
        let out = Command::new("getent")
            .args(["group", &self.group])
            .output()
            .expect("getent");
        String::from_utf8_lossy(&out.stdout)
            .split(':')
            .nth(2)
            .expect("gid")
            .parse()
            .expect("number")
    }
}

impl Drop for OsUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg("-r").arg(&self.name).output();
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}
