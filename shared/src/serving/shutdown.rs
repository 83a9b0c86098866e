//! Serving until told to stop, then letting in-flight requests finish for a bounded time.
//!
//! Cloud Run sends SIGTERM and kills the instance 10 s later, so the drain is bounded by
//! `SHUTDOWN_GRACE_SECONDS` (8 s by default): a request still running then is abandoned rather than
//! letting the kill cut the log line that says so.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Config;

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; draining"),
        () = terminate => tracing::info!("SIGTERM received; draining"),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let stopping = std::sync::Arc::new(Notify::new());
    let notify = stopping.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        notify.notify_one();
    });
    let deadline = async {
        stopping.notified().await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(drain_seconds = drain.as_secs(), "drain time over; abandoning requests still in flight");
            Ok(())
        }
    }
}

/// Binds `0.0.0.0:$PORT` and serves `app` until SIGTERM or Ctrl-C: the whole of a `main.rs` after
/// building state.
pub async fn serve_until_signal(config: &Config, app: Router) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "listening");
    serve(listener, app, shutdown_signal(), config.shutdown_grace).await?;
    tracing::info!("stopped");
    Ok(())
}
