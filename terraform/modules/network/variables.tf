variable "project_id" {
  description = "Project that owns the network."
  type        = string
}

variable "region" {
  description = "Region of the connector subnet and the connector."
  type        = string
}

variable "name" {
  description = "Name of the VPC; also the prefix of the subnet, peering range and connector."
  type        = string

  validation {
    # The connector name "<name>-conn" may have at most 25 characters.
    condition     = can(regex("^[a-z][-a-z0-9]{0,19}$", var.name))
    error_message = "name must be lowercase, start with a letter and have at most 20 characters."
  }
}

variable "connector_cidr" {
  description = "A /28 for the serverless VPC access connector's subnet."
  type        = string
  default     = "10.8.0.0/28"

  validation {
    condition     = endswith(var.connector_cidr, "/28")
    error_message = "Serverless VPC access connectors need a /28."
  }
}

variable "private_services_prefix_length" {
  description = "Size of the range reserved for Cloud SQL and Memorystore private IPs."
  type        = number
  default     = 20
}

variable "connector" {
  description = "Connector sizing. Connectors scale out under load but never scale back in, so keep max_instances modest."
  type = object({
    machine_type  = string
    min_instances = number
    max_instances = number
  })
  default = {
    machine_type  = "e2-micro"
    min_instances = 2
    max_instances = 3
  }

  validation {
    condition     = var.connector.min_instances >= 2 && var.connector.max_instances > var.connector.min_instances
    error_message = "A connector needs min_instances >= 2 and max_instances > min_instances."
  }
}
