output "host" {
  description = "Address of the discovery endpoint (host part of REDIS_URL, with REDIS_CLUSTER=true)."
  value       = google_redis_cluster.this.discovery_endpoints[0].address
}

output "port" {
  description = "Port of the discovery endpoint."
  value       = google_redis_cluster.this.discovery_endpoints[0].port
}

output "name" {
  description = "Cluster name, for gcloud redis clusters commands."
  value       = google_redis_cluster.this.name
}

output "server_ca_pem" {
  description = "The cluster's managed server CA certificates, PEM concatenated. Public material, not a secret."
  value = join("\n", flatten([
    for ca in google_redis_cluster.this.managed_server_ca : [
      for certs in ca.ca_certs : certs.certificates
    ]
  ]))
}
