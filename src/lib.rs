//! terraform-provider-rootmail: a Terraform provider that claims AWS root-user
//! e-mail aliases from a pool kept in an Azure Table.
//!
//! Layers, each only calling down: `plugin` (go-plugin transport) →
//! `tfplugin` (protocol 6 values, schemas, traits, RPC dispatch) →
//! `provider` (rootmail's resources) → `store` (the pool) → the clients of
//! outside systems, which know nothing of aliases: the Azure connection,
//! `aws` (Organizations) and `graph` (Microsoft Graph).

pub mod aws;
pub mod graph;
pub mod plugin;
pub mod provider;
pub mod redact;
pub mod safe_text;
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
