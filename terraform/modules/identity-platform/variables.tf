variable "project_id" {
  description = "Project whose Identity Platform issues the ID tokens (GOOGLE_CLOUD_PROJECT)."
  type        = string
}

variable "authorized_domains" {
  description = "Domains allowed as OAuth redirect targets (the CLI signs in through localhost)."
  type        = list(string)
}

variable "google_client_id" {
  description = "OAuth client id of the Google sign-in client. Null leaves the Google provider unconfigured."
  type        = string
  default     = null
}

variable "google_client_secret" {
  description = "OAuth client secret of the Google sign-in client."
  type        = string
  default     = null
  sensitive   = true
}

variable "github_client_id" {
  description = "Client id of the GitHub OAuth app. Null leaves the GitHub provider unconfigured."
  type        = string
  default     = null
}

variable "github_client_secret" {
  description = "Client secret of the GitHub OAuth app."
  type        = string
  default     = null
  sensitive   = true
}
