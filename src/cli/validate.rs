//! `unyo validate`: load every definition, print a one-line summary or every problem, and
//! warn (on stderr, still exit 0) when incidents would reach nobody.

use crate::error::Error;
use crate::model::{Catalog, Settings};

pub fn run(settings: &Settings) -> Result<(), Error> {
    let catalog = Catalog::load(settings)?;
    for w in settings.unheard() {
        eprintln!("warning: {w}");
    }
    super::out(&format!("{}: ok\n", catalog.summary()));
    Ok(())
}
