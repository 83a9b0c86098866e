output "network_id" {
  description = "Self link id of the VPC, for Cloud SQL private_network and Memorystore authorized_network."
  value       = google_compute_network.this.id
}

output "network_name" {
  description = "Name of the VPC."
  value       = google_compute_network.this.name
}

output "connector_id" {
  description = "Id of the serverless VPC access connector for Cloud Run vpc_access."
  value       = google_vpc_access_connector.this.id
}

output "private_services_range" {
  description = "Name of the range peered to Google-managed services."
  value       = google_compute_global_address.private_services.name
}

output "private_services_connection" {
  description = "The peering; depend on it before creating private-IP Cloud SQL or Memorystore."
  value       = google_service_networking_connection.private_services.id
}
