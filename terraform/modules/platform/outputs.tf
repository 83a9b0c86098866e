output "service_urls" {
  description = "Function => HTTPS URL."
  value       = { for name, s in module.service : name => s.uri }
}

output "service_accounts" {
  description = "Function => its own service account email."
  value       = { for name, s in module.service : name => s.service_account_email }
}

output "cleanup_job" {
  description = "Cloud Scheduler job that invokes cleanup."
  value       = one(module.cleanup_schedule[*].job_name)
}

output "migrate_job" {
  description = "Cloud Run job that runs `admin migrate`."
  value       = one(google_cloud_run_v2_job.migrate[*].name)
}

output "lease_crypto_key_id" {
  description = "The lease signing key; versions are <id>/cryptoKeyVersions/<n>."
  value       = module.lease_key.crypto_key_id
}

output "lease_signing_key" {
  description = "LEASE_SIGNING_KEY as given to acquire."
  value       = local.lease_signing_key
}

output "lease_public_keys" {
  description = "LEASE_PUBLIC_KEYS as given to admin, heartbeat and release."
  value       = local.lease_public_keys
}

output "database" {
  description = "What docs/deploy.md needs to create the app user and write DATABASE_URL."
  value = {
    instance        = module.database.instance_name
    connection_name = module.database.connection_name
    private_ip      = module.database.private_ip
    database        = module.database.database_name
  }
}

output "database_connection_budget" {
  description = "Connections the services may open at max scale, against what Cloud SQL accepts."
  value = {
    demand          = local.database_connection_demand
    max_connections = var.database.max_connections
    reserved        = var.database.reserved_connections
  }
}

output "redis" {
  description = "What docs/deploy.md needs to write REDIS_URL (the instance's AUTH string is read with gcloud; a cluster has none)."
  value = {
    cluster  = var.redis_cluster.enabled
    instance = local.redis.name
    host     = local.redis.host
    port     = local.redis.port
  }
}

output "secret_ids" {
  description = "Secret key => Secret Manager secret id."
  value       = module.secrets.ids
}

output "image_repository" {
  description = "Image path prefix for cloudbuild.yaml."
  value       = module.images.url
}

output "build_cache_repository" {
  description = "Build cache path prefix for cloudbuild.yaml."
  value       = module.build_cache.url
}

output "deployer_service_account" {
  description = "Service account Cloud Build runs as."
  value       = google_service_account.deployer.email
}

output "identity_providers" {
  description = "Sign-in providers configured."
  value       = module.identity.enabled_providers
}
