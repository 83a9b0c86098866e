//! Invitations: redeemed only by a verified email, listed, revoked and never duplicated.

use integration_tests::api::register;
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{InvitationResponse, InvitationsResponse, ProblemCode, RegisterResponse, Role};

use crate::{call, join, org};

integration_tests::on_both_backends!(
    an_invited_verified_email_joins_and_an_unverified_one_does_not,
    invitations_can_be_listed_revoked_and_not_duplicated,
);

async fn an_invited_verified_email_joins_and_an_unverified_one_does_not(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let admin = Person::at("acme.test");
    join(&server, &acme, &admin, Role::Admin).await;

    let mut unverified = Person::at("acme.test");
    unverified.email_verified = false;
    let invited = call(
        &server,
        Method::POST,
        &format!("/api/v1/tenants/{}/invitations", acme.tenant),
        &admin,
        Some(json!({"email": unverified.email})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "an admin may invite");
    let own: RegisterResponse = register(&server.url, &unverified).await.json();
    assert_ne!(
        own.tenant.id, acme.tenant,
        "an unverified email redeems nothing"
    );
    assert_eq!(own.user.role, Role::Owner);
}

async fn invitations_can_be_listed_revoked_and_not_duplicated(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let path = format!("/api/v1/tenants/{}/invitations", acme.tenant);
    let guest = Person::at("acme.test");

    let created = call(
        &server,
        Method::POST,
        &path,
        &acme.owner,
        Some(json!({"email": guest.email, "role": Role::Member})),
    )
    .await;
    let id = created.json::<InvitationResponse>().invitation.id;
    let duplicate = call(
        &server,
        Method::POST,
        &path,
        &acme.owner,
        Some(json!({"email": guest.email})),
    )
    .await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, Some(ProblemCode::Conflict))
    );
    let bad = call(
        &server,
        Method::POST,
        &path,
        &acme.owner,
        Some(json!({"email": "not-an-email"})),
    )
    .await;
    assert_eq!(bad.code(), Some(ProblemCode::ValidationFailed));

    let listed = call(&server, Method::GET, &path, &acme.owner, None).await;
    let listed: InvitationsResponse = listed.json();
    // The duplicate and the invalid address created nothing: one invitation, the first.
    let [only] = &listed.invitations[..] else {
        panic!("one invitation: {:?}", listed.invitations);
    };
    assert_eq!((only.id, only.pending), (id, true));
    assert_eq!(
        call(
            &server,
            Method::DELETE,
            &format!("{path}/{id}"),
            &acme.owner,
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &server,
            Method::DELETE,
            &format!("{path}/{id}"),
            &acme.owner,
            None
        )
        .await
        .code(),
        Some(ProblemCode::NotFound)
    );

    let revoked_guest: RegisterResponse = register(&server.url, &guest).await.json();
    assert_ne!(
        revoked_guest.tenant.id, acme.tenant,
        "a revoked invitation is not redeemed"
    );
}
