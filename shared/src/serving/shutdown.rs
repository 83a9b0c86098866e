//! Serving until told to stop, then letting in-flight requests finish for a bounded time.
//!
//! Cloud Run sends SIGTERM and kills the instance 10 s later, so the drain is bounded by
//! `SHUTDOWN_GRACE_SECONDS` (8 s by default): a request still running then is abandoned rather than
//! letting the kill cut the log line that says so. Connections are served by hyper directly
//! ([`super::connections`]: timeouts, a cap, accept back-off) rather than by `axum::serve`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::connections::{self, AcceptErrors, CapWarning, ConnectionLimits};
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

/// Serves `app` on `listener` with the default [`ConnectionLimits`] until `shutdown` resolves, then
/// drains for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    serve_with(listener, app, ConnectionLimits::default(), shutdown, drain).await
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then stops accepting,
/// lets every connection finish its request in flight and close, and returns once they all have
/// or `drain` has passed, whichever is first.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let cap = limits.effective_cap(connections::fd_limit());
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            cap,
            "MAX_CONNECTIONS is above what the open-file limit allows; serving at most {cap}"
        );
    }
    let permits = Arc::new(Semaphore::new(cap));
    let (closing, closed) = watch::channel(false);
    let mut errors = AcceptErrors::new();
    let mut cap_warning = CapWarning::new();
    tokio::pin!(shutdown);
    loop {
        // The permit comes before the accept: at the cap, new connections wait in the kernel's
        // backlog instead of costing a descriptor each.
        if permits.available_permits() == 0 {
            cap_warning.reached(cap);
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, remote)) => {
                errors.accepted();
                tokio::spawn(connections::serve_connection(
                    stream,
                    remote,
                    app.clone(),
                    limits,
                    closed.clone(),
                    permit,
                ));
            }
            Err(e) => {
                drop(permit);
                let pause = errors.failed(&e);
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection holds a permit until it has closed: having them all back is "drained".
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(drain, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            drain_seconds = drain.as_secs(),
            "drain time over; abandoning requests still in flight"
        );
    }
    Ok(())
}

/// The address to listen on: `BIND_ADDRESS` when set; else loopback in emulator mode, where
/// unsigned ID tokens are accepted and nothing outside this machine may reach the service; else
/// every interface (Cloud Run sends requests to the container's external interface).
pub fn listen_address(config: &Config) -> SocketAddr {
    let ip = config
        .bind_address
        .unwrap_or(if config.identity_emulated() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
    SocketAddr::new(ip, config.port)
}

/// Binds [`listen_address`] and serves `app` until SIGTERM or Ctrl-C: the whole of a `main.rs`
/// after building state.
pub async fn serve_until_signal(config: &Config, app: Router) -> anyhow::Result<()> {
    serve_until_signal_keeping(config, app, Duration::ZERO).await?;
    Ok(())
}

/// As [`serve_until_signal`], but drains requests for `SHUTDOWN_GRACE_SECONDS` less `reserve`,
/// keeping that much of the grace for work after the drain; returns when the grace ends.
pub async fn serve_until_signal_keeping(
    config: &Config,
    app: Router,
    reserve: Duration,
) -> anyhow::Result<Instant> {
    connections::raise_fd_limit();
    let addr = listen_address(config);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    if config.bind_address.is_none() && config.identity_emulated() {
        tracing::info!(
            %addr,
            "emulator identity: listening on loopback only (set BIND_ADDRESS to listen elsewhere)"
        );
    }
    tracing::info!(%addr, "listening");
    let signalled = Arc::new(OnceLock::new());
    let signal = {
        let signalled = signalled.clone();
        async move {
            shutdown_signal().await;
            let _ = signalled.set(Instant::now());
        }
    };
    let grace = config.shutdown_grace;
    let drain = grace.saturating_sub(reserve);
    serve_with(
        listener,
        app,
        ConnectionLimits::from_config(config),
        signal,
        drain,
    )
    .await?;
    tracing::info!("stopped");
    Ok(signalled.get().copied().unwrap_or_else(Instant::now) + grace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .expect("configuration parses")
    }

    #[test]
    fn emulator_mode_listens_on_loopback_only() {
        let default = config(&[("PORT", "9000")]);
        let named_emulator = config(&[
            ("GOOGLE_CLOUD_PROJECT", "coditect-prod"),
            ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
        ]);

        assert!(default.identity_emulated() && named_emulator.identity_emulated());
        assert_eq!(
            listen_address(&default),
            "127.0.0.1:9000".parse().expect("an address")
        );
        assert!(listen_address(&named_emulator).ip().is_loopback());
    }

    #[test]
    fn real_identity_listens_on_every_interface() {
        let production = config(&[("GOOGLE_CLOUD_PROJECT", "coditect-prod")]);

        assert_eq!(
            listen_address(&production),
            "0.0.0.0:8080".parse().expect("an address")
        );
    }

    #[test]
    fn an_explicit_bind_address_wins_in_either_mode() {
        let emulated = config(&[("BIND_ADDRESS", "0.0.0.0")]);
        let production = config(&[
            ("GOOGLE_CLOUD_PROJECT", "coditect-prod"),
            ("BIND_ADDRESS", "::1"),
        ]);

        assert_eq!(
            listen_address(&emulated),
            "0.0.0.0:8080".parse().expect("an address")
        );
        assert_eq!(
            listen_address(&production),
            "[::1]:8080".parse().expect("an address")
        );
    }
}
