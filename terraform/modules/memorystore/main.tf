# Memorystore for Redis holding the live seats (one sorted set per license).
# AUTH and in-transit encryption are on, so clients use
# rediss://:<auth>@<host>:6378 and trust the instance's server CA.

resource "google_redis_instance" "this" {
  project        = var.project_id
  name           = var.name
  region         = var.region
  tier           = var.tier
  memory_size_gb = var.memory_size_gb
  redis_version  = var.redis_version
  labels         = var.labels

  authorized_network = var.network_id
  connect_mode       = "PRIVATE_SERVICE_ACCESS"

  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  redis_configs = {
    # Seat keys must never be evicted to make room: a full instance should
    # refuse writes (acquire fails loudly) rather than silently free seats.
    "maxmemory-policy" = "noeviction"
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
}
