output "active" {
  description = "The colour that receives all traffic after this apply."
  value       = release_blue_green_router.this.active
}

output "live_version" {
  description = "The version the live colour runs."
  value       = local.versions[local.active]
}

output "idle" {
  description = "The colour that is not live: where the next version goes, and what a rollback switches to."
  value       = local.active == "blue" ? "green" : "blue"
}

output "versions" {
  description = "What each colour runs: { blue, green } (\"\" when nothing)."
  value       = local.versions
}

output "live_path" {
  description = "Serve <live_path>/current: it follows the switch."
  value       = "${var.path}/live"
}

output "canary" {
  description = "The canary in effect after this apply: { colour, weight, summary }, or null."
  value       = try({ colour = release_blue_green_router.this.canary.colour, weight = release_blue_green_router.this.canary.weight, summary = release_blue_green_router.this.canary.summary }, null)
}
