//! Every account of the AWS organization, read with `ListAccounts` page by
//! page (at most 20 a page) through the official SDK and the standard
//! credential chain: environment variables, the shared config and
//! credentials files (`AWS_PROFILE`, with `aws sso login` sessions and
//! `credential_process`), web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`, as a pipeline's OIDC
//! sets them), then container and instance roles. `AWS_ENDPOINT_URL` (and
//! `AWS_ENDPOINT_URL_ORGANIZATIONS`) point it elsewhere, as for every SDK.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_sdk_organizations::error::SdkError;
use aws_sdk_organizations::operation::list_accounts::ListAccountsError;
use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

use super::http::ReqwestHttpClient;
use crate::azure::HttpClients;
use crate::settings::{RetryBudget, Settings};

/// Organizations answers from us-east-1 in the commercial partition; a
/// region is still needed to sign when none is configured.
const FALLBACK_REGION: &str = "us-east-1";
/// The most `ListAccounts` returns per page.
const PAGE_SIZE: i32 = 20;

/// One account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationAccount {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `State` (`ACTIVE`, `PENDING_ACTIVATION`, `PENDING_CLOSURE`,
    /// `SUSPENDED`, `CLOSED`), else the older `Status`, as AWS spells it.
    pub state: String,
}

/// Why the accounts could not be read. Messages never hold credentials.
#[derive(Debug, thiserror::Error)]
pub enum OrganizationsError {
    /// No credentials anywhere in the chain, or ones that were refused.
    #[error("no usable AWS credentials: {0}. Set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (a pipeline's OIDC token), or run on an instance or container with a role")]
    Credentials(String),
    /// The identity may not list the organization's accounts.
    #[error("AWS refused to list the organization's accounts: {0}. The identity needs organizations:ListAccounts, in the management account or a delegated administrator account")]
    AccessDenied(String),
    /// The credentials belong to an account outside any organization.
    #[error("the AWS account of these credentials is not in an organization: {0}")]
    NotInOrganization(String),
    /// The crate's own settings cannot be used (a CA file that cannot be read).
    #[error("{0}")]
    Setup(String),
    /// Anything else: the network, throttling beyond the retry budget, the service.
    #[error("cannot list the organization's accounts: {0}")]
    Service(String),
}

/// Reads the organization's accounts.
#[derive(Debug, Clone)]
pub struct OrganizationsReader {
    client: aws_sdk_organizations::Client,
}

impl OrganizationsReader {
    /// Resolves region and credentials the way the AWS CLI does and sends
    /// every request through `proxied` (or `direct`, for the instance and
    /// container credential endpoints). Nothing is requested yet.
    pub async fn new(
        proxied: reqwest::Client,
        direct: reqwest::Client,
        budget: RetryBudget,
    ) -> OrganizationsReader {
        // Each page is one operation to the SDK, bounded by `total`, its
        // attempts by `per_request`.
        let attempts =
            (budget.total.as_millis() / budget.per_request.as_millis().max(1)).clamp(2, 10) as u32;
        let config = aws_config::defaults(BehaviorVersion::v2026_01_12())
            .http_client(ReqwestHttpClient::new(proxied, direct))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(attempts)
                    .with_initial_backoff(budget.initial_backoff)
                    .with_max_backoff(budget.max_backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(budget.per_request)
                    .operation_timeout(budget.total)
                    .build(),
            )
            .load()
            .await;
        let config = match config.region() {
            Some(_) => config,
            None => config
                .into_builder()
                .region(Region::from_static(FALLBACK_REGION))
                .build(),
        };
        OrganizationsReader {
            client: aws_sdk_organizations::Client::new(&config),
        }
    }

    /// A reader on the connection settings' proxy, CA (`SSL_CERT_FILE`) and
    /// retry budget; AWS's own settings come from the AWS environment.
    pub async fn from_settings(
        settings: &Settings,
        lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<OrganizationsReader, OrganizationsError> {
        let settings = settings
            .with_environment(lookup)
            .map_err(|e| OrganizationsError::Setup(e.to_string()))?;
        let http = HttpClients::new(settings.ca_file.as_deref())
            .map_err(|e| OrganizationsError::Setup(e.to_string()))?;
        Ok(OrganizationsReader::new(
            http.modern.clone(),
            http.direct.clone(),
            settings.retry.unwrap_or_default(),
        )
        .await)
    }

    /// Every account, all pages, in the order AWS lists them. Each page
    /// gets the retry budget of its own.
    pub async fn list_accounts(&self) -> Result<Vec<OrganizationAccount>, OrganizationsError> {
        let mut pages = self
            .client
            .list_accounts()
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut accounts = Vec::new();
        let mut read = 0u32;
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            read += 1;
            tracing::debug!(
                page = read,
                accounts = page.accounts().len(),
                "read a ListAccounts page"
            );
            accounts.extend(page.accounts().iter().map(OrganizationAccount::from));
        }
        if accounts.is_empty() {
            // Every organization lists at least its management account.
            return Err(OrganizationsError::Service(
                "ListAccounts listed no accounts at all, so this is not the organization (check \
                 AWS_ENDPOINT_URL and the profile)"
                    .to_owned(),
            ));
        }
        Ok(accounts)
    }
}

impl From<&Account> for OrganizationAccount {
    fn from(a: &Account) -> Self {
        let state = a
            .state()
            .map(AccountState::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| a.status().map(AccountStatus::as_str).map(str::to_owned))
            .unwrap_or_default();
        OrganizationAccount {
            id: a.id().unwrap_or_default().to_owned(),
            email: a.email().unwrap_or_default().to_owned(),
            name: a.name().unwrap_or_default().to_owned(),
            state,
        }
    }
}

fn classify(e: SdkError<ListAccountsError>) -> OrganizationsError {
    let text = crate::redact::error_line(&e);
    match &e {
        SdkError::ServiceError(service) => match service.err() {
            ListAccountsError::AccessDeniedException(_) => OrganizationsError::AccessDenied(text),
            ListAccountsError::AwsOrganizationsNotInUseException(_) => {
                OrganizationsError::NotInOrganization(text)
            }
            _ if is_credentials_refused(service.raw().status().as_u16(), &text) => {
                OrganizationsError::Credentials(text)
            }
            _ => OrganizationsError::Service(text),
        },
        // Identity resolution fails before anything is sent.
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
            if text.contains("credentials") || text.contains("identity") =>
        {
            OrganizationsError::Credentials(text)
        }
        _ => OrganizationsError::Service(text),
    }
}

/// Keys that do not exist, expired session tokens, bad signatures.
fn is_credentials_refused(status: u16, text: &str) -> bool {
    status == 403
        && [
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "SignatureDoesNotMatch",
        ]
        .iter()
        .any(|code| text.contains(code))
}
