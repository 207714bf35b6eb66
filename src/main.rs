//! The `unyo` binary: parse arguments, set up logging, call the library, map errors to exit
//! codes.

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
    if matches!(cli.command, unyo::cli::Command::Daemon) {
        unyo::cli::malloc::tune_for_the_daemon();
    }
    unyo::cli::log::init(&cli);
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
