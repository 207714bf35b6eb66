//! The `unyo` binary: parse arguments, set up logging, call the library, map errors to exit
//! codes.

use std::io::IsTerminal;

use clap::Parser;
use unyo::cli::Cli;
use unyo::error::{EXIT_USAGE, Error};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("UNYO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // In the configured time zone, with its offset, once the settings are read.
        .with_timer(unyo::cli::log_time::LogTime)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    if let Err(e) = unyo::cli::run(cli) {
        match &e {
            Error::Failed(_) | Error::Checked(_) => {}
            Error::Definitions(d) => eprintln!("{d}"),
            Error::Refused(m) => eprintln!("refused: {m}"),
            // Every message carries its cause already.
            other => eprintln!("error: {other}"),
        }
        std::process::exit(e.exit_code());
    }
}
