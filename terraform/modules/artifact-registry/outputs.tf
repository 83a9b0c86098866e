output "name" {
  description = "Repository id (for IAM)."
  value       = google_artifact_registry_repository.this.name
}

output "url" {
  description = "Image path prefix: <region>-docker.pkg.dev/<project>/<repository>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}
