//! Licenses: updating a tenant's plan, and what an unknown tenant's license reads and updates as.

use chrono::Duration;
use integration_tests::backends::DynStore;
use shared::domain::{LicenseStatus, Tier};
use shared::store::LicensePlan;
use uuid::Uuid;

use crate::{expect_not_found, register, sign_in, t0};

conformance! {
    sequential: [
        update_license_sets_the_plan_and_returns_it,
        license_of_tenant_finds_nothing_for_an_unknown_tenant,
        update_license_of_an_unknown_tenant_is_not_found,
    ],
    concurrent: [],
    on_closed_pool: [],
}

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
