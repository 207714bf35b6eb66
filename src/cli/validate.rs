//! `unyo validate`: load every definition, print a one-line summary or every problem, and
//! warn (on stderr, still exit 0) when incidents would reach nobody. Run as the user the
//! daemon runs as: a step's `user:` is refused when that user cannot switch users (not root).

use crate::error::Error;
use crate::model::{Catalog, Settings};

pub fn run(settings: &Settings) -> Result<(), Error> {
    let catalog = Catalog::load(settings)?;
    let me = nix::unistd::Uid::effective();
    if !me.is_root() && !catalog.run_as.is_empty() {
        let mut problems = crate::spec::Diagnostics(
            catalog
                .run_as
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.message = format!(
                        "{}; unyo runs as uid {me} here (run the daemon as root, or drop `user:`)",
                        d.message
                    );
                    d
                })
                .collect(),
        );
        problems.sort();
        return Err(problems.into());
    }
    for w in settings.unheard() {
        eprintln!("warning: {w}");
    }
    super::out(&format!("{}: ok\n", catalog.summary()));
    Ok(())
}
