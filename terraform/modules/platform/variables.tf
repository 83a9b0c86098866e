variable "project_id" {
  description = "The environment's project; also the Identity Platform project the ID tokens name."
  type        = string
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
}

variable "environment" {
  description = "dev or prod; used in labels."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "name_prefix" {
  description = "Prefix of resource names. cloudbuild.yaml's _PREFIX must match."
  type        = string
  default     = "coditect"
}

variable "enable_services" {
  description = "Create the Cloud Run services, migration job, scheduler and their grants. False on the very first apply, before the secrets have versions (docs/deploy.md)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse terraform destroy of Cloud Run services and the job."
  type        = bool
  default     = true
}

variable "connector" {
  description = "Serverless VPC access connector sizing."
  type = object({
    machine_type  = string
    min_instances = number
    max_instances = number
  })
}

variable "database" {
  description = "Cloud SQL sizing. max_connections is set as a flag and bounds the services' pools."
  type = object({
    tier                 = string
    high_availability    = bool
    disk_size_gb         = number
    max_connections      = number
    reserved_connections = number
    retained_backups     = number
  })
}

variable "redis" {
  description = "Memorystore sizing (the single instance, used unless redis_cluster.enabled)."
  type = object({
    tier           = string
    memory_size_gb = number
  })
}

variable "redis_cluster" {
  description = "A Memorystore Cluster instead of the single instance, for loads beyond one Redis (BENCHMARKS.md, \"One Redis or a cluster\"). Off by default; on, the services get REDIS_CLUSTER=true and redis-url holds the discovery endpoint."
  type = object({
    enabled       = bool
    shard_count   = optional(number, 3)
    replica_count = optional(number, 1)
    node_type     = optional(string, "REDIS_STANDARD_SMALL")
    psc_cidr      = optional(string, "10.8.1.0/28")
  })
  default = { enabled = false }
}

variable "lease_key_protection_level" {
  description = "SOFTWARE or HSM for the lease signing key."
  type        = string
}

variable "lease_signing_key_version" {
  description = "Key version acquire signs with (LEASE_SIGNING_KEY). Switch only to a version already in lease_public_key_versions and published long enough for clients to have fetched it."
  type        = number
  default     = 1

  validation {
    condition     = contains(var.lease_public_key_versions, var.lease_signing_key_version)
    error_message = "lease_signing_key_version must be one of lease_public_key_versions: publish a key version in the JWKS before signing with it."
  }
}

variable "lease_public_key_versions" {
  description = "Key versions published in the JWKS and accepted by heartbeat and release (LEASE_PUBLIC_KEYS)."
  type        = list(number)
  default     = [1]
}

variable "services" {
  description = "Sizing per deployed function. db_pool is DATABASE_MAX_CONNECTIONS (0 for functions without a database)."
  type = map(object({
    min_instances = number
    max_instances = number
    concurrency   = optional(number, 80)
    db_pool       = optional(number, 0)
    cpu           = optional(string, "1")
    memory        = optional(string, "256Mi")
  }))

  validation {
    condition = length(setsymmetricdifference(
      keys(var.services),
      ["acquire", "heartbeat", "release", "stripe-webhook", "admin", "cleanup"],
    )) == 0
    error_message = "services must size exactly the deployed functions: acquire, heartbeat, release, stripe-webhook, admin, cleanup."
  }

  validation {
    condition = alltrue([
      for name in ["acquire", "stripe-webhook", "admin", "cleanup"] :
      try(var.services[name].db_pool >= 1, false)
    ])
    error_message = "acquire, stripe-webhook, admin and cleanup use the database and need db_pool >= 1."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_instances <= s.max_instances])
    error_message = "min_instances must not exceed max_instances."
  }
}

variable "migrate_db_pool" {
  description = "Pool size of the migration job (one task)."
  type        = number
  default     = 2
}

variable "seat_ttl_seconds" {
  description = "SEAT_TTL_SECONDS: a seat frees itself this long after its last heartbeat."
  type        = number
  default     = 360
}

variable "heartbeat_interval_seconds" {
  description = "HEARTBEAT_INTERVAL_SECONDS the clients are told to use."
  type        = number
  default     = 120
}

variable "offline_grace_seconds" {
  description = "OFFLINE_GRACE_SECONDS: how long a lease lets a client work while the service is unreachable."
  type        = number
  default     = 3600
}

variable "stripe_price_tiers" {
  description = "STRIPE_PRICE_TIERS: the tier each Stripe price grants, keyed by price id (price_...) or lookup key, e.g. { price_1Pro = \"PRO\", team_monthly = \"TEAM\" }."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for tier in values(var.stripe_price_tiers) : contains(["PRO", "TEAM", "ENTERPRISE"], tier)])
    error_message = "stripe_price_tiers values must be PRO, TEAM or ENTERPRISE."
  }
}

variable "stripe_checkout_prices" {
  description = "STRIPE_CHECKOUT_PRICES: the price id Checkout sells per tier, e.g. { TEAM = \"price_1Team\" }; unset tiers use the first price_... id of stripe_price_tiers."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for tier in keys(var.stripe_checkout_prices) : contains(["PRO", "TEAM", "ENTERPRISE"], tier)])
    error_message = "stripe_checkout_prices keys must be PRO, TEAM or ENTERPRISE."
  }
}

variable "billing_grace_days" {
  description = "BILLING_GRACE_DAYS: how long an unpaid subscription keeps its plan before seats are refused."
  type        = number
  default     = 7
  validation {
    condition     = var.billing_grace_days >= 0 && floor(var.billing_grace_days) == var.billing_grace_days
    error_message = "billing_grace_days must be a whole number of days, 0 or more."
  }
}

variable "billing_urls" {
  description = "Where Stripe sends buyers back: STRIPE_CHECKOUT_SUCCESS_URL, STRIPE_CHECKOUT_CANCEL_URL and STRIPE_PORTAL_RETURN_URL (empty: the success URL). Empty strings leave Checkout unconfigured."
  type = object({
    checkout_success = string
    checkout_cancel  = string
    portal_return    = optional(string, "")
  })
  default = { checkout_success = "", checkout_cancel = "" }
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "info"
}

# Public by design (Firebase ships it in every web page; it identifies the project and
# authorises nothing), so it is neither sensitive nor named like a secret: sensitive would
# only hide it from plans.
variable "identity_browser_key" {
  description = "IDENTITY_API_KEY of admin: the project's public Web API key, served to clients by GET /api/v1/auth/config. Not a secret (every web app ships it); empty leaves it unset."
  type        = string
  default     = ""
}

variable "authorized_domains" {
  description = "Extra OAuth redirect domains for Identity Platform (localhost, 127.0.0.1 and <project>.firebaseapp.com are always included)."
  type        = list(string)
  default     = []
}

variable "google_client_id" {
  description = "OAuth client id for Google sign-in; null leaves the provider unconfigured."
  type        = string
  default     = null
}

variable "google_client_secret" {
  description = "OAuth client secret for Google sign-in."
  type        = string
  default     = null
  sensitive   = true
}

variable "github_client_id" {
  description = "GitHub OAuth app client id; null leaves the provider unconfigured."
  type        = string
  default     = null
}

variable "github_client_secret" {
  description = "GitHub OAuth app client secret."
  type        = string
  default     = null
  sensitive   = true
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids the alert policies notify (modules/monitoring)."
  type        = list(string)
  default     = []
}
