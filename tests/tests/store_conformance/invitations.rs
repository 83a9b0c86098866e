//! Invitations: who redeems one (a verified invited email, before it expires or is revoked), which
//! invitations conflict, revoking, and the order they are listed in.

use std::sync::Arc;

use chrono::Duration;
use integration_tests::backends::DynStore;
use shared::domain::Role;
use shared::store::{NewInvitation, Registration, RegistrationOutcome};

use crate::{
    assert_pending, conflicts, expect_conflict, expect_not_found, invitation, invite, join_as,
    outcomes_of, register, sign_in, t0,
};

conformance! {
    sequential: [
        a_verified_invited_email_joins_the_inviting_tenant_with_the_invited_role,
        an_unverified_email_does_not_redeem_an_invitation,
        an_expired_invitation_is_not_redeemed,
        a_revoked_invitation_is_not_redeemed,
        inviting_an_email_with_a_pending_invitation_is_a_conflict,
        an_email_can_be_invited_again_once_its_invitation_is_revoked,
        inviting_the_email_of_an_existing_member_is_a_conflict,
        revoking_an_invitation_twice_answers_not_found_the_second_time,
        an_accepted_invitation_cannot_be_revoked,
        invitations_come_newest_first,
    ],
    concurrent: [
        concurrent_invitations_of_one_email_make_exactly_one,
    ],
    on_closed_pool: [],
}

async fn a_verified_invited_email_joins_the_inviting_tenant_with_the_invited_role(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let invited = invite(&store, &owner, "Grace@Example.com", Role::Admin).await;
    let joined_at = t0() + Duration::hours(1);

    // Act
    let grace = Registration {
        email: Some("grace@example.com".into()),
        now: joined_at,
        ..sign_in("grace")
    };
    let joined = register(&store, grace).await;

    // Assert
    assert_eq!(joined.outcome, RegistrationOutcome::JoinedByInvitation);
    assert_eq!(joined.tenant.id, owner.tenant.id);
    assert_eq!(joined.license.id, owner.license.id);
    assert_eq!(joined.user.tenant_id, owner.tenant.id);
    assert_eq!(joined.user.role, Role::Admin);
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert_eq!(invitations.len(), 1);
    assert_eq!(invitations[0].id, invited.id);
    assert_eq!(invitations[0].accepted_at, Some(joined_at));
    assert_eq!(invitations[0].revoked_at, None);
    let members = store.members(owner.tenant.id).await.expect("members");
    assert_eq!(members.len(), 2);
}

async fn an_unverified_email_does_not_redeem_an_invitation(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let invited = invite(&store, &owner, "grace@example.com", Role::Admin).await;

    // Act
    let unverified = Registration {
        email: Some("grace@example.com".into()),
        email_verified: false,
        ..sign_in("mallory")
    };
    let registered = register(&store, unverified).await;

    // Assert
    assert_eq!(registered.outcome, RegistrationOutcome::CreatedTenant);
    assert_ne!(registered.tenant.id, owner.tenant.id);
    assert_eq!(registered.user.role, Role::Owner);
    assert_pending(&store, owner.tenant.id, invited.id).await;
}

async fn an_expired_invitation_is_not_redeemed(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let invited = invite(&store, &owner, "grace@example.com", Role::Member).await;

    // Act
    let late = Registration {
        email: Some("grace@example.com".into()),
        now: invited.expires_at + Duration::seconds(1),
        ..sign_in("grace")
    };
    let registered = register(&store, late).await;

    // Assert
    assert_eq!(registered.outcome, RegistrationOutcome::CreatedTenant);
    assert_ne!(registered.tenant.id, owner.tenant.id);
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert_eq!(invitations[0].accepted_at, None);
}

async fn a_revoked_invitation_is_not_redeemed(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let invited = invite(&store, &owner, "grace@example.com", Role::Member).await;
    store
        .revoke_invitation(owner.tenant.id, invited.id, t0())
        .await
        .expect("revoke");

    // Act
    let grace = Registration {
        email: Some("grace@example.com".into()),
        now: t0() + Duration::hours(1),
        ..sign_in("grace")
    };
    let registered = register(&store, grace).await;

    // Assert
    assert_eq!(registered.outcome, RegistrationOutcome::CreatedTenant);
    assert_ne!(registered.tenant.id, owner.tenant.id);
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert_eq!(invitations[0].accepted_at, None);
}

async fn inviting_an_email_with_a_pending_invitation_is_a_conflict(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Member).await;

    // Act
    let again = store
        .create_invitation(&invitation(&owner, "GRACE@example.com", Role::Admin))
        .await;

    // Assert
    expect_conflict(again);
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert_eq!(invitations.len(), 1);
}

async fn concurrent_invitations_of_one_email_make_exactly_one(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;

    // Act
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let new = invitation(&owner, "grace@example.com", Role::Member);
            tokio::spawn(async move { store.create_invitation(&new).await })
        })
        .collect();
    let outcomes = outcomes_of(handles).await;

    // Assert
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = conflicts(&outcomes);
    assert_eq!((created, refused), (1, 7), "{outcomes:?}");
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert_eq!(invitations.len(), 1);
}

async fn an_email_can_be_invited_again_once_its_invitation_is_revoked(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let first = invite(&store, &owner, "grace@example.com", Role::Member).await;
    store
        .revoke_invitation(owner.tenant.id, first.id, t0())
        .await
        .expect("revoke");

    // Act
    let second = store
        .create_invitation(&invitation(&owner, "grace@example.com", Role::Admin))
        .await
        .expect("a revoked invitation does not block a new one");

    // Assert
    assert_ne!(second.id, first.id);
    assert_eq!(second.role, Role::Admin);
    assert!(second.is_pending(t0()));
}

async fn inviting_the_email_of_an_existing_member_is_a_conflict(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;

    // Act
    let result = store
        .create_invitation(&invitation(&owner, "ADA@example.com", Role::Member))
        .await;

    // Assert
    expect_conflict(result);
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert!(invitations.is_empty());
}

async fn revoking_an_invitation_twice_answers_not_found_the_second_time(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let invited = invite(&store, &owner, "grace@example.com", Role::Member).await;
    let revoked_at = t0() + Duration::minutes(5);

    // Act
    let first = store
        .revoke_invitation(owner.tenant.id, invited.id, revoked_at)
        .await;
    let second = store
        .revoke_invitation(
            owner.tenant.id,
            invited.id,
            revoked_at + Duration::minutes(1),
        )
        .await;

    // Assert
    let first = first.expect("the first revocation succeeds");
    assert_eq!(first.id, invited.id);
    assert_eq!(first.revoked_at, Some(revoked_at));
    expect_not_found(second);
    let invitations = store.invitations(owner.tenant.id).await.expect("list");
    assert_eq!(
        invitations[0].revoked_at,
        Some(revoked_at),
        "the first time stays"
    );
}

async fn an_accepted_invitation_cannot_be_revoked(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let invited = invite(&store, &owner, "grace@example.com", Role::Member).await;
    join_as(&store, "grace", "grace@example.com").await;

    // Act
    let result = store
        .revoke_invitation(owner.tenant.id, invited.id, t0() + Duration::hours(2))
        .await;

    // Assert
    expect_not_found(result);
}

async fn invitations_come_newest_first(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let older = invite(&store, &owner, "grace@example.com", Role::Member).await;
    let newer = store
        .create_invitation(&NewInvitation {
            now: t0() + Duration::minutes(1),
            ..invitation(&owner, "alan@example.com", Role::Member)
        })
        .await
        .expect("invite");

    // Act
    let listed = store.invitations(owner.tenant.id).await.expect("list");

    // Assert
    assert_eq!(listed, vec![newer, older]);
}
