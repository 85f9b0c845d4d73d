//! go-plugin's own gRPC services: the controller the host uses to stop the
//! plugin, the stdio stream, and the broker. Streams end when the plugin shuts
//! down so a graceful stop is not held up by them.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::plugin::grpc_broker_server::GrpcBroker;
use crate::proto::plugin::grpc_controller_server::GrpcController;
use crate::proto::plugin::grpc_stdio_server::GrpcStdio;
use crate::proto::plugin::{ConnInfo, Empty, StdioData};

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A stream that sends nothing and ends once `done` is cancelled.
fn silent_until<T: Send + 'static>(done: CancellationToken) -> ResponseStream<T> {
    Box::pin(futures::stream::once(done.cancelled_owned()).filter_map(|()| async { None }))
}

/// `GRPCController`: `Shutdown` asks the server to stop.
pub(crate) struct Controller {
    shutdown: CancellationToken,
}

impl Controller {
    pub(crate) fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("the plugin host asked the plugin to shut down");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `GRPCStdio`: the provider writes its logs to stderr itself, which the host
/// reads, so the stream stays open and silent until shutdown.
pub(crate) struct Stdio {
    shutdown: CancellationToken,
}

impl Stdio {
    pub(crate) fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = ResponseStream<StdioData>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(silent_until(self.shutdown.child_token())))
    }
}

/// `GRPCBroker`: this provider never asks for extra connections; the stream is
/// accepted, whatever the host sends is logged and ignored, and it ends when the
/// host closes its side or the plugin shuts down.
pub(crate) struct Broker {
    shutdown: CancellationToken,
}

impl Broker {
    pub(crate) fn new(shutdown: CancellationToken) -> Self {
        Self { shutdown }
    }
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = ResponseStream<ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut from_host = request.into_inner();
        let done = self.shutdown.child_token();
        let reader_done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = reader_done.cancelled() => break,
                    message = from_host.message() => match message {
                        Ok(Some(info)) => tracing::debug!(
                            service_id = info.service_id,
                            "ignoring a broker connection offer: this plugin uses no broker"
                        ),
                        Ok(None) => break,
                        Err(status) => {
                            tracing::debug!(error = %status, "broker stream ended");
                            break;
                        }
                    },
                }
            }
            reader_done.cancel();
        });
        Ok(Response::new(silent_until(done)))
    }
}
