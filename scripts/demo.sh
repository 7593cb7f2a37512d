#!/usr/bin/env bash
# make demo: the whole release story of examples/pipeline, then a canary release of
# examples/blue-green behind nginx, on one machine, on the embedded defaults (directory
# artifact store and backend), with no network and no credentials. Everything it
# creates lives under .release/demo of the repository; the servers it starts (web
# servers, nginx, a traffic loop) are stopped when it exits.
#
#   scripts/demo.sh <terraform-cli> <cli-config-file-with-dev-overrides>
#
# Story: two versions are built from a small git history; 1.0.0 then 1.1.0 go through
# staging → recette → preprod → production (lock held until validation, same bytes
# promoted -staging → -rc → release, production with its guards, maintenance page and
# backup, the production plan listing what 1.1.0 changes; 1.1.0 refused by a freeze
# window of production, then let through by freeze_override); a broken 1.2.0 fails its
# smoke test in staging and is rolled back by the provider; an old pipeline's 1.0.1
# is refused as a downgrade; production is rolled back to 1.0.0 by applying the
# previous version.
# Canary (examples/blue-green, nginx in front of a blue and a green web server, real
# traffic through nginx): 1.0.0 goes live on blue; 1.1.0 is deployed to green and
# rolled out as a canary, 10% → 50% → 100% of the requests in short steps, each
# analysed on nginx's JSON access log (5xx rate, p99 latency, enough requests), then
# made active; a broken 1.2.0 that passes its health check but answers 500 to real
# requests goes to blue as a canary: the analysis of its 10% step fails, the weight
# goes back to 0 and the apply fails with the figures, while nginx still serves 1.1.0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=${1:?usage: $0 <terraform-cli> <cli-config-file>}
export TF_CLI_CONFIG_FILE=${2:?usage: $0 <terraform-cli> <cli-config-file>}
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
command -v git >/dev/null || { echo "demo: git is needed (scripts/test-deps.sh installs it)" >&2; exit 1; }
command -v curl >/dev/null || { echo "demo: curl is needed (apt-get install curl)" >&2; exit 1; }

demo=$root/.release/demo
pipeline=$demo/examples/pipeline
logs=$demo/logs
started=$(date +%s)
rm -rf "$demo"
mkdir -p "$demo/bin" "$logs" "$demo/examples"
# The pipeline's environments use ../../../../modules: copy both, as in the repository.
cp -R "$root/examples/pipeline" "$pipeline"
cp -R "$root/modules" "$demo/modules"
find "$demo" \( -name .terraform -o -name .terraform.lock.hcl -o -name '*.tfstate*' \) -prune -exec rm -rf {} +
mkdir -p "$pipeline/dist"

bold=$'\033[1m' red=$'\033[31m' green=$'\033[32m' dim=$'\033[2m' off=$'\033[0m'
if [ ! -t 1 ]; then bold='' red='' green='' dim='' off=''; fi
n=0
say() { printf '%s==>%s %s\n' "$bold" "$off" "$*"; }
ok() { printf '    %s✓%s %s\n' "$green" "$off" "$*"; }
look() { printf '    %s%s%s\n' "$dim" "$*" "$off"; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# run_in <dir> <name> <what> <terraform args...>: runs terraform in dir quietly, logs
# everything to <n>-<name>-<what>.log, prints the log's path. Returns terraform's status.
run_in() {
  local dir=$1 name=$2 what=$3
  shift 3
  n=$((n + 1))
  local log
  log=$logs/$(printf '%02d' "$n")-$name-$what.log
  local rc=0
  (cd "$dir" && "$tf" "$@" -no-color) >"$log" 2>&1 || rc=$?
  look "log: ${log#"$root"/}"
  return "$rc"
}

# run <env> <what> <terraform args...>: run_in the pipeline's environment.
run() { run_in "$pipeline/environments/$1" "$@"; }

apply() { # <env> <what> <vars...>
  local env=$1 what=$2
  shift 2
  run "$env" "$what" apply -auto-approve -var "url=${url[$env]}" "$@"
}

serves() { # <env>: the version the environment's site serves now
  curl -fsS --max-time 2 "${url[$1]}/" 2>/dev/null | sed -n 's#.*demo-app \([^<]*\)<.*#\1#p'
}

expect_serving() { # <env> <version>
  local got
  got=$(serves "$1")
  if [ "$got" != "$2" ]; then
    echo "${red}demo: $1 serves '${got:-nothing}', expected $2${off}" >&2
    exit 1
  fi
  ok "curl ${url[$1]}/ → demo-app $2"
}

# --- builds: a git history and one tarball per version ----------------------------
say "Building demo-app 1.0.0, 1.1.0 and a broken 1.2.0 from a small git history"
repo=$demo/app
# Development happens on develop; main follows what production runs (moved by the
# production environment once a release is validated), both pushed to a bare origin.
git init -q -b develop "$repo"
git -C "$repo" config user.name demo
git -C "$repo" config user.email demo@example.org
git init -q --bare "$demo/origin.git"
git -C "$repo" remote add origin "$demo/origin.git"
declare -A commit
# Conventional commit messages with the pull request numbers: the production plan
# lists them as the release's changes.
declare -A message=([1.0.0]="feat: invoices page (#41)" [1.1.0]="feat: export invoices as CSV (#42)" [1.2.0]="fix: faster start-up (#43)")
for v in 1.0.0 1.1.0 1.2.0; do
  mkdir -p "$demo/build/$v"
  printf '<h1>demo-app %s</h1>\n' "$v" >"$demo/build/$v/index.html"
  if [ "$v" = 1.2.0 ]; then
    printf 'database connection refused\n' >"$demo/build/$v/health" # the bug
  else
    printf 'ok\n' >"$demo/build/$v/health"
  fi
  cp "$demo/build/$v/index.html" "$repo/index.html"
  git -C "$repo" add index.html
  git -C "$repo" -c user.name=demo -c user.email=demo@example.org commit -q -m "${message[$v]}"
  commit[$v]=$(git -C "$repo" rev-parse HEAD)
  tar -C "$demo/build/$v" -czf "$pipeline/dist/app-$v.tar.gz" .
done
git -C "$repo" push -q origin develop
ok "tarballs in ${pipeline#"$root"/}/dist, commits in ${repo#"$root"/} (branch develop, pushed to origin)"

# --- one web server per environment, serving <site>/current ---------------------
say "Starting one web server per environment (tools/demoserver, loopback only)"
(cd "$root" && go build -o "$demo/bin/demoserver" ./tools/demoserver)
declare -A url
for env in staging recette preprod production; do
  "$demo/bin/demoserver" -dir "$pipeline/.release/sites/$env" -listen 127.0.0.1:0 \
    -addr-file "$demo/$env.addr" >"$logs/server-$env.log" 2>&1 &
  pids+=($!)
done
for env in staging recette preprod production; do
  for _ in $(seq 100); do [ -s "$demo/$env.addr" ] && break; sleep 0.05; done
  [ -s "$demo/$env.addr" ] || { echo "demo: the $env server did not start, see $logs/server-$env.log" >&2; exit 1; }
  url[$env]=http://$(tr -d '\n' <"$demo/$env.addr")
  look "$env: ${url[$env]}/  (serves ${pipeline#"$root"/}/.release/sites/$env/current)"
done

# Local modules are installed with `terraform get`; the provider comes from the dev
# override, so nothing is downloaded.
for env in staging recette preprod production; do
  (cd "$pipeline/environments/$env" && "$tf" get -no-color >/dev/null)
done

# freeze_production: production, running the previous release, is frozen from an
# hour ago to an hour from now; the release's plan is refused. Sets window.
freeze_production() {
  window="freeze_window={ start = \"$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)\", end = \"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\", reason = \"Year-end freeze\" }"
  say "[1.1.0] production: a freeze window is declared (release_freeze, now−1h → now+1h)"
  apply production freeze -var "app_version=1.0.0" -var "repository=$repo" -var git_remote=origin -var validated=true -var "$window"
  ok "freeze $(sed -n 's/^freeze = "\(.*\)"$/\1/p' "$logs/$(printf '%02d' "$n")-production-freeze.log") stored in the backend: every pipeline sees it"
  if run production frozen plan -var "url=${url[production]}" -var "app_version=1.1.0" -var maintenance=true -var "repository=$repo" -var "$window"; then
    echo "${red}demo: the deployment into frozen production was not refused${off}" >&2
    exit 1
  fi
  local refusal
  refusal=$(tr -s ' \n' ' ' <"$logs/$(printf '%02d' "$n")-production-frozen.log" | grep -o 'production is frozen: [^│]*release_freeze[^;]*; it can be released again at [^ ]* ([^)]*)' | head -1)
  [ -n "$refusal" ] || { echo "${red}demo: no freeze refusal in the plan${off}" >&2; exit 1; }
  ok "refused at plan time: $refusal"
  ok "the hotfix goes through with -var freeze_override=\"INC-4711 hotfix\" (shown in the plan, recorded in the history)"
}

release() { # <version>: the full pipeline for one version
  local v=$1
  say "[$v] staging: publish demo-app@$v-staging, take the lock, deploy, smoke test"
  apply staging deploy -var "app_version=$v" -var "git_commit=${commit[$v]}"
  expect_serving staging "$v"
  ok "lock held until validation: $(grep -o 'lock_holder = .*' "$(ls -t "$logs"/*staging-deploy.log | head -1)" | head -1)"

  say "[$v] staging validated by hand → lock released, same bytes promoted to $v-rc"
  apply staging validate -var "app_version=$v" -var "git_commit=${commit[$v]}" -var validated=true
  ok "promoted demo-app@$v-rc (sha256 unchanged)"

  say "[$v] recette: deploy $v-rc, validate → promoted to the release $v"
  apply recette deploy -var "app_version=$v"
  expect_serving recette "$v"
  apply recette validate -var "app_version=$v" -var validated=true
  ok "promoted demo-app@$v"

  say "[$v] preprod: deploy $v, validate"
  apply preprod deploy -var "app_version=$v"
  expect_serving preprod "$v"
  apply preprod validate -var "app_version=$v" -var validated=true

  local freeze=()
  if [ "$v" = 1.1.0 ]; then
    freeze_production
    freeze=(-var "$window" -var "freeze_override=INC-4711 hotfix")
  fi

  say "[$v] production: the plan is the approval"
  run production plan plan -var "url=${url[production]}" -var "app_version=$v" -var maintenance=true -var "repository=$repo" "${freeze[@]}" -out=release.tfplan
  # The deployment's planned_steps, new values only, as the reviewer reads them.
  sed -n '/planned_steps *= \[/,/^ *\]/p' "$logs/$(printf '%02d' "$n")-production-plan.log" |
    sed -n -e 's/.* -> "\(.*\)",\{0,1\}$/      - \1/p' -e 's/^ *[+]\{0,1\} *"\(.*\)",\{0,1\}$/      - \1/p' |
    sed -e 's/\\"/"/g' -e "s#$root/##g"
  # What the release contains, since the version live in production.
  sed -n '/ changes *= \[/,/^ *\]/{p;/^ *\]/q;}' "$logs/$(printf '%02d' "$n")-production-plan.log" |
    sed -n 's/^ *[+]\{0,1\} *"\(.*\)",\{0,1\}$/      changes: \1/p'
  say "[$v] production: guards, maintenance on, backup, deploy, smoke test"
  run production apply apply -auto-approve release.tfplan
  expect_serving production "$v"
  if curl -fsS --max-time 2 "${url[production]}/maintenance/maintenance.json" >/dev/null; then
    ok "maintenance page up: ${url[production]}/maintenance/maintenance.html"
  else
    echo "${red}demo: the maintenance page is not served${off}" >&2
    exit 1
  fi
  local backup
  backup=$(sed -n 's/^backup_id = "\(.*\)"$/\1/p' "$logs/$(printf '%02d' "$n")-production-apply.log")
  ok "backup before the switch: ${backup:-none}"
  ok "guards passed: $(sed -n 's/^clearance = "\(.*\)"$/\1/p' "$logs/$(printf '%02d' "$n")-production-apply.log") (live in preprod; commit descends from production's)"
  if [ ${#freeze[@]} -gt 0 ]; then
    ok "history: $(grep '"kind":"freeze_overridden"' "$pipeline/.release/state/history/production.jsonl" | tail -1 |
      sed -n 's/.*"version":"\([^"]*\)".*"actor":"\([^"]*\)".*"detail":"freeze_override \\"\([^\\]*\)\\" let it through.*/freeze_overridden \1 by \2: "\3"/p')"
  fi
  say "[$v] production checked → maintenance off, lock released${freeze[0]:+, freeze lifted (freeze_window = null)}"
  apply production validate -var "app_version=$v" -var "repository=$repo" -var git_remote=origin -var validated=true
  sed -n '/^git_release = \[/,/^\]/s/^ *"\(.*\)",\{0,1\}$/\1/p' "$logs/$(printf '%02d' "$n")-production-validate.log" | while read -r line; do ok "git: $line"; done
  curl -fsS --max-time 2 -o /dev/null "${url[production]}/maintenance/maintenance.json" 2>/dev/null &&
    { echo "${red}demo: the maintenance page is still up${off}" >&2; exit 1; }
  ok "maintenance page gone, demo-app $v live"
}

release 1.0.0
release 1.1.0

say "[1.2.0] staging: a broken build (its /health says 'database connection refused')"
if apply staging deploy -var "app_version=1.2.0" -var "git_commit=${commit[1.2.0]}" -var smoke_attempts=2 -var smoke_interval=500ms; then
  echo "${red}demo: the broken version was accepted${off}" >&2
  exit 1
fi
sed -n '/^Error: /,$p' "$(ls -t "$logs"/*staging-deploy.log | head -1)" | grep -v -E '^[[:space:]│╷╵]*$|with module|on .*line|^ *[0-9]+: ' | head -6 | sed 's/^/      /'
expect_serving staging 1.1.0
ok "the provider rolled staging back to 1.1.0 by itself; 1.2.0 is never promoted"

say "[1.0.1] staging: an old pipeline deploys a hotfix of 1.0.0 over 1.1.0"
mkdir -p "$demo/build/1.0.1"
printf '<h1>demo-app 1.0.1</h1>\n' >"$demo/build/1.0.1/index.html"
printf 'ok\n' >"$demo/build/1.0.1/health"
tar -C "$demo/build/1.0.1" -czf "$pipeline/dist/app-1.0.1.tar.gz" .
if apply staging deploy -var "app_version=1.0.1" -var "git_commit=${commit[1.0.0]}"; then
  echo "${red}demo: the downgrade was accepted${off}" >&2
  exit 1
fi
sed -n '/^Error: /,$p' "$(ls -t "$logs"/*staging-deploy.log | head -1)" | grep -v -E '^[[:space:]│╷╵]*$|with module|on .*line|^ *[0-9]+: ' | head -6 | sed 's/^/      /'
expect_serving staging 1.1.0
ok "refused at plan time: 1.0.1 is lower than 1.1.0 and was never live in staging (allow_downgrade = true would let it through)"

say "[rollback] production: terraform apply -var app_version=1.0.0"
apply production rollback -var "app_version=1.0.0" -var "repository=$repo"
expect_serving production 1.0.0
ok "the plan said: $(grep -o 'roll back production from [^"]*' "$(ls -t "$logs"/*production-rollback.log | head -1)" | head -1)"
ok "1.0.0 was cleared for production before, so the guards let the rollback through"
ok "production's lock is held until someone checks it: apply again with -var validated=true"

# --- a canary behind nginx: examples/blue-green ---------------------------------
# The same provider in front of real traffic: two demoservers (blue, green) behind an
# nginx of the demo's own, routed by release_blue_green_router's include file.
say "[canary] examples/blue-green behind nginx: blue and green demoservers, nginx with a JSON access log"
bg=$demo/examples/blue-green
ngx=$demo/nginx
cp -R "$root/examples/blue-green" "$bg"
find "$bg" \( -name .terraform -o -name .terraform.lock.hcl -o -name '*.tfstate*' -o -name .release \) -prune -exec rm -rf {} +
mkdir -p "$bg/dist" "$ngx/conf.d" "$ngx/logs" "$ngx/tmp"
declare -A upstream
for colour in blue green; do
  "$demo/bin/demoserver" -dir "$bg/.release/blue-green/$colour" -listen 127.0.0.1:0 \
    -addr-file "$demo/$colour.addr" >"$logs/server-$colour.log" 2>&1 &
  pids+=($!)
done
for colour in blue green; do
  for _ in $(seq 100); do [ -s "$demo/$colour.addr" ] && break; sleep 0.05; done
  [ -s "$demo/$colour.addr" ] || { echo "${red}demo: the $colour server did not start, see $logs/server-$colour.log${off}" >&2; exit 1; }
  upstream[$colour]=$(tr -d '\n' <"$demo/$colour.addr")
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "${red}demo: nginx is needed (scripts/test-deps.sh demo installs it)${off}" >&2; exit 1; }
nginx_cmd="'$nginx_bin' -p '$ngx/' -c '$ngx/nginx.conf' -e '$ngx/logs/error.log'"
# nginx must know the upstream its server block proxies to before the first apply:
# a placeholder on blue, which the router replaces (it owns app-upstream.conf).
# shellcheck disable=SC2016 # $host and $app_backend are nginx's
printf '# Placeholder until the first terraform apply: release_blue_green_router replaces this file.\nupstream app {\n    server %s;\n}\nmap $host $app_backend {\n    default app;\n}\n' \
  "${upstream[blue]}" >"$ngx/conf.d/app-upstream.conf"
ngx_conf() { # <port>: nginx.conf of the demo's nginx
  [ "$(id -u)" -ne 0 ] || echo "user root;"
  cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $ngx/logs/nginx.pid;
error_log $ngx/logs/error.log notice;
events {
  worker_connections 256;
}
http {
  log_format release_json escape=json '{"time":"\$time_iso8601","status":"\$status","request_time":"\$request_time","upstream_addr":"\$upstream_addr","request":"\$request"}';
  client_body_temp_path $ngx/tmp/client_body;
  proxy_temp_path $ngx/tmp/proxy;
  fastcgi_temp_path $ngx/tmp/fastcgi;
  uwsgi_temp_path $ngx/tmp/uwsgi;
  scgi_temp_path $ngx/tmp/scgi;
  include $ngx/conf.d/*.conf;
  server {
    listen 127.0.0.1:$1;
    access_log $ngx/logs/access.json release_json;
    location / {
      proxy_pass http://\$app_backend;
    }
  }
}
EOF
}
ngx_url=
for _ in 1 2 3 4 5; do # a port taken between the check and nginx's bind is retried
  port=$((20000 + RANDOM % 40000))
  (: </dev/tcp/127.0.0.1/$port) 2>/dev/null && continue
  ngx_conf "$port" >"$ngx/nginx.conf"
  sh -c "exec $nginx_cmd" >>"$logs/nginx.log" 2>&1 &
  ngx_pid=$!
  for _ in $(seq 100); do
    (: </dev/tcp/127.0.0.1/$port) 2>/dev/null && { ngx_url=http://127.0.0.1:$port; break; }
    kill -0 "$ngx_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$ngx_url" ] && { pids+=("$ngx_pid"); break; }
  kill "$ngx_pid" 2>/dev/null || true
done
[ -n "$ngx_url" ] || { echo "${red}demo: nginx did not start, see $logs/nginx.log and $ngx/logs/error.log${off}" >&2; exit 1; }
look "nginx: $ngx_url/  (${ngx#"$root"/}/nginx.conf, include ${ngx#"$root"/}/conf.d/*.conf, access log ${ngx#"$root"/}/logs/access.json)"
look "blue: http://${upstream[blue]}/  green: http://${upstream[green]}/"
cat >"$bg/terraform.tfvars" <<EOF
upstreams = { blue = "${upstream[blue]}", green = "${upstream[green]}" }
nginx = {
  config_file    = "$ngx/conf.d/app-upstream.conf"
  upstream_name  = "app"
  reload_command = "$nginx_cmd -s reload"
  test_command   = "$nginx_cmd -t -q"
}
access_log = "$ngx/logs/access.json"
EOF
for v in 1.0.0 1.1.0 1.2.0; do
  mkdir -p "$demo/build/bg-$v"
  printf '<h1>demo-app %s</h1>\n' "$v" >"$demo/build/bg-$v/index.html"
  printf 'ok\n' >"$demo/build/bg-$v/health"
  [ "$v" != 1.2.0 ] || : >"$demo/build/bg-$v/fail" # the bug: 500 on everything but /health
  tar -C "$demo/build/bg-$v" -czf "$bg/dist/app-$v.tar.gz" .
done
(cd "$bg" && "$tf" get -no-color >/dev/null)

bg_apply() { # <what> <version> <vars...>
  local what=$1 v=$2
  shift 2
  run_in "$bg" blue-green "$what" apply -auto-approve -var "app_version=$v" -var "tarball=dist/app-$v.tar.gz" "$@"
}
through_nginx() { curl -sS --max-time 2 "$ngx_url/" 2>/dev/null | sed -n 's#.*demo-app \([^<]*\)<.*#\1#p'; }
expect_nginx_serving() { # <version>: nginx reloads asynchronously, so a moment is allowed
  local got
  for _ in $(seq 20); do
    got=$(through_nginx)
    [ "$got" = "$1" ] && break
    sleep 0.05
  done
  if [ "$got" != "$1" ]; then
    echo "${red}demo: nginx serves '${got:-nothing}', expected $1${off}" >&2
    exit 1
  fi
  ok "curl $ngx_url/ → demo-app $1  (nginx: $(sed -n 's/^# live: //p' "$ngx/conf.d/app-upstream.conf" | head -1))"
}

say "[canary 1.0.0] blue: deploy, health check, nginx routes everything to blue"
bg_apply first 1.0.0
expect_nginx_serving 1.0.0

# Real traffic for the analysis: 8 requests (4 at a time) every ~20 ms, their statuses
# logged.
urls=()
for _ in 1 2 3 4 5 6 7 8; do urls+=(-o /dev/null "$ngx_url/"); done
( while :; do
  curl -s -Z --parallel-max 4 --max-time 2 -w '%{http_code}\n' "${urls[@]}" 2>/dev/null || true
  sleep 0.02
done ) >>"$logs/traffic.log" &
traffic=$!
pids+=("$traffic")
ok "traffic through nginx: 8 requests every ~20 ms (statuses in ${logs#"$root"/}/traffic.log)"

canary_steps=(-var canary_rollout=true -var canary_pause=3s -var canary_window=3s -var canary_min_requests=10)
# steps <provider log>: each step's weight and its analysis, from the provider's log
# (TF_LOG_PROVIDER=INFO).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
steps() {
  grep -E 'Canary (step|analysis):' "$1" | while IFS= read -r line; do
    case $line in
    *'Canary step:'*) look "  step $(field step "$line") of $(field of "$line"): $(field weight "$line")% of the requests to the canary" ;;
    *) look "    analysis $([ "$(field passed "$line")" = true ] && echo passed || echo FAILED): $(sed -n 's/.* figures="\([^"]*\)".*/\1/p' <<<"$line")" ;;
    esac
  done
}
say "[canary 1.1.0] green: deploy, then 10% → 50% → 100% of the requests, each step analysed (3s steps here, 5m by default)"
TF_LOG_PROVIDER=INFO TF_LOG_PATH=$logs/canary-1.1.0-provider.log bg_apply canary 1.1.0 "${canary_steps[@]}"
# The plan's summary, each later step's check (the same) left out.
ok "plan: $(sed -n 's/^ *"summary" = "\(.*\)"$/\1/p' "$logs/$(printf '%02d' "$n")-blue-green-canary.log" | head -1 |
  sed 's/\(; then [0-9]*%\), then check [^;]*/\1/g') (each step checked so)"
steps "$logs/canary-1.1.0-provider.log"
grep -q '"weight" = 100' "$logs/$(printf '%02d' "$n")-blue-green-canary.log" ||
  { echo "${red}demo: the canary of 1.1.0 did not reach 100%${off}" >&2; exit 1; }
expect_nginx_serving 1.1.0

say "[canary 1.1.0] the apply without canary_rollout makes green active"
bg_apply promote 1.1.0
expect_nginx_serving 1.1.0

say "[canary 1.2.0] a broken build: /health says ok, every other request answers 500"
before=$(wc -l <"$logs/traffic.log")
if TF_LOG_PROVIDER=INFO TF_LOG_PATH=$logs/canary-1.2.0-provider.log bg_apply broken 1.2.0 "${canary_steps[@]}"; then
  echo "${red}demo: the broken canary was accepted${off}" >&2
  exit 1
fi
steps "$logs/canary-1.2.0-provider.log"
sed -n '/^Error: /,$p' "$logs/$(printf '%02d' "$n")-blue-green-broken.log" | grep -v -E '^[[:space:]│╷╵]*$|with module|on .*line|^ *[0-9]+: ' | head -8 | sed 's/^/      /'
tr -s ' \n' ' ' <"$logs/$(printf '%02d' "$n")-blue-green-broken.log" | grep -q 'Canary analysis of blue failed at 10%.* blue answered [0-9.]*% 5xx' ||
  { echo "${red}demo: the apply did not fail on the canary analysis${off}" >&2; exit 1; }
expect_nginx_serving 1.1.0
failed=$(tail -n +"$((before + 1))" "$logs/traffic.log" | grep -c '^5' || true)
ok "clients saw $failed errors (500) out of $(($(wc -l <"$logs/traffic.log") - before)) requests during that apply; blue (1.2.0) takes none now"
kill "$traffic" 2>/dev/null || true

say "The release history in git (origin): tags and main on the commits production validated"
git -C "$repo" fetch -q origin
git -C "$repo" log --oneline --decorate --no-color origin/develop origin/main | sed 's/^/      /'

say "Done in $(($(date +%s) - started))s. Where to look:"
look "sites (current -> releases/<version>-<time>):  ${pipeline#"$root"/}/.release/sites/<env>"
look "artifacts (-staging, -rc, release, +production clearances, backups):  ${pipeline#"$root"/}/.release/artifacts"
look "locks, fencing tokens and history (one JSON line per event):  ${pipeline#"$root"/}/.release/state/history/<env>.jsonl"
look "terraform output of every step:  ${logs#"$root"/}/"
look "serve a site again:  $demo/bin/demoserver -dir $pipeline/.release/sites/production -listen 127.0.0.1:8089"
look "canary: nginx ${ngx#"$root"/}/nginx.conf, the router's ${ngx#"$root"/}/conf.d/app-upstream.conf, access log ${ngx#"$root"/}/logs/access.json, provider logs ${logs#"$root"/}/canary-*-provider.log"
look "production history:"
sed -n 's/.*"time":"\([^"]*\)".*"kind":"\([^"]*\)".*"version":"\([^"]*\)".*/      \1  \2  \3/p' "$pipeline/.release/state/history/production.jsonl" | tail -n 8
