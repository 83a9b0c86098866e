output "key_ring_id" {
  description = "projects/<p>/locations/<l>/keyRings/<ring>."
  value       = google_kms_key_ring.this.id
}

output "crypto_key_id" {
  description = "projects/<p>/locations/<l>/keyRings/<ring>/cryptoKeys/<key>; append /cryptoKeyVersions/<n> for a version."
  value       = google_kms_crypto_key.lease_signing.id
}
