//! `unyo logs RUN`: the output of a run's steps from the log files; the database's tail when
//! a file is gone. Works with no daemon running.

use crate::error::Error;
use crate::model::Settings;
use crate::spec::diag;
use crate::store::AttemptRow;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `unyo runs`).
    pub run: i64,
    /// Only this step (its last attempt unless --attempt is given).
    #[arg(long)]
    pub step: Option<String>,
    /// Only this attempt of the step.
    #[arg(long, requires = "step", value_parser = clap::value_parser!(i64).range(1..))]
    pub attempt: Option<i64>,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let Some(d) = store.get_run(args.run).await? else {
        return Err(Error::Request(
            crate::store::no_such_run(args.run).to_string(),
        ));
    };
    let chosen: Vec<&AttemptRow> = match &args.step {
        None => d.attempts.iter().collect(),
        Some(step) => {
            if !d.steps.iter().any(|s| &s.name == step) {
                let hint = diag::hint(step, d.steps.iter().map(|s| s.name.as_str()));
                return Err(Error::Request(format!(
                    "run {} has no step `{step}`{hint}",
                    args.run
                )));
            }
            let of_step: Vec<&AttemptRow> = d.attempts.iter().filter(|a| &a.step == step).collect();
            match args.attempt {
                Some(n) => match of_step.iter().find(|a| a.attempt == n) {
                    Some(a) => vec![*a],
                    None => {
                        return Err(Error::Request(format!(
                            "step `{step}` of run {} has no attempt {n} (it has {})",
                            args.run,
                            of_step.len()
                        )));
                    }
                },
                None => of_step.last().map(|a| vec![*a]).unwrap_or_default(),
            }
        }
    };
    if chosen.is_empty() {
        super::out("no step of this run has started\n");
        return Ok(());
    }
    let headers = args.step.is_none();
    for a in chosen {
        if headers {
            super::out(&format!("==> {} (attempt {}) <==\n", a.step, a.attempt));
        }
        print_attempt(a)?;
    }
    Ok(())
}

fn print_attempt(a: &AttemptRow) -> Result<(), Error> {
    if let Some(e) = &a.error {
        super::out(&format!("[unyo] the step could not start: {e}\n"));
        return Ok(());
    }
    match std::fs::read(&a.log_path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            super::out(&text);
            if !text.is_empty() && !text.ends_with('\n') {
                super::out("\n");
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && a.log_bytes == 0 => {
            super::out("(no output)\n");
            Ok(())
        }
        Err(e) => {
            let node = a.command.get("node").and_then(|n| n.as_str());
            super::out(&match node {
                // A step handed over to another node wrote its log there.
                Some(n) => format!(
                    "[unyo] the log is on node `{n}` ({}); the database kept the last bytes of \
                     each stream:\n",
                    a.log_path
                ),
                None => format!(
                    "[unyo] cannot read {}: {e}; the database kept the last bytes of each \
                     stream:\n",
                    a.log_path
                ),
            });
            super::out(&format!(
                "--- stdout ---\n{}\n--- stderr ---\n{}\n",
                a.stdout_tail, a.stderr_tail
            ));
            Ok(())
        }
    }
}
