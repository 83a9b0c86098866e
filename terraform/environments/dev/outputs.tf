output "service_urls" {
  description = "Function => HTTPS URL."
  value       = module.platform.service_urls
}

output "database" {
  description = "Cloud SQL instance, private IP and database name for DATABASE_URL."
  value       = module.platform.database
}

output "database_connection_budget" {
  description = "Connections the services may open at max scale vs. the limit."
  value       = module.platform.database_connection_budget
}

output "redis" {
  description = "Memorystore instance, host and port for REDIS_URL."
  value       = module.platform.redis
}

output "secret_ids" {
  description = "Secret Manager ids whose versions are set out of band."
  value       = module.platform.secret_ids
}

output "lease_signing_key" {
  description = "LEASE_SIGNING_KEY of acquire."
  value       = module.platform.lease_signing_key
}

output "lease_public_keys" {
  description = "LEASE_PUBLIC_KEYS published in the JWKS."
  value       = module.platform.lease_public_keys
}

output "image_repository" {
  description = "Where Cloud Build pushes images."
  value       = module.platform.image_repository
}

output "deployer_service_account" {
  description = "Service account to run Cloud Build as."
  value       = module.platform.deployer_service_account
}

output "migrate_job" {
  description = "Cloud Run job running `admin migrate`."
  value       = module.platform.migrate_job
}

output "cleanup_job" {
  description = "Cloud Scheduler job invoking cleanup."
  value       = module.platform.cleanup_job
}
