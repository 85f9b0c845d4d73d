//! The listening socket (loopback TCP in a port range, or a unix socket) and the
//! stream of accepted connections handed to tonic, with the TLS handshake done
//! per connection in its own task so one slow client cannot hold up the others.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::os::unix::fs::PermissionsExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use tokio::net::{TcpListener, UnixListener};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::handshake::PortRange;
use super::PluginError;

/// A client that has not finished its TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener, TCP or unix.
pub(crate) enum PluginListener {
    Tcp(TcpListener),
    Unix {
        listener: UnixListener,
        path: SocketFile,
    },
}

/// Removes the unix socket file when the listener goes away.
pub(crate) struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl PluginListener {
    /// Binds 127.0.0.1 on any free port, or on the first free port of the range.
    pub(crate) async fn bind_tcp(range: PortRange) -> Result<Self, PluginError> {
        let ports = match range {
            PortRange::Any => 0..=0,
            PortRange::Within(r) => r,
        };
        let mut last_error = None;
        for port in ports {
            match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
                Ok(listener) => return Ok(Self::Tcp(listener)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(PluginError::Listen(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::AddrNotAvailable, "empty port range")
        })))
    }

    /// Creates a fresh socket `pluginNNNNNNNNNN` in `dir`, readable only by this user.
    pub(crate) fn bind_unix(dir: &Path) -> Result<Self, PluginError> {
        let mut last_error = None;
        for _ in 0..16 {
            let path = dir.join(format!("plugin{:010}", rand::random::<u32>()));
            match UnixListener::bind(&path) {
                Ok(listener) => {
                    // The umask decides the mode bind() gives; only this user
                    // (Terraform) may connect. AutoMTLS still guards the
                    // instant between bind and chmod.
                    let owner_only = std::fs::Permissions::from_mode(0o600);
                    if let Err(e) = std::fs::set_permissions(&path, owner_only) {
                        let _ = std::fs::remove_file(&path);
                        return Err(PluginError::Listen(e));
                    }
                    return Ok(Self::Unix {
                        listener,
                        path: SocketFile(path),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
                Err(e) => return Err(PluginError::Listen(e)),
            }
        }
        Err(PluginError::Listen(
            last_error.unwrap_or_else(|| io::Error::other("no free socket name")),
        ))
    }

    /// The network name go-plugin uses in the handshake line.
    pub(crate) fn network(&self) -> &'static str {
        match self {
            Self::Tcp(_) => "tcp",
            Self::Unix { .. } => "unix",
        }
    }

    /// The address the host dials.
    pub(crate) fn address(&self) -> String {
        match self {
            Self::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "127.0.0.1:0".to_string()),
            Self::Unix { path, .. } => path.0.display().to_string(),
        }
    }

    async fn accept(&self) -> io::Result<Box<dyn Duplex>> {
        match self {
            Self::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                // gRPC messages are small request/response pairs: send at once.
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            Self::Unix { listener, .. } => {
                let (stream, _) = listener.accept().await?;
                Ok(Box::new(stream))
            }
        }
    }
}

/// Anything a connection can be carried over.
trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

/// One accepted connection (plain or TLS, TCP or unix) as tonic sees it.
pub(crate) struct PluginConnection(Box<dyn Duplex>);

impl tonic::transport::server::Connected for PluginConnection {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for PluginConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PluginConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Accepts connections until `shutdown`, runs the TLS handshake when `tls` is
/// set, and yields the ready connections. The listener closes with the loop.
pub(crate) fn incoming(
    listener: PluginListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> ReceiverStream<io::Result<PluginConnection>> {
    let (ready_tx, ready_rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    // Avoid a hot loop when the process is out of file descriptors.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let ready_tx = ready_tx.clone();
            match &tls {
                None => {
                    if ready_tx.send(Ok(PluginConnection(stream))).await.is_err() {
                        break;
                    }
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let handshake = acceptor.accept(stream);
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                            Ok(Ok(tls_stream)) => {
                                let conn = PluginConnection(Box::new(tls_stream));
                                let _ = ready_tx.send(Ok(conn)).await;
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "refused a connection: TLS handshake failed")
                            }
                            Err(_) => {
                                tracing::warn!("refused a connection: TLS handshake timed out")
                            }
                        }
                    });
                }
            }
        }
        tracing::trace!("stopped accepting connections");
        drop(listener);
    });
    ReceiverStream::new(ready_rx)
}
