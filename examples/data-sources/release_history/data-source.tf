# The last 50 events of production, newest first.
data "release_history" "production" {
  environment = "production"
  limit       = 50
}

# Every deployment and rollback of histologe, in any environment.
data "release_history" "deployments" {
  name  = "histologe"
  kinds = ["deployed", "rolled_back", "failed"]
}

output "last_production_event" {
  value = try(data.release_history.production.events[0], null)
}
