output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.this.name
}

output "uri" {
  description = "HTTPS URL of the service."
  value       = google_cloud_run_v2_service.this.uri
}

output "service_account_email" {
  description = "Email of the service's own service account."
  value       = google_service_account.this.email
}

output "service_account_name" {
  description = "Resource name of the service account (for IAM on the account itself)."
  value       = google_service_account.this.name
}

output "service_account_member" {
  description = "IAM member string serviceAccount:<email>."
  value       = local.member
}
