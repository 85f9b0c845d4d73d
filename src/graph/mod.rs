//! Microsoft Graph, read with an Azure AD token: a mailbox's addresses
//! (the `proxyAddresses` of its user object; application permission
//! User.Read.All). Graph cannot add addresses (only Exchange Online
//! PowerShell can), so this module only reads. Knows nothing of aliases or
//! the pool; its requests go through the crate's shared HTTP client (proxy,
//! CA) and retry budget.

mod config;
mod reader;
mod user;

pub use config::GraphSetupError;
pub use reader::{GraphError, GraphReader};
pub use user::{GraphUser, SmtpAddress};
