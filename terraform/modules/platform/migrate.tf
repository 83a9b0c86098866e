# Database migrations run once per deployment, before the new revisions take
# traffic: a Cloud Run job running the admin image as `admin migrate`. Cloud
# Build points it at the new image digest and executes it (cloudbuild.yaml).

resource "google_service_account" "migrate" {
  count = var.enable_services ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-migrate"
  display_name = "Cloud Run job ${var.name_prefix}-migrate"
  description  = "Runtime identity of the migration job only."
}

resource "google_secret_manager_secret_iam_member" "migrate_reads_database_url" {
  count = var.enable_services ? 1 : 0

  project   = var.project_id
  secret_id = module.secrets.ids["database-url"]
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.migrate[0].email}"
}

resource "google_cloud_run_v2_job" "migrate" {
  count = var.enable_services ? 1 : 0

  project             = var.project_id
  name                = "${var.name_prefix}-migrate"
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = merge(local.labels, { function = "admin" })

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.migrate[0].email
      max_retries     = 0
      timeout         = "600s"

      vpc_access {
        connector = module.network.connector_id
        egress    = "PRIVATE_RANGES_ONLY"
      }

      containers {
        # Placeholder until Cloud Build sets the admin image digest.
        image = "us-docker.pkg.dev/cloudrun/container/job"
        args  = ["migrate"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        env {
          name  = "DATABASE_MAX_CONNECTIONS"
          value = tostring(var.migrate_db_pool)
        }

        env {
          name  = "GOOGLE_CLOUD_PROJECT"
          value = var.project_id
        }

        env {
          name  = "LOG_LEVEL"
          value = var.log_level
        }

        env {
          name = "DATABASE_URL"
          value_source {
            secret_key_ref {
              secret  = module.secrets.ids["database-url"]
              version = "latest"
            }
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [
      template[0].template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [google_secret_manager_secret_iam_member.migrate_reads_database_url]
}
