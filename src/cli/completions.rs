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

/// Prints the manual page (roff), e.g. `unyo man > /usr/local/share/man/man1/unyo.1`: the
/// page of `unyo`, then one page for each command (`unyo-submit`, `unyo-incident-ack`, ...)
/// with its whole explanation and options, as `unyo help CMD` prints them.
pub fn man() -> Result<(), Error> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    page(&cmd, "unyo", &mut out)?;
    super::out(&String::from_utf8_lossy(&out));
    Ok(())
}

/// Renders the page of `cmd`, titled `title`, then those of its visible commands.
fn page(cmd: &clap::Command, title: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    clap_mangen::Man::new(cmd.clone())
        .title(title)
        .source(format!("unyo {}", env!("CARGO_PKG_VERSION")))
        .render(out)
        .map_err(|source| Error::Io {
            action: "cannot render the manual page".to_owned(),
            source,
        })?;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        page(sub, &format!("{title}-{}", sub.get_name()), out)?;
    }
    Ok(())
}
