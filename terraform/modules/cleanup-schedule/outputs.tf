output "job_name" {
  description = "Cloud Scheduler job name (gcloud scheduler jobs run <name> to trigger by hand)."
  value       = google_cloud_scheduler_job.this.name
}

output "service_account_email" {
  description = "The invoker identity."
  value       = google_service_account.scheduler.email
}
