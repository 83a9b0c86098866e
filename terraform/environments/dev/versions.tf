terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.30, < 8.0"
    }
  }

  # The bucket is passed at init: terraform init -backend-config="bucket=<project>-tfstate"
  backend "gcs" {
    prefix = "coditect/dev"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Identity Platform calls need a quota project when run with user credentials.
  user_project_override = true
  billing_project       = var.project_id

  default_labels = {
    managed-by = "terraform"
  }
}
