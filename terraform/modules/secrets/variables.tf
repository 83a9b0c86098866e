variable "project_id" {
  description = "Project that owns the secrets."
  type        = string
}

variable "region" {
  description = "The only location the secrets are replicated to."
  type        = string
}

variable "prefix" {
  description = "Prefix of every secret id."
  type        = string
}

variable "secrets" {
  description = "Secret key (the id without prefix) => what it holds."
  type        = map(string)
}

variable "labels" {
  description = "Labels for the secrets."
  type        = map(string)
  default     = {}
}
