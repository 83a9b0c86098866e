//! Roles: members cannot administer, admins cannot touch owners, the last owner stays.

use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{MemberResponse, MembersResponse, ProblemCode, Role};

use crate::{call, join, org};

integration_tests::on_both_backends!(
    members_cannot_administer_and_admins_cannot_touch_owners,
    the_last_owner_can_neither_leave_nor_step_down,
);

async fn members_cannot_administer_and_admins_cannot_touch_owners(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let member = Person::at("acme.test");
    let member_id = join(&server, &acme, &member, Role::Member).await;
    let admin = Person::at("acme.test");
    join(&server, &acme, &admin, Role::Admin).await;
    let members = format!("/api/v1/tenants/{}/members", acme.tenant);

    let listed = call(&server, Method::GET, &members, &member, None).await;
    assert_eq!(
        listed.json::<MembersResponse>().members.len(),
        3,
        "members see colleagues"
    );
    for (method, path, body) in [
        (
            Method::POST,
            format!("/api/v1/tenants/{}/invitations", acme.tenant),
            Some(json!({"email": "x@acme.test"})),
        ),
        (
            Method::PATCH,
            format!("{members}/{}", acme.user),
            Some(json!({"role": Role::Member})),
        ),
        (Method::DELETE, format!("{members}/{}", acme.user), None),
        (
            Method::GET,
            format!("/api/v1/tenants/{}/sessions", acme.tenant),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/tenants/{}/audit", acme.tenant),
            None,
        ),
    ] {
        let refused = call(&server, method.clone(), &path, &member, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, Some(ProblemCode::Forbidden)),
            "{method} {path}"
        );
    }

    let demote_owner = call(
        &server,
        Method::PATCH,
        &format!("{members}/{}", acme.user),
        &admin,
        Some(json!({"role": Role::Member})),
    )
    .await;
    assert_eq!(
        demote_owner.code(),
        Some(ProblemCode::Forbidden),
        "an admin cannot demote an owner"
    );
    let remove_owner = call(
        &server,
        Method::DELETE,
        &format!("{members}/{}", acme.user),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        remove_owner.code(),
        Some(ProblemCode::Forbidden),
        "an admin cannot remove the last owner"
    );
    let promote = call(
        &server,
        Method::PATCH,
        &format!("{members}/{member_id}"),
        &admin,
        Some(json!({"role": Role::Owner})),
    )
    .await;
    assert_eq!(
        promote.code(),
        Some(ProblemCode::Forbidden),
        "only owners make owners"
    );
    let bad_role = call(
        &server,
        Method::PATCH,
        &format!("{members}/{member_id}"),
        &admin,
        Some(json!({"role": "KING"})),
    )
    .await;
    assert_eq!(bad_role.code(), Some(ProblemCode::ValidationFailed));
    let to_admin = call(
        &server,
        Method::PATCH,
        &format!("{members}/{member_id}"),
        &admin,
        Some(json!({"role": Role::Admin})),
    )
    .await;
    assert_eq!(to_admin.json::<MemberResponse>().member.role, Role::Admin);
}

async fn the_last_owner_can_neither_leave_nor_step_down(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let members = format!("/api/v1/tenants/{}/members", acme.tenant);
    let step_down = call(
        &server,
        Method::PATCH,
        &format!("{members}/{}", acme.user),
        &acme.owner,
        Some(json!({"role": Role::Admin})),
    )
    .await;
    assert_eq!(
        (step_down.status, step_down.code()),
        (StatusCode::CONFLICT, Some(ProblemCode::Conflict))
    );
    let leave = call(
        &server,
        Method::DELETE,
        &format!("{members}/{}", acme.user),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(leave.code(), Some(ProblemCode::Conflict));

    let heir = Person::at("acme.test");
    join(&server, &acme, &heir, Role::Owner).await;
    let step_down = call(
        &server,
        Method::PATCH,
        &format!("{members}/{}", acme.user),
        &acme.owner,
        Some(json!({"role": Role::Admin})),
    )
    .await;
    assert_eq!(
        step_down.status,
        StatusCode::OK,
        "with another owner, stepping down is fine"
    );
}
