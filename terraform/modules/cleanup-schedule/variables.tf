variable "project_id" {
  description = "Project of the job and the service."
  type        = string
}

variable "region" {
  description = "Region of the job and the service."
  type        = string
}

variable "service_name" {
  description = "Name of the cleanup Cloud Run service."
  type        = string
}

variable "service_uri" {
  description = "HTTPS URL of the cleanup service; also the OIDC audience."
  type        = string
}

variable "path" {
  description = "Task endpoint."
  type        = string
  default     = "/api/v1/tasks/cleanup"
}

variable "job_name" {
  description = "Cloud Scheduler job name."
  type        = string
}

variable "service_account_id" {
  description = "Account id of the scheduler's own service account."
  type        = string
}

variable "schedule" {
  description = "Cron schedule (UTC)."
  type        = string
  default     = "* * * * *"
}

variable "attempt_deadline_seconds" {
  description = "How long one attempt may take before it counts as failed."
  type        = number
  default     = 30
}
