// Stripe's own library signs webhook deliveries; a running CODITECT server must accept them and
// refuse tampered ones. Run through run.sh, which starts the server; by hand:
//
//   BASE_URL=http://127.0.0.1:8080 STRIPE_WEBHOOK_SECRET=whsec_… node interop.mjs
//
// The server must run in emulator mode (the default), so the script can register an organisation
// with an unsigned emulator ID token, and with STRIPE_PRICE_TIERS mapping price_interop to PRO.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import Stripe from "stripe";

const base = process.env.BASE_URL;
const secret = process.env.STRIPE_WEBHOOK_SECRET?.split(",").at(-1)?.trim();
assert.ok(base && secret, "BASE_URL and STRIPE_WEBHOOK_SECRET must be set");
// The key only constructs the client: webhooks.* never calls the API.
const stripe = new Stripe("sk_test_interop_not_used");

// An unsigned ID token as the Firebase Auth Emulator issues them (project demo-coditect).
function emulatorToken(uid) {
  const now = Math.floor(Date.now() / 1000);
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const claims = {
    iss: "https://securetoken.google.com/demo-coditect", aud: "demo-coditect", sub: uid,
    user_id: uid, email: `${uid.slice(0, 8)}@interop.test`, email_verified: true,
    iat: now, auth_time: now, exp: now + 3600, firebase: { sign_in_provider: "password" },
  };
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

async function call(method, path, token, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function deliver(payload, header) {
  const response = await fetch(`${base}/api/v1/stripe/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": header },
    body: payload,
  });
  return { status: response.status, body: await response.json() };
}

function subscriptionEvent(tenant, quantity) {
  const id = randomUUID().replaceAll("-", "");
  return JSON.stringify({
    id: `evt_${id}`, object: "event", type: "customer.subscription.created",
    created: Math.floor(Date.now() / 1000), livemode: false, api_version: "2025-03-31.basil",
    data: { object: {
      id: `sub_${id}`, object: "subscription", customer: `cus_${id}`, status: "active",
      metadata: { tenant_id: tenant },
      items: { object: "list", data: [{ price: { id: "price_interop", lookup_key: null }, quantity }] },
    } },
  }, null, 2);
}

const token = emulatorToken(randomUUID().replaceAll("-", ""));
const registered = await call("POST", "/api/v1/register", token);
assert.equal(registered.status, 201, JSON.stringify(registered.body));
const tenant = registered.body.tenant.id;
const seats = async () => (await call("GET", `/api/v1/tenants/${tenant}/license`, token)).body.license.max_seats;
const now = Math.floor(Date.now() / 1000);

// Refused: one byte changed after signing, a stale timestamp, a wrong secret.
const refusals = [];
{
  const payload = subscriptionEvent(tenant, 7);
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: now });
  refusals.push(["one byte changed", payload.replace('"quantity": 7', '"quantity": 8'), header]);
}
{
  const payload = subscriptionEvent(tenant, 7);
  refusals.push(["stale timestamp", payload,
    stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: now - 600 })]);
}
{
  const payload = subscriptionEvent(tenant, 7);
  refusals.push(["wrong secret", payload,
    stripe.webhooks.generateTestHeaderString({ payload, secret: "whsec_not_ours", timestamp: now })]);
}
for (const [name, payload, header] of refusals) {
  const reply = await deliver(payload, header);
  assert.equal(reply.status, 400, `${name}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.code, "invalid_signature", name);
  console.log(`refused as expected: ${name}`);
}
assert.equal(await seats(), 1, "the refused deliveries changed nothing");

// Accepted: signed by Stripe's library exactly as Stripe signs deliveries.
const payload = subscriptionEvent(tenant, 7);
const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: now });
const accepted = await deliver(payload, header);
assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
assert.equal(accepted.body.outcome, "changed");
assert.equal(await seats(), 7, "the accepted delivery set the seats");
const again = await deliver(payload, header);
assert.equal(again.body.outcome, "duplicate", "a redelivery is a no-op");
console.log("accepted as signed by stripe-node; redelivery a no-op");
console.log("stripe interop: ok");
