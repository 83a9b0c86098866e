variable "project_id" {
  description = "Project that owns the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance."
  type        = string
}

variable "name" {
  description = "Instance name. Cloud SQL does not reuse a deleted instance's name for about a week."
  type        = string
}

variable "tier" {
  description = "Machine tier of the Enterprise edition, e.g. db-g1-small or db-custom-2-7680."
  type        = string
}

variable "high_availability" {
  description = "REGIONAL (a standby in a second zone, automatic failover) when true, ZONAL otherwise."
  type        = bool
}

variable "disk_size_gb" {
  description = "Initial SSD size; the disk grows automatically."
  type        = number
  default     = 10
}

variable "network_id" {
  description = "VPC the private IP is allocated in (private services access must exist)."
  type        = string
}

variable "database_name" {
  description = "The application database."
  type        = string
  default     = "coditect"
}

variable "max_connections" {
  description = "PostgreSQL max_connections, set as a flag."
  type        = number
}

variable "reserved_connections" {
  description = "Connections kept free for superuser, Cloud SQL's own agents, operators and a rollout's overlapping revisions."
  type        = number
  default     = 15
}

variable "connection_demand" {
  description = "Most connections the clients can open: sum of max_instances x pool size over every database-using service and job."
  type        = number
}

variable "retained_backups" {
  description = "How many daily backups to keep."
  type        = number
  default     = 7
}

variable "labels" {
  description = "Labels for the instance."
  type        = map(string)
  default     = {}
}
