//! Tenant isolation: no tenant can see or change another tenant's members, invitations or seats.

use integration_tests::api::{acquire, machine};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{
    AcquireResponse, InvitationResponse, InvitationsResponse, MembersResponse, ProblemCode, Role,
    SessionsResponse,
};

use crate::{call, org};

integration_tests::on_both_backends!(no_tenant_can_see_or_change_another_tenants_data,);

async fn no_tenant_can_see_or_change_another_tenants_data(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let a = org(&server, "a.test").await;
    let b = org(&server, "b.test").await;
    let b_guest = Person::at("b.test");
    let invited = call(
        &server,
        Method::POST,
        &format!("/api/v1/tenants/{}/invitations", b.tenant),
        &b.owner,
        Some(json!({"email": b_guest.email})),
    )
    .await;
    let b_invitation = invited.json::<InvitationResponse>().invitation.id;
    let b_session = acquire(&server.url, &b.owner, &machine(1), "b-box")
        .await
        .json::<AcquireResponse>()
        .session_id;
    let t = &b.tenant;

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/tenants/{t}/members"), None),
        (
            Method::PATCH,
            format!("/api/v1/tenants/{t}/members/{}", b.user),
            Some(json!({"role": Role::Member})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/{t}/members/{}", b.user),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/tenants/{t}/invitations"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/tenants/{t}/invitations"),
            Some(json!({"email": "spy@a.test"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/{t}/invitations/{b_invitation}"),
            None,
        ),
        (Method::GET, format!("/api/v1/tenants/{t}/license"), None),
        (Method::GET, format!("/api/v1/tenants/{t}/sessions"), None),
        (
            Method::DELETE,
            format!("/api/v1/tenants/{t}/sessions/{b_session}"),
            None,
        ),
        (Method::GET, format!("/api/v1/tenants/{t}/audit"), None),
        // B's ids under A's own tenant path reach nothing either.
        (
            Method::DELETE,
            format!("/api/v1/tenants/{}/members/{}", a.tenant, b.user),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/{}/invitations/{b_invitation}", a.tenant),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenants/{}/sessions/{b_session}", a.tenant),
            None,
        ),
    ] {
        let reply = call(&server, method.clone(), &path, &a.owner, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, Some(ProblemCode::NotFound)),
            "{method} {path}: {}",
            reply.text
        );
    }
    let b_view = call(
        &server,
        Method::GET,
        &format!("/api/v1/tenants/{t}/sessions"),
        &b.owner,
        None,
    )
    .await;
    assert_eq!(
        b_view.json::<SessionsResponse>().sessions.len(),
        1,
        "B's seat survived A's attempts"
    );
    let b_members = call(
        &server,
        Method::GET,
        &format!("/api/v1/tenants/{t}/members"),
        &b.owner,
        None,
    )
    .await;
    assert_eq!(
        b_members.json::<MembersResponse>().members[0].role,
        Role::Owner
    );
    let b_invitations = call(
        &server,
        Method::GET,
        &format!("/api/v1/tenants/{t}/invitations"),
        &b.owner,
        None,
    )
    .await;
    let b_invitations = b_invitations.json::<InvitationsResponse>().invitations;
    assert_eq!(
        b_invitations
            .iter()
            .map(|i| (i.id, i.pending))
            .collect::<Vec<_>>(),
        vec![(b_invitation, true)],
        "B's invitation is still pending after A's attempts to revoke it"
    );
}
