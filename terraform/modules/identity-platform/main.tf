# Identity Platform: how people sign in. Email/password plus Google and GitHub
# as default supported IdPs. The services verify the resulting ID tokens
# themselves (aud = project id), so nothing here grants access to anything.
#
# The IdPs' OAuth client secrets come in through sensitive variables (a
# *.auto.tfvars file that is never committed, TF_VAR_* variables, or a
# google_secret_manager_secret_version data source in the root module). The
# provider stores them in the state; the state bucket is access-controlled.

resource "google_identity_platform_config" "this" {
  project                    = var.project_id
  autodelete_anonymous_users = true
  authorized_domains         = var.authorized_domains

  sign_in {
    allow_duplicate_emails = false

    email {
      enabled           = true
      password_required = true
    }
  }
}

resource "google_identity_platform_default_supported_idp_config" "google" {
  count = var.google_client_id == null ? 0 : 1

  project       = var.project_id
  idp_id        = "google.com"
  enabled       = true
  client_id     = var.google_client_id
  client_secret = var.google_client_secret

  depends_on = [google_identity_platform_config.this]
}

resource "google_identity_platform_default_supported_idp_config" "github" {
  count = var.github_client_id == null ? 0 : 1

  project       = var.project_id
  idp_id        = "github.com"
  enabled       = true
  client_id     = var.github_client_id
  client_secret = var.github_client_secret

  depends_on = [google_identity_platform_config.this]
}
