//! The first sign-in: it creates an organisation on the free plan, named or after the domain.

use integration_tests::api::{acquire, machine, register, send};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{MeResponse, ProblemCode, RegisterResponse, Role, Tier};

use crate::call;

integration_tests::on_both_backends!(
    a_first_sign_in_creates_an_organisation_with_a_free_license,
    a_named_organisation_and_bad_names,
);

async fn a_first_sign_in_creates_an_organisation_with_a_free_license(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let owner = Person::at("acme.test");

    let first = register(&server.url, &owner).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let first: RegisterResponse = first.json();
    assert_eq!(
        first.tenant.name, "acme.test",
        "named after the email domain"
    );
    assert_eq!(first.user.role, Role::Owner);
    assert_eq!(first.license.tier, Tier::Free);
    assert_eq!(first.license.max_seats, 1);
    assert_eq!(first.license.expires_at, None);

    let again = register(&server.url, &owner).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "registering again changes nothing"
    );
    assert_eq!(again.json::<RegisterResponse>().tenant.id, first.tenant.id);

    acquire(&server.url, &owner, &machine(1), "laptop").await;
    let me = call(&server, Method::GET, "/api/v1/me", &owner, None).await;
    assert_eq!(me.status, StatusCode::OK);
    let me: MeResponse = me.json();
    assert_eq!(me.role, Role::Owner);
    assert_eq!(me.license.map(|license| license.max_seats), Some(1));
    assert_eq!(me.seats_in_use, 1);
}

async fn a_named_organisation_and_bad_names(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let person = Person::at("gmail.test");
    let url = format!("{}/api/v1/register", server.url);
    let blank = send(
        Method::POST,
        &url,
        Some(&person.token()),
        Some(json!({"tenant_name": "  "})),
    )
    .await;
    assert_eq!(
        (blank.status, blank.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(ProblemCode::ValidationFailed)
        )
    );
    let unknown = send(
        Method::POST,
        &url,
        Some(&person.token()),
        Some(json!({"team": "x"})),
    )
    .await;
    assert_eq!(unknown.code(), Some(ProblemCode::ValidationFailed));
    let named = send(
        Method::POST,
        &url,
        Some(&person.token()),
        Some(json!({"tenant_name": "Skunkworks"})),
    )
    .await;
    assert_eq!(named.json::<RegisterResponse>().tenant.name, "Skunkworks");
    let anonymous = send(Method::POST, &url, None, None).await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, Some(ProblemCode::InvalidToken))
    );
    let me = send(
        Method::GET,
        &format!("{}/api/v1/me", server.url),
        Some(&Person::at("x.test").token()),
        None,
    )
    .await;
    assert_eq!(
        me.code(),
        Some(ProblemCode::NotFound),
        "a signed-in stranger has no membership yet"
    );
}
