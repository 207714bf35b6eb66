//! The bottom layer: words every other layer speaks and that import nothing of unyo's: the
//! persisted status tokens of runs, steps, attempts, triggers, slots, incidents and
//! notifications (`status`), incident severities (`severity`), cron expressions (`cron`),
//! the machine and user unyo runs as (`host`), where "now" comes from (`clock`), a CSV field
//! written safely for spreadsheets (`csv`), and the decisions every store persists the same
//! way: incident transitions (`incident`), approval gates (`gate`), frozen reports (`freeze`),
//! kept steps and cancel requests (`run`), the service desk's requests (`desk`), the dashboard's roles (`web`), and the monitoring's verdicts: deadlines and
//! stuck steps (`lateness`), day classes, baselines and slowdowns (`baseline`). Anything here may be used anywhere; nothing here
//! may use anything above it.

pub mod baseline;
pub mod check;
pub mod clock;
pub mod cron;
pub mod csv;
pub mod desk;
pub mod freeze;
pub mod gate;
pub mod health;
pub mod host;
pub mod incident;
pub mod lateness;
pub mod proposals;
pub mod run;
pub mod severity;
pub mod status;
pub mod web;
