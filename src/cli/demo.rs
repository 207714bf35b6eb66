//! `unyo demo init`: creates the demo environment (an invented city) under the data directory.

use crate::error::Error;
use crate::model::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create `<data_dir>/city/`: business database, shared folders, staff directory and the
    /// online system's parameter file (refused when it exists, unless `--force`).
    Init {
        /// Replace an existing demo environment.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Init { force } => {
            let created = crate::demo::init(&settings.data_dir, force)
                .map_err(|e| Error::Request(e.to_string()))?;
            println!(
                "created the demo environment in {}:",
                crate::demo::city_dir(&settings.data_dir).display()
            );
            for p in created {
                println!("  {}", p.display());
            }
            Ok(())
        }
    }
}
