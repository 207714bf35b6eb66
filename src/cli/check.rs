//! `unyo check`: one line and a Nagios exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
//! on the daemon's heartbeat, slots missed lately, unresolved incidents and health-check
//! targets down, for the monitors the city has (Zabbix, Nagios, JP1). It only reads the
//! records; the judgement is `domain::health::judge`.

use std::time::Duration;

use chrono::Utc;

use crate::domain::check::{CheckStatus, TargetState};
use crate::domain::health::{Facts, Limits, judge};
use crate::error::Error;
use crate::model::Settings;
use crate::model::values::parse_duration;
use crate::store::IncidentStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A heartbeat older than this is WARNING.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = duration)]
    pub heartbeat_warning: Duration,
    /// A heartbeat older than this (or no daemon) is CRITICAL.
    #[arg(long, default_value = "3m", value_name = "DURATION", value_parser = duration)]
    pub heartbeat_critical: Duration,
    /// Slots missed within this look-back are WARNING.
    #[arg(long, default_value = "24h", value_name = "DURATION", value_parser = duration)]
    pub missed_within: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let (status, line) = match facts(settings, &args).await {
        Ok(f) => judge(
            &f,
            &Limits {
                heartbeat_warning: args.heartbeat_warning,
                heartbeat_critical: args.heartbeat_critical,
            },
        ),
        Err(e) => (
            CheckStatus::Unknown,
            format!("UNYO UNKNOWN - cannot read the records: {e}"),
        ),
    };
    println!("{line}");
    match status {
        CheckStatus::Ok => Ok(()),
        other => Err(Error::Checked(other.code())),
    }
}

async fn facts(settings: &Settings, args: &Args) -> Result<Facts, Error> {
    let store = super::open_reader(settings).await?;
    let now = Utc::now();
    let heartbeat_age = store
        .daemons(1)
        .await?
        .into_iter()
        .next()
        .filter(|d| d.stopped_at.is_none())
        .map(|d| (now - d.heartbeat_at).to_std().unwrap_or_default());
    let since = now - chrono::Duration::from_std(args.missed_within).unwrap_or_default();
    let missed = store.missed_since(since).await?;
    let mut incidents = Vec::new();
    for (status, acked) in [
        (IncidentStatus::Open, false),
        (IncidentStatus::Acknowledged, true),
    ] {
        for i in store.list_incidents(Some(status), 10_000).await? {
            incidents.push((i.severity, acked, 1));
        }
    }
    let targets = store.targets().await?;
    let down = targets
        .iter()
        .filter(|t| t.state == TargetState::Down)
        .map(|t| t.target.clone())
        .collect();
    Ok(Facts {
        heartbeat_age,
        missed,
        incidents,
        down,
        targets: targets.len(),
    })
}
