# dev: smallest sizes, everything scales to zero, no HA.

module "platform" {
  source = "../../modules/platform"

  project_id          = var.project_id
  region              = var.region
  environment         = "dev"
  enable_services     = var.enable_services
  deletion_protection = false

  connector = {
    machine_type  = "e2-micro"
    min_instances = 2
    max_instances = 3
  }

  # db-g1-small: shared core, 1.7 GB. 50 connections, 10 kept in reserve.
  database = {
    tier                 = "db-g1-small"
    high_availability    = false
    disk_size_gb         = 10
    max_connections      = 50
    reserved_connections = 10
    retained_backups     = 7
  }

  redis = {
    tier           = "BASIC"
    memory_size_gb = 1
  }

  lease_key_protection_level = "SOFTWARE"
  lease_signing_key_version  = var.lease_signing_key_version
  lease_public_key_versions  = var.lease_public_key_versions

  # Connection demand: 3x3 + 2x2 + 2x3 + 1x2 + migrate 2 = 23 <= 50 - 10.
  services = {
    acquire          = { min_instances = 0, max_instances = 3, db_pool = 3 }
    heartbeat        = { min_instances = 0, max_instances = 3 }
    release          = { min_instances = 0, max_instances = 2 }
    "stripe-webhook" = { min_instances = 0, max_instances = 2, db_pool = 2 }
    admin            = { min_instances = 0, max_instances = 2, db_pool = 3 }
    cleanup          = { min_instances = 0, max_instances = 1, db_pool = 2, concurrency = 1 }
  }

  log_level = "debug"

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
