output "host" {
  description = "Private IP of the primary endpoint (host part of REDIS_URL)."
  value       = google_redis_instance.this.host
}

output "port" {
  description = "TLS port (6378 with in-transit encryption)."
  value       = google_redis_instance.this.port
}

output "name" {
  description = "Instance name, for gcloud redis commands (e.g. get-auth-string)."
  value       = google_redis_instance.this.name
}

output "server_ca_pem" {
  description = "The instance's server CA certificates, PEM concatenated. Public material, not a secret."
  value       = join("\n", [for c in google_redis_instance.this.server_ca_certs : c.cert])
}

# The AUTH string is deliberately not an output: it reaches the services only
# through the redis-url secret (see docs/deploy.md).
