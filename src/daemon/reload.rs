//! SIGHUP: the definitions read again and swapped whole; an invalid set is logged and the
//! running one kept.

use std::sync::Arc;

use super::Daemon;
use crate::incident::notifier::Notifier;
use crate::model::{Catalog, Settings};

impl Daemon {
    /// SIGHUP: reads the definitions again; an invalid set is logged and the old one kept.
    pub(super) fn reload(&mut self) {
        let settings = match Settings::load(&self.settings.root) {
            Ok(s) => s,
            Err(d) => {
                tracing::error!(
                    "reload refused, unyo.yaml is invalid; keeping the running definitions:\n{d}"
                );
                return;
            }
        };
        if settings.metrics != self.settings.metrics {
            tracing::warn!(
                "`metrics.listen` changed in unyo.yaml; restart the daemon to serve it there"
            );
        }
        if settings.web != self.settings.web {
            tracing::warn!(
                "`web.listen` changed in unyo.yaml; restart the daemon to serve it there"
            );
        }
        if settings.web_access != self.settings.web_access {
            tracing::warn!(
                "`web.tls`, `web.behind_proxy`, `web.proxies` or `web.public_name` changed in \
                 unyo.yaml; restart the daemon to serve the dashboard so"
            );
        }
        if settings.database != self.settings.database {
            tracing::warn!(
                "`database` changed in unyo.yaml; restart the daemon to use {}",
                settings.database
            );
        }
        match Catalog::load(&settings) {
            Ok(catalog) => {
                let database = self.settings.database.clone();
                let metrics = self.settings.metrics;
                let web = self.settings.web;
                let web_access = self.settings.web_access.clone();
                self.settings = Settings {
                    database,
                    metrics,
                    web,
                    web_access,
                    ..settings
                };
                self.catalog = Arc::new(catalog);
                self.planner
                    .reload(&self.settings, &self.catalog, self.clock.now());
                self.publish_next_slots();
                let _ = self.definitions.send(Arc::new(crate::web::Definitions {
                    settings: self.settings.clone(),
                    catalog: self.catalog.clone(),
                }));
                let _ = self.notifier.send(Arc::new(Notifier::new(
                    self.settings.clone(),
                    self.catalog.clone(),
                    self.store.clone(),
                )));
                eprintln!(
                    "unyo daemon: definitions reloaded: {}",
                    self.catalog.summary()
                );
                for w in self.settings.unheard() {
                    eprintln!("warning: {w}");
                }
            }
            Err(d) => {
                tracing::error!("reload refused, keeping the running definitions:\n{d}");
            }
        }
    }
}
