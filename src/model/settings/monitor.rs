//! The monitoring sections of `unyo.yaml`: where health-check plugins are (`checks:`), the
//! daemon's Prometheus endpoint (`metrics:`), and the daemon's own log (`log:`). Checked
//! here; used by the engine (plugins), the daemon (endpoint) and the binary (log).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::spec::{ChecksSpec, Diagnostic, Diagnostics, LogSpec, MetricsSpec};

/// Where Debian's `monitoring-plugins` puts its plugins.
pub const DEFAULT_PLUGINS: &str = "/usr/lib/nagios/plugins";
/// Daily log files kept when `log.keep_days` does not say.
pub const DEFAULT_KEEP_DAYS: u32 = 30;

/// How the daemon's own log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Where the daemon's own log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    /// Standard error (journald under systemd).
    Stderr,
    /// Daily files `<log_dir>/unyo.log.YYYY-MM-DD`, rolled at midnight UTC, the newest
    /// `keep_days` kept.
    Files { keep_days: u32 },
}

/// `log:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub to: LogTo,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            to: LogTo::Stderr,
        }
    }
}

/// `checks.plugins`, absolute.
pub(super) fn plugins(raw: &ChecksSpec, root: &Path) -> Option<PathBuf> {
    raw.plugins.as_ref().map(|p| root.join(&p.value))
}

/// `metrics.listen`: a socket address.
pub(super) fn metrics(
    raw: &MetricsSpec,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<SocketAddr> {
    let listen = raw.listen.as_ref()?;
    match listen.value.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            diags.push(Diagnostic::spanned(
                file,
                listen,
                format!(
                    "`metrics.listen`: `{}` is not HOST:PORT with an IP address (e.g. `127.0.0.1:9464`)",
                    listen.value
                ),
            ));
            None
        }
    }
}

/// `log:`.
pub(super) fn log(raw: &LogSpec, file: &Path, diags: &mut Diagnostics) -> LogSettings {
    let mut out = LogSettings::default();
    if let Some(f) = &raw.format {
        match f.value.as_str() {
            "text" => out.format = LogFormat::Text,
            "json" => out.format = LogFormat::Json,
            other => diags.push(Diagnostic::spanned(
                file,
                f,
                format!("`log.format`: `{other}` is not `text` or `json`"),
            )),
        }
    }
    let keep_days = match &raw.keep_days {
        Some(k) if k.value == 0 => {
            diags.push(Diagnostic::spanned(
                file,
                k,
                "`log.keep_days` must be at least 1",
            ));
            DEFAULT_KEEP_DAYS
        }
        Some(k) => k.value,
        None => DEFAULT_KEEP_DAYS,
    };
    match &raw.to {
        Some(t) if t.value == "files" => out.to = LogTo::Files { keep_days },
        Some(t) if t.value != "stderr" => diags.push(Diagnostic::spanned(
            file,
            t,
            format!("`log.to`: `{}` is not `stderr` or `files`", t.value),
        )),
        _ => {
            if let Some(k) = &raw.keep_days {
                diags.push(Diagnostic::spanned(
                    file,
                    k,
                    "`log.keep_days` needs `to: files`",
                ));
            }
        }
    }
    out
}
