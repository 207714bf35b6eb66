//! What every step task of a run shares (`StepContext`): the settings and definitions, the
//! values templates and `env:` values see, the environment every step of the run gets (built
//! once per run), the store, the clock, and the run's stop, drain and failure state.

use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::watch;

use super::secrets::secret_values;
use super::{Event, Resume, Started, Stop, unyo_bin};
use crate::domain::clock::SharedClock;
use crate::model::template::Renderer;
use crate::model::{Catalog, Job, Settings};
use crate::store::Store;

/// Everything a step task needs, shared by all steps of a run.
pub(super) struct StepContext {
    pub(super) settings: Settings,
    pub(super) job: Arc<Job>,
    pub(super) run_id: i64,
    pub(super) business_date: chrono::NaiveDate,
    /// What templates see; secret parameters masked.
    pub(super) data: serde_json::Value,
    /// What `env:` values see: `data` with the secret parameters' values.
    pub(super) env_data: serde_json::Value,
    /// The secret parameters' values, for the steps' environment only.
    pub(super) secret_params: IndexMap<String, String>,
    /// Secret parameters that have no value, each with what to do: no step starts.
    pub(super) missing: Vec<String>,
    /// The environment every step of the run starts from, built once for the run: unyo's
    /// own less its secrets and every `from_env`, plus the run's variables (`UNYO_RUN_ID`,
    /// `UNYO_PARAM_…`); each step adds its own (`UNYO_STEP`, `UNYO_ATTEMPT`, `env:`).
    pub(super) base_env: Arc<crate::exec::Environment>,
    /// Where the run's times come from.
    pub(super) clock: SharedClock,
    pub(super) renderer: &'static Renderer,
    pub(super) store: Arc<dyn Store>,
    /// Set when the run must stop (see `stopped` for why) or the database failed.
    pub(super) cancel: watch::Receiver<bool>,
    /// Why the run was stopped, once it was.
    pub(super) stopped: std::sync::OnceLock<Stop>,
    pub(super) on_event: Arc<dyn Fn(Event) + Send + Sync>,
    /// Runbooks, for failed attempts.
    pub(super) catalog: Arc<Catalog>,
    /// Steps that failed for good, in the order they did: for the run's incident.
    pub(super) failures: std::sync::Mutex<Vec<StepFailure>>,
    /// Where each step stood, for a run taken up again.
    pub(super) resume: Vec<Resume>,
    /// Set when the daemon starts stopping (see `Stop::Drain`).
    pub(super) drain: watch::Receiver<bool>,
    /// An approval step was rejected: the run's failure is a decision, not an incident.
    pub(super) rejected: std::sync::Mutex<bool>,
    /// Each step's running attempt and output so far, for the run's watcher (`monitor.rs`).
    pub(super) live: Vec<super::monitor::StepLive>,
    /// Incidents this run's runbook rules opened, by step and failure class.
    pub(super) escalated: std::sync::Mutex<std::collections::HashMap<(String, String), i64>>,
}

/// How a step failed for good, for the incident its run opens.
#[derive(Debug, Clone)]
pub(super) struct StepFailure {
    pub(super) step: String,
    pub(super) class: String,
    pub(super) detail: String,
    pub(super) excerpt: String,
    pub(super) rule: Option<String>,
    pub(super) severity: Option<crate::model::Severity>,
    /// The incident its runbook rule opened already, at once.
    pub(super) incident: Option<i64>,
}

impl StepContext {
    /// The context of the run `started`: its template values (secret parameters masked, but
    /// in `env:` values), and the variables every one of its steps gets.
    pub(super) fn new(
        settings: &Settings,
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        started: Started,
        cancel: watch::Receiver<bool>,
        drain: watch::Receiver<bool>,
        on_event: Arc<dyn Fn(Event) + Send + Sync>,
    ) -> StepContext {
        let Started {
            run_id,
            job,
            params,
            secrets,
            reason,
            business_date,
            fiscal_year,
            parallel: _,
            resume,
            clock,
        } = started;
        let (secret_params, missing) = secret_values(&job, &params, &secrets);
        let data = serde_json::json!({
            "params": params,
            "reason": reason.clone().unwrap_or_default(),
            "settings": settings.template_value(),
            "run_id": run_id,
            "job": job.name,
            "business_date": business_date.format("%Y-%m-%d").to_string(),
            "fiscal_year": fiscal_year,
            // Templates do no arithmetic: the year that closed when this one began (on
            // 1 April, the year a rollover archives).
            "previous_fiscal_year": fiscal_year - 1,
            "unyo": unyo_bin(),
        });
        let mut env_data = data.clone();
        for (k, v) in &secret_params {
            env_data["params"][k] = serde_json::Value::from(v.as_str());
        }
        let mut run_env = vec![
            ("UNYO_RUN_ID".to_owned(), run_id.to_string()),
            ("UNYO_JOB".to_owned(), job.name.clone()),
            (
                "UNYO_BUSINESS_DATE".to_owned(),
                business_date.format("%Y-%m-%d").to_string(),
            ),
            ("UNYO_FISCAL_YEAR".to_owned(), fiscal_year.to_string()),
            ("UNYO_ROOT".to_owned(), settings.root.display().to_string()),
            ("UNYO_BIN".to_owned(), unyo_bin().to_owned()),
            ("UNYO_REASON".to_owned(), reason.clone().unwrap_or_default()),
        ];
        for (k, v) in &params {
            let v = secret_params.get(k).unwrap_or(v);
            run_env.push((format!("UNYO_PARAM_{}", k.to_ascii_uppercase()), v.clone()));
        }
        let live = job.steps.iter().map(|_| Default::default()).collect();
        StepContext {
            settings: settings.clone(),
            job,
            run_id,
            business_date,
            data,
            env_data,
            secret_params,
            missing,
            base_env: Arc::new(crate::exec::Environment::new(
                &settings
                    .secret_env()
                    .into_iter()
                    .chain(catalog.secret_env())
                    .collect::<Vec<_>>(),
                &run_env,
            )),
            clock,
            renderer: Renderer::shared(),
            store,
            cancel,
            stopped: std::sync::OnceLock::new(),
            on_event,
            catalog,
            failures: std::sync::Mutex::new(Vec::new()),
            resume,
            escalated: std::sync::Mutex::new(std::collections::HashMap::new()),
            live,
            drain,
            rejected: std::sync::Mutex::new(false),
        }
    }

    /// Why the run was stopped, in words, once it was.
    pub(super) fn stop_reason(&self) -> String {
        self.stopped
            .get()
            .map_or_else(|| "the run was stopped".to_owned(), |s| s.reason())
    }
}
