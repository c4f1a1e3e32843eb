#!/usr/bin/env bash
# The compose deployment, really run (issue 7), and the chaos scenarios of issue 8 on it: builds the
# image with compose/build-image, renders topology/examples/two-regions.yaml with `meridian
# compose`, brings it up with Debian's docker-compose (v1), waits for every container to be
# healthy, makes a global table with the AWS CLI through a published port, writes in one region and
# reads in the other, kills the leader facility of each region and keeps writing and reading
# through the survivors, starts them again and checks a last write replicates. Then, on the same
# deployment (one bring-up), the chaos harness runs leader-kill, leader-pause and region-isolation
# on the compose backend (docker kill, docker pause, docker network disconnect), each with its
# checker. Everything is taken down with its volumes at the end (compose_lib.sh).
#   compose_test.sh MERIDIAN_BINARY SOURCE_DIR [CHAOS_BINARY CHAOS_OUT_DIR]
# Without CHAOS_BINARY only the issue 7 part runs. MERIDIAN_COMPOSE_CHAOS_DURATION (default 14)
# is each scenario's fault window in seconds.
# Exit 77 (ctest: skipped) when there is no Docker engine or no docker-compose.
set -uo pipefail

binary=${1:?usage: compose_test.sh MERIDIAN_BINARY SOURCE_DIR [CHAOS_BINARY CHAOS_OUT_DIR]}
src=${2:?usage: compose_test.sh MERIDIAN_BINARY SOURCE_DIR [CHAOS_BINARY CHAOS_OUT_DIR]}
chaos=${3:-}
chaos_out=${4:-}
test_name=compose_docker_test
# shellcheck source=tests/integration/compose_lib.sh
. "$src/tests/integration/compose_lib.sh"
[ -x "$AWS" ] || fail "$AWS is missing (scripts/setup installs awscli)"
[ -z "$chaos" ] || [ -x "$chaos" ] || fail "no chaos binary at $chaos"
compose_up

# The AWS CLI against one facility's published port, with the rendered credentials.
export AWS_SHARED_CREDENTIALS_FILE=$dir/two-regions.credentials AWS_PROFILE=meridian
export AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
ddb() {  # ddb FACILITY ARGS...: e.g. ddb us-east-a put-item ...
  local facility=$1 region=${1%-*}
  shift
  "$AWS" --endpoint-url "http://127.0.0.1:${port[$facility]}" --region "$region" --output json \
    --cli-connect-timeout 2 --cli-read-timeout 10 dynamodb "$@"
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

step "the deployment passed its checks"

# The chaos scenarios on the compose backend, on the same deployment: each makes its own table
# (chaos-<scenario>-<seed>), so that nothing of the above or of an earlier scenario reaches its
# checker; each prints its seed and, failing, keeps its run folder under CHAOS_OUT_DIR.
if [ -n "$chaos" ]; then
  duration=${MERIDIAN_COMPOSE_CHAOS_DURATION:-14}
  chaos_failed=""
  for scenario in leader-kill leader-pause region-isolation; do
    step "chaos --backend compose --scenario $scenario --duration $duration"
    if ! "$chaos" --backend compose --compose-file "$compose_file" --compose-project "$project" \
           --scenario "$scenario" --duration "$duration" --replace --out "$chaos_out/compose-$scenario" \
           ${MERIDIAN_CHAOS_RESULTS_TABLE:+--results-table "$MERIDIAN_CHAOS_RESULTS_TABLE"}; then
      chaos_failed+=" $scenario"
    fi
  done
  [ -z "$chaos_failed" ] || fail "chaos on the compose backend did not pass:$chaos_failed (run folders: $chaos_out/compose-*)"
fi

ok=1
step "PASSED"
