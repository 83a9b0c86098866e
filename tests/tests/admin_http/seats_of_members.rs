//! Seats an administrator frees: those of a removed member, and that of a machine that is gone.

use integration_tests::api::{acquire, heartbeat, machine};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};

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
    let leaver_id = join(&server, &acme, &leaver, "MEMBER").await;
    let granted = acquire(&server.url, &leaver, &machine(1), "leaver-box").await;
    let lease = granted.body["lease"].as_str().expect("lease").to_owned();

    let sessions = call(
        &server,
        Method::GET,
        &format!("/api/v1/tenants/{}/sessions", acme.tenant),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(sessions.body["sessions"][0]["hostname"], "leaver-box");
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
        "session_not_found",
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
        "no_license"
    );
}

async fn an_admin_can_end_a_session_of_a_machine_that_is_gone(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let granted = acquire(&server.url, &acme.owner, &machine(1), "stolen-laptop").await;
    let session = granted.body["session_id"]
        .as_str()
        .expect("session")
        .to_owned();
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
        "not_found"
    );
    assert_eq!(
        acquire(&server.url, &acme.owner, &machine(2), "new-laptop")
            .await
            .status,
        StatusCode::OK
    );
}
