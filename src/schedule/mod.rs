//! The pure planner: when schedules fire. Functions here take `now` as an argument and never
//! read the clock, so every calendar, misfire and DST case is a plain unit test.
//!
//! It owns windows ([`window`]) and the planner ([`plan`]): which slots a schedule has and
//! what becomes of each. Cron parsing lives below it, in [`crate::domain::cron`].

pub mod forecast;
pub mod plan;
pub mod window;
