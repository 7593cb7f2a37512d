# 1.7.4 corrupts invoices: deployments and promotions of it are refused, with this reason,
# until the block is destroyed (or a deployment sets allow_blocked = true).
resource "release_version_block" "bad" {
  name    = "histologe"
  version = "1.7.4"
  reason  = "corrupts invoices (incident 2024-031)"
}
