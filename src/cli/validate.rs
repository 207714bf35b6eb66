//! `unyo validate`: load every definition, print a one-line summary or every problem.

use crate::error::Error;
use crate::model::{Catalog, Settings};

pub fn run(settings: &Settings) -> Result<(), Error> {
    let catalog = Catalog::load(settings)?;
    super::out(&format!("{}: ok\n", catalog.summary()));
    Ok(())
}
