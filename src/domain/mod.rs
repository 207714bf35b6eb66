//! The bottom layer: words every other layer speaks and that import nothing of unyo's: the
//! persisted status tokens of runs, steps, attempts, triggers, slots, incidents and
//! notifications (`status`), incident severities (`severity`), cron expressions (`cron`),
//! and the machine and user unyo runs as (`host`). Anything here may be used anywhere;
//! nothing here may use anything above it.

pub mod cron;
pub mod csv;
pub mod host;
pub mod severity;
pub mod status;
