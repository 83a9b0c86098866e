variable "project_id" {
  description = "The dev project."
  type        = string
}

variable "region" {
  description = "Region of every regional resource; cloudbuild.yaml's _REGION must match."
  type        = string
  default     = "us-central1"
}

variable "enable_services" {
  description = "False on the first apply only (before the secrets have versions)."
  type        = bool
  default     = true
}

variable "lease_signing_key_version" {
  description = "Lease key version acquire signs with."
  type        = number
  default     = 1
}

variable "lease_public_key_versions" {
  description = "Lease key versions published in the JWKS."
  type        = list(number)
  default     = [1]
}

# OAuth clients for sign-in. Put them in secrets.auto.tfvars (never committed)
# or TF_VAR_* variables; see docs/deploy.md.
variable "google_client_id" {
  description = "Google OAuth client id."
  type        = string
  default     = null
}

variable "google_client_secret" {
  description = "Google OAuth client secret."
  type        = string
  default     = null
  sensitive   = true
}

variable "github_client_id" {
  description = "GitHub OAuth app client id."
  type        = string
  default     = null
}

variable "github_client_secret" {
  description = "GitHub OAuth app client secret."
  type        = string
  default     = null
  sensitive   = true
}
