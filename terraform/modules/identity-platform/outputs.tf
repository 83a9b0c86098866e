output "enabled_providers" {
  description = "Sign-in providers configured: always password, plus google.com and github.com when their client ids are set."
  value = concat(
    ["password"],
    [for c in google_identity_platform_default_supported_idp_config.google : c.idp_id],
    [for c in google_identity_platform_default_supported_idp_config.github : c.idp_id],
  )
}
