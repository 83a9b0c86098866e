variable "project_id" {
  description = "Project that owns the cluster."
  type        = string
}

variable "region" {
  description = "Region of the cluster."
  type        = string
}

variable "name" {
  description = "Cluster name."
  type        = string
}

variable "shard_count" {
  description = "Primaries. Each serves its share of the licenses; BENCHMARKS.md says how many a load needs."
  type        = number
  default     = 3

  validation {
    condition     = var.shard_count >= 1
    error_message = "shard_count must be at least 1."
  }
}

variable "replica_count" {
  description = "Replicas per shard (0-2); 1 gives each shard automatic failover, as STANDARD_HA does for the instance."
  type        = number
  default     = 1

  validation {
    condition     = var.replica_count >= 0 && var.replica_count <= 2
    error_message = "replica_count must be 0, 1 or 2."
  }
}

variable "node_type" {
  description = "Node size: REDIS_SHARED_CORE_NANO, REDIS_STANDARD_SMALL, REDIS_HIGHMEM_MEDIUM or REDIS_HIGHMEM_XLARGE."
  type        = string
  default     = "REDIS_STANDARD_SMALL"

  validation {
    condition     = contains(["REDIS_SHARED_CORE_NANO", "REDIS_STANDARD_SMALL", "REDIS_HIGHMEM_MEDIUM", "REDIS_HIGHMEM_XLARGE"], var.node_type)
    error_message = "node_type must be one of the Memorystore Cluster node types."
  }
}

variable "network_id" {
  description = "VPC the Private Service Connect endpoints live in."
  type        = string
}

variable "psc_cidr" {
  description = "Range of the subnet that holds the cluster's Private Service Connect endpoints."
  type        = string
  default     = "10.8.1.0/28"
}
