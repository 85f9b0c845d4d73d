//! The provider binary: Terraform starts it and talks gRPC to it (go-plugin),
//! or a developer starts it with `--debug` and points Terraform at it through
//! `TF_REATTACH_PROVIDERS`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rootmail::plugin::{self, PluginError, ServeOptions};
use rootmail::provider::RootmailProvider;
use rootmail::tfplugin::ProviderService;
use tracing_subscriber::filter::LevelFilter;

/// The addresses `source = "rootmail/rootmail"` resolves to: Terraform's
/// registry host and OpenTofu's.
const PROVIDER_ADDRESSES: [&str; 2] = [
    "registry.terraform.io/rootmail/rootmail",
    "registry.opentofu.org/rootmail/rootmail",
];

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
    let service = ProviderService::new(RootmailProvider::new()).into_server();
    let routes = tonic::service::Routes::new(service);
    let options = ServeOptions::from_env(cli.debug, &PROVIDER_ADDRESSES);
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
