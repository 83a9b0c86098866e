# Secret Manager secrets the services read as secret environment variables or
# files. Only the secret containers are created here; their values are added
# as versions out of band (docs/deploy.md), so no secret value ever appears in
# Terraform code, plans or state.

resource "google_secret_manager_secret" "this" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = "${var.prefix}-${each.key}"
  labels    = var.labels

  annotations = {
    purpose = each.value
  }

  # Keep secret material in the platform's region.
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}
