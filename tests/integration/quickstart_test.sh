#!/usr/bin/env bash
# Runs the README's C++ example (client/examples/quickstart.cc) against a two-region `meridian
# demo` started here on 127.0.0.1, and stops the demo whatever happens.
#   quickstart_test.sh MERIDIAN_BINARY QUICKSTART_BINARY
set -uo pipefail
meridian=$1 quickstart=$2
dir=$(mktemp -d /tmp/meridian-quickstart.XXXXXX)
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid"
    for _ in $(seq 1 300); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$demo_pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
# A port block of its own: the base is drawn from 20000-39000 (printed), the demo moves up from
# there when any port of the block is taken.
base=$(( 20000 + (RANDOM % 190) * 100 ))
echo "demo base port $base, folder $dir"
"$meridian" demo --regions 2 --data "$dir/demo" --base-port "$base" >"$dir/demo.out" 2>&1 &
demo_pid=$!
for _ in $(seq 1 600); do  # at most 60 s
  grep -q 'meridian demo: ready:' "$dir/demo.out" && break
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q 'meridian demo: ready:' "$dir/demo.out"; then
  echo "the demo did not become ready:"; cat "$dir/demo.out"; exit 1
fi
if ! "$quickstart" "$dir/demo/topology.yaml"; then
  echo "quickstart failed; the demo said:"; cat "$dir/demo.out"; exit 1
fi
echo "quickstart: ok"
