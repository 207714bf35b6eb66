//! unyo's own log: where it goes and how it is written. Commands log to stderr as text. The
//! daemon follows `log:` of `unyo.yaml`: `format: text | json` (one JSON object a line) and
//! `to: stderr` (journald under systemd) or `to: files`: daily files
//! `<log_dir>/unyo.YYYY-MM-DD.log` written by `tracing-appender`, which rolls them at
//! midnight UTC (09:00 in Asia/Tokyo) and keeps the newest `keep_days`. Every line's time is
//! in the configured zone (`log_time`). `UNYO_LOG` sets the level (default `warn`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use super::{Cli, Command};
use crate::model::{LogFormat, LogSettings, LogTo, Settings};

/// The daily files' name: `unyo.2026-12-05.log`.
pub const FILE_PREFIX: &str = "unyo";
pub const FILE_SUFFIX: &str = "log";

/// Sets up the process's log for `cli`'s command. A daemon whose settings do not load logs
/// to stderr (the command then reports the settings' problems).
pub fn init(cli: &Cli) {
    let filter = || EnvFilter::try_from_env("UNYO_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let (log, dir) = match &cli.command {
        Command::Daemon => match Settings::load(&cli.root) {
            Ok(s) => (s.log, Some(s.log_dir)),
            Err(_) => (LogSettings::default(), None),
        },
        _ => (LogSettings::default(), None),
    };
    let (writer, ansi) = match (log.to, dir) {
        (LogTo::Files { keep_days }, Some(dir)) => {
            crate::files::restrict_umask();
            let appender = std::fs::create_dir_all(&dir)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    tracing_appender::rolling::Builder::new()
                        .rotation(tracing_appender::rolling::Rotation::DAILY)
                        .filename_prefix(FILE_PREFIX)
                        .filename_suffix(FILE_SUFFIX)
                        .max_log_files(keep_days as usize)
                        .build(&dir)
                        .map_err(|e| e.to_string())
                });
            match appender {
                Ok(a) => (BoxMakeWriter::new(a), false),
                Err(e) => {
                    eprintln!(
                        "warning: cannot write the log to `{}` ({e}); logging to stderr",
                        dir.display()
                    );
                    (BoxMakeWriter::new(std::io::stderr), stderr_colours())
                }
            }
        }
        _ => (BoxMakeWriter::new(std::io::stderr), stderr_colours()),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        // In the configured time zone, with its offset, once the settings are read.
        .with_timer(super::log_time::LogTime);
    match log.format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Text => builder.with_ansi(ansi).init(),
    }
}

fn stderr_colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
