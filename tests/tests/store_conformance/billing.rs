//! Stripe webhook events applied to licenses: once per event id (also when 20 deliveries race),
//! in Stripe's order whatever the delivery order, audited once per change, and recorded when they
//! name no tenant.

use std::sync::Arc;

use chrono::Duration;
use integration_tests::backends::DynStore;
use shared::api::WebhookOutcome;
use shared::billing::{BillingChange, BillingEvent, SubscriptionTerms};
use shared::domain::{LicenseStatus, Tier};
use shared::store::StoreError;
use uuid::Uuid;

use crate::{outcomes_of, register, sign_in, t0};

conformance! {
    sequential: [
        a_subscription_event_applies_once_and_its_redelivery_is_a_duplicate,
        an_older_subscription_event_is_stale_and_changes_nothing,
        an_event_naming_no_tenant_is_recorded_as_unmatched,
        checkout_links_the_customer_so_invoices_find_the_tenant,
        a_customer_of_another_tenant_is_never_applied_across_tenants,
    ],
    concurrent: [
        twenty_concurrent_deliveries_of_one_event_apply_it_exactly_once,
    ],
    on_closed_pool: [
        a_billing_event_on_a_closed_pool_is_unavailable,
    ],
}

/// `customer.subscription.updated` for `tenant` at `t0 + seconds`: PRO with `seats`.
fn subscription(id: &str, tenant: Uuid, seconds: i64, seats: i32) -> BillingEvent {
    BillingEvent {
        id: id.into(),
        kind: "customer.subscription.updated".into(),
        created: t0() + Duration::seconds(seconds),
        change: BillingChange::Subscription {
            tenant_id: Some(tenant),
            customer_id: Some(format!("cus_{}", tenant.simple())),
            subscription_id: format!("sub_{}", tenant.simple()),
            terms: SubscriptionTerms::Granted {
                tier: Tier::Pro,
                seats,
            },
        },
    }
}

async fn plan_changes(store: &DynStore, tenant: Uuid) -> usize {
    store
        .audit_events(tenant, 100)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.action == "billing.plan_changed")
        .count()
}

async fn a_subscription_event_applies_once_and_its_redelivery_is_a_duplicate(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let event = subscription("evt_1", owner.tenant.id, 10, 5);

    // Act
    let first = store
        .apply_billing_event(&event, t0())
        .await
        .expect("apply");
    let again = store
        .apply_billing_event(&event, t0())
        .await
        .expect("apply");

    // Assert
    assert_eq!(first, WebhookOutcome::Changed);
    assert_eq!(again, WebhookOutcome::Duplicate);
    let license = store
        .license_of_tenant(owner.tenant.id)
        .await
        .expect("read")
        .expect("a license");
    assert_eq!((license.tier, license.max_seats), (Tier::Pro, 5));
    assert_eq!(license.status, LicenseStatus::Active);
    assert_eq!(
        license.stripe_customer_id,
        Some(format!("cus_{}", owner.tenant.id.simple()))
    );
    let audit = store
        .audit_events(owner.tenant.id, 10)
        .await
        .expect("audit");
    assert_eq!(plan_changes(&store, owner.tenant.id).await, 1);
    let detail = &audit[0].detail.0;
    assert_eq!(detail["stripe_event_id"], "evt_1");
    assert_eq!(detail["before"]["tier"], "FREE");
    assert_eq!(detail["after"]["max_seats"], 5);
}

async fn an_older_subscription_event_is_stale_and_changes_nothing(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let tenant = owner.tenant.id;
    store
        .apply_billing_event(&subscription("evt_new", tenant, 20, 10), t0())
        .await
        .expect("apply");

    // Act
    let older = store
        .apply_billing_event(&subscription("evt_old", tenant, 10, 5), t0())
        .await
        .expect("apply");

    // Assert
    assert_eq!(older, WebhookOutcome::Stale);
    let license = store.license_of_tenant(tenant).await.expect("read");
    assert_eq!(license.expect("a license").max_seats, 10);
    assert_eq!(plan_changes(&store, tenant).await, 1);
}

async fn an_event_naming_no_tenant_is_recorded_as_unmatched(store: DynStore) {
    // Arrange
    let nobody = subscription("evt_x", Uuid::now_v7(), 10, 5);
    let unknown_customer = BillingEvent {
        id: "evt_y".into(),
        kind: "invoice.payment_failed".into(),
        created: t0(),
        change: BillingChange::Invoice {
            customer_id: Some("cus_unknown".into()),
            paid: false,
            grace_until: t0() + Duration::days(7),
        },
    };

    // Act
    let first = store
        .apply_billing_event(&nobody, t0())
        .await
        .expect("apply");
    let other = store
        .apply_billing_event(&unknown_customer, t0())
        .await
        .expect("apply");
    let again = store
        .apply_billing_event(&nobody, t0())
        .await
        .expect("apply");

    // Assert
    assert_eq!(first, WebhookOutcome::Unmatched);
    assert_eq!(other, WebhookOutcome::Unmatched);
    assert_eq!(again, WebhookOutcome::Duplicate, "it was recorded");
}

async fn checkout_links_the_customer_so_invoices_find_the_tenant(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let tenant = owner.tenant.id;
    let link = BillingEvent {
        id: "evt_checkout".into(),
        kind: "checkout.session.completed".into(),
        created: t0(),
        change: BillingChange::Link {
            tenant_id: Some(tenant),
            customer_id: Some("cus_linked".into()),
            subscription_id: Some("sub_linked".into()),
        },
    };
    let plan = BillingEvent {
        id: "evt_plan".into(),
        kind: "customer.subscription.created".into(),
        created: t0() + Duration::seconds(1),
        change: BillingChange::Subscription {
            tenant_id: None,
            customer_id: Some("cus_linked".into()),
            subscription_id: "sub_linked".into(),
            terms: SubscriptionTerms::Granted {
                tier: Tier::Team,
                seats: 3,
            },
        },
    };
    let failed = BillingEvent {
        id: "evt_failed".into(),
        kind: "invoice.payment_failed".into(),
        created: t0() + Duration::seconds(2),
        change: BillingChange::Invoice {
            customer_id: Some("cus_linked".into()),
            paid: false,
            grace_until: t0() + Duration::days(7),
        },
    };

    // Act
    let linked = store.apply_billing_event(&link, t0()).await.expect("apply");
    let planned = store.apply_billing_event(&plan, t0()).await.expect("apply");
    let graced = store
        .apply_billing_event(&failed, t0())
        .await
        .expect("apply");

    // Assert
    assert_eq!(linked, WebhookOutcome::Unchanged, "a link changes no terms");
    assert_eq!(planned, WebhookOutcome::Changed);
    assert_eq!(graced, WebhookOutcome::Changed);
    let license = store
        .license_of_tenant(tenant)
        .await
        .expect("read")
        .expect("a license");
    assert_eq!((license.tier, license.max_seats), (Tier::Team, 3));
    assert_eq!(license.grace_until, Some(t0() + Duration::days(7)));
    assert_eq!(
        license.stripe_subscription_id.as_deref(),
        Some("sub_linked")
    );
}

async fn a_customer_of_another_tenant_is_never_applied_across_tenants(store: DynStore) {
    // Arrange
    let ada = register(&store, sign_in("ada")).await;
    let bo = register(&store, sign_in("bo")).await;
    store
        .apply_billing_event(&subscription("evt_ada", ada.tenant.id, 1, 5), t0())
        .await
        .expect("apply");
    let mut hijack = subscription("evt_bo", bo.tenant.id, 2, 50);
    if let BillingChange::Subscription { customer_id, .. } = &mut hijack.change {
        *customer_id = Some(format!("cus_{}", ada.tenant.id.simple()));
    }

    // Act
    let outcome = store
        .apply_billing_event(&hijack, t0())
        .await
        .expect("apply");

    // Assert
    assert_eq!(outcome, WebhookOutcome::Unmatched);
    let bo_license = store.license_of_tenant(bo.tenant.id).await.expect("read");
    assert_eq!(bo_license.expect("a license").tier, Tier::Free);
}

async fn twenty_concurrent_deliveries_of_one_event_apply_it_exactly_once(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let event = Arc::new(subscription("evt_storm", owner.tenant.id, 10, 7));

    // Act
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (store, event) = (Arc::clone(&store), Arc::clone(&event));
            tokio::spawn(async move { store.apply_billing_event(&event, t0()).await })
        })
        .collect();
    let outcomes: Vec<WebhookOutcome> = outcomes_of(handles)
        .await
        .into_iter()
        .map(|o| o.expect("every delivery is answered"))
        .collect();

    // Assert
    let changed = outcomes
        .iter()
        .filter(|o| **o == WebhookOutcome::Changed)
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| **o == WebhookOutcome::Duplicate)
        .count();
    assert_eq!((changed, duplicates), (1, 19), "{outcomes:?}");
    assert_eq!(plan_changes(&store, owner.tenant.id).await, 1);
}

async fn a_billing_event_on_a_closed_pool_is_unavailable(store: DynStore) {
    // Act
    let result = store
        .apply_billing_event(&subscription("evt_1", Uuid::now_v7(), 1, 1), t0())
        .await;

    // Assert
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}
