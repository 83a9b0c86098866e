# Lease key grants, on the key itself and never on the project.

# Only acquire may sign.
resource "google_kms_crypto_key_iam_member" "acquire_signs_leases" {
  count = var.enable_services ? 1 : 0

  crypto_key_id = module.lease_key.crypto_key_id
  role          = "roles/cloudkms.signerVerifier"
  member        = module.service["acquire"].service_account_member
}

# admin publishes the JWKS; heartbeat and release verify leases. They read
# public keys and nothing else.
resource "google_kms_crypto_key_iam_member" "lease_public_key_readers" {
  for_each = var.enable_services ? toset(["admin", "heartbeat", "release"]) : toset([])

  crypto_key_id = module.lease_key.crypto_key_id
  role          = "roles/cloudkms.publicKeyViewer"
  member        = module.service[each.key].service_account_member
}
