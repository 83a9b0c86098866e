//! Who is signed in, in which organisation, with which license: what `login` prints when it is done
//! and `whoami` prints, from `GET /api/v1/me`. A first sign-in without an organisation registers
//! one (`POST /api/v1/register`), or joins the organisation that invited the verified email.

use coditect_license::ClientError;
use coditect_license::signin::StoredSignIn;
use serde::Serialize;
use shared::api::{LicenseStatus, MeResponse, ProblemCode, Role, Tier};
use uuid::Uuid;

use crate::context::Context;
use crate::output::Failure;

/// The signed-in person and their membership (`--json`).
#[derive(Debug, Serialize)]
pub(crate) struct Account {
    /// The deployment.
    pub(crate) server: String,
    /// How they signed in: `password`, `google.com`, `github.com` or `demo`.
    pub(crate) provider: String,
    /// Identity Platform's uid.
    pub(crate) uid: String,
    /// Their email, when the account has one.
    pub(crate) email: Option<String>,
    /// Their organisation; `None` before registering.
    pub(crate) organisation: Option<Organisation>,
    /// Whether this call registered them (created or joined the organisation).
    pub(crate) registered_now: bool,
}

/// The membership part of [`Account`].
#[derive(Debug, Serialize)]
pub(crate) struct Organisation {
    /// Stable id.
    pub(crate) id: Uuid,
    /// Display name.
    pub(crate) name: String,
    /// Their role in it.
    pub(crate) role: Role,
    /// The license's plan, when it holds one.
    pub(crate) tier: Option<Tier>,
    /// Whether the license grants seats.
    pub(crate) license_status: Option<LicenseStatus>,
    /// Seats held now.
    pub(crate) seats_in_use: u32,
    /// Seats allowed at once.
    pub(crate) max_seats: Option<u32>,
}

/// What `/me` says of `sign_in`'s person; registers first when `register` and they have no
/// organisation (`organisation` names a new one).
pub(crate) async fn look_up(
    context: &Context,
    sign_in: &StoredSignIn,
    register: bool,
    organisation: Option<&str>,
) -> Result<Account, Failure> {
    let token = sign_in.fresh_id_token().await?;
    let client = &context.client;
    let me = match client.me(&token).await {
        Ok(me) => Some(me),
        Err(e) if not_registered(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let (me, registered_now) = match me {
        Some(me) => (Some(me), false),
        None if register => {
            context
                .output
                .spin(
                    "Registering your organisation…",
                    client.register(&token, organisation),
                )
                .await?;
            (Some(client.me(&token).await?), true)
        }
        None => (None, false),
    };
    Ok(Account {
        server: context.files.url().to_owned(),
        provider: sign_in.provider().to_owned(),
        uid: sign_in.uid().to_owned(),
        email: sign_in.email().map(str::to_owned),
        organisation: me.map(organisation_of),
        registered_now,
    })
}

/// `/me` answers 404 `not_found` (the admin function) or 403 `no_license` before registering.
fn not_registered(error: &ClientError) -> bool {
    matches!(
        error.code(),
        Some(ProblemCode::NotFound | ProblemCode::NoLicense)
    )
}

fn organisation_of(me: MeResponse) -> Organisation {
    Organisation {
        id: me.tenant.id,
        name: me.tenant.name,
        role: me.role,
        tier: me.license.as_ref().map(|l| l.tier),
        license_status: me.license.as_ref().map(|l| l.status),
        max_seats: me.license.as_ref().map(|l| l.max_seats),
        seats_in_use: me.seats_in_use,
    }
}

impl Account {
    /// The account in sentences.
    pub(crate) fn sentences(&self) -> String {
        let who = self.email.as_deref().unwrap_or(&self.uid);
        let mut text = format!(
            "Signed in to {} as {who} (uid {}, {}).",
            self.server, self.uid, self.provider
        );
        match &self.organisation {
            None => text.push_str(
                "\nYou are not a member of an organisation yet: `coditect-license login` registers one.",
            ),
            Some(org) => {
                let verb = if self.registered_now { "Registered in" } else { "Organisation:" };
                text.push_str(&format!("\n{verb} {} as {}.", org.name, org.role));
                match (org.tier, org.max_seats) {
                    (Some(tier), Some(max)) => text.push_str(&format!(
                        "\nLicense: {tier}, {} of {max} seats in use{}.",
                        org.seats_in_use,
                        match org.license_status {
                            Some(LicenseStatus::Active) | None => String::new(),
                            Some(status) => format!(" ({status})"),
                        }
                    )),
                    _ => text.push_str("\nYour organisation holds no license."),
                }
            }
        }
        text
    }
}
