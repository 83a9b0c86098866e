# A Docker repository in Artifact Registry with cleanup policies, so storage
# stays bounded without anyone pruning by hand.

resource "google_artifact_registry_repository" "this" {
  #checkov:skip=CKV_GCP_84:Images hold no customer data (the code is the product's own); Google-managed encryption suffices and avoids a CMEK key ring per registry.
  project       = var.project_id
  location      = var.region
  repository_id = var.repository_id
  description   = var.description
  format        = "DOCKER"
  labels        = var.labels

  docker_config {
    immutable_tags = var.immutable_tags
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"

    most_recent_versions {
      keep_count = var.keep_count
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"

    condition {
      tag_state  = "ANY"
      older_than = "${var.delete_after_days * 86400}s"
    }
  }
}
