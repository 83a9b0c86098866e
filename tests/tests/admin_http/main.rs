//! Registration, membership, invitations and tenant isolation over real HTTP, on the embedded
//! default and on PostgreSQL + Redis.
//!
//! Each body is written once as `async fn name(backends: Backends)`;
//! `integration_tests::on_both_backends!` turns it into `<concern>::embedded::name` and
//! `<concern>::real::name`.
//!
//! Layout: this file holds the helpers every concern uses (`org`, `call`, `join`); then one module
//! per concern: `registration` (the first sign-in), `invitations`, `roles` (who may administer
//! whom, the last owner), `seats_of_members` (seats that go with a member or a lost machine),
//! `isolation` (no tenant reaches another's data) and `usage` (the usage report).
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo nextest run -p integration-tests --test admin_http`

use integration_tests::api::{Reply, register, send};
use integration_tests::server::TestServer;
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::api::{InvitationResponse, RegisterResponse, Role};
use uuid::Uuid;

mod hostile_claims;
mod invitations;
mod isolation;
mod registration;
mod roles;
mod seats_of_members;
mod usage;

/// A tenant as its owner sees it.
struct Org {
    owner: Person,
    tenant: Uuid,
    user: Uuid,
}

/// Registers a new owner at `domain`, which creates their organisation.
async fn org(server: &TestServer, domain: &str) -> Org {
    let owner = Person::at(domain);
    let reply = register(&server.url, &owner).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let registered: RegisterResponse = reply.json();
    Org {
        tenant: registered.tenant.id,
        user: registered.user.id,
        owner,
    }
}

/// Sends `method path` to `server` as `who`, with an optional JSON `body`.
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    who: &Person,
    body: Option<Value>,
) -> Reply {
    send(
        method,
        &format!("{}{path}", server.url),
        Some(&who.token()),
        body,
    )
    .await
}

/// Invites `person` into `org` with `role` and registers them; returns their user id.
async fn join(server: &TestServer, org: &Org, person: &Person, role: Role) -> Uuid {
    let invited = call(
        server,
        Method::POST,
        &format!("/api/v1/tenants/{}/invitations", org.tenant),
        &org.owner,
        Some(json!({"email": person.email, "role": role})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    invited.json::<InvitationResponse>();
    let joined = register(&server.url, person).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
    let joined: RegisterResponse = joined.json();
    assert_eq!(joined.tenant.id, org.tenant);
    assert!(joined.joined_by_invitation);
    joined.user.id
}
