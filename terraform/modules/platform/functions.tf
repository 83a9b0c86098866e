# The deployed functions and what each one touches. Everything about least
# privilege follows from this table: secret access from secret_env, the
# connection budget from who holds DATABASE_URL, public invocation from
# public, and the KMS grants in kms.tf. `local` (the all-in-one dev server) is
# not deployed.

locals {
  key_versions      = "${module.lease_key.crypto_key_id}/cryptoKeyVersions"
  lease_signing_key = "${local.key_versions}/${var.lease_signing_key_version}"
  lease_public_keys = join(",", [for v in var.lease_public_key_versions : "${local.key_versions}/${v}"])

  # Read by every function. PORT is set by Cloud Run itself (8080).
  common_env = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    LOG_LEVEL                  = var.log_level
    SEAT_TTL_SECONDS           = tostring(var.seat_ttl_seconds)
    HEARTBEAT_INTERVAL_SECONDS = tostring(var.heartbeat_interval_seconds)
    OFFLINE_GRACE_SECONDS      = tostring(var.offline_grace_seconds)
    REDIS_CA_CERT              = "/etc/redis-ca/ca.pem"
    # redis-url names a Memorystore Cluster's discovery endpoint when true.
    REDIS_CLUSTER = tostring(var.redis_cluster.enabled)
  }

  # Billing's variables; an empty one is left out (unset), as the services read an empty one.
  price_tiers = join(",", [for price, tier in var.stripe_price_tiers : "${price}=${tier}"])
  billing_webhook_env = { for k, v in {
    STRIPE_PRICE_TIERS = local.price_tiers
    BILLING_GRACE_DAYS = tostring(var.billing_grace_days)
  } : k => v if v != "" }
  billing_checkout_env = { for k, v in {
    STRIPE_PRICE_TIERS          = local.price_tiers
    STRIPE_CHECKOUT_PRICES      = join(",", [for tier, price in var.stripe_checkout_prices : "${tier}=${price}"])
    STRIPE_CHECKOUT_SUCCESS_URL = var.billing_urls.checkout_success
    STRIPE_CHECKOUT_CANCEL_URL  = var.billing_urls.checkout_cancel
    STRIPE_PORTAL_RETURN_URL    = var.billing_urls.portal_return
  } : k => v if v != "" }
  # The public Web API key the CLI discovers (GET /api/v1/auth/config); left unset when empty.
  sign_in_env = { for k, v in { IDENTITY_API_KEY = var.identity_browser_key } : k => v if v != "" }

  functions = {
    acquire = {
      description = "Grants a seat and signs its lease with the KMS key."
      public      = true
      env = {
        DATABASE_MAX_CONNECTIONS = tostring(var.services["acquire"].db_pool)
        LEASE_SIGNING_KEY        = local.lease_signing_key
        LEASE_PUBLIC_KEYS        = local.lease_public_keys
      }
      secret_env = {
        DATABASE_URL = "database-url"
        REDIS_URL    = "redis-url"
      }
    }

    heartbeat = {
      description = "Extends a live seat. Redis only."
      public      = true
      env = {
        LEASE_PUBLIC_KEYS = local.lease_public_keys
      }
      secret_env = {
        REDIS_URL = "redis-url"
      }
    }

    release = {
      description = "Frees a seat. Redis only."
      public      = true
      env = {
        LEASE_PUBLIC_KEYS = local.lease_public_keys
      }
      secret_env = {
        REDIS_URL = "redis-url"
      }
    }

    "stripe-webhook" = {
      description = "Applies Stripe subscription events to plans and seat counts."
      public      = true
      env = merge({
        DATABASE_MAX_CONNECTIONS = tostring(var.services["stripe-webhook"].db_pool)
      }, local.billing_webhook_env)
      secret_env = {
        DATABASE_URL          = "database-url"
        REDIS_URL             = "redis-url"
        STRIPE_WEBHOOK_SECRET = "stripe-webhook-secret"
      }
    }

    admin = {
      description = "Registration, tenants, members, invitations, sign-in discovery and the lease JWKS."
      public      = true
      env = merge({
        DATABASE_MAX_CONNECTIONS = tostring(var.services["admin"].db_pool)
        LEASE_PUBLIC_KEYS        = local.lease_public_keys
      }, local.billing_checkout_env, local.sign_in_env)
      secret_env = {
        DATABASE_URL   = "database-url"
        REDIS_URL      = "redis-url"
        STRIPE_API_KEY = "stripe-api-key"
      }
    }

    cleanup = {
      description = "Expires lapsed seats; invoked only by Cloud Scheduler."
      public      = false
      env = {
        DATABASE_MAX_CONNECTIONS = tostring(var.services["cleanup"].db_pool)
      }
      secret_env = {
        DATABASE_URL = "database-url"
        REDIS_URL    = "redis-url"
      }
    }
  }

  # Most connections the clients can hold open at once: every instance of every
  # database-using function at max scale with a full pool, plus the migration
  # job. cloud-sql refuses to plan when this exceeds its budget.
  database_connection_demand = sum(concat(
    [
      for name, f in local.functions :
      var.services[name].max_instances * var.services[name].db_pool
      if contains(keys(f.secret_env), "DATABASE_URL")
    ],
    [var.migrate_db_pool],
  ))
}

module "service" {
  source   = "../cloud-run-service"
  for_each = { for name, f in local.functions : name => f if var.enable_services }

  project_id    = var.project_id
  region        = var.region
  name          = "${var.name_prefix}-${each.key}"
  description   = each.value.description
  public        = each.value.public
  min_instances = var.services[each.key].min_instances
  max_instances = var.services[each.key].max_instances
  concurrency   = var.services[each.key].concurrency
  cpu           = var.services[each.key].cpu
  memory        = var.services[each.key].memory

  vpc_connector_id = module.network.connector_id
  env              = merge(local.common_env, each.value.env)
  secret_env       = { for env_name, key in each.value.secret_env : env_name => module.secrets.ids[key] }
  secret_files = {
    "redis-ca" = {
      secret    = module.secrets.ids["redis-ca"]
      mount_dir = "/etc/redis-ca"
      file_name = "ca.pem"
    }
  }

  deletion_protection = var.deletion_protection
  labels              = merge(local.labels, { function = each.key })

  depends_on = [google_secret_manager_secret_version.redis_ca]
}

module "cleanup_schedule" {
  source = "../cleanup-schedule"
  count  = var.enable_services ? 1 : 0

  project_id         = var.project_id
  region             = var.region
  service_name       = module.service["cleanup"].name
  service_uri        = module.service["cleanup"].uri
  job_name           = "${var.name_prefix}-cleanup"
  service_account_id = "${var.name_prefix}-scheduler"
}
