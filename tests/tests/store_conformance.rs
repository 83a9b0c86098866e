//! The store conformance suite: one specification of the records, run against both backends.
//!
//! Each body is written once as `async fn name(store: DynStore)`; [`conformance!`] turns it into
//! `sqlite::name` (a fresh in-memory SQLite store) and `postgres::name` (a fresh schema on
//! `DATABASE_URL`, dropped afterwards even when the body panics; skipped when the variable is unset
//! outside CI). The bodies that race calls also run as `sqlite_file::name` on a SQLite file, where,
//! as in the embedded default, several connections really do race. A behaviour that differs
//! between the backends shows as one side failing.
//!
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo nextest run -p integration-tests
//! --test store_conformance`.
//!
//! Times are fixed whole seconds, not `Utc::now()`: PostgreSQL keeps microseconds and SQLite keeps
//! nanoseconds, so only such instants read back equal on both.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use integration_tests::backends::{DynStore, PgSchema, sqlite_store};
use shared::domain::{Invitation, LicenseStatus, NewAuditEvent, Role, Tier, User};
use shared::store::{
    LicensePlan, NewInvitation, Registered, Registration, RegistrationOutcome, SqliteStore,
    StoreError, StoreResult,
};
use uuid::Uuid;

/// Generates `mod sqlite` and `mod postgres`, one `#[tokio::test]` per body in each, and
/// `mod sqlite_file` for the `concurrent` bodies.
///
/// `sequential` bodies run on a current-thread runtime; `concurrent` ones race calls against each
/// other and get worker threads; `on_closed_pool` ones get a store whose pool was closed first.
macro_rules! conformance {
    (
        sequential: [$($seq:ident),* $(,)?],
        concurrent: [$($con:ident),* $(,)?],
        on_closed_pool: [$($closed:ident),* $(,)?] $(,)?
    ) => {
        conformance!(@backend sqlite, run_on_sqlite, [$($seq),*], [$($con),*], [$($closed),*]);
        conformance!(@backend postgres, run_on_postgres, [$($seq),*], [$($con),*], [$($closed),*]);
        // In memory, SQLite has one connection, so nothing races there; the embedded default is a
        // file with several connections, where the races are real.
        conformance!(@backend sqlite_file, run_on_sqlite_file, [], [$($con),*], []);
    };
    (@backend $backend:ident, $runner:ident,
        [$($seq:ident),*], [$($con:ident),*], [$($closed:ident),*]) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $seq() {
                    super::$runner(super::$seq, super::Pool::Open).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $con() {
                    super::$runner(super::$con, super::Pool::Open).await;
                }
            )*
            $(
                #[tokio::test]
                async fn $closed() {
                    super::$runner(super::$closed, super::Pool::Closed).await;
                }
            )*
        }
    };
}

conformance! {
    sequential: [
        a_first_registration_creates_a_tenant_with_its_owner_and_a_free_license,
        a_second_registration_returns_the_same_tenant,
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
        the_last_owner_cannot_be_demoted,
        an_owner_can_be_demoted_when_another_owner_remains,
        the_last_owner_cannot_be_removed,
        removing_a_member_returns_them_and_they_are_gone,
        an_owner_can_be_removed_when_another_owner_remains,
        members_come_oldest_first,
        update_license_sets_the_plan_and_returns_it,
        license_of_tenant_finds_nothing_for_an_unknown_tenant,
        update_license_of_an_unknown_tenant_is_not_found,
        a_tenant_cannot_read_another_tenants_members,
        a_tenant_cannot_change_or_remove_another_tenants_members,
        a_tenant_cannot_see_or_revoke_another_tenants_invitations,
        a_tenant_cannot_read_another_tenants_audit_trail,
        a_stripe_event_is_recorded_once,
        appending_the_same_deduplicated_batch_twice_inserts_it_once,
        a_batch_repeating_a_dedupe_key_keeps_one_row,
        audit_events_come_newest_first_limited_and_for_one_tenant_only,
        an_audit_event_reads_back_as_it_was_written,
        ping_answers_when_the_database_is_up,
    ],
    concurrent: [
        concurrent_first_registrations_of_one_person_make_exactly_one_membership,
        concurrent_first_registrations_of_an_invited_person_join_once,
        concurrent_invitations_of_one_email_make_exactly_one,
        concurrent_demotions_of_two_owners_always_leave_one_owner,
        concurrent_removals_of_two_owners_always_leave_one_owner,
    ],
    on_closed_pool: [
        a_closed_pool_answers_unavailable,
    ],
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

async fn a_first_registration_creates_a_tenant_with_its_owner_and_a_free_license(store: DynStore) {
    // Arrange
    let expires_at = t0() + Duration::days(30);
    let registration = Registration {
        email: Some("Ada@Example.com".into()),
        starting_plan: LicensePlan::free(Some(expires_at)),
        ..sign_in("ada")
    };

    // Act
    let registered = store.register(&registration).await.expect("register");

    // Assert
    assert_eq!(registered.outcome, RegistrationOutcome::CreatedTenant);
    assert_eq!(registered.tenant.name, "ada's team");
    assert_eq!(registered.tenant.created_at, t0());
    let user = &registered.user;
    assert_eq!(user.tenant_id, registered.tenant.id);
    assert_eq!(user.firebase_uid, "ada");
    assert_eq!(user.role, Role::Owner);
    assert_eq!(user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(user.display_name.as_deref(), Some("ada"));
    let license = &registered.license;
    assert_eq!(license.tenant_id, registered.tenant.id);
    assert_eq!(license.tier, Tier::Free);
    assert_eq!(license.max_seats, 1);
    assert_eq!(license.status, LicenseStatus::Active);
    assert_eq!(license.expires_at, Some(expires_at));
    assert!(license.features.0.is_empty());
    assert_eq!(
        store.user_by_uid("ada").await.expect("read"),
        Some(user.clone())
    );
    let tenant = store.tenant(registered.tenant.id).await.expect("read");
    assert_eq!(tenant, Some(registered.tenant.clone()));
    let stored = store
        .license_of_tenant(registered.tenant.id)
        .await
        .expect("read");
    assert_eq!(stored, Some(license.clone()));
}

async fn a_second_registration_returns_the_same_tenant(store: DynStore) {
    // Arrange
    let first = register(&store, sign_in("ada")).await;

    // Act
    let again = Registration {
        tenant_name: "another name".into(),
        now: t0() + Duration::hours(1),
        ..sign_in("ada")
    };
    let second = register(&store, again).await;

    // Assert
    assert_eq!(second.outcome, RegistrationOutcome::Existing);
    assert_eq!(second.tenant, first.tenant);
    assert_eq!(second.user, first.user);
    assert_eq!(second.license, first.license);
}

async fn concurrent_first_registrations_of_one_person_make_exactly_one_membership(store: DynStore) {
    // Arrange
    let attempts = 8;

    // Act
    let handles: Vec<_> = (0..attempts)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.register(&sign_in("ada")).await })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(
            handle
                .await
                .expect("task")
                .expect("every registration succeeds"),
        );
    }

    // Assert
    let created = results
        .iter()
        .filter(|r| r.outcome == RegistrationOutcome::CreatedTenant)
        .count();
    assert_eq!(created, 1, "exactly one call creates the tenant");
    let first = &results[0];
    for r in &results {
        assert_eq!(r.user.id, first.user.id);
        assert_eq!(r.tenant.id, first.tenant.id);
        assert_eq!(r.license.id, first.license.id);
    }
    let members = store.members(first.tenant.id).await.expect("members");
    assert_eq!(members, vec![first.user.clone()]);
}

async fn concurrent_first_registrations_of_an_invited_person_join_once(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Admin).await;
    let grace = Registration {
        now: t0() + Duration::hours(1),
        ..sign_in("grace")
    };

    // Act
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (store, grace) = (Arc::clone(&store), grace.clone());
            tokio::spawn(async move { store.register(&grace).await })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(
            handle
                .await
                .expect("task")
                .expect("every registration succeeds"),
        );
    }

    // Assert
    let joined = results
        .iter()
        .filter(|r| r.outcome == RegistrationOutcome::JoinedByInvitation)
        .count();
    assert_eq!(joined, 1, "exactly one call redeems the invitation");
    for r in &results {
        assert_eq!(r.tenant.id, owner.tenant.id);
        assert_eq!(r.user.id, results[0].user.id);
        assert_eq!(r.user.role, Role::Admin);
    }
    let members = store.members(owner.tenant.id).await.expect("members");
    assert_eq!(members.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Invitations
// ---------------------------------------------------------------------------------------------

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
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.expect("task"));
    }

    // Assert
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
        .count();
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

// ---------------------------------------------------------------------------------------------
// Members and roles
// ---------------------------------------------------------------------------------------------

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
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Owner).await;
    let grace = join_as(&store, "grace", "grace@example.com").await;

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
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Owner).await;
    let grace = join_as(&store, "grace", "grace@example.com").await;
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
        let mut outcomes = Vec::new();
        for demotion in demotions {
            outcomes.push(demotion.await.expect("task"));
        }

        // Assert
        let owners = store
            .members(tenant_id)
            .await
            .expect("members")
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}: exactly one owner remains");
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
            .count();
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
        let mut outcomes = Vec::new();
        for removal in removals {
            outcomes.push(removal.await.expect("task"));
        }

        // Assert
        let members = store.members(tenant_id).await.expect("members");
        assert_eq!(members.len(), 1, "round {round}: one member remains");
        assert_eq!(
            members[0].role,
            Role::Owner,
            "round {round}: and owns the tenant"
        );
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
            .count();
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
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Member).await;
    let grace = join_as(&store, "grace", "grace@example.com").await;

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
    let owner = register(&store, sign_in("ada")).await;
    invite(&store, &owner, "grace@example.com", Role::Owner).await;
    let grace = join_as(&store, "grace", "grace@example.com").await;

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

// ---------------------------------------------------------------------------------------------
// Licenses
// ---------------------------------------------------------------------------------------------

async fn update_license_sets_the_plan_and_returns_it(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let plan = LicensePlan {
        tier: Tier::Team,
        max_seats: 10,
        features: vec!["offline".into(), "audit-export".into()],
        status: LicenseStatus::Suspended,
        expires_at: Some(t0() + Duration::days(365)),
    };
    let changed_at = t0() + Duration::days(1);

    // Act
    let updated = store
        .update_license(owner.tenant.id, &plan, changed_at)
        .await
        .expect("update");

    // Assert
    assert_eq!(updated.id, owner.license.id);
    assert_eq!(updated.tenant_id, owner.tenant.id);
    assert_eq!(updated.tier, plan.tier);
    assert_eq!(updated.max_seats, plan.max_seats);
    assert_eq!(updated.features.0, plan.features);
    assert_eq!(updated.status, plan.status);
    assert_eq!(updated.expires_at, plan.expires_at);
    assert_eq!(updated.updated_at, changed_at);
    let stored = store
        .license_of_tenant(owner.tenant.id)
        .await
        .expect("read");
    assert_eq!(stored, Some(updated));
}

async fn license_of_tenant_finds_nothing_for_an_unknown_tenant(store: DynStore) {
    // Arrange
    register(&store, sign_in("ada")).await;

    // Act
    let license = store.license_of_tenant(Uuid::now_v7()).await;

    // Assert
    assert_eq!(license.expect("read"), None);
}

async fn update_license_of_an_unknown_tenant_is_not_found(store: DynStore) {
    // Arrange
    let plan = LicensePlan::free(None);

    // Act
    let result = store.update_license(Uuid::now_v7(), &plan, t0()).await;

    // Assert
    expect_not_found(result);
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation: tenant A's id with tenant B's rows reaches nothing.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Stripe events and the audit trail
// ---------------------------------------------------------------------------------------------

async fn a_stripe_event_is_recorded_once(store: DynStore) {
    // Arrange
    let kind = "customer.subscription.updated";

    // Act
    let first = store
        .record_stripe_event("evt_1", kind, t0())
        .await
        .expect("record");
    let retried = store
        .record_stripe_event("evt_1", kind, t0())
        .await
        .expect("record");
    let other = store
        .record_stripe_event("evt_2", kind, t0())
        .await
        .expect("record");

    // Assert
    assert!(first, "a new event is recorded");
    assert!(!retried, "a retried delivery is recognised");
    assert!(other, "another event is new");
}

async fn appending_the_same_deduplicated_batch_twice_inserts_it_once(store: DynStore) {
    // Arrange
    let tenant = Uuid::now_v7();
    let batch = vec![
        audit_event(tenant, "seat.expired", t0(), Some("expired:s1")),
        audit_event(tenant, "seat.expired", t0(), Some("expired:s2")),
        audit_event(tenant, "seat.acquired", t0(), None),
    ];

    // Act
    let first = store.append_audit(&batch).await.expect("append");
    let second = store.append_audit(&batch).await.expect("append");

    // Assert
    assert_eq!(first, 3);
    assert_eq!(
        second, 1,
        "only the event without a dedupe key is new again"
    );
    let trail = store.audit_events(tenant, 100).await.expect("read");
    assert_eq!(trail.len(), 4);
}

async fn a_batch_repeating_a_dedupe_key_keeps_one_row(store: DynStore) {
    // Arrange
    let tenant = Uuid::now_v7();
    let batch = vec![
        audit_event(tenant, "seat.expired", t0(), Some("expired:s1")),
        audit_event(tenant, "seat.expired", t0(), Some("expired:s1")),
    ];

    // Act
    let inserted = store.append_audit(&batch).await.expect("append");

    // Assert
    assert_eq!(inserted, 1);
    assert_eq!(
        store.audit_events(tenant, 100).await.expect("read").len(),
        1
    );
}

async fn audit_events_come_newest_first_limited_and_for_one_tenant_only(store: DynStore) {
    // Arrange
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for n in 1..=5 {
        let at = t0() + Duration::minutes(n);
        let events = [
            audit_event(a, &format!("a.{n}"), at, None),
            audit_event(b, &format!("b.{n}"), at, None),
        ];
        store.append_audit(&events).await.expect("append");
    }

    // Act
    let trail = store.audit_events(a, 3).await.expect("read");

    // Assert
    let actions: Vec<_> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["a.5", "a.4", "a.3"]);
    assert!(trail.iter().all(|e| e.tenant_id == a));
}

async fn an_audit_event_reads_back_as_it_was_written(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let event = NewAuditEvent {
        tenant_id: owner.tenant.id,
        license_id: Some(owner.license.id),
        user_id: Some(owner.user.id),
        action: "seat.denied".into(),
        session_id: Some("session-1".into()),
        detail: serde_json::json!({"reason": "seats_exhausted", "hostname": "build-7"}),
        request_id: Some("req-42".into()),
        occurred_at: t0() + Duration::seconds(30),
        dedupe_key: None,
    };
    store
        .append_audit(std::slice::from_ref(&event))
        .await
        .expect("append");

    // Act
    let trail = store.audit_events(owner.tenant.id, 10).await.expect("read");

    // Assert
    assert_eq!(trail.len(), 1);
    let read = &trail[0];
    assert_eq!(read.tenant_id, event.tenant_id);
    assert_eq!(read.license_id, event.license_id);
    assert_eq!(read.user_id, event.user_id);
    assert_eq!(read.action, event.action);
    assert_eq!(read.session_id, event.session_id);
    assert_eq!(read.detail.0, event.detail);
    assert_eq!(read.request_id, event.request_id);
    assert_eq!(read.occurred_at, event.occurred_at);
}

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

async fn ping_answers_when_the_database_is_up(store: DynStore) {
    // Act
    let result = store.ping().await;

    // Assert
    result.expect("a fresh store answers");
}

async fn a_closed_pool_answers_unavailable(store: DynStore) {
    // Act
    let ping = store.ping().await;
    let registration = store.register(&sign_in("ada")).await;
    let members = store.members(Uuid::now_v7()).await;
    let audit = store
        .append_audit(&[audit_event(Uuid::now_v7(), "seat.acquired", t0(), None)])
        .await;

    // Assert
    expect_unavailable(ping);
    expect_unavailable(registration);
    expect_unavailable(members);
    expect_unavailable(audit);
}

// ---------------------------------------------------------------------------------------------
// Running a body on each backend
// ---------------------------------------------------------------------------------------------

/// The state the pool is handed to a body in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// Working.
    Open,
    /// Closed before the body runs, as a database that went away looks to the store.
    Closed,
}

/// Runs `body` on a fresh in-memory SQLite store.
async fn run_on_sqlite<F, Fut>(body: F, pool: Pool)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = sqlite_store().await;
    if pool == Pool::Closed {
        store.pool().close().await;
    }
    body(Arc::new(store)).await;
}

/// Runs `body` on a fresh SQLite file (the embedded default's set-up) and deletes it afterwards,
/// also when `body` panics.
async fn run_on_sqlite_file<F, Fut>(body: F, pool: Pool)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = std::env::temp_dir().join(format!("store-conformance-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let url = format!("sqlite://{}", dir.join("records.sqlite").display());
    let store = SqliteStore::connect(&url).await.expect("SQLite file opens");
    store.migrate().await.expect("migrations apply");
    if pool == Pool::Closed {
        store.pool().close().await;
    }
    let outcome = tokio::spawn(body(Arc::new(store.clone()))).await;
    store.pool().close().await;
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
    resume_panic(outcome);
}

/// Runs `body` on a fresh PostgreSQL schema and drops the schema afterwards, also when `body`
/// panics; does nothing when `DATABASE_URL` is unset outside CI.
async fn run_on_postgres<F, Fut>(body: F, pool: Pool)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let store = schema.store.clone();
    if pool == Pool::Closed {
        store.pool().close().await;
    }
    // A spawned task catches the body's panic, so the schema is dropped before it propagates.
    let outcome = tokio::spawn(body(Arc::new(store))).await;
    schema.drop().await;
    resume_panic(outcome);
}

/// Re-raises the panic of a spawned test body, once its backend is cleaned up.
fn resume_panic(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("the test body did not finish: {err}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The instant every test starts at: whole seconds, so it reads back equal on both backends.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0)
        .single()
        .expect("a valid, unambiguous instant")
}

/// A first sign-in of `uid` with a verified `<uid>@example.com`, at [`t0`].
fn sign_in(uid: &str) -> Registration {
    Registration {
        firebase_uid: uid.into(),
        email: Some(format!("{uid}@example.com")),
        email_verified: true,
        display_name: Some(uid.into()),
        tenant_name: format!("{uid}'s team"),
        starting_plan: LicensePlan::free(None),
        now: t0(),
    }
}

/// Registers, failing the test when the store refuses.
async fn register(store: &DynStore, registration: Registration) -> Registered {
    store.register(&registration).await.expect("register")
}

/// Signs `uid` in with a verified `email` an hour after [`t0`], expecting to join by invitation.
async fn join_as(store: &DynStore, uid: &str, email: &str) -> Registered {
    let registration = Registration {
        email: Some(email.into()),
        now: t0() + Duration::hours(1),
        ..sign_in(uid)
    };
    let joined = register(store, registration).await;
    assert_eq!(joined.outcome, RegistrationOutcome::JoinedByInvitation);
    joined
}

/// An invitation from `by`'s tenant, made at [`t0`] and valid for a week.
fn invitation(by: &Registered, email: &str, role: Role) -> NewInvitation {
    NewInvitation {
        tenant_id: by.tenant.id,
        email: email.into(),
        role,
        invited_by: by.user.id,
        now: t0(),
        expires_at: t0() + Duration::days(7),
    }
}

/// Creates [`invitation`], failing the test when the store refuses.
async fn invite(store: &DynStore, by: &Registered, email: &str, role: Role) -> Invitation {
    store
        .create_invitation(&invitation(by, email, role))
        .await
        .expect("invite")
}

/// An audit event for `tenant_id` with no license, user, session or request.
fn audit_event(
    tenant_id: Uuid,
    action: &str,
    occurred_at: DateTime<Utc>,
    dedupe_key: Option<&str>,
) -> NewAuditEvent {
    NewAuditEvent {
        tenant_id,
        license_id: None,
        user_id: None,
        action: action.into(),
        session_id: None,
        detail: serde_json::json!({}),
        request_id: None,
        occurred_at,
        dedupe_key: dedupe_key.map(Into::into),
    }
}

/// The role of `user_id` in `of`'s tenant, `None` when they are not a member.
async fn role_of(store: &DynStore, of: &Registered, user_id: Uuid) -> Option<Role> {
    store
        .member(of.tenant.id, user_id)
        .await
        .expect("read member")
        .map(|m| m.role)
}

/// Asserts that the tenant's invitation `invitation_id` is still pending.
async fn assert_pending(store: &DynStore, tenant_id: Uuid, invitation_id: Uuid) {
    let invitations = store.invitations(tenant_id).await.expect("list");
    let invitation = invitations.iter().find(|i| i.id == invitation_id);
    assert!(
        invitation.is_some_and(|i| i.is_pending(t0())),
        "{invitation_id} is not pending in {invitations:?}"
    );
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

/// Asserts a conflict and returns its message.
#[track_caller]
fn expect_conflict<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Err(StoreError::Conflict(why)) => why,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Asserts a not-found.
#[track_caller]
fn expect_not_found<T: std::fmt::Debug>(result: StoreResult<T>) {
    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "expected not found, got {result:?}"
    );
}

/// Asserts that the database was reported unavailable.
#[track_caller]
fn expect_unavailable<T: std::fmt::Debug>(result: StoreResult<T>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected unavailable, got {result:?}"
    );
}
