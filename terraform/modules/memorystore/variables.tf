variable "project_id" {
  description = "Project that owns the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance."
  type        = string
}

variable "name" {
  description = "Instance name."
  type        = string
}

variable "tier" {
  description = "BASIC (single node, dev) or STANDARD_HA (replica with automatic failover, prod)."
  type        = string

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.tier)
    error_message = "tier must be BASIC or STANDARD_HA."
  }
}

variable "memory_size_gb" {
  description = "Capacity in GB. Seats take well under 1 KB each, so 1 GB holds far more than needed."
  type        = number
  default     = 1
}

variable "redis_version" {
  description = "Redis major version."
  type        = string
  default     = "REDIS_7_2"
}

variable "network_id" {
  description = "VPC with private services access to Memorystore."
  type        = string
}

variable "labels" {
  description = "Labels for the instance."
  type        = map(string)
  default     = {}
}
