//! This machine's place in the license's fair queue while [`super::Seat::acquire`] waits, and
//! leaving it when the wait is given up ([`finish_leaving`]).

use std::time::Duration;

use shared::api::LeaveRequest;
use tokio::task::JoinHandle;

use super::SeatOptions;

/// Where this machine waits in the queue while [`Seat::acquire`] runs: dropped while it still
/// waits (acquire given up, as on Ctrl-C), it leaves the queue in the background so the machines
/// behind it move up at once; [`finish_leaving`] waits for that.
pub(super) struct QueuePlace {
    options: SeatOptions,
    pub(super) ticket: Option<String>,
}

/// Leaves started by a dropped [`QueuePlace`], not yet finished.
static LEAVING: std::sync::Mutex<Vec<JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

impl QueuePlace {
    pub(super) fn new(options: &SeatOptions) -> Self {
        Self {
            options: options.clone(),
            ticket: None,
        }
    }

    /// The ticket claimed a seat: nothing to leave.
    pub(super) fn claimed(&mut self) {
        self.ticket = None;
    }

    /// Leaves the queue now (bounded by the client's timeout); errors are the ticket's TTL's to
    /// clean up.
    pub(super) async fn leave_now(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            leave_queue(&self.options, &ticket).await;
        }
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let options = self.options.clone();
        let leaving = runtime.spawn(async move { leave_queue(&options, &ticket).await });
        LEAVING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(leaving);
    }
}

async fn leave_queue(options: &SeatOptions, ticket: &str) {
    let left = async {
        let token = options.tokens.id_token().await?;
        let request = LeaveRequest {
            fingerprint: options.fingerprint.clone(),
            ticket: ticket.to_owned(),
        };
        options.client.leave(&token, &request).await
    };
    // A leave that fails or times out changes nothing a retry should chase: the ticket lapses
    // by itself within its TTL.
    let _ = tokio::time::timeout(options.release_bound, left).await;
}

/// Waits (at most `bound`) for the queue leaves of acquires given up while they waited, so a
/// process exiting right after a Ctrl-C still gives its place up.
pub async fn finish_leaving(bound: Duration) {
    let leaving: Vec<JoinHandle<()>> = std::mem::take(
        &mut *LEAVING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let _ = tokio::time::timeout(bound, futures_join(leaving)).await;
}

async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        let _ = handle.await;
    }
}
