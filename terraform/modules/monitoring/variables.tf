variable "project_id" {
  description = "Project whose logs the metrics read and whose Cloud Monitoring holds them."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the Cloud Run services (\"<prefix>-acquire\", …) and of every metric and policy name."
  type        = string
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids the alert policies notify (none: the policies still open incidents)."
  type        = list(string)
  default     = []
}

variable "acquire_p95_ms" {
  description = "Alert when the acquire service's 95th percentile latency stays above this many ms for 5 minutes."
  type        = number
  default     = 1000
}

variable "heartbeat_p95_ms" {
  description = "Alert when the heartbeat service's 95th percentile latency stays above this many ms for 5 minutes."
  type        = number
  default     = 500
}

variable "server_error_rate" {
  description = "Alert when any service answers more than this many 5xx per second, over 5 minutes."
  type        = number
  default     = 0.1
}

variable "denials_per_second" {
  description = "Alert when acquires refused for a full pool (seats_exhausted) pass this rate over 15 minutes: a license that needs more seats."
  type        = number
  default     = 1
}
