//! `unyo completions SHELL` and `unyo man`: shell completion scripts and the manual page,
//! generated from the command-line definitions so they never fall behind.

use clap::CommandFactory;

use super::Cli;
use crate::error::Error;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for a shell.
pub fn completions(args: Args) -> Result<(), Error> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "unyo", &mut out);
    super::out(&String::from_utf8_lossy(&out));
    Ok(())
}

/// Prints the manual page (roff), e.g. `unyo man > /usr/local/share/man/man1/unyo.1`.
pub fn man() -> Result<(), Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|source| Error::Io {
            action: "cannot render the manual page".to_owned(),
            source,
        })?;
    super::out(&String::from_utf8_lossy(&out));
    Ok(())
}
