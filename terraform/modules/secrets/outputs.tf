output "ids" {
  description = "Secret key => secret id, for Cloud Run secret_key_ref and IAM."
  value       = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
}

output "resource_ids" {
  description = "Secret key => resource id projects/<project>/secrets/<id>, for secret versions."
  value       = { for k, s in google_secret_manager_secret.this : k => s.id }
}

output "names" {
  description = "Secret key => full resource name projects/<p>/secrets/<id>."
  value       = { for k, s in google_secret_manager_secret.this : k => s.name }
}
