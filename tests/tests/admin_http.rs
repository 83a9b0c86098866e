//! Registration, membership, invitations and tenant isolation over real HTTP, on the embedded
//! default and on PostgreSQL + Redis.

use integration_tests::api::{Reply, acquire, heartbeat, machine, register, send};
use integration_tests::on_both_backends;
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A tenant as its owner sees it.
struct Org {
    owner: Person,
    tenant: String,
    user: String,
}

async fn org(server: &TestServer, domain: &str) -> Org {
    let owner = Person::at(domain);
    let reply = register(&server.url, &owner).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    Org {
        tenant: reply.body["tenant"]["id"]
            .as_str()
            .expect("tenant")
            .to_owned(),
        user: reply.body["user"]["id"].as_str().expect("user").to_owned(),
        owner,
    }
}

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
async fn join(server: &TestServer, org: &Org, person: &Person, role: &str) -> String {
    let invited = call(
        server,
        Method::POST,
        &format!("/api/v1/tenants/{}/invitations", org.tenant),
        &org.owner,
        Some(json!({"email": person.email, "role": role})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{:?}", invited.body);
    let joined = register(&server.url, person).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{:?}", joined.body);
    assert_eq!(joined.body["tenant"]["id"], org.tenant.as_str());
    assert_eq!(joined.body["joined_by_invitation"], true);
    joined.body["user"]["id"].as_str().expect("user").to_owned()
}

async fn a_first_sign_in_creates_an_organisation_with_a_free_license(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let owner = Person::at("acme.test");

    let first = register(&server.url, &owner).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(
        first.body["tenant"]["name"], "acme.test",
        "named after the email domain"
    );
    assert_eq!(first.body["user"]["role"], "OWNER");
    assert_eq!(first.body["license"]["tier"], "FREE");
    assert_eq!(first.body["license"]["max_seats"], 1);
    assert_eq!(first.body["license"]["expires_at"], Value::Null);

    let again = register(&server.url, &owner).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "registering again changes nothing"
    );
    assert_eq!(again.body["tenant"]["id"], first.body["tenant"]["id"]);

    acquire(&server.url, &owner, &machine(1), "laptop").await;
    let me = call(&server, Method::GET, "/api/v1/me", &owner, None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "OWNER");
    assert_eq!(me.body["license"]["max_seats"], 1);
    assert_eq!(me.body["seats_in_use"], 1);
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
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let unknown = send(
        Method::POST,
        &url,
        Some(&person.token()),
        Some(json!({"team": "x"})),
    )
    .await;
    assert_eq!(unknown.code(), "validation_failed");
    let named = send(
        Method::POST,
        &url,
        Some(&person.token()),
        Some(json!({"tenant_name": "Skunkworks"})),
    )
    .await;
    assert_eq!(named.body["tenant"]["name"], "Skunkworks");
    let anonymous = send(Method::POST, &url, None, None).await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
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
        "not_found",
        "a signed-in stranger has no membership yet"
    );
}

async fn an_invited_verified_email_joins_and_an_unverified_one_does_not(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let admin = Person::at("acme.test");
    join(&server, &acme, &admin, "ADMIN").await;

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
    let own = register(&server.url, &unverified).await;
    assert_ne!(
        own.body["tenant"]["id"],
        acme.tenant.as_str(),
        "an unverified email redeems nothing"
    );
    assert_eq!(own.body["user"]["role"], "OWNER");
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
        Some(json!({"email": guest.email, "role": "MEMBER"})),
    )
    .await;
    let id = created.body["invitation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
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
        (StatusCode::CONFLICT, "conflict")
    );
    let bad = call(
        &server,
        Method::POST,
        &path,
        &acme.owner,
        Some(json!({"email": "not-an-email"})),
    )
    .await;
    assert_eq!(bad.code(), "validation_failed");

    let listed = call(&server, Method::GET, &path, &acme.owner, None).await;
    assert_eq!(listed.body["invitations"][0]["pending"], true);
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
        "not_found"
    );

    let revoked_guest = register(&server.url, &guest).await;
    assert_ne!(
        revoked_guest.body["tenant"]["id"],
        acme.tenant.as_str(),
        "a revoked invitation is not redeemed"
    );
}

async fn members_cannot_administer_and_admins_cannot_touch_owners(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let member = Person::at("acme.test");
    let member_id = join(&server, &acme, &member, "MEMBER").await;
    let admin = Person::at("acme.test");
    join(&server, &acme, &admin, "ADMIN").await;
    let members = format!("/api/v1/tenants/{}/members", acme.tenant);

    let listed = call(&server, Method::GET, &members, &member, None).await;
    assert_eq!(
        listed.body["members"].as_array().expect("members").len(),
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
            Some(json!({"role": "MEMBER"})),
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
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path}"
        );
    }

    let demote_owner = call(
        &server,
        Method::PATCH,
        &format!("{members}/{}", acme.user),
        &admin,
        Some(json!({"role": "MEMBER"})),
    )
    .await;
    assert_eq!(
        demote_owner.code(),
        "forbidden",
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
        "forbidden",
        "an admin cannot remove the last owner"
    );
    let promote = call(
        &server,
        Method::PATCH,
        &format!("{members}/{member_id}"),
        &admin,
        Some(json!({"role": "OWNER"})),
    )
    .await;
    assert_eq!(promote.code(), "forbidden", "only owners make owners");
    let bad_role = call(
        &server,
        Method::PATCH,
        &format!("{members}/{member_id}"),
        &admin,
        Some(json!({"role": "KING"})),
    )
    .await;
    assert_eq!(bad_role.code(), "validation_failed");
    let to_admin = call(
        &server,
        Method::PATCH,
        &format!("{members}/{member_id}"),
        &admin,
        Some(json!({"role": "ADMIN"})),
    )
    .await;
    assert_eq!(to_admin.body["member"]["role"], "ADMIN");
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
        Some(json!({"role": "ADMIN"})),
    )
    .await;
    assert_eq!(
        (step_down.status, step_down.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let leave = call(
        &server,
        Method::DELETE,
        &format!("{members}/{}", acme.user),
        &acme.owner,
        None,
    )
    .await;
    assert_eq!(leave.code(), "conflict");

    let heir = Person::at("acme.test");
    join(&server, &acme, &heir, "OWNER").await;
    let step_down = call(
        &server,
        Method::PATCH,
        &format!("{members}/{}", acme.user),
        &acme.owner,
        Some(json!({"role": "ADMIN"})),
    )
    .await;
    assert_eq!(
        step_down.status,
        StatusCode::OK,
        "with another owner, stepping down is fine"
    );
}

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
    let b_invitation = invited.body["invitation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let b_session = acquire(&server.url, &b.owner, &machine(1), "b-box")
        .await
        .body["session_id"]
        .as_str()
        .expect("sid")
        .to_owned();
    let t = &b.tenant;

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/tenants/{t}/members"), None),
        (
            Method::PATCH,
            format!("/api/v1/tenants/{t}/members/{}", b.user),
            Some(json!({"role": "MEMBER"})),
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
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}: {:?}",
            reply.body
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
        b_view.body["sessions"].as_array().expect("sessions").len(),
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
    assert_eq!(b_members.body["members"][0]["role"], "OWNER");
}

on_both_backends!(
    a_first_sign_in_creates_an_organisation_with_a_free_license,
    a_named_organisation_and_bad_names,
    an_invited_verified_email_joins_and_an_unverified_one_does_not,
    invitations_can_be_listed_revoked_and_not_duplicated,
    members_cannot_administer_and_admins_cannot_touch_owners,
    the_last_owner_can_neither_leave_nor_step_down,
    removing_a_member_releases_their_seats,
    an_admin_can_end_a_session_of_a_machine_that_is_gone,
    no_tenant_can_see_or_change_another_tenants_data,
);
