#!/usr/bin/env bash
# `docker-compose config` accepts what `meridian compose` renders (issue 7): the real command on
# both examples of topology/examples/ into a temporary folder, and the checked-in renderings
# compose/*.yml (copied with empty key files beside them, since keys are never committed).
# Rendering twice keeps the keys and gives the same files.
#   compose_config_test.sh MERIDIAN_BINARY SOURCE_DIR
# Exit 77 (ctest: skipped) when docker-compose is not installed. `config` needs no Docker engine.
set -uo pipefail

binary=${1:?usage: compose_config_test.sh MERIDIAN_BINARY SOURCE_DIR}
src=${2:?usage: compose_config_test.sh MERIDIAN_BINARY SOURCE_DIR}

command -v docker-compose >/dev/null || {
  echo "compose_config_test: SKIPPED: docker-compose is missing (Debian: apt-get install docker-compose)"
  exit 77
}
[ -x "$binary" ] || { echo "compose_config_test: no meridian binary at $binary"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/meridian-compose-config.XXXXXX")
trap 'rm -rf "$dir"' EXIT
failed=0
fail() { echo "FAILED: $*"; failed=1; }

# `config -q` prints nothing and exits 0 on a valid file; --project-name keeps it from depending
# on the folder's name.
check_config() {
  local file=$1
  if docker-compose --ansi never -p compose-config-test -f "$file" config -q; then
    echo "ok: docker-compose config $file"
  else
    fail "docker-compose config refused $file"
  fi
}

for name in two-regions three-regions; do
  out=$dir/rendered/$name.yml
  "$binary" compose --topology "$src/topology/examples/$name.yaml" --out "$out" >"$dir/$name.log" 2>&1 ||
    { cat "$dir/$name.log"; fail "meridian compose $name"; continue; }
  for f in "$out" "$dir/rendered/$name.topology.yaml" "$dir/rendered/$name.credentials" \
           "$dir/rendered/$name.access.yaml"; do
    [ -s "$f" ] || fail "meridian compose did not write $f"
  done
  check_config "$out"

  # Idempotent: a second rendering keeps the keys and writes the same files.
  keys_before=$(cat "$dir/rendered/$name.credentials" "$dir/rendered/$name.access.yaml")
  cp "$out" "$dir/$name.first.yml"
  "$binary" compose --topology "$src/topology/examples/$name.yaml" --out "$out" >/dev/null 2>&1 ||
    fail "meridian compose $name (again)"
  [ "$keys_before" = "$(cat "$dir/rendered/$name.credentials" "$dir/rendered/$name.access.yaml")" ] ||
    fail "rendering $name again changed its keys"
  cmp -s "$out" "$dir/$name.first.yml" || fail "rendering $name again changed $out"

  # The checked-in rendering, beside empty stand-ins for the keys it mounts.
  mkdir -p "$dir/checked-in"
  cp "$src/compose/$name.yml" "$src/compose/$name.topology.yaml" "$dir/checked-in/" ||
    { fail "compose/$name.yml or compose/$name.topology.yaml is missing"; continue; }
  : >"$dir/checked-in/$name.credentials"
  : >"$dir/checked-in/$name.access.yaml"
  check_config "$dir/checked-in/$name.yml"
done

# With published native ports (what the chaos suite's compose backend uses), from a base.
out=$dir/native/two-regions.yml
if "$binary" compose --topology "$src/topology/examples/two-regions.yaml" --out "$out" --publish-base 30000 \
     --publish-native >"$dir/native.log" 2>&1; then
  check_config "$out"
  grep -q '"127.0.0.1:30005:17000"' "$out" || fail "--publish-native: us-east-a's native port is not on 30005"
else
  cat "$dir/native.log"
  fail "meridian compose --publish-native"
fi

# A topology that cannot be rendered is refused with a ValidationException and exit code 2.
printf 'regions: []\n' >"$dir/empty.yaml"
"$binary" compose --topology "$dir/empty.yaml" --out "$dir/bad/empty.yml" >"$dir/bad.log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "a bad topology: exit code $rc, expected 2"
grep -q ValidationException "$dir/bad.log" || { cat "$dir/bad.log"; fail "a bad topology: no ValidationException"; }
[ ! -e "$dir/bad" ] || fail "a bad topology still wrote files"

[ "$failed" -eq 0 ] && echo "compose_config_test: passed"
exit "$failed"
