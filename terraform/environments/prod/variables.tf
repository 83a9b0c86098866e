variable "project_id" {
  description = "The prod project."
  type        = string
}

variable "region" {
  description = "Region of every regional resource; cloudbuild.yaml's _REGION must match."
  type        = string
  default     = "us-central1"
}

variable "enable_services" {
  description = "False on the first apply only (before the secrets have versions)."
  type        = bool
  default     = true
}

variable "lease_signing_key_version" {
  description = "Lease key version acquire signs with."
  type        = number
  default     = 1
}

variable "lease_public_key_versions" {
  description = "Lease key versions published in the JWKS."
  type        = list(number)
  default     = [1]
}

# OAuth clients for sign-in. Put them in secrets.auto.tfvars (never committed)
# or TF_VAR_* variables; see docs/deploy.md.
variable "google_client_id" {
  description = "Google OAuth client id."
  type        = string
  default     = null
}

variable "google_client_secret" {
  description = "Google OAuth client secret."
  type        = string
  default     = null
  sensitive   = true
}

variable "github_client_id" {
  description = "GitHub OAuth app client id."
  type        = string
  default     = null
}

variable "github_client_secret" {
  description = "GitHub OAuth app client secret."
  type        = string
  default     = null
  sensitive   = true
}

variable "stripe_price_tiers" {
  description = "STRIPE_PRICE_TIERS: the tier each Stripe price (id or lookup key) grants, e.g. { price_1Pro = \"PRO\" }."
  type        = map(string)
  default     = {}
}

variable "stripe_checkout_prices" {
  description = "STRIPE_CHECKOUT_PRICES: the price id Checkout sells per tier; unset tiers use stripe_price_tiers' price ids."
  type        = map(string)
  default     = {}
}

variable "billing_grace_days" {
  description = "BILLING_GRACE_DAYS: days an unpaid subscription keeps its plan."
  type        = number
  default     = 7
}

variable "billing_urls" {
  description = "Checkout's success and cancel URLs and the Billing Portal's return URL (empty: the success URL)."
  type = object({
    checkout_success = string
    checkout_cancel  = string
    portal_return    = optional(string, "")
  })
  default = { checkout_success = "", checkout_cancel = "" }
}

# Public by design (Firebase ships it in every web page; it identifies the project and
# authorises nothing), so it is neither sensitive nor named like a secret: sensitive would
# only hide it from plans.
variable "identity_browser_key" {
  description = "IDENTITY_API_KEY: the project's public Web API key (browser key) (Identity Platform > Application setup details), which the CLI discovers from GET /api/v1/auth/config. Not a secret; empty leaves sign-in discovery answering 503."
  type        = string
  default     = ""
}
