# One function as one Cloud Run service, with its own service account and
# nothing else granted than what the caller passes in: access to the secrets it
# mounts and, when public, unauthenticated invocation (the function then
# authenticates each request itself).
#
# The image is owned by Cloud Build, which deploys by digest; Terraform creates
# the service with a placeholder and ignores later image changes.

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = var.name
  display_name = "Cloud Run ${var.name}"
  description  = "Runtime identity of the ${var.name} service only."
}

locals {
  member = "serviceAccount:${google_service_account.this.email}"

  mounted_secrets = toset(concat(
    values(var.secret_env),
    [for f in values(var.secret_files) : f.secret],
  ))
}

resource "google_secret_manager_secret_iam_member" "access" {
  for_each = local.mounted_secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.member
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  description         = var.description
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = google_service_account.this.email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      connector = var.vpc_connector_id
      egress    = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = var.secret_files
        content {
          name       = volume_mounts.key
          mount_path = volume_mounts.value.mount_dir
        }
      }

      # /healthz answers while the process is up; /readyz also checks the
      # backends and is for humans and the smoke test, not for the platform,
      # so a Redis blip never restarts instances.
      startup_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 15
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 30
        timeout_seconds   = 2
        failure_threshold = 3
      }
    }

    dynamic "volumes" {
      for_each = var.secret_files
      content {
        name = volumes.key
        secret {
          secret = volumes.value.secret
          items {
            version = "latest"
            path    = volumes.value.file_name
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  # A revision that cannot read its secrets never becomes ready.
  depends_on = [google_secret_manager_secret_iam_member.access]
}

# Public functions authenticate every request themselves (ID token, lease or
# Stripe signature). Cleanup is never public.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
