//! Strict template rendering with shell quoting lives in `model::template`; re-exported here.
pub use crate::model::template::*;
