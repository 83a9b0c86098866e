output "instance_name" {
  description = "Instance name, for gcloud sql commands."
  value       = google_sql_database_instance.this.name
}

output "connection_name" {
  description = "project:region:instance."
  value       = google_sql_database_instance.this.connection_name
}

output "private_ip" {
  description = "Private IP the services connect to (host part of DATABASE_URL)."
  value       = google_sql_database_instance.this.private_ip_address
}

output "database_name" {
  description = "The application database."
  value       = google_sql_database.app.name
}

output "max_connections" {
  description = "max_connections as configured."
  value       = var.max_connections
}
