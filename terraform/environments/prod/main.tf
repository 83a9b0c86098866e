# prod: HA database and Redis, HSM key, warm acquire and heartbeat.

module "platform" {
  source = "../../modules/platform"

  project_id          = var.project_id
  region              = var.region
  environment         = "prod"
  enable_services     = var.enable_services
  deletion_protection = true

  connector = {
    machine_type  = "e2-micro"
    min_instances = 2
    max_instances = 6
  }

  # 2 vCPU / 7.5 GB, regional HA. 200 connections, 15 kept in reserve.
  database = {
    tier                 = "db-custom-2-7680"
    high_availability    = true
    disk_size_gb         = 20
    max_connections      = 200
    reserved_connections = 15
    retained_backups     = 14
  }

  redis = {
    tier           = "STANDARD_HA"
    memory_size_gb = 1
  }

  # One instance serves far more than today's fleet; BENCHMARKS.md ("One Redis
  # or a cluster") gives the load at which to set enabled = true (a
  # Memorystore Cluster; the services then run with REDIS_CLUSTER=true).
  redis_cluster = {
    enabled = false
  }

  lease_key_protection_level = "HSM"
  lease_signing_key_version  = var.lease_signing_key_version
  lease_public_key_versions  = var.lease_public_key_versions

  # Connection demand: 20x5 + 3x3 + 4x4 + 1x2 + migrate 2 = 129 <= 200 - 15.
  services = {
    acquire          = { min_instances = 1, max_instances = 20, db_pool = 5 }
    heartbeat        = { min_instances = 1, max_instances = 20 }
    release          = { min_instances = 0, max_instances = 10 }
    "stripe-webhook" = { min_instances = 0, max_instances = 3, db_pool = 3 }
    admin            = { min_instances = 0, max_instances = 4, db_pool = 4 }
    cleanup          = { min_instances = 0, max_instances = 1, db_pool = 2, concurrency = 1 }
  }

  log_level = "info"

  stripe_price_tiers     = var.stripe_price_tiers
  stripe_checkout_prices = var.stripe_checkout_prices
  billing_grace_days     = var.billing_grace_days
  billing_urls           = var.billing_urls

  identity_browser_key = var.identity_browser_key

  google_client_id     = var.google_client_id
  google_client_secret = var.google_client_secret
  github_client_id     = var.github_client_id
  github_client_secret = var.github_client_secret
}
