# Cloud Scheduler drives the cleanup service: every minute it POSTs the task
# endpoint with an OIDC token of its own service account, which is the only
# principal granted roles/run.invoker on the (non-public) cleanup service.

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "Cloud Scheduler -> ${var.service_name}"
  description  = "Identity Cloud Scheduler presents when it invokes ${var.service_name}."
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes_cleanup" {
  project  = var.project_id
  location = var.region
  name     = var.service_name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "this" {
  project          = var.project_id
  region           = var.region
  name             = var.job_name
  description      = "Expires lapsed seats and writes their audit events."
  schedule         = var.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "${var.attempt_deadline_seconds}s"

  # A sweep is idempotent, so retrying is safe; retries stop before the next
  # minute's run would start anyway.
  retry_config {
    retry_count          = 2
    min_backoff_duration = "5s"
    max_backoff_duration = "20s"
    max_retry_duration   = "50s"
    max_doublings        = 2
  }

  http_target {
    http_method = "POST"
    uri         = "${var.service_uri}${var.path}"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = var.service_uri
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invokes_cleanup]
}
