output "log_metrics" {
  description = "The log-based metrics' types, for dashboards and PromQL (logging_googleapis_com:user_<name>)."
  value       = { for key, metric in google_logging_metric.figure : key => "logging.googleapis.com/user/${metric.name}" }
}

output "alert_policies" {
  description = "The alert policies' ids."
  value       = { for key, policy in google_monitoring_alert_policy.alert : key => policy.id }
}
