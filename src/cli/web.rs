//! `unyo web serve`: the dashboard served from the database, without a daemon, with the
//! daemon's settings (`web:` in unyo.yaml) and pages, until SIGTERM or Ctrl-C.
//!
//! `unyo web user add|list|remove|password`: the dashboard's users. A password is read from
//! stdin (its first line) or, on a terminal, from a prompt without echo, asked twice; it is
//! never an argument (it would show in `ps` and the shell's history), and is stored only as
//! its argon2 hash. Every change is audited (`web.user.add`, `web.user.remove`,
//! `web.user.password`), the password never with it.

use std::io::{BufRead, IsTerminal, Write};

use chrono::Utc;

use super::table::Table;
use crate::domain::web::{Role, valid_name};
use crate::error::Error;
use crate::model::Settings;
use crate::store::WebUser;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The dashboard's users.
    #[command(subcommand)]
    User(UserCommand),
    /// Serve the dashboard from the database without a daemon, on `web.listen` with the
    /// settings of `web:` in unyo.yaml (TLS, proxy, public name), until SIGTERM or Ctrl-C.
    ///
    /// The pages read the records as the daemon's do; the writes (acknowledge, cancel,
    /// approve, reject) are recorded for the daemon to carry out, as the CLI's are. Prints
    /// the address it serves on to stderr.
    Serve,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user with a role: city (reads the city's view only), viewer (reads), operator
    /// (also acknowledges incidents and cancels runs) or approver (also approves and rejects
    /// approval gates).
    ///
    /// The password is read from stdin (its first line) or, on a terminal, asked twice
    /// without echo. A name taken already is refused (exit 3).
    Add {
        name: String,
        #[arg(long, value_parser = |s: &str| s.parse::<Role>())]
        role: Role,
    },
    /// The users, their roles and when their passwords were set.
    List {
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user; their sessions end at once.
    Remove { name: String },
    /// Set a user's password (read like `add`'s); their sessions end at once.
    Password { name: String },
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    let cmd = match cmd {
        Command::User(cmd) => cmd,
        Command::Serve => return serve(settings).await,
    };
    match cmd {
        UserCommand::List { json } => list(settings, json).await,
        UserCommand::Add { name, role } => {
            let target = format!("web user {name}");
            let args = serde_json::json!({ "role": role.as_str() });
            let store = super::open_store(settings).await?;
            if let Err(why) = valid_name(&name) {
                super::audit::record(&*store, "web.user.add", target, args, Err(why.clone()))
                    .await?;
                return Err(Error::Request(why));
            }
            let hash = new_password(&name)?;
            let now = Utc::now();
            let added = store
                .add_web_user(&WebUser {
                    name: name.clone(),
                    role,
                    password_hash: hash,
                    created_at: now,
                    password_set_at: now,
                })
                .await?;
            let outcome = if added {
                Ok(format!("added as {role}"))
            } else {
                Err(format!("web user `{name}` exists already"))
            };
            super::audit::record(&*store, "web.user.add", target, args, outcome.clone()).await?;
            let done = outcome.map_err(Error::Request)?;
            super::out(&format!("web user {name} {done}\n"));
            Ok(())
        }
        UserCommand::Remove { name } => {
            let store = super::open_store(settings).await?;
            let outcome = if store.remove_web_user(&name).await? {
                Ok("removed; their sessions ended".to_owned())
            } else {
                Err(no_such_user(&name))
            };
            super::audit::record(
                &*store,
                "web.user.remove",
                format!("web user {name}"),
                serde_json::json!({}),
                outcome.clone(),
            )
            .await?;
            let done = outcome.map_err(Error::Request)?;
            super::out(&format!("web user {name} {done}\n"));
            Ok(())
        }
        UserCommand::Password { name } => {
            let store = super::open_store(settings).await?;
            let target = format!("web user {name}");
            if store.get_web_user(&name).await?.is_none() {
                let why = no_such_user(&name);
                super::audit::record(
                    &*store,
                    "web.user.password",
                    target,
                    serde_json::json!({}),
                    Err(why.clone()),
                )
                .await?;
                return Err(Error::Request(why));
            }
            let hash = new_password(&name)?;
            let outcome = if store.set_web_password(&name, &hash, Utc::now()).await? {
                Ok("password set; their sessions ended".to_owned())
            } else {
                Err(no_such_user(&name))
            };
            super::audit::record(
                &*store,
                "web.user.password",
                target,
                serde_json::json!({}),
                outcome.clone(),
            )
            .await?;
            let done = outcome.map_err(Error::Request)?;
            super::out(&format!("web user {name}: {done}\n"));
            Ok(())
        }
    }
}

/// `unyo web serve`.
async fn serve(settings: &Settings) -> Result<(), Error> {
    use std::sync::Arc;
    use tokio::signal::unix::{SignalKind, signal};
    let Some(listener) = crate::web::bind(settings)? else {
        return Err(Error::Request(
            "no `web.listen` in unyo.yaml: add `web: { listen: \"127.0.0.1:8480\" }` to \
             serve the dashboard"
                .to_owned(),
        ));
    };
    let catalog = Arc::new(crate::model::Catalog::load(settings)?);
    let store = super::open_store(settings).await?;
    let addr = listener.local_addr().map_err(|e| Error::Io {
        action: "cannot read the dashboard's address".to_owned(),
        source: e,
    })?;
    let scheme = if listener.https() { "https" } else { "http" };
    let (_definitions, definitions) =
        tokio::sync::watch::channel(Arc::new(crate::web::Definitions {
            settings: settings.clone(),
            catalog,
        }));
    let dashboard = crate::web::Dashboard {
        store,
        clock: crate::domain::clock::system(),
        definitions,
        city: Default::default(),
    };
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(crate::web::serve(listener, dashboard, stop_rx));
    eprintln!("unyo web serve: the dashboard on {scheme}://{addr}/ (stop with Ctrl-C)");
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::Io {
        action: "cannot wait for SIGTERM".to_owned(),
        source: e,
    })?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
    Ok(())
}

fn no_such_user(name: &str) -> String {
    format!("no web user `{name}` (see `unyo web user list`)")
}

async fn list(settings: &Settings, json: bool) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let users = store.list_web_users().await?;
    if json {
        let text = serde_json::to_string_pretty(&users).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if users.is_empty() {
        super::out("no web users (add one with `unyo web user add NAME --role ROLE`)\n");
        return Ok(());
    }
    let mut t = Table::new(&["NAME", "ROLE", "ADDED", "PASSWORD SET"]);
    for u in &users {
        t.row(vec![
            u.name.clone(),
            u.role.to_string(),
            super::local_time(settings, u.created_at),
            super::local_time(settings, u.password_set_at),
        ]);
    }
    super::out(&t.render());
    Ok(())
}

/// The shortest password accepted.
const MIN_PASSWORD: usize = 8;

/// Reads a new password for `name` and returns its hash.
fn new_password(name: &str) -> Result<String, Error> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt(&format!("password for web user {name}: "))?;
        let again = prompt("the same password again: ")?;
        if first != again {
            return Err(Error::Request("the two passwords differ".to_owned()));
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|e| Error::Io {
            action: "cannot read the password from stdin".to_owned(),
            source: e,
        })?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::Request(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        )));
    }
    crate::web::auth::hash_password(&password).map_err(Error::Failed)
}

/// Asks on the terminal with echo off, restoring it after.
fn prompt(question: &str) -> Result<String, Error> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let io = |action: &str| {
        let action = action.to_owned();
        move |e: std::io::Error| Error::Io { action, source: e }
    };
    let stdin = std::io::stdin();
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(question.as_bytes());
    let _ = stderr.flush();
    let before = tcgetattr(&stdin).map_err(|e| io("cannot read the terminal's mode")(e.into()))?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet)
        .map_err(|e| io("cannot turn the terminal's echo off")(e.into()))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &before);
    let _ = stderr.write_all(b"\n");
    read.map_err(io("cannot read the password"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
