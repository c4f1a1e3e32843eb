# The two-region compose deployment for tests, brought up once and taken down with everything it
# made: sourced by tests/integration/compose_test.sh (the topology issue's test, and the chaos
# scenarios on the compose backend that share its bring-up) and by tests/chaos/run --backend compose.
#
# The caller sets, before sourcing:
#   binary     the meridian binary (put into the image)
#   src        the source tree
#   test_name  how skips and failures are labelled
# and then calls compose_up. Sourcing defines step, skip, fail, retry, dc, all_healthy and sets
#   project image dir compose_file services base port[FACILITY] (published HTTP ports)
# and a trap that, on exit, prints `ps` and the logs unless ok=1, runs `down -v`, and removes the
# image tag and the folder. Each run has its own project name, image tag, ports and folder.
# No Docker engine or no docker-compose: skip (exit 77, which ctest reports as skipped).

AWS=/usr/bin/aws
PYTHON=/usr/bin/python3
started=$(date +%s)
ok=0

step() { printf '[%4ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }
skip() { echo "$test_name: SKIPPED: $*"; exit 77; }
fail() { step "FAILED: $*"; exit 1; }

command -v docker >/dev/null || skip "no docker command on PATH"
docker info >/dev/null 2>&1 || skip "no Docker engine answers ('docker info' failed)"
command -v docker-compose >/dev/null || skip "docker-compose is missing (Debian: apt-get install docker-compose)"
[ -x "$binary" ] || fail "no meridian binary at $binary"

project="meridian-test-$$-$(date +%s)"
image="meridian-test:$project"
dir=$(mktemp -d "${TMPDIR:-/tmp}/meridian-compose-test.XXXXXX")
compose_file=$dir/two-regions.yml
services=""

dc() { docker-compose --ansi never -p "$project" -f "$compose_file" "$@"; }

compose_cleanup() {
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
trap compose_cleanup EXIT
trap 'exit 1' INT TERM  # so that the cleanup runs when ctest or a person stops the test

# Retries a command every second until it succeeds, for at most $1 seconds; its last output is in
# $out. Every loop of the tests goes through here, so each is bounded in time and count.
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
    state=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id") || return 1
    case "$state" in
      *" running healthy" | *" running ") ;;
      *) bad+="$state; " ;;
    esac
  done
  [ -z "$bad" ] || { echo "$bad"; return 1; }
}

# A block of free ports on 127.0.0.1, as `meridian compose --publish-base --publish-native` assigns
# them: HTTP on base+0..2 (us-east a..c) and base+10..12 (eu-west), native on base+5..7 and
# base+15..17.
base=$("$PYTHON" - <<'EOF'
import random, socket
for _ in range(100):
    base = random.randrange(20000, 60000, 20)
    try:
        socks = []
        for offset in (0, 1, 2, 5, 6, 7, 10, 11, 12, 15, 16, 17):
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

# Builds the image, renders topology/examples/two-regions.yaml, brings it up from nothing and
# waits until every container is healthy.
compose_up() {
  step "compose/build-image --binary $binary --tag $image"
  "$src/compose/build-image" --binary "$binary" --tag "$image" || fail "compose/build-image failed"

  step "meridian compose (project $project, published ports from $base)"
  "$binary" compose --topology "$src/topology/examples/two-regions.yaml" --out "$compose_file" \
    --image "$image" --publish-base "$base" --publish-native >/dev/null || fail "meridian compose failed"
  dc config -q || fail "docker-compose config refused $compose_file"
  services=$(dc config --services) || fail "docker-compose config --services failed"

  step "docker-compose down -v; up -d"
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  dc up -d 2>&1 | tail -3 || fail "docker-compose up failed"
  step "waiting for $(echo "$services" | grep -c .) services to be healthy"
  retry 120 all_healthy || fail "the services did not all become healthy within 120 s"
  dc ps
}
