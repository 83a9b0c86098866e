# The identity Cloud Build runs as: it pushes images, updates and executes the
# migration job, deploys revisions and smoke-tests them. It can act as the
# runtime service accounts (to deploy revisions that run as them) but holds no
# data-plane role itself: no secrets, no KMS, no database.

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-deployer"
  display_name = "Cloud Build deployer"
  description  = "Builds, pushes and deploys the Cloud Run functions (cloudbuild.yaml)."
}

locals {
  deployer_member = "serviceAccount:${google_service_account.deployer.email}"

  runtime_service_accounts = merge(
    { for name, s in module.service : name => s.service_account_name },
    { for job in google_service_account.migrate : "migrate" => job.name },
  )
}

resource "google_project_iam_member" "deployer" {
  for_each = toset([
    "roles/run.developer",
    "roles/logging.logWriter",
  ])

  project = var.project_id
  role    = each.value
  member  = local.deployer_member
}

resource "google_artifact_registry_repository_iam_member" "deployer_pushes" {
  for_each = {
    images = module.images.name
    cache  = module.build_cache.name
  }

  project    = var.project_id
  location   = var.region
  repository = each.value
  role       = "roles/artifactregistry.writer"
  member     = local.deployer_member
}

resource "google_service_account_iam_member" "deployer_acts_as_runtime" {
  for_each = local.runtime_service_accounts

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer_member
}
