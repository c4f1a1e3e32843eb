#!/usr/bin/env bash
# The compose deployment, really run (issue 7): builds the image with compose/build-image, renders
# topology/examples/two-regions.yaml with `meridian compose`, brings it up with Debian's
# docker-compose (v1), waits for every container to be healthy, makes a global table with the AWS
# CLI through a published port, writes in one region and reads in the other, kills the leader
# facility of each region and keeps writing and reading through the survivors, starts them again,
# checks a last write replicates, and takes everything down with its volumes.
#   compose_test.sh MERIDIAN_BINARY SOURCE_DIR
# Exit 77 (ctest: skipped) when there is no Docker engine or no docker-compose.
# Each run has its own project name, image tag, ports and temporary folder, and removes them.
set -uo pipefail

binary=${1:?usage: compose_test.sh MERIDIAN_BINARY SOURCE_DIR}
src=${2:?usage: compose_test.sh MERIDIAN_BINARY SOURCE_DIR}
AWS=/usr/bin/aws
PYTHON=/usr/bin/python3
started=$(date +%s)

step() { printf '[%4ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }
skip() { echo "compose_docker_test: SKIPPED: $*"; exit 77; }
fail() { step "FAILED: $*"; exit 1; }

command -v docker >/dev/null || skip "no docker command on PATH"
docker info >/dev/null 2>&1 || skip "no Docker engine answers ('docker info' failed)"
command -v docker-compose >/dev/null || skip "docker-compose is missing (Debian: apt-get install docker-compose)"
[ -x "$AWS" ] || fail "$AWS is missing (scripts/setup installs awscli)"
[ -x "$binary" ] || fail "no meridian binary at $binary"

project="meridian-test-$$-$(date +%s)"
image="meridian-test:$project"
dir=$(mktemp -d "${TMPDIR:-/tmp}/meridian-compose-test.XXXXXX")
compose_file=$dir/two-regions.yml
ok=0

dc() { docker-compose --ansi never -p "$project" -f "$compose_file" "$@"; }

cleanup() {
  if [ "$ok" -ne 1 ] && [ -f "$compose_file" ]; then
    step "logs of the failed run"
    dc ps 2>&1
    dc logs --no-color --tail 50 2>&1
  fi
  if [ -f "$compose_file" ]; then
    dc down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    step "docker-compose down -v"
  fi
  docker image rm "$image" >/dev/null 2>&1 || true
  rm -rf "$dir"
  step "removed the image $image and $dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM  # so that cleanup runs when ctest or a person stops the test

# A block of free ports on 127.0.0.1 for the published HTTP ports: base+0..2 (us-east a..c) and
# base+10..12 (eu-west a..c), as `meridian compose --publish-base` assigns them.
base=$("$PYTHON" - <<'EOF'
import random, socket
for _ in range(100):
    base = random.randrange(20000, 60000, 20)
    try:
        socks = []
        for offset in (0, 1, 2, 10, 11, 12):
            s = socket.socket()
            s.bind(("127.0.0.1", base + offset))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
EOF
)
[ -n "$base" ] || fail "found no free port block"
declare -A port=([us-east-a]=$base [us-east-b]=$((base + 1)) [us-east-c]=$((base + 2))
                 [eu-west-a]=$((base + 10)) [eu-west-b]=$((base + 11)) [eu-west-c]=$((base + 12)))

step "compose/build-image --binary $binary --tag $image"
"$src/compose/build-image" --binary "$binary" --tag "$image" || fail "compose/build-image failed"

step "meridian compose (project $project, published ports from $base)"
"$binary" compose --topology "$src/topology/examples/two-regions.yaml" --out "$compose_file" \
  --image "$image" --publish-base "$base" >/dev/null || fail "meridian compose failed"
dc config -q || fail "docker-compose config refused $compose_file"
services=$(dc config --services) || fail "docker-compose config --services failed"

# The AWS CLI against one facility's published port, with the rendered credentials.
export AWS_SHARED_CREDENTIALS_FILE=$dir/two-regions.credentials AWS_PROFILE=meridian
export AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
ddb() {  # ddb FACILITY ARGS...: e.g. ddb us-east-a put-item ...
  local facility=$1 region=${1%-*}
  shift
  "$AWS" --endpoint-url "http://127.0.0.1:${port[$facility]}" --region "$region" --output json \
    --cli-connect-timeout 2 --cli-read-timeout 10 dynamodb "$@"
}

# Retries a command every second until it succeeds, for at most $1 seconds; its last output is in
# $out. Every loop of this test goes through here, so each is bounded in time and count.
out=""
retry() {
  local seconds=$1 deadline attempt
  shift
  deadline=$(( $(date +%s) + seconds ))
  for attempt in $(seq 1 "$seconds"); do
    if out=$("$@" 2>&1); then
      [ "$attempt" -eq 1 ] || step "  (${*:1:3}: attempt $attempt)"
      return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 1
  done
  echo "$out" | tail -5
  return 1
}

# Every container of the project is running and healthy (a container without a health check
# counts when running).
all_healthy() {
  local ids id state bad=""
  ids=$(dc ps -q) || return 1
  [ "$(echo "$ids" | grep -c .)" -eq "$(echo "$services" | grep -c .)" ] || { echo "not every service has a container"; return 1; }
  for id in $ids; do
    state=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}' "$id") || return 1
    case "$state" in
      *" running healthy" | *" running no-healthcheck") ;;
      *) bad+="$state; " ;;
    esac
  done
  [ -z "$bad" ] || { echo "$bad"; return 1; }
}

# An item's "v" attribute as read through FACILITY ("" when absent).
read_item() {  # read_item FACILITY TABLE KEY
  ddb "$1" get-item --table-name "$2" --key "{\"pk\":{\"S\":\"$3\"}}" --consistent-read \
    | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("Item", {}).get("v", {}).get("S", ""))'
}
has_item() {  # has_item FACILITY TABLE KEY VALUE
  local v
  v=$(read_item "$1" "$2" "$3") || return 1
  [ "$v" = "$4" ] || { echo "read '$v', want '$4'"; return 1; }
}
put_item() {  # put_item FACILITY TABLE KEY VALUE
  ddb "$1" put-item --table-name "$2" --item "{\"pk\":{\"S\":\"$3\"},\"v\":{\"S\":\"$4\"}}" >/dev/null
}

step "docker-compose down -v; up -d"
dc down -v --remove-orphans >/dev/null 2>&1
dc up -d 2>&1 | tail -3 || fail "docker-compose up failed"
step "waiting for $(echo "$services" | grep -c .) services to be healthy"
retry 120 all_healthy || fail "the services did not all become healthy within 120 s"
dc ps

table=compose_test
step "create-table $table in us-east (us-east-a, port ${port[us-east-a]})"
retry 30 ddb us-east-a create-table --table-name "$table" \
  --attribute-definitions AttributeName=pk,AttributeType=S --key-schema AttributeName=pk,KeyType=HASH \
  --billing-mode PAY_PER_REQUEST || fail "create-table failed"
table_active() {
  ddb us-east-a describe-table --table-name "$table" --query Table.TableStatus --output text | grep -qx ACTIVE
}
retry 30 table_active || fail "the table did not become ACTIVE"

step "update-table: replica in eu-west"
retry 30 ddb us-east-a update-table --table-name "$table" \
  --replica-updates '[{"Create":{"RegionName":"eu-west"}}]' || fail "update-table failed"
replica_active() {  # DescribeTable in us-east lists eu-west, ACTIVE
  ddb us-east-a describe-table --table-name "$table" --query 'Table.Replicas[?RegionName==`eu-west`].ReplicaStatus' \
    --output text | grep -qx ACTIVE
}
retry 60 replica_active || fail "the eu-west replica did not become ACTIVE"

step "put-item through us-east-a, get-item through eu-west-a"
retry 20 put_item us-east-a "$table" first one || fail "put-item in us-east failed"
retry 30 has_item eu-west-a "$table" first one || fail "the item written in us-east did not reach eu-west"

# The leader of each region, as `meridian status` inside a container sees it.
status_json=$(dc exec -T us-east-b meridian status --json)
leaders=$(echo "$status_json" | "$PYTHON" -c '
import json, sys
for region in json.load(sys.stdin)["regions"]:
    print(region["name"] + "-" + (region["leader"] or "a"))') || fail "could not read meridian status --json: $status_json"
victims=$(echo "$leaders" | tr '\n' ' ')
step "docker-compose kill $victims(the leaders)"
# shellcheck disable=SC2086
dc kill $victims >/dev/null 2>&1 || fail "docker-compose kill failed"

# A surviving facility of each region, to talk to while its sibling is dead.
survivor() {
  local region=$1 f
  for f in a b c; do
    case " $victims " in *" $region-$f "*) ;; *) echo "$region-$f"; return ;; esac
  done
}
us=$(survivor us-east)
eu=$(survivor eu-west)
step "writing in both regions through $us and $eu, reading across"
for i in 1 2 3; do
  retry 30 put_item "$us" "$table" "us-$i" "from us-east $i" || fail "put-item $i through $us failed"
  retry 30 put_item "$eu" "$table" "eu-$i" "from eu-west $i" || fail "put-item $i through $eu failed"
done
for i in 1 2 3; do
  retry 30 has_item "$eu" "$table" "us-$i" "from us-east $i" || fail "us-$i did not reach eu-west"
  retry 30 has_item "$us" "$table" "eu-$i" "from eu-west $i" || fail "eu-$i did not reach us-east"
done

# `restart: unless-stopped` must not have brought them back: else the writes above did not run
# with a facility of each region down.
for v in $victims; do
  [ "$(docker inspect -f '{{.State.Running}}' "$(dc ps -q "$v")")" = false ] || fail "Docker restarted the killed $v"
done

step "docker-compose start $victims"
# shellcheck disable=SC2086
dc start $victims >/dev/null 2>&1 || fail "docker-compose start failed"
retry 120 all_healthy || fail "the services did not all become healthy again within 120 s"

restarted_us=$(echo "$leaders" | grep '^us-east-')
restarted_eu=$(echo "$leaders" | grep '^eu-west-')
step "put-item through $restarted_us, get-item through $restarted_eu (the restarted facilities)"
retry 30 put_item "$restarted_us" "$table" last "after restart" || fail "put-item through $restarted_us failed"
retry 30 has_item "$restarted_eu" "$table" last "after restart" || fail "the last item did not reach $restarted_eu"
retry 30 has_item "$restarted_eu" "$table" us-3 "from us-east 3" || fail "$restarted_eu did not catch up"

ok=1
step "PASSED"
