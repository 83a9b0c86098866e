# Memorystore for Redis Cluster holding the live seats: the option beyond one
# instance (BENCHMARKS.md, "One Redis or a cluster"). Every license's keys share
# one hash tag, so each seat script runs on one shard, and shards add
# throughput and memory side by side. The services read REDIS_CLUSTER=true and
# reach the discovery endpoint at rediss://HOST:PORT, trusting the cluster's
# managed server CA (in-transit encryption on).
#
# Authentication is the network's: the cluster is reachable only through
# Private Service Connect endpoints in this VPC (AUTH_MODE_DISABLED). IAM auth
# would need a client that refreshes access tokens as Redis passwords.

# Private Service Connect endpoints of the cluster take their addresses here.
resource "google_compute_subnetwork" "psc" {
  project                  = var.project_id
  name                     = "${var.name}-psc"
  region                   = var.region
  network                  = var.network_id
  ip_cidr_range            = var.psc_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_network_connectivity_service_connection_policy" "this" {
  project       = var.project_id
  name          = "${var.name}-psc"
  location      = var.region
  service_class = "gcp-memorystore-redis"
  network       = var.network_id

  psc_config {
    subnetworks = [google_compute_subnetwork.psc.id]
  }
}

resource "google_redis_cluster" "this" {
  project       = var.project_id
  name          = var.name
  region        = var.region
  shard_count   = var.shard_count
  replica_count = var.replica_count
  node_type     = var.node_type

  authorization_mode          = "AUTH_MODE_DISABLED"
  transit_encryption_mode     = "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"
  deletion_protection_enabled = true

  psc_configs {
    network = var.network_id
  }

  redis_configs = {
    # As on the single instance: a full cluster refuses writes (acquire fails
    # loudly) rather than silently evicting seats.
    "maxmemory-policy" = "noeviction"
  }

  zone_distribution_config {
    mode = "MULTI_ZONE"
  }

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 3
        minutes = 0
      }
    }
  }

  depends_on = [google_network_connectivity_service_connection_policy.this]
}
