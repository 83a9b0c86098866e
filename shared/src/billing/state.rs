//! The billing state a license remembers, and how one event changes it.
//!
//! Stripe delivers out of order and more than once; the store makes a redelivery a no-op (the event
//! id), and [`BillingState::apply`] makes order irrelevant:
//!
//! - The plan (tier, seats) is a register written by subscription events, last writer wins by the
//!   event's `created` time, then its id ([`EventMark`]): an older event never overwrites a newer
//!   one's state.
//! - A deleted subscription is terminal: once a subscription has ended, no event about it
//!   restores its plan, whatever its time (Stripe's `created` has one-second resolution).
//! - The grace is a second register, written by invoice events and by subscription events alike,
//!   with its own mark: a payment failure starts it (`created` + `BILLING_GRACE_DAYS`) unless one
//!   already runs (a retried payment that fails again does not extend it), a payment or an active
//!   subscription ends it. When it has passed, acquire answers `license_suspended`.

use chrono::{DateTime, Utc};

use super::event::{BillingChange, BillingEvent, SubscriptionTerms};
use crate::domain::{LicenseStatus, Tier};

/// Stripe's subscription status we keep once a subscription has ended.
pub const ENDED: &str = "ended";

/// Where an event sits in Stripe's order: its `created` time, then its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventMark {
    /// The event's `created`.
    pub at: DateTime<Utc>,
    /// The event's id: a deterministic tiebreak within one second.
    pub id: String,
}

/// A license's terms and what billing remembers about them.
#[derive(Debug, Clone, PartialEq)]
pub struct BillingState {
    /// Plan.
    pub tier: Tier,
    /// Seats.
    pub max_seats: i32,
    /// Whether it grants seats.
    pub status: LicenseStatus,
    /// When it ends; a paid plan has none.
    pub expires_at: Option<DateTime<Utc>>,
    /// When an unpaid subscription's plan stops granting seats.
    pub grace_until: Option<DateTime<Utc>>,
    /// Stripe's customer.
    pub customer_id: Option<String>,
    /// The subscription that set the plan.
    pub subscription_id: Option<String>,
    /// `granted`, `grace` or [`ENDED`]: what that subscription last said.
    pub subscription_status: Option<String>,
    /// The last subscription event applied to the plan.
    pub plan_mark: Option<EventMark>,
    /// The last event applied to the grace.
    pub grace_mark: Option<EventMark>,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The state after the event (it may equal the state before).
    Updated(BillingState),
    /// The event is older than what the license already reflects; nothing changes.
    Stale,
}

impl BillingState {
    /// Whether the terms a client sees (tier, seats, status, expiry, grace) differ from `other`'s:
    /// the changes that are audited.
    pub fn terms_differ(&self, other: &Self) -> bool {
        (
            self.tier,
            self.max_seats,
            self.status,
            self.expires_at,
            self.grace_until,
        ) != (
            other.tier,
            other.max_seats,
            other.status,
            other.expires_at,
            other.grace_until,
        )
    }

    /// The state after `event`.
    pub fn apply(&self, event: &BillingEvent) -> Applied {
        let mark = EventMark {
            at: event.created,
            id: event.id.clone(),
        };
        let mut next = self.clone();
        match &event.change {
            BillingChange::Link {
                customer_id,
                subscription_id,
                ..
            } => {
                if customer_id.is_some() {
                    next.customer_id.clone_from(customer_id);
                }
                // The subscription's own events set the plan; a link only fills a gap.
                if next.subscription_id.is_none() {
                    next.subscription_id.clone_from(subscription_id);
                }
            }
            BillingChange::Subscription {
                customer_id,
                subscription_id,
                terms,
                ..
            } => {
                let same = self.subscription_id.as_deref() == Some(subscription_id.as_str());
                let ended = same && self.subscription_status.as_deref() == Some(ENDED);
                let newer = self.plan_mark.as_ref().is_none_or(|last| mark > *last);
                // The end of a subscription that no longer sets the plan changes nothing.
                let other_ended = !same
                    && matches!(terms, SubscriptionTerms::Ended)
                    && self.subscription_id.is_some()
                    && self.subscription_status.as_deref() != Some(ENDED);
                if ended || !newer || other_ended {
                    return Applied::Stale;
                }
                if customer_id.is_some() {
                    next.customer_id.clone_from(customer_id);
                }
                next.subscription_id = Some(subscription_id.clone());
                next.plan_mark = Some(mark.clone());
                let grace_newer = self.grace_mark.as_ref().is_none_or(|last| mark > *last);
                match *terms {
                    SubscriptionTerms::Granted { tier, seats } => {
                        next.grant(tier, seats, "granted");
                        if grace_newer {
                            next.grace_until = None;
                            next.grace_mark = Some(mark);
                        }
                    }
                    SubscriptionTerms::Grace {
                        tier,
                        seats,
                        grace_until,
                    } => {
                        next.grant(tier, seats, "grace");
                        if grace_newer {
                            next.grace_until = Some(self.grace_until.unwrap_or(grace_until));
                            next.grace_mark = Some(mark);
                        }
                    }
                    SubscriptionTerms::Ended => {
                        next.grant(Tier::Free, 1, ENDED);
                        next.grace_until = None;
                        next.grace_mark = Some(mark);
                    }
                }
            }
            BillingChange::Invoice {
                paid, grace_until, ..
            } => {
                if self.grace_mark.as_ref().is_some_and(|last| mark <= *last) {
                    return Applied::Stale;
                }
                next.grace_mark = Some(mark);
                let on_plan =
                    self.tier != Tier::Free && self.subscription_status.as_deref() != Some(ENDED);
                next.grace_until = match (paid, on_plan) {
                    (true, _) | (false, false) => None,
                    (false, true) => Some(self.grace_until.unwrap_or(*grace_until)),
                };
            }
            BillingChange::Unmapped { .. } | BillingChange::Ignored => {}
        }
        Applied::Updated(next)
    }

    /// Sets a plan that grants seats (a deleted subscription's FREE plan too): active, no expiry.
    fn grant(&mut self, tier: Tier, seats: i32, subscription_status: &str) {
        self.tier = tier;
        self.max_seats = seats;
        self.status = LicenseStatus::Active;
        self.expires_at = None;
        self.subscription_status = Some(subscription_status.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a time")
    }

    fn free() -> BillingState {
        BillingState {
            tier: Tier::Free,
            max_seats: 1,
            status: LicenseStatus::Active,
            expires_at: None,
            grace_until: None,
            customer_id: None,
            subscription_id: None,
            subscription_status: None,
            plan_mark: None,
            grace_mark: None,
        }
    }

    fn subscription(id: &str, t: i64, terms: SubscriptionTerms) -> BillingEvent {
        BillingEvent {
            id: id.into(),
            kind: "customer.subscription.updated".into(),
            created: at(t),
            change: BillingChange::Subscription {
                tenant_id: None,
                customer_id: Some("cus_1".into()),
                subscription_id: "sub_1".into(),
                terms,
            },
        }
    }

    fn invoice(id: &str, t: i64, paid: bool) -> BillingEvent {
        BillingEvent {
            id: id.into(),
            kind: "invoice.paid".into(),
            created: at(t),
            change: BillingChange::Invoice {
                customer_id: Some("cus_1".into()),
                paid,
                grace_until: at(t) + Duration::days(7),
            },
        }
    }

    fn pro(seats: i32) -> SubscriptionTerms {
        SubscriptionTerms::Granted {
            tier: Tier::Pro,
            seats,
        }
    }

    fn run(events: &[&BillingEvent]) -> BillingState {
        events
            .iter()
            .fold(free(), |state, event| match state.apply(event) {
                Applied::Updated(next) => next,
                Applied::Stale => state,
            })
    }

    #[test]
    fn an_older_subscription_event_never_overwrites_a_newer_one() {
        let five = subscription("evt_a", 10, pro(5));
        let ten = subscription("evt_b", 20, pro(10));
        let state = run(&[&ten]);
        assert_eq!(state.apply(&five), Applied::Stale);
        assert_eq!(run(&[&five, &ten]).max_seats, 10);
    }

    #[test]
    fn a_deleted_subscription_stays_ended_even_within_the_same_second() {
        let deleted = subscription("evt_a", 30, SubscriptionTerms::Ended);
        let late_update = subscription("evt_z", 30, pro(10));
        let state = run(&[&subscription("evt_0", 1, pro(5)), &deleted]);
        assert_eq!(state.tier, Tier::Free);
        assert_eq!(state.max_seats, 1);
        assert_eq!(state.apply(&late_update), Applied::Stale);
    }

    #[test]
    fn a_failed_payment_starts_the_grace_once_and_a_payment_ends_it() {
        let started = subscription("evt_0", 1, pro(5));
        let failed = invoice("evt_f1", 10, false);
        let failed_again = invoice("evt_f2", 20, false);
        let paid = invoice("evt_p", 30, true);
        let state = run(&[&started, &failed, &failed_again]);
        assert_eq!(state.grace_until, Some(at(10) + Duration::days(7)));
        assert_eq!((state.tier, state.max_seats), (Tier::Pro, 5));
        assert_eq!(run(&[&started, &failed, &paid]).grace_until, None);
        assert_eq!(
            run(&[&started, &paid, &failed]).grace_until,
            None,
            "a failure older than the payment changes nothing"
        );
    }

    #[test]
    fn a_late_active_update_keeps_a_newer_failures_grace() {
        let failed = invoice("evt_f", 20, false);
        let older_active = subscription("evt_a", 10, pro(5));
        let state = run(&[&subscription("evt_0", 1, pro(2)), &failed, &older_active]);
        assert_eq!(state.max_seats, 5, "the plan register takes the newer plan");
        assert_eq!(state.grace_until, Some(at(20) + Duration::days(7)));
    }

    #[test]
    fn a_payment_failure_on_the_free_plan_starts_no_grace() {
        let state = run(&[&invoice("evt_f", 20, false)]);
        assert_eq!(state.grace_until, None);
    }

    #[test]
    fn the_same_events_in_any_order_end_in_the_same_state() {
        let events = [
            subscription("evt_1", 1, pro(1)),
            subscription("evt_2", 2, pro(5)),
            subscription("evt_3", 3, pro(10)),
            invoice("evt_4", 4, false),
            invoice("evt_5", 5, true),
            subscription("evt_6", 6, SubscriptionTerms::Ended),
        ];
        let in_order = run(&events.iter().collect::<Vec<_>>());
        // Every permutation of six is 720 runs: cheap, and exhaustive.
        let mut indices: Vec<usize> = (0..events.len()).collect();
        permute(&mut indices, 0, &mut |order| {
            let shuffled: Vec<&BillingEvent> = order.iter().map(|&i| &events[i]).collect();
            let state = run(&shuffled);
            assert!(!state.terms_differ(&in_order), "{order:?}: {state:?}");
            assert_eq!(state.subscription_status.as_deref(), Some(ENDED));
        });
    }

    fn permute(items: &mut Vec<usize>, k: usize, visit: &mut dyn FnMut(&[usize])) {
        if k == items.len() {
            visit(items);
            return;
        }
        for i in k..items.len() {
            items.swap(k, i);
            permute(items, k + 1, visit);
            items.swap(k, i);
        }
    }
}
