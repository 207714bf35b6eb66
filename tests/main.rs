//! Integration tests: the real `unyo` binary on definition trees in temp dirs, real processes
//! and a real SQLite file.

mod helper;

mod calendar;
mod checks;
mod daemon;
mod daemon_log;
mod db_copy;
mod demo;
mod desk;
mod disk_full;
mod escaped;
mod extract;
mod files;
mod forecast;
mod freeze;
mod import;
mod layers;
mod metrics;
mod monitor;
mod nodes;
mod notify;
mod operator;
mod outbox;
mod params;
mod permissions;
mod readme;
mod records;
mod refuse;
mod report;
mod report_pdf;
mod rollover;
mod run;
mod run_as;
mod runbook;
mod secrets;
mod shipped;
mod ssh;
mod store_story;
mod synth;
mod validate;
mod web;
mod web_auth;
mod web_today;
