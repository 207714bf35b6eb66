//! The notification layer of incidents: which people an incident reaches and when
//! (`route`), what they read (`message`), and sending it (`deliver`).
//!
//! The settings say how (`notify:` in `unyo.yaml`, validated into [`crate::model::Notify`]):
//! channels (e-mail, webhook, command), desk hours on a business-day calendar, and three
//! routes of escalation levels — `desk` in desk hours, `emergency` out of them for severe
//! incidents, `after_hours` for the rest. This module owns choosing a route, rendering a
//! message and delivering it through one channel. It must not touch the database, keep
//! timers or retry: the daemon's outbox worker records each delivery, decides when the next
//! level is due (with [`Route::due`]) and what a failure means. Secrets (SMTP passwords,
//! webhook URLs) never appear in its errors, logs or `Debug` output.

mod deliver;
mod message;
mod route;

pub use deliver::{NETWORK_TIMEOUT, deliver, deliver_approval};
pub use message::{
    APPROVAL_REMINDER, APPROVAL_WAITING, ApprovalNote, Event, IncidentNote, Message, Templates,
    local_time,
};
pub use route::{Period, Route, is_desk_hours, route};
