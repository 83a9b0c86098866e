-- Billing (Stripe): what a license remembers so that webhook deliveries, which Stripe sends out of
-- order and more than once, apply in Stripe's order and once.

-- When an unpaid subscription's plan stops granting seats (acquire answers license_suspended).
ALTER TABLE licenses ADD COLUMN grace_until TIMESTAMPTZ;
-- What the subscription that set the plan last said: granted, grace or ended (ended is terminal).
ALTER TABLE licenses ADD COLUMN subscription_status TEXT;
-- The last subscription event applied to the plan: Stripe's `created`, then the event id.
ALTER TABLE licenses ADD COLUMN plan_event_at TIMESTAMPTZ;
ALTER TABLE licenses ADD COLUMN plan_event_id TEXT;
-- The last event applied to the grace.
ALTER TABLE licenses ADD COLUMN grace_event_at TIMESTAMPTZ;
ALTER TABLE licenses ADD COLUMN grace_event_id TEXT;

-- What processing each event did (applied, unchanged, stale, unmatched, ignored), and for whom.
ALTER TABLE stripe_events ADD COLUMN outcome TEXT;
ALTER TABLE stripe_events ADD COLUMN tenant_id UUID;
ALTER TABLE stripe_events ADD COLUMN created_at TIMESTAMPTZ;
