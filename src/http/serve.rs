//! The accept loop: HTTP/1.1 (and HTTP/2 with prior knowledge) over the listening socket,
//! each connection served by hyper with the routes as its service.
//!
//! poem's own `Server` boxes every connection behind two trait objects and
//! `tokio::io::split`, which hides the socket's vectored writes from hyper: hyper then copies
//! every answer's body into its header buffer before writing (60 KB for a seat map). Here
//! hyper gets the `TcpStream` itself and writes the head and the body with one `writev`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long the loop waits before accepting again when `accept` fails (out of file
/// descriptors, say), so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `ep` on `listener` until `stop` completes; then stops accepting, lets every
/// connection finish the request it is on (idle keep-alive connections close at once), and
/// drops those still open after `grace`.
pub async fn serve<E>(
    listener: TcpListener,
    ep: E,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let local = LocalAddr(listener.local_addr()?.into());
    let ep = Arc::new(ep);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().writev(true);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            // Finished connections are reaped as they end, so the set holds open ones only.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Each request through `ep`, as poem's server does.
                    let (ep, local, remote) = (ep.clone(), local.clone(), RemoteAddr(peer.into()));
                    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let ep = ep.clone();
                        let req = Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
                        async move {
                            Ok::<hyper::Response<_>, Infallible>(ep.get_response(req).await.into())
                        }
                    });
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let conn = graceful.watch(conn);
                    connections.spawn(async move {
                        if let Err(err) = conn.await {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace; closing them"
        );
    }
    connections.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use poem::EndpointExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::{Notify, oneshot};

    use super::*;

    /// Guards the test against hanging; none of these waits is a measurement.
    const BOUND: Duration = Duration::from_secs(10);

    /// The server on a port of its own with `ep`, and what stops it.
    async fn start<E>(
        ep: E,
        grace: Duration,
    ) -> (
        std::net::SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )
    where
        E: Endpoint<Output = Response> + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            ep,
            async {
                let _ = stopped.await;
            },
            grace,
        ));
        (addr, stop, server)
    }

    /// Everything the server sends until it closes the connection.
    async fn read_to_close(stream: &mut TcpStream) -> String {
        let mut answer = Vec::new();
        tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
            .await
            .expect("the server closes the connection")
            .unwrap();
        String::from_utf8(answer).unwrap()
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n";

    #[tokio::test]
    async fn a_request_in_flight_at_the_stop_is_answered_and_no_connection_is_accepted_after() {
        let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let ep = {
            let (started, release) = (started.clone(), release.clone());
            poem::endpoint::make(move |_| {
                let (started, release) = (started.clone(), release.clone());
                async move {
                    started.notify_one();
                    release.notified().await;
                    "finished"
                }
            })
            .map_to_response()
        };
        let (addr, stop, server) = start(ep, BOUND).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(GET).await.unwrap();
        started.notified().await;

        stop.send(()).unwrap();
        // The loop has stopped accepting once a new connection is refused.
        let refused = async {
            while TcpStream::connect(addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(BOUND, refused)
            .await
            .expect("the listener closes");
        release.notify_one();

        let answer = read_to_close(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("finished"), "{answer}");
        tokio::time::timeout(BOUND, server)
            .await
            .expect("the server ends when its last request is answered")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_at_the_stop() {
        let ep = poem::endpoint::make(|_| async { "hello" }).map_to_response();
        let (addr, stop, server) = start(ep, BOUND).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(GET).await.unwrap();
        let mut first = vec![0; 1024];
        let n = tokio::time::timeout(BOUND, client.read(&mut first))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&first[..n]).ends_with("hello"));

        stop.send(()).unwrap();
        assert_eq!(
            read_to_close(&mut client).await,
            "",
            "closed without a word"
        );
        tokio::time::timeout(BOUND, server)
            .await
            .expect("no connection holds the server past its stop")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_request_still_running_after_the_grace_is_dropped() {
        let started = Arc::new(Notify::new());
        let ep = {
            let started = started.clone();
            poem::endpoint::make(move |_| {
                let started = started.clone();
                async move {
                    started.notify_one();
                    std::future::pending::<()>().await;
                    "never"
                }
            })
            .map_to_response()
        };
        let (addr, stop, server) = start(ep, Duration::from_millis(100)).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(GET).await.unwrap();
        started.notified().await;

        stop.send(()).unwrap();
        tokio::time::timeout(BOUND, server)
            .await
            .expect("the grace ends the wait")
            .unwrap()
            .unwrap();
        assert_eq!(
            read_to_close(&mut client).await,
            "",
            "no answer, the connection dropped"
        );
    }
}
