//! Tenant isolation: tenant A's id with tenant B's rows reaches nothing, whether members,
//! invitations or the audit trail.

use integration_tests::backends::DynStore;
use shared::domain::{Invitation, Role, User};
use shared::store::Registered;

use crate::{
    assert_pending, audit_event, expect_not_found, invite, join_as, register, sign_in, t0,
};

conformance! {
    sequential: [
        a_tenant_cannot_read_another_tenants_members,
        a_tenant_cannot_change_or_remove_another_tenants_members,
        a_tenant_cannot_see_or_revoke_another_tenants_invitations,
        a_tenant_cannot_read_another_tenants_audit_trail,
    ],
    concurrent: [],
    on_closed_pool: [],
}

async fn a_tenant_cannot_read_another_tenants_members(store: DynStore) {
    // Arrange
    let world = two_tenants(&store).await;
    let a = world.a.tenant.id;

    // Act
    let member = store.member(a, world.b_member.id).await.expect("read");
    let owner = store.member(a, world.b.user.id).await.expect("read");
    let members = store.members(a).await.expect("members");

    // Assert
    assert_eq!(member, None);
    assert_eq!(owner, None);
    assert_eq!(members, vec![world.a.user.clone()]);
}

async fn a_tenant_cannot_change_or_remove_another_tenants_members(store: DynStore) {
    // Arrange
    let world = two_tenants(&store).await;
    let a = world.a.tenant.id;

    // Act
    let promoted = store.change_role(a, world.b_member.id, Role::Owner).await;
    let demoted = store.change_role(a, world.b.user.id, Role::Member).await;
    let removed = store.remove_member(a, world.b_member.id).await;

    // Assert
    expect_not_found(promoted);
    expect_not_found(demoted);
    expect_not_found(removed);
    let b_members = store.members(world.b.tenant.id).await.expect("members");
    assert_eq!(
        b_members,
        vec![world.b.user.clone(), world.b_member.clone()]
    );
}

async fn a_tenant_cannot_see_or_revoke_another_tenants_invitations(store: DynStore) {
    // Arrange
    let world = two_tenants(&store).await;
    let a = world.a.tenant.id;

    // Act
    let listed = store.invitations(a).await.expect("list");
    let revoked = store
        .revoke_invitation(a, world.b_invitation.id, t0())
        .await;

    // Assert
    assert!(listed.is_empty(), "{listed:?}");
    expect_not_found(revoked);
    assert_pending(&store, world.b.tenant.id, world.b_invitation.id).await;
}

async fn a_tenant_cannot_read_another_tenants_audit_trail(store: DynStore) {
    // Arrange
    let world = two_tenants(&store).await;

    // Act
    let trail = store
        .audit_events(world.a.tenant.id, 100)
        .await
        .expect("read");

    // Assert
    assert!(trail.is_empty(), "{trail:?}");
    let b_trail = store
        .audit_events(world.b.tenant.id, 100)
        .await
        .expect("read");
    assert_eq!(b_trail.len(), 1);
}

/// Two tenants, A (owner only) and B (owner, a member, a pending invitation, an audit event).
struct TwoTenants {
    /// Tenant A's registration.
    a: Registered,
    /// Tenant B's registration (its owner).
    b: Registered,
    /// A member of B who is not its owner.
    b_member: User,
    /// A pending invitation of B.
    b_invitation: Invitation,
}

/// Builds [`TwoTenants`].
async fn two_tenants(store: &DynStore) -> TwoTenants {
    let a = register(store, sign_in("ada")).await;
    let b = register(store, sign_in("bob")).await;
    invite(store, &b, "carol@example.com", Role::Member).await;
    let b_member = join_as(store, "carol", "carol@example.com").await.user;
    let b_invitation = invite(store, &b, "dave@example.com", Role::Admin).await;
    let event = audit_event(b.tenant.id, "seat.acquired", t0(), None);
    store.append_audit(&[event]).await.expect("append");
    TwoTenants {
        a,
        b,
        b_member,
        b_invitation,
    }
}
