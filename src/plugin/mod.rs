//! The go-plugin transport: how Terraform starts, finds, authenticates and stops
//! this process. It serves whatever gRPC routes it is given (the caller adds
//! `tfplugin6.Provider`) next to go-plugin's own services, and knows nothing
//! about rootmail or about the messages of the Terraform protocol.
//!
//! The sequence follows go-plugin's server: check the magic cookie, pick protocol
//! 6 from `PLUGIN_PROTOCOL_VERSIONS`, listen on 127.0.0.1 (or a unix socket),
//! answer AutoMTLS with a fresh certificate when `PLUGIN_CLIENT_CERT` is set,
//! print one handshake line on stdout, and serve until the host calls
//! `GRPCController.Shutdown`.

mod handshake;
mod listen;
pub mod log;
mod mtls;
mod services;
mod signatures;

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use handshake::{
    negotiate_protocol, PortRange, CORE_PROTOCOL_VERSION, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE,
    PROTOCOL_VERSION,
};

use crate::proto::plugin::grpc_broker_server::GrpcBrokerServer;
use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;

/// The gRPC health service name go-plugin hosts ping.
const HEALTH_SERVICE_NAME: &str = "plugin";

/// How long in-flight RPCs get to finish after a shutdown was asked for.
/// go-plugin hosts kill the process two seconds after `Shutdown`, so stay below.
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// Where the plugin listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// 127.0.0.1 on a free port, within `PLUGIN_MIN_PORT`..=`PLUGIN_MAX_PORT` when set.
    Tcp,
    /// A fresh unix socket in this directory (go-plugin's default on unix hosts).
    Unix {
        /// The directory the socket file is created in.
        dir: PathBuf,
    },
}

/// How [`serve`] runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Debug (reattach) mode: no magic cookie, no mTLS, print the
    /// `TF_REATTACH_PROVIDERS` value instead of the handshake line, and run
    /// until SIGINT/SIGTERM.
    pub debug: bool,
    /// The provider's addresses, the keys of the reattach JSON: one per
    /// registry host a CLI resolves the source to (Terraform's and OpenTofu's),
    /// so the printed value works with either.
    pub provider_addresses: Vec<String>,
    /// TCP on loopback or a unix socket.
    pub listen: Listen,
    /// How long in-flight RPCs may run on after a shutdown request.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    /// Options for `provider_addresses` taken from the process environment:
    /// a unix socket when the host sets `PLUGIN_UNIX_SOCKET_DIR`, else TCP.
    pub fn from_env(debug: bool, provider_addresses: &[&str]) -> Self {
        let listen = match std::env::var_os("PLUGIN_UNIX_SOCKET_DIR") {
            Some(dir) if !dir.is_empty() => Listen::Unix {
                dir: PathBuf::from(dir),
            },
            _ => Listen::Tcp,
        };
        Self {
            debug,
            provider_addresses: provider_addresses.iter().map(|a| a.to_string()).collect(),
            listen,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Why the plugin could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Started by hand rather than by Terraform.
    #[error(
        "This program is a Terraform provider plugin and is not meant to be run directly. \
         Terraform starts it by itself when a configuration uses the provider: run terraform \
         (init, plan, apply) instead. To run the provider on its own for debugging, start it \
         with --debug and export the TF_REATTACH_PROVIDERS value it prints in the shell that \
         runs terraform."
    )]
    NotLaunchedByHost,
    /// The host offered no protocol version this plugin speaks.
    #[error(
        "the plugin host offers plugin protocol version(s) {offered:?} (PLUGIN_PROTOCOL_VERSIONS), \
         but this provider speaks only protocol {PROTOCOL_VERSION}; use Terraform 1.0 or newer"
    )]
    UnsupportedProtocol {
        /// The raw `PLUGIN_PROTOCOL_VERSIONS` value.
        offered: String,
    },
    /// `PLUGIN_MIN_PORT` / `PLUGIN_MAX_PORT` are not a usable range.
    #[error("invalid plugin port range: {0}")]
    PortRange(String),
    /// No port of the range could be bound, or the socket could not be created.
    #[error("could not listen for the plugin host: {0}")]
    Listen(#[source] std::io::Error),
    /// `PLUGIN_CLIENT_CERT` is not a PEM certificate.
    #[error("PLUGIN_CLIENT_CERT does not hold a PEM certificate: {0}")]
    ClientCert(String),
    /// Generating the AutoMTLS certificate or building the TLS configuration failed.
    #[error("could not set up AutoMTLS: {0}")]
    Tls(String),
    /// Writing the handshake line failed.
    #[error("could not write the handshake line to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    /// Installing a signal handler failed.
    #[error("could not install a signal handler: {0}")]
    Signal(#[source] std::io::Error),
    /// The gRPC server stopped with an error.
    #[error("gRPC server failed: {0}")]
    Server(#[from] tonic::transport::Error),
}

/// Serves `routes` (the caller adds the `tfplugin6.Provider` service) plus
/// go-plugin's GRPCController, GRPCStdio, GRPCBroker and `grpc.health.v1`
/// (service `plugin` SERVING), following go-plugin's handshake.
///
/// Returns `Ok(())` once the host called `GRPCController.Shutdown` (or, in
/// debug mode, on SIGINT/SIGTERM) and in-flight RPCs finished or the grace
/// period ran out.
pub async fn serve(routes: Routes, opts: ServeOptions) -> Result<(), PluginError> {
    let protocol = if opts.debug {
        PROTOCOL_VERSION
    } else {
        handshake::check_magic_cookie(std::env::var(MAGIC_COOKIE_KEY).ok().as_deref())?;
        negotiate_protocol(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?
    };

    // Debug mode is reattached to without TLS, so AutoMTLS only applies under a host.
    let client_cert_pem = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !opts.debug && !pem.trim().is_empty() => Some(pem),
        _ => None,
    };
    let tls = match client_cert_pem {
        Some(pem) => Some(mtls::ServerTls::for_client_pem(&pem)?),
        None => None,
    };

    let listener = match &opts.listen {
        Listen::Tcp => {
            let range = PortRange::from_env_values(
                std::env::var("PLUGIN_MIN_PORT").ok().as_deref(),
                std::env::var("PLUGIN_MAX_PORT").ok().as_deref(),
            )?;
            listen::PluginListener::bind_tcp(range).await?
        }
        Listen::Unix { dir } => listen::PluginListener::bind_unix(dir)?,
    };
    let network = listener.network();
    let address = listener.address();

    let shutdown = CancellationToken::new();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status(HEALTH_SERVICE_NAME, tonic_health::ServingStatus::Serving)
        .await;
    let routes = routes
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(services::Controller::new(
            shutdown.clone(),
        )))
        .add_service(GrpcStdioServer::new(services::Stdio::new(shutdown.clone())))
        .add_service(GrpcBrokerServer::new(services::Broker::new(
            shutdown.clone(),
        )));

    let server_cert_der = tls.as_ref().map(|t| t.certificate_der().to_vec());
    let incoming = listen::incoming(listener, tls.map(|t| t.acceptor()), shutdown.clone());

    // Signals are handled before the handshake line tells anyone we are up:
    // a host's Ctrl-C right after it must not kill the plugin (seen under load).
    watch_signals(opts.debug, shutdown.clone())?;

    if opts.debug {
        let reattach = handshake::reattach_json(
            &opts.provider_addresses,
            protocol,
            std::process::id(),
            network,
            &address,
        );
        handshake::write_stdout(&handshake::debug_banner(&reattach))?;
    } else {
        let line =
            handshake::handshake_line(protocol, network, &address, server_cert_der.as_deref());
        handshake::write_stdout(&format!("{line}\n"))?;
    }
    tracing::debug!(
        network,
        address = %address,
        protocol,
        auto_mtls = server_cert_der.is_some(),
        debug = opts.debug,
        "serving plugin"
    );

    let server = tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = shutdown.cancelled() => {
            health_reporter
                .set_service_status(HEALTH_SERVICE_NAME, tonic_health::ServingStatus::NotServing)
                .await;
            match tokio::time::timeout(opts.shutdown_grace, &mut server).await {
                Ok(result) => result?,
                Err(_) => tracing::warn!(
                    grace_ms = opts.shutdown_grace.as_millis() as u64,
                    "connections still open after the shutdown grace period; exiting anyway"
                ),
            }
        }
    }
    tracing::debug!("plugin stopped");
    Ok(())
}

/// Under a host, SIGINT is ignored like go-plugin does: Ctrl-C in the terminal
/// reaches the whole process group, and Terraform itself decides how to stop
/// providers (StopProvider, then Shutdown). In debug mode SIGINT and SIGTERM stop
/// the server.
fn watch_signals(debug: bool, shutdown: CancellationToken) -> Result<(), PluginError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(PluginError::Signal)?;
    if debug {
        let mut terminate = signal(SignalKind::terminate()).map_err(PluginError::Signal)?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("interrupted, shutting down"),
                _ = terminate.recv() => tracing::info!("terminated, shutting down"),
                () = shutdown.cancelled() => return,
            }
            shutdown.cancel();
        });
    } else {
        tokio::spawn(async move {
            let mut count: u64 = 0;
            loop {
                tokio::select! {
                    received = interrupt.recv() => {
                        if received.is_none() {
                            return;
                        }
                        count += 1;
                        tracing::trace!(count, "plugin received an interrupt signal; ignoring it");
                    }
                    () = shutdown.cancelled() => return,
                }
            }
        });
    }
    Ok(())
}
