# PostgreSQL 16 for the records (tenants, users, licenses, invitations, Stripe
# events, audit). Private IP only, TLS required, backups with point-in-time
# recovery, and deletion protection both in Terraform and in the API.
#
# No database user or password is created here: a password in Terraform would
# sit in the state. docs/deploy.md creates the application user with gcloud and
# stores the whole DATABASE_URL in Secret Manager.

resource "google_sql_database_instance" "this" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY refuses every non-TLS connection; client certificates would add a second credential to rotate on a private-IP-only instance.
  #checkov:skip=CKV_GCP_79:The architecture fixes PostgreSQL 16; upgrade deliberately, not by lint.
  project             = var.project_id
  name                = var.name
  region              = var.region
  database_version    = "POSTGRES_16"
  deletion_protection = true

  settings {
    # PostgreSQL 16 defaults to Enterprise Plus, which has no shared-core or
    # small custom tiers; say which edition the tier belongs to.
    edition                     = "ENTERPRISE"
    tier                        = var.tier
    availability_type           = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = true
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
      record_client_address   = false
    }

    # Explicit, so the connection budget below does not depend on the tier's default.
    database_flags {
      name  = "max_connections"
      value = tostring(var.max_connections)
    }

    # Audit-friendly logging: connections, DDL, lock waits, errors, pgaudit.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_duration"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    database_flags {
      name  = "log_min_messages"
      value = "error"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    database_flags {
      name  = "log_temp_files"
      value = "0"
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }

    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  lifecycle {
    # Every Cloud Run instance of a database-using function opens up to its
    # pool size; the sum over all of them at max scale must fit.
    precondition {
      condition     = var.connection_demand <= var.max_connections - var.reserved_connections
      error_message = "Connection budget exceeded: services at max scale may open ${var.connection_demand} connections, but ${var.name} accepts ${var.max_connections} minus ${var.reserved_connections} reserved. Lower max instances or pool sizes, or raise max_connections."
    }
  }
}

resource "google_sql_database" "app" {
  project  = var.project_id
  instance = google_sql_database_instance.this.name
  name     = var.database_name
}
