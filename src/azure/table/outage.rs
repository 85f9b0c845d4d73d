//! One outage, one outcome. Requests to the table that fail because the
//! endpoint cannot be used share one clock across the process: the time
//! since the first of them started failing, with no answer from the service
//! since. Once that clock passes the retry budget, or at the first failure
//! that retrying cannot cure (a name that does not resolve, a certificate
//! that does not verify, a credential the service or Azure AD refuses), the
//! endpoint is down for this client: every pending and later request fails
//! at once with the same [`Outage`], instead of each spending a budget of
//! its own and failing with an error of its own.
//!
//! What a failed attempt means is read off its error's chain of causes by
//! `azure::network`, the one place every client of this crate asks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::super::config::{EndpointOrigin, Origins};
use super::super::error::{Outage, OutageCause};

/// A request waiting to try again, for a progress display (the CLI's spinner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub operation: &'static str,
    /// Attempts of this request so far.
    pub attempt: u32,
    /// Why the last attempt failed.
    pub reason: String,
    /// How long the endpoint has been failing.
    pub failing_for: Duration,
    /// How long it may fail before the operations give up.
    pub budget: Duration,
}

/// Where the endpoint stands, shared by every request of one client.
#[derive(Debug)]
pub(crate) struct Health {
    endpoint: String,
    origins: Origins,
    streak: Mutex<Streak>,
    down: watch::Sender<Option<Arc<Outage>>>,
    waiting: watch::Sender<Option<Waiting>>,
}

/// Failures since the service last answered.
#[derive(Debug, Default)]
struct Streak {
    last_answer: Option<Instant>,
    since: Option<Instant>,
    failures: u32,
}

impl Health {
    pub(crate) fn new(endpoint: &str, origins: Origins) -> Health {
        Health {
            endpoint: endpoint.to_owned(),
            origins,
            streak: Mutex::new(Streak::default()),
            down: watch::channel(None).0,
            waiting: watch::channel(None).0,
        }
    }

    /// The outage, once the endpoint is down.
    pub(crate) fn outage(&self) -> Option<Arc<Outage>> {
        self.down.borrow().clone()
    }

    /// Waits until the endpoint is declared down.
    pub(crate) async fn until_down(&self) -> Arc<Outage> {
        let mut rx = self.down.subscribe();
        let outage = match rx.wait_for(Option::is_some).await {
            Ok(outage) => outage.clone(),
            Err(_) => None,
        };
        match outage {
            Some(outage) => outage,
            // The sender lives as long as `self`: never happens.
            None => std::future::pending().await,
        }
    }

    /// Requests waiting to try again, as they go.
    pub(crate) fn waiting(&self) -> watch::Receiver<Option<Waiting>> {
        self.waiting.subscribe()
    }

    /// The service answered (whatever it said): the endpoint is up.
    pub(crate) fn answered(&self) {
        if let Ok(mut streak) = self.streak.lock() {
            *streak = Streak {
                last_answer: Some(Instant::now()),
                ..Streak::default()
            };
        }
        self.waiting.send_if_modified(|w| w.take().is_some());
    }

    /// An attempt that started at `started` failed without an answer. Returns
    /// how long the endpoint has been failing and how many attempts failed
    /// meanwhile (of every request).
    pub(crate) fn failed(&self, started: Instant) -> (Duration, u32) {
        let Ok(mut streak) = self.streak.lock() else {
            return (Duration::ZERO, 1);
        };
        // The failure began when its attempt did, but not before an answer
        // that came meanwhile.
        let began = streak.last_answer.map_or(started, |a| a.max(started));
        let since = streak.since.map_or(began, |since| since.min(began));
        streak.since = Some(since);
        streak.failures += 1;
        (since.elapsed(), streak.failures)
    }

    pub(crate) fn report_waiting(&self, waiting: Waiting) {
        self.waiting.send_replace(Some(waiting));
    }

    /// Declares the endpoint down (once: the first declaration stays) and
    /// wakes every request waiting on it.
    pub(crate) fn declare(&self, cause: OutageCause, message: String) -> Arc<Outage> {
        let mut declared = Arc::new(Outage::new(cause, message));
        self.down.send_if_modified(|down| match down {
            Some(existing) => {
                declared = Arc::clone(existing);
                false
            }
            None => {
                *down = Some(Arc::clone(&declared));
                true
            }
        });
        self.waiting.send_if_modified(|w| w.take().is_some());
        declared
    }

    /// The message for a failure retrying cannot cure, naming what to check.
    pub(crate) fn permanent_message(&self, cause: OutageCause, detail: &str) -> String {
        let host = url::Url::parse(&self.endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.endpoint.clone());
        match cause {
            OutageCause::NameNotResolved => {
                let what = match &self.origins.endpoint {
                    EndpointOrigin::Account { account, setting } => format!(
                        "storage account `{account}` does not exist or is not reachable: the name \
                         {host} does not resolve. Check {setting} (and `environment` for other \
                         clouds)"
                    ),
                    EndpointOrigin::Endpoint(setting) => format!(
                        "the host name {host} of the table endpoint does not resolve. Check \
                         {setting}"
                    ),
                    EndpointOrigin::ConnectionString(setting) => format!(
                        "the host name {host} of the connection string's table endpoint does not \
                         resolve. Check {setting}"
                    ),
                    EndpointOrigin::Given => format!(
                        "the host name {host} of the table endpoint {} does not resolve",
                        self.endpoint
                    ),
                };
                format!("{what}; if the name is right, this machine's DNS cannot resolve it")
            }
            OutageCause::Certificate => format!(
                "the certificate of {host} could not be verified ({detail}). If a proxy or \
                 firewall inspects TLS, add its CA certificate to SSL_CERT_FILE; otherwise check \
                 that {} is the table service",
                self.endpoint
            ),
            OutageCause::CredentialRefused | OutageCause::Unanswered => detail.to_owned(),
        }
    }

    /// The message for an endpoint that failed for the whole budget.
    pub(crate) fn unanswered_message(
        &self,
        failing_for: Duration,
        failures: u32,
        last: &str,
    ) -> String {
        let setting = match &self.origins.endpoint {
            EndpointOrigin::Account { setting, .. }
            | EndpointOrigin::Endpoint(setting)
            | EndpointOrigin::ConnectionString(setting) => format!(" and that {setting} is right"),
            EndpointOrigin::Given => String::new(),
        };
        format!(
            "the table service at {} is still unavailable after {:.1} s ({failures} failed \
             attempts; last: {last}). Check that it is running and reachable from this \
             machine{setting}; `retry_timeout_seconds` (ROOTMAIL_RETRY_TIMEOUT_SECONDS) sets how \
             long to wait",
            self.endpoint,
            failing_for.as_secs_f32()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streak_is_shared_and_an_answer_ends_it() {
        let health = Health::new("http://127.0.0.1:1/acct", Origins::default());
        let t0 = Instant::now() - Duration::from_secs(30);
        let (failing, n) = health.failed(t0);
        assert!(failing >= Duration::from_secs(30) && n == 1);
        // A later request joins the same outage.
        let (failing, n) = health.failed(Instant::now());
        assert!(failing >= Duration::from_secs(30) && n == 2);
        health.answered();
        let (failing, n) = health.failed(t0);
        assert!(failing < Duration::from_secs(5) && n == 1, "{failing:?}");
        assert!(health.outage().is_none());
        let first = health.declare(OutageCause::Unanswered, "down".into());
        let second = health.declare(OutageCause::Certificate, "other".into());
        assert!(Arc::ptr_eq(&first, &second), "the first declaration stays");
        assert_eq!(health.outage().map(|o| o.to_string()), Some("down".into()));
    }

    #[test]
    fn an_unresolvable_account_is_named_with_its_variable() {
        let origins = Origins {
            endpoint: EndpointOrigin::Account {
                account: "nosuchacct12345".into(),
                setting: "`storage_account` (from AZURE_STORAGE_ACCOUNT)".into(),
            },
            credential: String::new(),
        };
        let health = Health::new("https://nosuchacct12345.table.core.windows.net", origins);
        let text = health.permanent_message(OutageCause::NameNotResolved, "");
        assert!(
            text.starts_with("storage account `nosuchacct12345` does not exist or is not reachable: the name nosuchacct12345.table.core.windows.net does not resolve")
                && text.contains("AZURE_STORAGE_ACCOUNT"),
            "{text}"
        );
    }
}
