//! `unyo params history|rollback`: the changes `unyo act param-set` made to parameter files,
//! and undoing one of them.

use std::path::Path;

use super::table::Table;
use crate::act::params::{self, Node};
use crate::error::Error;
use crate::model::Settings;
use crate::store::{NewParamChange, ParamChange, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the recorded parameter changes, newest first.
    History {
        /// Only the changes of this key path.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// At most this many (the most recent).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put back the value a change replaced (remove the key if the change added it), recorded
    /// as a new change. Refused when the change was rolled back already or the value was
    /// changed since.
    Rollback {
        /// The change's number (`unyo params history`).
        change_id: i64,
        /// Why, for the record.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    if let Command::History { key, limit, json } = &cmd {
        let store = super::open_reader(settings).await?;
        let rows = store.list_param_changes(key.as_deref(), *limit).await?;
        history(settings, &rows, *json);
        return Ok(());
    }
    let store = super::open_store(settings).await?;
    match cmd {
        // Read above.
        Command::History { .. } => Ok(()),
        Command::Rollback { change_id, reason } => {
            let reason = reason.unwrap_or_else(|| format!("rollback of change {change_id}"));
            let args = serde_json::json!({ "change": change_id, "reason": reason });
            let target = format!("param change {change_id}");
            match rollback(&*store, change_id, &reason).await {
                Ok(detail) => {
                    super::audit::record(
                        &*store,
                        "param.rollback",
                        target,
                        args,
                        Ok(detail.clone()),
                    )
                    .await?;
                    super::out(&format!("{detail}\n"));
                    Ok(())
                }
                Err(Refused(m)) => {
                    super::audit::record(&*store, "param.rollback", target, args, Err(m.clone()))
                        .await?;
                    Err(Error::Request(m))
                }
            }
        }
    }
}

fn shown(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map_or_else(|| "(absent)".to_owned(), ToString::to_string)
}

fn history(settings: &Settings, rows: &[ParamChange], json: bool) {
    if json {
        let text = serde_json::to_string_pretty(rows).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return;
    }
    if rows.is_empty() {
        super::out("no parameter changes recorded\n");
        return;
    }
    let mut t = Table::new(&[
        "ID", "TIME", "KEY", "BEFORE", "AFTER", "RUN", "USER", "NOTE",
    ]);
    for r in rows {
        let mut note = r.reason.clone();
        if let Some(by) = r.rolled_back_by {
            note = format!("rolled back by {by}; {note}");
        }
        t.row(vec![
            r.id.to_string(),
            super::local_time(settings, r.at),
            r.key.clone(),
            shown(&r.before),
            shown(&r.after),
            r.run_id.map(|i| i.to_string()).unwrap_or_default(),
            r.user.clone(),
            format!("{note} ({})", r.file),
        ]);
    }
    super::out(&t.render());
}

/// Why a rollback was not done; nothing was written.
struct Refused(String);

impl From<Error> for Refused {
    fn from(e: Error) -> Refused {
        Refused(e.to_string())
    }
}

async fn rollback(store: &dyn Store, id: i64, reason: &str) -> Result<String, Refused> {
    let change = store
        .get_param_change(id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Refused(format!("no parameter change {id}")))?;
    if let Some(by) = change.rolled_back_by {
        return Err(Refused(format!(
            "change {id} was rolled back already (by change {by})"
        )));
    }
    if super::act::secret_key(&change.key) {
        return Err(Refused(format!(
            "change {id} set `{}`, a secret, whose values are never recorded: it cannot be \
             rolled back; set the value again with `unyo act param-set --value-env`",
            change.key
        )));
    }
    let file = Path::new(&change.file);
    let now = params::value(file, &change.key)
        .map_err(|e| Refused(e.to_string()))?
        .map(|n| n.to_json());
    if now != change.after {
        return Err(Refused(format!(
            "{}: `{}` is {} now, not {} as change {id} left it: it was changed since; \
             nothing written",
            change.file,
            change.key,
            shown(&now),
            shown(&change.after)
        )));
    }
    params::set(
        file,
        &change.key,
        change.before.as_ref().map(Node::from_json),
    )
    .map_err(|e| Refused(e.to_string()))?;
    let undo = NewParamChange {
        at: chrono::Utc::now(),
        file: change.file.clone(),
        key: change.key.clone(),
        before: now,
        after: change.before.clone(),
        reason: reason.to_owned(),
        run_id: None,
        user: crate::domain::host::os_user(),
    };
    let new_id = store
        .record_param_change(&undo)
        .await
        .map_err(Error::from)?;
    store
        .mark_rolled_back(id, new_id)
        .await
        .map_err(Error::from)?;
    Ok(format!(
        "{}: {}: {} -> {} (change {new_id} rolls back change {id})",
        change.file,
        change.key,
        shown(&undo.before),
        shown(&undo.after)
    ))
}
