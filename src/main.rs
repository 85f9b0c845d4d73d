//! The provider binary: Terraform starts it and talks gRPC to it (go-plugin),
//! or a developer starts it with `--debug` and points Terraform at it through
//! `TF_REATTACH_PROVIDERS`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rootmail::plugin::{self, PluginError, ServeOptions};
use rootmail::proto::tfplugin6::provider_server::ProviderServer;
use tracing_subscriber::filter::LevelFilter;

/// The registry address Terraform configurations use for this provider.
const PROVIDER_ADDRESS: &str = "registry.terraform.io/rootmail/rootmail";

/// The `@module` of this provider's log lines.
const LOG_MODULE: &str = "provider.rootmail";

/// Terraform provider that hands out AWS root-user e-mail aliases from a pool
/// kept in an Azure Table. Terraform starts it; it is not meant to be run by hand.
#[derive(Debug, Parser)]
#[command(name = "terraform-provider-rootmail", version, about, long_about = None)]
struct Cli {
    /// Serve without Terraform starting the process: prints the
    /// TF_REATTACH_PROVIDERS value to export, and runs until Ctrl-C.
    #[arg(long)]
    debug: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_panic_hook();

    // Under Terraform nothing is shown unless TF_LOG asks; by hand, say what happens.
    let default_level = if cli.debug {
        LevelFilter::INFO
    } else {
        LevelFilter::WARN
    };
    if let Err(e) = plugin::log::init(LOG_MODULE, plugin::log::level_from_env(default_level)) {
        eprintln!("warning: {e}");
    }

    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<PluginError>() {
                // Meant for a person at a terminal: the explanation alone.
                Some(PluginError::NotLaunchedByHost) => eprintln!("{e}"),
                _ => eprintln!("Error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let routes = tonic::service::Routes::new(ProviderServer::new(stub_provider::StubProvider));
    let options = ServeOptions::from_env(cli.debug, PROVIDER_ADDRESS);
    let result = runtime.block_on(plugin::serve(routes, options));
    // Work still running after Shutdown (a slow table call) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map_err(anyhow::Error::from)
}

/// Rust's panic message does not start with "panic: ", which is how go-plugin
/// hosts recognise a crashing plugin in its stderr; say it their way.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("panic: {info}");
    }));
}

/// A stand-in `tfplugin6.Provider` with no resources, until the protocol
/// framework (`rootmail::tfplugin`) serves the real provider.
mod stub_provider {
    use rootmail::proto::tfplugin6 as tf;
    use tf::provider_server::Provider;
    use tonic::{Request, Response, Status};

    pub struct StubProvider;

    fn empty_schema() -> tf::Schema {
        tf::Schema {
            version: 0,
            block: Some(tf::schema::Block::default()),
        }
    }

    // The impl is produced by one macro so that `async_trait` sees every method
    // already expanded.
    macro_rules! stub_provider_impl {
        (empty: [$($empty:ident),*], unimplemented: [$($missing:ident),*]) => {
            #[tonic::async_trait]
            impl Provider for StubProvider {
                async fn get_provider_schema(
                    &self,
                    _request: Request<tf::get_provider_schema::Request>,
                ) -> Result<Response<tf::get_provider_schema::Response>, Status> {
                    Ok(Response::new(tf::get_provider_schema::Response {
                        provider: Some(empty_schema()),
                        ..Default::default()
                    }))
                }
                $(
                    async fn $empty(
                        &self,
                        _request: Request<tf::$empty::Request>,
                    ) -> Result<Response<tf::$empty::Response>, Status> {
                        Ok(Response::new(Default::default()))
                    }
                )*
                $(
                    async fn $missing(
                        &self,
                        _request: Request<tf::$missing::Request>,
                    ) -> Result<Response<tf::$missing::Response>, Status> {
                        Err(Status::unimplemented(stringify!($missing)))
                    }
                )*
            }
        };
    }

    stub_provider_impl!(
        empty: [get_metadata, validate_provider_config, configure_provider, stop_provider],
        unimplemented: [
            validate_resource_config,
            validate_data_resource_config,
            upgrade_resource_state,
            get_resource_identity_schemas,
            upgrade_resource_identity,
            read_resource,
            plan_resource_change,
            apply_resource_change,
            import_resource_state,
            move_resource_state,
            read_data_source,
            validate_ephemeral_resource_config,
            open_ephemeral_resource,
            renew_ephemeral_resource,
            close_ephemeral_resource,
            get_functions,
            call_function
        ]
    );
}
