//! Seats an administrator frees: those of a removed member, and that of a machine that is gone.

use integration_tests::api::{acquire, heartbeat, machine};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use shared::api::{AcquireResponse, ProblemCode, Role, SessionsResponse};

use crate::{call, join, org};

integration_tests::on_both_backends!(
    removing_a_member_releases_their_seats,
    an_admin_can_end_a_session_of_a_machine_that_is_gone,
);

async fn removing_a_member_releases_their_seats(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[("LICENSE_CACHE_SECONDS", "0")]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let leaver = Person::at("acme.test");
    let leaver_id = join(&server, &acme, &leaver, Role::Member).await;
    let granted = acquire(&server.url, &leaver, &machine(1), "leaver-box").await;
    let lease = granted.json::<AcquireResponse>().lease;

    let sessions = call(
        &server,
        Method::GET,
        &format!("/api/v1/tenants/{}/sessions", acme.tenant),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(
        sessions.json::<SessionsResponse>().sessions[0].hostname,
        "leaver-box"
    );
    let removed = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/tenants/{}/members/{leaver_id}", acme.tenant),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);

    assert_eq!(
        heartbeat(&server.url, &lease).await.code(),
        Some(ProblemCode::SessionNotFound),
        "the seat went with the member"
    );
    assert_eq!(
        acquire(&server.url, &acme.owner, &machine(2), "owner-box")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        acquire(&server.url, &leaver, &machine(1), "leaver-box")
            .await
            .code(),
        Some(ProblemCode::NoLicense)
    );
}

async fn an_admin_can_end_a_session_of_a_machine_that_is_gone(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let granted = acquire(&server.url, &acme.owner, &machine(1), "stolen-laptop").await;
    let session = granted.json::<AcquireResponse>().session_id;
    let path = format!("/api/v1/tenants/{}/sessions/{session}", acme.tenant);
    assert_eq!(
        call(&server, Method::DELETE, &path, &acme.owner, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&server, Method::DELETE, &path, &acme.owner, None)
            .await
            .code(),
        Some(ProblemCode::NotFound)
    );
    assert_eq!(
        acquire(&server.url, &acme.owner, &machine(2), "new-laptop")
            .await
            .status,
        StatusCode::OK
    );
}
