//! unyo (運用, "operations") is a batch job scheduler and operations runner: a cron-replacement
//! daemon and an operator CLI. It loads YAML jobs, schedules and runbooks, runs jobs on time
//! and in dependency order, and records every run, step and attempt in a database.
//!
//! Data flows `spec` (raw YAML) → `model` (validated catalog) → `engine` (a run's DAG) →
//! `exec` (one process) while `store` records everything. `cli` is the operator's surface.
//! ARCHITECTURE.md has the code map and the invariants.

pub mod act;
pub mod calendar;
pub mod cli;
pub mod daemon;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod error;
pub mod exec;
pub mod files;
pub mod import;
pub mod incident;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod report;
pub mod runbook;
pub mod schedule;
pub mod spec;
pub mod store;
pub mod synth;
pub mod web;
