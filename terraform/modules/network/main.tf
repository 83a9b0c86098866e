# The private network every backend lives on. Cloud SQL and Memorystore get
# addresses from one range peered in through private services access; Cloud
# Run reaches them through a serverless VPC access connector.

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = var.name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

# The connector gets a dedicated /28 subnet rather than an ad-hoc range, so the
# range shows up in the VPC and its flow logs like any other subnet.
resource "google_compute_subnetwork" "connector" {
  project                  = var.project_id
  name                     = "${var.name}-connector"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.connector_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: Google-managed services (Cloud SQL, Memorystore)
# take their private addresses from this range.
resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "${var.name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_services_prefix_length
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

resource "google_vpc_access_connector" "this" {
  project       = var.project_id
  name          = "${var.name}-conn"
  region        = var.region
  machine_type  = var.connector.machine_type
  min_instances = var.connector.min_instances
  max_instances = var.connector.max_instances

  subnet {
    name = google_compute_subnetwork.connector.name
  }
}

# Custom-mode VPCs already deny ingress implicitly; this rule makes the intent
# explicit and logged. Nothing in the VPC accepts inbound traffic from outside:
# Cloud SQL and Memorystore live in Google's peered network, and the connector
# gets its own firewall rules from Serverless VPC Access.
resource "google_compute_firewall" "deny_all_ingress" {
  project   = var.project_id
  name      = "${var.name}-deny-all-ingress"
  network   = google_compute_network.this.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
