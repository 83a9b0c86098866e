# The whole CODITECT licensing platform in one project: network, records,
# live seats, lease signing key, secrets, sign-in, images, and the Cloud Run
# functions (functions.tf) with their grants (kms.tf, migrate.tf,
# deployer.tf). An environment is one call of this module with its sizes.

locals {
  labels = {
    app         = var.name_prefix
    environment = var.environment
  }

  # Secret containers. Values are written out of band (docs/deploy.md), except
  # redis-ca, the Memorystore server CA, which is public and written below.
  secrets = {
    "database-url"          = "DATABASE_URL postgres://USER:PASSWORD@PRIVATE_IP:5432/DB?sslmode=require"
    "redis-url"             = var.redis_cluster.enabled ? "REDIS_URL rediss://DISCOVERY_HOST:PORT (Redis Cluster)" : "REDIS_URL rediss://:AUTH@HOST:6378"
    "redis-ca"              = "Memorystore server CA, mounted at /etc/redis-ca/ca.pem"
    "stripe-webhook-secret" = "Stripe endpoint signing secret (whsec_...)"
    "stripe-api-key"        = "Stripe restricted API key"
  }
}

module "network" {
  source = "../network"

  project_id = var.project_id
  region     = var.region
  name       = var.name_prefix
  connector  = var.connector
}

module "database" {
  source = "../cloud-sql"

  project_id           = var.project_id
  region               = var.region
  name                 = "${var.name_prefix}-pg"
  tier                 = var.database.tier
  high_availability    = var.database.high_availability
  disk_size_gb         = var.database.disk_size_gb
  max_connections      = var.database.max_connections
  reserved_connections = var.database.reserved_connections
  retained_backups     = var.database.retained_backups
  connection_demand    = local.database_connection_demand
  network_id           = module.network.network_id
  labels               = local.labels

  depends_on = [module.network]
}

# Live seats: one Memorystore instance, or (redis_cluster.enabled) a
# Memorystore Cluster, when one instance is not enough (BENCHMARKS.md, "One
# Redis or a cluster"). Exactly one of the two exists.
module "redis" {
  source = "../memorystore"
  count  = var.redis_cluster.enabled ? 0 : 1

  project_id     = var.project_id
  region         = var.region
  name           = "${var.name_prefix}-seats"
  tier           = var.redis.tier
  memory_size_gb = var.redis.memory_size_gb
  network_id     = module.network.network_id
  labels         = local.labels

  depends_on = [module.network]
}

# The instance was created before the choice existed.
moved {
  from = module.redis
  to   = module.redis[0]
}

module "redis_cluster" {
  source = "../memorystore-cluster"
  count  = var.redis_cluster.enabled ? 1 : 0

  project_id    = var.project_id
  region        = var.region
  name          = "${var.name_prefix}-seats-cluster"
  shard_count   = var.redis_cluster.shard_count
  replica_count = var.redis_cluster.replica_count
  node_type     = var.redis_cluster.node_type
  psc_cidr      = var.redis_cluster.psc_cidr
  network_id    = module.network.network_id

  depends_on = [module.network]
}

locals {
  # Whichever Redis holds the seats.
  redis = var.redis_cluster.enabled ? module.redis_cluster[0] : module.redis[0]
}

module "lease_key" {
  source = "../lease-signing-key"

  project_id       = var.project_id
  location         = var.region
  key_ring_name    = "${var.name_prefix}-leases"
  protection_level = var.lease_key_protection_level
  labels           = local.labels
}

module "secrets" {
  source = "../secrets"

  project_id = var.project_id
  region     = var.region
  prefix     = var.name_prefix
  secrets    = local.secrets
  labels     = local.labels
}

# The CA bundle is public material taken from the instance itself, so
# Terraform may write it; a CA rotation reaches the services on the next apply.
resource "google_secret_manager_secret_version" "redis_ca" {
  secret      = module.secrets.resource_ids["redis-ca"]
  secret_data = local.redis.server_ca_pem
}

module "identity" {
  source = "../identity-platform"

  project_id           = var.project_id
  authorized_domains   = concat(["localhost", "127.0.0.1", "${var.project_id}.firebaseapp.com"], var.authorized_domains)
  google_client_id     = var.google_client_id
  google_client_secret = var.google_client_secret
  github_client_id     = var.github_client_id
  github_client_secret = var.github_client_secret
}

module "images" {
  source = "../artifact-registry"

  project_id     = var.project_id
  region         = var.region
  repository_id  = "${var.name_prefix}-images"
  description    = "Release images, one per function, deployed by digest."
  immutable_tags = true
  keep_count     = 20
  labels         = local.labels
}

module "build_cache" {
  source = "../artifact-registry"

  project_id        = var.project_id
  region            = var.region
  repository_id     = "${var.name_prefix}-build-cache"
  description       = "cargo-chef dependency layer reused by Cloud Build."
  immutable_tags    = false
  keep_count        = 2
  delete_after_days = 7
  labels            = local.labels
}

module "monitoring" {
  source = "../monitoring"

  project_id            = var.project_id
  name_prefix           = var.name_prefix
  notification_channels = var.alert_notification_channels
}
