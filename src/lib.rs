//! terraform-provider-rootmail: a Terraform provider that claims AWS root-user
//! e-mail aliases from a pool kept in an Azure Table.
//!
//! Layers, each only calling down: `plugin` (go-plugin transport) →
//! `tfplugin` (protocol 6 values, schemas, traits, RPC dispatch) →
//! `provider` (rootmail's resources) → `store` (the alias pool's domain) →
//! the clients of outside systems, which know nothing of aliases: `azure`
//! (how we reach Azure: credentials, tokens, network, the table client),
//! `aws` (Organizations) and `graph` (Microsoft Graph). `settings` (the one
//! list of settings) and `secret` are leaves every layer may read.

pub mod aws;
pub mod azure;
pub mod graph;
pub mod plugin;
pub mod provider;
pub mod redact;
pub mod safe_text;
pub mod secret;
pub mod settings;
pub mod store;
pub mod tfplugin;

/// The generated protobuf and gRPC code for the wire contracts in proto/.
pub mod proto {
    #[allow(clippy::all, missing_docs)]
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    #[allow(clippy::all, missing_docs)]
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}
