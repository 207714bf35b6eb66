//! Raw `notify:` section of `unyo.yaml`: channels (e-mail, webhook, command), desk hours and
//! the escalation levels of the three routes, exactly as written.
//!
//! Every value that needs checking (severities, durations, clock times, addresses, URLs,
//! environment variable names, channel references) is kept as a positioned string here;
//! `model::Settings` turns it into `model::Notify` and reports every problem at once.

use std::sync::LazyLock;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::keys::{Child, Shape, fields_of};
use super::leaf;

static DESK_HOURS: LazyLock<Shape> = LazyLock::new(leaf::<DeskHoursSpec>);
static EMAIL: LazyLock<Shape> = LazyLock::new(leaf::<EmailSpec>);
static WEBHOOK: LazyLock<Shape> = LazyLock::new(leaf::<WebhookSpec>);
static COMMAND: LazyLock<Shape> = LazyLock::new(leaf::<CommandSpec>);
static LEVEL: LazyLock<Shape> = LazyLock::new(leaf::<LevelSpec>);
static CHANNEL: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<ChannelSpec>(),
    children: vec![
        ("email", Child::Struct(&EMAIL)),
        ("webhook", Child::Struct(&WEBHOOK)),
        ("command", Child::Struct(&COMMAND)),
    ],
});
/// The keys of `notify:` and everything below it, for the key pass of `unyo.yaml`.
pub(super) static NOTIFY: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<NotifySpec>(),
    children: vec![
        ("desk_hours", Child::Struct(&DESK_HOURS)),
        ("channels", Child::MapOf(&CHANNEL)),
        ("desk", Child::SeqOf(&LEVEL)),
        ("emergency", Child::SeqOf(&LEVEL)),
        ("after_hours", Child::SeqOf(&LEVEL)),
    ],
});

/// `notify:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// `ja` or `en`: which shipped message templates are used.
    pub language: Option<Spanned<String>>,
    /// A folder (relative to the root) whose templates replace the shipped ones.
    pub templates: Option<Spanned<String>>,
    pub desk_hours: Option<Spanned<DeskHoursSpec>>,
    /// Out of desk hours, incidents of this severity and above take the `emergency` route.
    pub wake: Option<Spanned<String>>,
    #[serde(default)]
    pub channels: IndexMap<String, Spanned<ChannelSpec>>,
    pub desk: Option<Spanned<Vec<Spanned<LevelSpec>>>>,
    pub emergency: Option<Spanned<Vec<Spanned<LevelSpec>>>>,
    pub after_hours: Option<Spanned<Vec<Spanned<LevelSpec>>>>,
}

/// When the service desk is staffed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskHoursSpec {
    /// A calendar of `schedules/*.yaml`; without one, Monday to Friday.
    pub calendar: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
}

/// One way of reaching people; exactly one of the three kinds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub description: Option<String>,
    pub email: Option<Spanned<EmailSpec>>,
    pub webhook: Option<Spanned<WebhookSpec>>,
    pub command: Option<Spanned<CommandSpec>>,
}

/// Mail through an SMTP server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSpec {
    pub to: Spanned<Vec<Spanned<String>>>,
    pub from: Spanned<String>,
    /// `host` or `host:port`.
    pub server: Spanned<String>,
    /// `starttls` (default) or `none`.
    pub tls: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    /// The environment variable that holds the SMTP password, read at send time.
    pub password_env: Option<Spanned<String>>,
}

/// An HTTP POST to an incoming-webhook URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: Option<Spanned<String>>,
    /// The environment variable that holds the URL, read at send time.
    pub url_env: Option<Spanned<String>>,
}

/// A program started without a shell.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub argv: Spanned<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
}

/// One escalation level of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// Time since the previous level; absent on the first level only.
    pub after: Option<Spanned<String>>,
    pub notify: Spanned<Vec<Spanned<String>>>,
}
