//! [`Loopback`]: the listener on `127.0.0.1:<free port>` that receives the browser's redirect at the
//! end of a Google or GitHub sign-in, and answers the browser a page saying it may be closed.
//!
//! A small hand-written HTTP/1.1 server: it reads one request head per connection (bounded in size
//! and time), answers, and closes; each connection is served on its own task, so a browser's idle
//! pre-connection never holds up the redirect. A redirect whose state nonce is not this sign-in's
//! is answered 400 and waited past. Against the Firebase Auth Emulator it also relays the
//! emulator's fake-provider page (`/emulator/auth/handler`) and serves the bridge page that moves
//! that page's answer from session storage into the redirect URL (see [`super::idp`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::errors::SignInError;
use super::idp::{EMULATOR_APP_NAME, IdpSignIn, Redirect};
use super::toolkit::IdentityToolkit;

/// Largest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// How long a connection may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener on the loopback interface for one browser sign-in.
pub struct Loopback {
    /// Bound to 127.0.0.1 only: nothing beyond this machine can answer the sign-in.
    listener: TcpListener,
    /// `http://127.0.0.1:<port>`.
    base: String,
    /// The emulator's page, when the sign-in is the emulator's.
    relay: Option<EmulatorRelay>,
}

/// The Firebase Auth Emulator's fake-provider page, served through the loopback.
#[derive(Clone)]
struct EmulatorRelay {
    /// `http://<FIREBASE_AUTH_EMULATOR_HOST>`.
    origin: String,
    /// Fetches the page.
    http: reqwest::Client,
    /// The session-storage key the page keeps its answer under.
    storage_key: String,
}

/// What a connection's handler shares.
struct Shared {
    /// The sign-in whose state a redirect must carry.
    flow: IdpSignIn,
    /// `http://127.0.0.1:<port>`, to rebuild the whole redirect URL.
    base: String,
    /// The emulator's page, when the sign-in is the emulator's.
    relay: Option<EmulatorRelay>,
    /// The redirect that answers the sign-in (its URL), or the provider's refusal.
    answers: mpsc::Sender<Result<String, SignInError>>,
}

impl Loopback {
    /// Listens on `127.0.0.1` on a port the system picks; against the emulator of `toolkit` it
    /// relays the emulator's page too.
    pub async fn bind(
        toolkit: &IdentityToolkit,
        http: &reqwest::Client,
    ) -> Result<Self, SignInError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            SignInError::Abandoned(format!(
                "could not listen on 127.0.0.1 for the browser: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| SignInError::Abandoned(e.to_string()))?
            .port();
        let relay = toolkit.emulator_origin().map(|origin| EmulatorRelay {
            origin: origin.to_owned(),
            http: http.clone(),
            storage_key: format!("{}:{EMULATOR_APP_NAME}", toolkit.config().api_key),
        });
        Ok(Self {
            listener,
            base: format!("http://127.0.0.1:{port}"),
            relay,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Waits for the redirect that answers `flow`, and returns its whole URL. Unbounded: the
    /// caller bounds it (and lets Ctrl-C cancel it).
    pub async fn receive(&self, flow: &IdpSignIn) -> Result<String, SignInError> {
        let (answers, mut answered) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            flow: flow.clone(),
            base: self.base.clone(),
            relay: self.relay.clone(),
            answers,
        });
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let shared = shared.clone();
                    tokio::spawn(async move { serve(stream, &shared).await });
                }
                Some(answer) = answered.recv() => return answer,
            }
        }
    }
}

/// Serves one connection: one request, one answer.
async fn serve(mut stream: TcpStream, shared: &Shared) {
    let Ok(Some(target)) = tokio::time::timeout(HEAD_TIMEOUT, read_target(&mut stream))
        .await
        .unwrap_or(Ok(None))
    else {
        return;
    };
    let (path, _) = target.split_once('?').unwrap_or((&target, ""));
    let (status, body) = match path {
        "/callback" => {
            let url = format!("{}{target}", shared.base);
            match shared.flow.check_redirect(&url) {
                Ok(Redirect::Answer) => {
                    let _ = shared.answers.send(Ok(url)).await;
                    (
                        200,
                        page(
                            "Signed in",
                            "You are signed in. You can close this tab and return to the terminal.",
                        ),
                    )
                }
                Ok(Redirect::Refused(why)) => {
                    let page = page("Not signed in", &why);
                    let _ = shared.answers.send(Err(SignInError::Abandoned(why))).await;
                    (200, page)
                }
                Ok(Redirect::Empty) => match &shared.relay {
                    Some(relay) => (200, bridge_page(&relay.storage_key)),
                    None => (
                        400,
                        page(
                            "No answer",
                            "The provider sent no answer. Start again with coditect-license login.",
                        ),
                    ),
                },
                Err(refused) => (400, page("Not this sign-in", &refused.to_string())),
            }
        }
        "/emulator/auth/handler" => match &shared.relay {
            Some(relay) => relay.page(&target).await,
            None => (404, page("Not found", "Nothing here.")),
        },
        _ => (404, page("Not found", "Nothing here.")),
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nreferrer-policy: no-referrer\r\nconnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request target of a `GET` (`/callback?state=…`); `None` for anything else.
async fn read_target(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() + read > MAX_HEAD {
            return Ok(None);
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or_default().split(' ');
    Ok(match (words.next(), words.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    })
}

impl EmulatorRelay {
    /// The emulator's page at `target`, fetched for the browser.
    async fn page(&self, target: &str) -> (u16, String) {
        let fetched = self
            .http
            .get(format!("{}{target}", self.origin))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match fetched {
            Ok(response) if response.status().is_success() => match response.text().await {
                Ok(html) => (200, html),
                Err(e) => (502, page("Emulator", &e.to_string())),
            },
            Ok(response) => (
                502,
                page(
                    "Emulator",
                    &format!("The emulator answered {}.", response.status()),
                ),
            ),
            Err(e) => (
                502,
                page("Emulator", &format!("The emulator is not answering: {e}")),
            ),
        }
    }
}

/// A small page with `title` and `message`.
fn page(title: &str, message: &str) -> String {
    format!(
        "<!doctype html><meta charset=\"utf-8\"><title>{} · coditect-license</title>\
         <body style=\"font-family: sans-serif; margin: 3em\"><h1>{}</h1><p>{}</p></body>",
        escape(title),
        escape(title),
        escape(message)
    )
}

/// The page that moves the emulator's answer from session storage into the redirect URL.
fn bridge_page(storage_key: &str) -> String {
    let key = serde_json::to_string(&format!("firebase:redirectEvent:{storage_key}"))
        .unwrap_or_default()
        .replace('<', "\\u003c");
    format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Signing in · coditect-license</title>\
         <body style=\"font-family: sans-serif; margin: 3em\"><p id=\"m\">Finishing the sign-in…</p>\
         <script>\
         var key = {key}; var event = sessionStorage.getItem(key);\
         if (!event) {{ document.getElementById('m').textContent = \
           'The sign-in page left no answer: start again with coditect-license login.'; }}\
         else {{ sessionStorage.removeItem(key);\
           var answer = new URL(JSON.parse(event).urlResponse);\
           location.replace(location.pathname + location.search + '&' + answer.search.slice(1)); }}\
         </script></body>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use shared::api::AuthConfigResponse;

    use super::*;

    /// A toolkit for an emulator nobody runs: starting a flow against it makes no call.
    fn toolkit() -> IdentityToolkit {
        IdentityToolkit::new(
            reqwest::Client::new(),
            AuthConfigResponse {
                project_id: "demo-coditect".into(),
                tenant_id: None,
                api_key: "fake-api-key".into(),
                identity_toolkit_url: "http://127.0.0.1:9/identitytoolkit.googleapis.com".into(),
                secure_token_url: "http://127.0.0.1:9/securetoken.googleapis.com".into(),
                providers: vec![],
                emulator: true,
                demo_sign_in: false,
            },
        )
    }

    /// `GET target` on `base`; the status line and the body.
    async fn get(base: &str, target: &str) -> String {
        let address = base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.expect("connects");
        let request = format!("GET {target} HTTP/1.1\r\nhost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("answered");
        answer
    }

    #[tokio::test]
    async fn the_listener_waits_past_strangers_and_returns_the_redirect_with_its_state() {
        let toolkit = toolkit();
        let loopback = Loopback::bind(&toolkit, &reqwest::Client::new())
            .await
            .expect("binds");
        let base = loopback.base_url().to_owned();
        let flow = IdpSignIn::start(&toolkit, "github.com", &base)
            .await
            .expect("starts");
        let state = flow
            .continue_uri()
            .split("state=")
            .nth(1)
            .expect("a state")
            .to_owned();
        let waiting = tokio::spawn(async move { loopback.receive(&flow).await });

        // A browser's idle pre-connection, and a redirect of some other sign-in.
        let idle = TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .expect("connects");
        let stranger = get(
            &base,
            "/callback?state=00000000000000000000000000000000&code=x",
        )
        .await;
        assert!(stranger.starts_with("HTTP/1.1 400"), "{stranger}");
        assert!(!waiting.is_finished(), "still waiting for its own redirect");

        let target = format!("/callback?state={state}&code=4%2Fabc");
        let answer = get(&base, &target).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("You can close this tab"), "{answer}");
        let received = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("answered in time")
            .expect("joins")
            .expect("the redirect");
        assert_eq!(received, format!("{base}{target}"));
        drop(idle);
    }

    #[tokio::test]
    async fn a_refusal_with_its_state_ends_the_wait_with_the_reason() {
        let toolkit = toolkit();
        let loopback = Loopback::bind(&toolkit, &reqwest::Client::new())
            .await
            .expect("binds");
        let base = loopback.base_url().to_owned();
        let flow = IdpSignIn::start(&toolkit, "google.com", &base)
            .await
            .expect("starts");
        let redirect = flow.continue_uri().trim_start_matches(&base).to_owned();
        let waiting = tokio::spawn(async move { loopback.receive(&flow).await });

        let page = get(&base, &format!("{redirect}&error=access_denied")).await;

        assert!(page.contains("access_denied"), "{page}");
        let refused = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("ends in time")
            .expect("joins")
            .expect_err("a refusal");
        assert!(refused.to_string().contains("access_denied"), "{refused}");
    }

    #[test]
    fn the_bridge_page_cannot_be_closed_by_its_key() {
        let page = bridge_page("</script><script>alert(1)</script>:coditect-license");
        assert!(!page.contains("</script><script>alert"), "{page}");
    }
}
