variable "project_id" {
  description = "Project that owns the service."
  type        = string
}

variable "region" {
  description = "Region of the service."
  type        = string
}

variable "name" {
  description = "Service name; also the service account id (6-30 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", var.name))
    error_message = "name must be a valid service account id: 6-30 lowercase letters, digits or dashes."
  }
}

variable "description" {
  description = "What the service does."
  type        = string
}

variable "image" {
  description = "Image for the first revision only; Cloud Build deploys the real image by digest afterwards."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "public" {
  description = "Grant roles/run.invoker to allUsers. Only for functions that authenticate every request themselves."
  type        = bool
}

variable "min_instances" {
  description = "Instances kept warm (0 scales to zero)."
  type        = number
}

variable "max_instances" {
  description = "Upper bound of instances; with the pool size it bounds database connections."
  type        = number
}

variable "concurrency" {
  description = "Requests one instance serves at once."
  type        = number
  default     = 80
}

variable "cpu" {
  description = "vCPU limit per instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit per instance."
  type        = string
  default     = "256Mi"
}

variable "request_timeout_seconds" {
  description = "Longest a request may run."
  type        = number
  default     = 30
}

variable "vpc_connector_id" {
  description = "Serverless VPC access connector for private backends."
  type        = string
}

variable "env" {
  description = "Plain environment variables. Never secret values: use secret_env."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variable => Secret Manager secret id, read at instance start (version latest)."
  type        = map(string)
  default     = {}
}

variable "secret_files" {
  description = "Volume name => a secret mounted as <mount_dir>/<file_name>."
  type = map(object({
    secret    = string
    mount_dir = string
    file_name = string
  }))
  default = {}
}

variable "deletion_protection" {
  description = "Refuse terraform destroy of the service."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels for the service."
  type        = map(string)
  default     = {}
}
