# The Cloud KMS key that signs every lease (RS256 JWS). Clients verify leases
# offline against the public keys published in the JWKS, so this key must
# outlive every deployment: prevent_destroy, and no rotation_period because
# Cloud KMS cannot rotate asymmetric keys on a schedule. Rotation is manual:
# new version -> published in the JWKS -> acquire switches to it
# (docs/deploy.md, "Rotating the lease signing key").

resource "google_kms_key_ring" "this" {
  project  = var.project_id
  name     = var.key_ring_name
  location = var.location
}

resource "google_kms_crypto_key" "lease_signing" {
  #checkov:skip=CKV_GCP_43:Asymmetric signing keys cannot rotate on a schedule; rotation is a new version published in the JWKS first (docs/deploy.md).
  name     = var.key_name
  key_ring = google_kms_key_ring.this.id
  purpose  = "ASYMMETRIC_SIGN"
  labels   = var.labels

  # A destroyed version breaks verification of every lease it signed; give
  # operators 30 days to notice and restore.
  destroy_scheduled_duration = "2592000s"

  version_template {
    algorithm        = "RSA_SIGN_PKCS1_4096_SHA256"
    protection_level = var.protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}
