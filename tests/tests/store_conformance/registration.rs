//! Registration: a first sign-in creates a tenant with its owner and a free license, a later one
//! finds them again, and racing first sign-ins (invited or not) make exactly one membership.

use std::sync::Arc;

use chrono::Duration;
use integration_tests::backends::DynStore;
use shared::domain::{LicenseStatus, Role, Tier};
use shared::store::{LicensePlan, Registration, RegistrationOutcome};

use crate::{invite, outcomes_of, register, sign_in, t0};

conformance! {
    sequential: [
        a_first_registration_creates_a_tenant_with_its_owner_and_a_free_license,
        a_second_registration_returns_the_same_tenant,
    ],
    concurrent: [
        concurrent_first_registrations_of_one_person_make_exactly_one_membership,
        concurrent_first_registrations_of_an_invited_person_join_once,
    ],
    on_closed_pool: [],
}

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
    let results: Vec<_> = outcomes_of(handles)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("every registration succeeds"))
        .collect();

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
    let results: Vec<_> = outcomes_of(handles)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("every registration succeeds"))
        .collect();

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
