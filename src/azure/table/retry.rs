//! The retry loop every table request runs in, and what each failure means:
//! throttling (429/503), other 5xx, 408, timeouts and dropped connections
//! are tried again with full-jitter exponential backoff, within the retry
//! budget and within the outage clock all requests share (`outage`); names
//! that do not resolve, certificates that do not verify and refused
//! credentials end the request, and every other one, at once.

use std::future::Future;
use std::time::{Duration, Instant};

use azure_core_legacy::error::ErrorKind as LegacyErrorKind;

use super::outage::Waiting;
use super::{Fail, TableIo};
use crate::azure::error::OutageCause;
use crate::azure::error::{error_chain, AzureError};
use crate::azure::network::{trouble, Trouble};

/// What the loop does after a failed attempt.
pub(super) enum Classified {
    /// Try again; why it failed.
    Retry(String),
    /// A final answer for this request only.
    Final(Fail),
    /// Retrying cannot help this request or any other: the endpoint is down.
    Down(OutageCause, String),
}

impl TableIo {
    /// Runs one table request with the retry policy.
    pub(super) async fn run<T, F, Fut>(
        &self,
        operation: &'static str,
        attempt: F,
    ) -> Result<T, Fail>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core_legacy::Result<T>>,
    {
        self.run_with(operation, false, attempt).await
    }

    /// Like [`TableIo::run`] for writes: cancellation stops before an attempt
    /// or during a backoff, but an attempt already sent is allowed to finish
    /// (within the per-request limit), so a write that lands is also reported
    /// to the caller instead of leaving a claim nobody knows about.
    pub(super) async fn run_write<T, F, Fut>(
        &self,
        operation: &'static str,
        attempt: F,
    ) -> Result<T, Fail>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core_legacy::Result<T>>,
    {
        let _writing = self.writes.begin();
        self.run_with(operation, true, attempt).await
    }

    async fn run_with<T, F, Fut>(
        &self,
        operation: &'static str,
        finish_in_flight: bool,
        mut attempt: F,
    ) -> Result<T, Fail>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core_legacy::Result<T>>,
    {
        let start = Instant::now();
        let mut attempts: u32 = 0;
        let down = |outage| Fail::Error(AzureError::Down(outage));
        loop {
            attempts += 1;
            if self.cancel.is_cancelled() {
                return Err(AzureError::Cancelled { operation }.into());
            }
            if let Some(outage) = self.health.outage() {
                return Err(down(outage));
            }
            // One hanging request must not outlast the whole budget.
            let limit = self
                .budget
                .per_request
                .min(self.budget.total.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(100));
            let sent = Instant::now();
            let request = tokio::time::timeout(limit, attempt());
            let outcome = if finish_in_flight {
                request.await
            } else {
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return Err(AzureError::Cancelled { operation }.into()),
                    outage = self.health.until_down() => return Err(down(outage)),
                    r = request => r,
                }
            };
            let last = match outcome {
                Ok(Ok(value)) => {
                    self.health.answered();
                    return Ok(value);
                }
                Ok(Err(e)) => match self.classify(operation, &e, attempts > 1) {
                    Classified::Retry(reason) => reason,
                    Classified::Final(fail) => {
                        self.health.answered();
                        return Err(fail);
                    }
                    Classified::Down(cause, detail) => {
                        let message = self.health.permanent_message(cause, &detail);
                        return Err(down(self.health.declare(cause, message)));
                    }
                },
                Err(_) => format!("no answer within {} s", limit.as_secs_f32()),
            };
            let (failing_for, failures) = self.health.failed(sent);
            // The endpoint has failed for the whole budget, whoever tried it:
            // this is the outage every request shares.
            if failing_for >= self.budget.total {
                let message = self.health.unanswered_message(failing_for, failures, &last);
                return Err(down(self.health.declare(OutageCause::Unanswered, message)));
            }
            // This request alone has used its budget (others got answers).
            let elapsed = start.elapsed();
            if elapsed >= self.budget.total {
                return Err(AzureError::Unavailable {
                    operation,
                    attempts,
                    elapsed,
                    last,
                }
                .into());
            }
            // The last attempt goes out when the budget ends, not a backoff before.
            let left = self.budget.total - failing_for.max(elapsed);
            let backoff = self.budget.backoff(attempts).min(left);
            tracing::debug!(operation, attempts, ?backoff, error = %last, "retrying table request");
            self.health.report_waiting(Waiting {
                operation,
                attempt: attempts,
                reason: last,
                failing_for,
                budget: self.budget.total,
            });
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Err(AzureError::Cancelled { operation }.into()),
                outage = self.health.until_down() => return Err(down(outage)),
                _ = tokio::time::sleep(backoff) => {}
            }
        }
    }

    fn classify(
        &self,
        operation: &'static str,
        e: &azure_core_legacy::Error,
        after_retry: bool,
    ) -> Classified {
        match e.kind() {
            LegacyErrorKind::HttpResponse { status, error_code } => {
                let code = u16::from(*status);
                let error_code = error_code.clone();
                match code {
                    412 => Classified::Final(Fail::Precondition { after_retry }),
                    404 if error_code.as_deref() == Some("TableNotFound") => {
                        Classified::Final(Fail::Error(AzureError::TableNotFound {
                            table: self.table_name.clone(),
                        }))
                    }
                    404 => Classified::Final(Fail::EntityNotFound),
                    409 => Classified::Final(Fail::Conflict),
                    401 | 403 => {
                        // A credential the service does not accept fails every
                        // request; one without some permission only some.
                        let refused =
                            code == 401 || error_code.as_deref() == Some("AuthenticationFailed");
                        let forbidden = AzureError::Forbidden {
                            table: self.table_name.clone(),
                            status: code,
                            error_code,
                            credential: self.credential,
                            from: self.origins.credential.clone(),
                            hint: self.credential.permission_hint(),
                        };
                        if refused {
                            Classified::Down(OutageCause::CredentialRefused, forbidden.to_string())
                        } else {
                            Classified::Final(Fail::Error(forbidden))
                        }
                    }
                    408 | 429 | 500 | 502 | 503 | 504 => Classified::Retry(match error_code {
                        Some(c) => format!("HTTP {code} {c}"),
                        None => format!("HTTP {code}"),
                    }),
                    _ => Classified::Final(Fail::Error(AzureError::Http {
                        operation,
                        status: code,
                        error_code,
                    })),
                }
            }
            LegacyErrorKind::Io => match trouble(e) {
                Trouble::Transient(reason) => Classified::Retry(reason),
                Trouble::NameNotResolved(detail) => {
                    Classified::Down(OutageCause::NameNotResolved, detail)
                }
                Trouble::Certificate(detail) => Classified::Down(OutageCause::Certificate, detail),
            },
            // Azure AD (or the pipeline's OIDC endpoint) gave no token: every
            // request needs one.
            LegacyErrorKind::Credential => {
                let message = match self.origins.credential.as_str() {
                    "" => error_chain(e),
                    from => format!("{}; the credential is set by {from}", error_chain(e)),
                };
                let error = AzureError::Credential {
                    credential: self.credential,
                    message,
                };
                Classified::Down(OutageCause::CredentialRefused, error.to_string())
            }
            _ => Classified::Final(Fail::Error(AzureError::Protocol {
                operation,
                message: error_chain(e),
            })),
        }
    }
}
