# The operators' figures in Cloud Monitoring, read from the services' structured logs (one JSON
# object per line, shared/src/telemetry.rs) and from Cloud Run's own request metrics. The local
# server serves the same figures as Prometheus text (METRICS_ADDRESS, shared/src/metrics.rs).
#
# Every figure is a DISTRIBUTION over the line's `count`, so the PromQL `_sum` of a metric is
# exact: the access log aggregates repeated refusals into one "similar requests not logged" line
# whose `count` is how many it stands for, and a cleanup run writes one line per event kind and per
# tier with its `count`.

locals {
  services = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=starts_with(\"${var.name_prefix}-\")"

  figures = {
    # Every answer that is not a success, by route template, status and problem code: denials
    # (seats_exhausted, license_*), rate-limited calls (rate_limited), bad input, our failures.
    refusals = {
      description = "Answers that were not a success, by route, status and problem code."
      filter      = "jsonPayload.count>=1 AND jsonPayload.status>=400"
      labels = {
        route  = "EXTRACT(jsonPayload.route)"
        status = "EXTRACT(jsonPayload.status)"
        code   = "EXTRACT(jsonPayload.code)"
      }
    }
    # Grants, releases, expiries and denials as the cleanup task writes them to the audit trail.
    seat_events = {
      description = "Seat events written to the audit trail, by kind (granted, released, expired, denied, borrowed)."
      filter      = "jsonPayload.message=\"seat events\""
      labels      = { kind = "EXTRACT(jsonPayload.kind)" }
    }
    # Seats held per license tier, once per cleanup run (every minute): chart the _sum per minute.
    seats_in_use = {
      description = "Seats held at each cleanup run, by license tier."
      filter      = "jsonPayload.message=\"seats in use\""
      labels      = { tier = "EXTRACT(jsonPayload.tier)" }
    }
  }

  # Cloud Run's request_latencies are in ms and cover every request, heartbeats included (their
  # successes log at debug, so no log line carries them).
  latency = {
    acquire   = var.acquire_p95_ms
    heartbeat = var.heartbeat_p95_ms
  }
}

resource "google_logging_metric" "figure" {
  for_each = local.figures

  project         = var.project_id
  name            = "${var.name_prefix}/${each.key}"
  description     = each.value.description
  filter          = "${local.services} AND ${each.value.filter}"
  value_extractor = "EXTRACT(jsonPayload.count)"

  label_extractors = each.value.labels

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 4
      scale              = 1
    }
  }
}

locals {
  promql_metric = { for key, metric in google_logging_metric.figure : key => "logging_googleapis_com:user_${replace(metric.name, "/", "_")}" }

  alerts = merge(
    {
      for service, ms in local.latency : "${service}-latency" => {
        name     = "${var.name_prefix} ${service} p95 latency above ${ms} ms"
        query    = "histogram_quantile(0.95, sum by (le) (rate(run_googleapis_com:request_latencies_bucket{monitored_resource=\"cloud_run_revision\",service_name=\"${var.name_prefix}-${service}\"}[5m]))) > ${ms}"
        duration = "300s"
        doc      = "The ${service} service's 95th percentile latency stayed above ${ms} ms for 5 minutes. Check Memorystore (CPU, connections) and, for acquire, Cloud SQL: docs/deploy.md, Operating."
      }
    },
    {
      server-errors = {
        name     = "${var.name_prefix} answers 5xx"
        query    = "sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",service_name=~\"${var.name_prefix}-.*\",response_code_class=\"5xx\"}[5m])) > ${var.server_error_rate}"
        duration = "300s"
        doc      = "A service answered more than ${var.server_error_rate} 5xx per second over 5 minutes. Each failure's cause is on its 'request failed' line (severity ERROR) with its request id."
      }
      denials = {
        name     = "${var.name_prefix} seat denials"
        query    = "sum(rate(${local.promql_metric["refusals"]}_sum{code=\"seats_exhausted\"}[15m])) > ${var.denials_per_second}"
        duration = "900s"
        doc      = "Acquires refused for a full pool passed ${var.denials_per_second} per second over 15 minutes. The audit trail (seat.denied) names the license; its owner may need more seats."
      }
    },
  )
}

resource "google_monitoring_alert_policy" "alert" {
  for_each = local.alerts

  project               = var.project_id
  display_name          = each.value.name
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = each.value.name

    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.duration
      evaluation_interval = "60s"
    }
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}
