variable "project_id" {
  description = "Project that owns the key ring."
  type        = string
}

variable "location" {
  description = "KMS location of the key ring (the platform's region)."
  type        = string
}

variable "key_ring_name" {
  description = "Key ring name. Key rings can never be deleted, so a name is used once per project."
  type        = string
}

variable "key_name" {
  description = "Name of the signing key."
  type        = string
  default     = "lease-signing"
}

variable "protection_level" {
  description = "SOFTWARE (dev) or HSM (prod)."
  type        = string

  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.protection_level)
    error_message = "protection_level must be SOFTWARE or HSM."
  }
}

variable "labels" {
  description = "Labels for the key."
  type        = map(string)
  default     = {}
}
