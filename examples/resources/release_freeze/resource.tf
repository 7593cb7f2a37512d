# No production release over the end-of-year holidays: deployments and promotions into
# production are refused at plan time and again at apply time, with this reason and when
# the window ends, unless they set freeze_override.
resource "release_freeze" "year_end" {
  environments = ["production"]
  reason       = "End-of-year freeze"
  start        = "2026-12-20T00:00:00+01:00"
  end          = "2027-01-05T00:00:00+01:00"
}

# Every weekend, from Friday 14:00 to Monday 04:00 Paris time (62 hours).
resource "release_freeze" "weekends" {
  environments = ["production", "preproduction"]
  reason       = "No weekend releases"
  cron         = "0 14 * * FRI"
  duration     = "62h"
  time_zone    = "Europe/Paris"
}

# A hotfix during a freeze says why, and the history records it with who applied it:
#
# resource "release_deployment" "production" {
#   ...
#   freeze_override = "INC-4711 invoice hotfix"
# }
