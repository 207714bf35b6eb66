//! The bottom layer: words every other layer speaks and that import nothing of unyo's: the
//! persisted status tokens of runs, steps, attempts, triggers, slots, incidents and
//! notifications (`status`), incident severities (`severity`), cron expressions (`cron`),
//! the machine and user unyo runs as (`host`), and where "now" comes from (`clock`).
//! Anything here may be used anywhere; nothing here may use anything above it.

pub mod clock;
pub mod cron;
pub mod host;
pub mod severity;
pub mod status;
