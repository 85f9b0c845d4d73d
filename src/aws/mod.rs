//! AWS, read through the official AWS SDK for Rust: the organization's
//! accounts ([`OrganizationsReader`]). Knows nothing of aliases or the pool;
//! its requests go through the crate's shared HTTP clients (proxy, CA).

mod http;
mod organizations;

pub use organizations::{OrganizationAccount, OrganizationsError, OrganizationsReader};

/// The AWS environment variables that hold secrets: never printed.
pub const SECRET_VARIABLES: &[&str] = &["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];
