//! AWS, read through the official AWS SDK for Rust: the organization's
//! accounts ([`OrganizationsReader`]). Knows nothing of aliases or the pool;
//! its requests go through the crate's shared HTTP clients (proxy, CA).

mod http;
mod organizations;

pub use organizations::{OrganizationAccount, OrganizationsError, OrganizationsReader};
