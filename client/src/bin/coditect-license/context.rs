//! What every command works with: the service, the client's files for it, and the output mode.

use coditect_license::{Home, LicenseClient, ServerDir};

use crate::output::{Failure, Output};

/// One invocation's context.
pub(crate) struct Context {
    /// The service.
    pub(crate) client: LicenseClient,
    /// The client's files for this service.
    pub(crate) files: ServerDir,
    /// How to talk to the person or the script.
    pub(crate) output: Output,
}

impl Context {
    /// The context for the service at `server`.
    pub(crate) fn new(server: &str, output: Output) -> Result<Self, Failure> {
        let client = LicenseClient::new(server)?;
        let files = Home::locate()?.server(server);
        Ok(Self {
            client,
            files,
            output,
        })
    }
}
