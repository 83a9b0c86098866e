//! Members and roles: a tenant always keeps an owner (also when demotions or removals race),
//! removing a member deletes them, and members are listed oldest first.

use std::sync::Arc;

use chrono::Duration;
use integration_tests::backends::DynStore;
use shared::domain::Role;
use shared::store::{Registered, Registration};
use uuid::Uuid;

use crate::{
    conflicts, expect_conflict, expect_not_found, invite, join_as, outcomes_of, register, sign_in,
    t0,
};

conformance! {
    sequential: [
        the_last_owner_cannot_be_demoted,
        an_owner_can_be_demoted_when_another_owner_remains,
        the_last_owner_cannot_be_removed,
        removing_a_member_returns_them_and_they_are_gone,
        an_owner_can_be_removed_when_another_owner_remains,
        members_come_oldest_first,
    ],
    concurrent: [
        concurrent_demotions_of_two_owners_always_leave_one_owner,
        concurrent_removals_of_two_owners_always_leave_one_owner,
    ],
    on_closed_pool: [],
}

async fn the_last_owner_cannot_be_demoted(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;

    // Act
    let result = store
        .change_role(owner.tenant.id, owner.user.id, Role::Admin)
        .await;

    // Assert
    expect_conflict(result);
    assert_eq!(
        role_of(&store, &owner, owner.user.id).await,
        Some(Role::Owner)
    );
}

async fn an_owner_can_be_demoted_when_another_owner_remains(store: DynStore) {
    // Arrange
    let (owner, grace) = ada_with_grace_as(&store, Role::Owner).await;

    // Act
    let demoted = store
        .change_role(owner.tenant.id, owner.user.id, Role::Member)
        .await
        .expect("another owner remains");

    // Assert
    assert_eq!(demoted.id, owner.user.id);
    assert_eq!(demoted.role, Role::Member);
    assert_eq!(
        role_of(&store, &owner, owner.user.id).await,
        Some(Role::Member)
    );
    assert_eq!(
        role_of(&store, &owner, grace.user.id).await,
        Some(Role::Owner)
    );
}

async fn concurrent_demotions_of_two_owners_always_leave_one_owner(store: DynStore) {
    // Arrange
    let (owner, grace) = ada_with_grace_as(&store, Role::Owner).await;
    let tenant_id = owner.tenant.id;

    for round in 0..20 {
        for user_id in [owner.user.id, grace.user.id] {
            store
                .change_role(tenant_id, user_id, Role::Owner)
                .await
                .expect("promoting never breaks the rule");
        }

        // Act
        let demotions: Vec<_> = [owner.user.id, grace.user.id]
            .into_iter()
            .map(|user_id| {
                let store = Arc::clone(&store);
                tokio::spawn(
                    async move { store.change_role(tenant_id, user_id, Role::Member).await },
                )
            })
            .collect();
        let outcomes = outcomes_of(demotions).await;

        // Assert
        let owners = store
            .members(tenant_id)
            .await
            .expect("members")
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}: exactly one owner remains");
        let refused = conflicts(&outcomes);
        let succeeded = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!((succeeded, refused), (1, 1), "round {round}: {outcomes:?}");
    }
}

async fn concurrent_removals_of_two_owners_always_leave_one_owner(store: DynStore) {
    for round in 0..20 {
        // Arrange
        let first = register(&store, sign_in(&format!("first-{round}"))).await;
        let email = format!("second-{round}@example.com");
        invite(&store, &first, &email, Role::Owner).await;
        let second = join_as(&store, &format!("second-{round}"), &email).await;
        let tenant_id = first.tenant.id;

        // Act
        let removals: Vec<_> = [first.user.id, second.user.id]
            .into_iter()
            .map(|user_id| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.remove_member(tenant_id, user_id).await })
            })
            .collect();
        let outcomes = outcomes_of(removals).await;

        // Assert
        let members = store.members(tenant_id).await.expect("members");
        assert_eq!(members.len(), 1, "round {round}: one member remains");
        assert_eq!(
            members[0].role,
            Role::Owner,
            "round {round}: and owns the tenant"
        );
        let refused = conflicts(&outcomes);
        assert_eq!(refused, 1, "round {round}: {outcomes:?}");
    }
}

async fn the_last_owner_cannot_be_removed(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;

    // Act
    let result = store.remove_member(owner.tenant.id, owner.user.id).await;

    // Assert
    expect_conflict(result);
    assert_eq!(
        role_of(&store, &owner, owner.user.id).await,
        Some(Role::Owner)
    );
}

async fn removing_a_member_returns_them_and_they_are_gone(store: DynStore) {
    // Arrange
    let (owner, grace) = ada_with_grace_as(&store, Role::Member).await;

    // Act
    let removed = store
        .remove_member(owner.tenant.id, grace.user.id)
        .await
        .expect("a member can be removed");

    // Assert
    assert_eq!(removed, grace.user);
    assert_eq!(
        store
            .member(owner.tenant.id, grace.user.id)
            .await
            .expect("read"),
        None
    );
    assert_eq!(store.user_by_uid("grace").await.expect("read"), None);
    let members = store.members(owner.tenant.id).await.expect("members");
    assert_eq!(members, vec![owner.user.clone()]);
    expect_not_found(store.remove_member(owner.tenant.id, grace.user.id).await);
}

async fn an_owner_can_be_removed_when_another_owner_remains(store: DynStore) {
    // Arrange
    let (owner, grace) = ada_with_grace_as(&store, Role::Owner).await;

    // Act
    let removed = store
        .remove_member(owner.tenant.id, owner.user.id)
        .await
        .expect("another owner remains");

    // Assert
    assert_eq!(removed.id, owner.user.id);
    let members = store.members(owner.tenant.id).await.expect("members");
    assert_eq!(members, vec![grace.user.clone()]);
}

async fn members_come_oldest_first(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Member).await;
    invite(&store, &owner, "alan@example.com", Role::Member).await;
    let grace = join_as(&store, "grace", "grace@example.com").await;
    let alan = Registration {
        email: Some("alan@example.com".into()),
        now: t0() + Duration::hours(2),
        ..sign_in("alan")
    };
    let alan = register(&store, alan).await;

    // Act
    let members = store.members(owner.tenant.id).await.expect("members");

    // Assert
    assert_eq!(members, vec![owner.user, grace.user, alan.user]);
}

/// Ada's tenant, and Grace, who joined it by invitation as `role`.
async fn ada_with_grace_as(store: &DynStore, role: Role) -> (Registered, Registered) {
    let owner = register(store, sign_in("ada")).await;
    invite(store, &owner, "grace@example.com", role).await;
    let grace = join_as(store, "grace", "grace@example.com").await;
    (owner, grace)
}

/// The role of `user_id` in `of`'s tenant, `None` when they are not a member.
async fn role_of(store: &DynStore, of: &Registered, user_id: Uuid) -> Option<Role> {
    store
        .member(of.tenant.id, user_id)
        .await
        .expect("read member")
        .map(|m| m.role)
}
