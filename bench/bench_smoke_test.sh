#!/usr/bin/env bash
# bench_smoke_test.sh MERIDIAN: a short `meridian bench` (every workload, its embedded one-region
# demo, 2,000 records, one second per workload) with --json, checking the report's shape, not its
# numbers: every workload, every operation type of each with its percentiles, the limits with
# their ratios, the processes' peak memory; that it stopped everything it started; and that bad
# flags exit 2.
set -uo pipefail
meridian=$1
work=$(mktemp -d /var/tmp/meridian-bench-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for bad in "--workload G" "--workload A,,B" "--clients 0" "--clients 16,x" "--distribution pareto" "--records 1.5" \
           "--duration 0" "--target-rate -1" "--value-bytes 0" "--regions 2 --demo-dir $work" "--nonsense" "extra"; do
  rc=0
  # shellcheck disable=SC2086
  "$meridian" bench $bad >"$work/usage.out" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || { cat "$work/usage.out"; fail "meridian bench $bad exited $rc, not 2"; }
  grep -q "meridian:" "$work/usage.out" || fail "meridian bench $bad said nothing"
done

start=$(date +%s)
rc=0
"$meridian" bench --records 2000 --duration 1 --clients 4 --limit-seconds 0.3 --work-dir "$work" \
  --json "$work/report.json" >"$work/stdout" 2>"$work/stderr" || rc=$?
echo "meridian bench took $(( $(date +%s) - start )) s, exit $rc"
cat "$work/stdout"
[ "$rc" -eq 0 ] || { tail -30 "$work/stderr"; fail "meridian bench exited $rc"; }
grep -q "load \[####" "$work/stderr" || fail "no progress bar on stderr"
for w in A B C D E F; do grep -q "^workload $w " "$work/stdout" || fail "no table for workload $w"; done

/usr/bin/python3 - "$work/report.json" <<'PY' || fail "the report's shape"
import json, sys
r = json.load(open(sys.argv[1]))
def need(obj, keys, where):
    for k in keys:
        assert k in obj, f"{where}: no {k!r} in {sorted(obj)}"
need(r, ["schema_version", "command", "machine", "options", "limits", "runs", "load_average_before"], "report")
assert r["schema_version"] == 1
row = ["name", "threads", "ops", "errors", "ops_per_sec", "p50_us", "p99_us", "max_us"]
need(r["limits"]["fsync_floor"], row, "fsync_floor")
need(r["limits"]["zmq_round_trip"], row, "zmq_round_trip")
assert r["limits"]["raw_rocksdb"], "no raw RocksDB limit"
for raw in r["limits"]["raw_rocksdb"]:
    need(raw, ["threads", "items", "put_sync", "get"], "raw_rocksdb")
    need(raw["put_sync"], row, "put_sync"); need(raw["get"], row, "get")
assert len(r["runs"]) == 1, "one run"
run = r["runs"][0]
need(run, ["regions", "load", "workloads", "replication_lag", "processes"], "run")
assert run["regions"] == 1 and run["replication_lag"] is None
assert run["load"]["records"] == 2000, run["load"]
assert len(run["processes"]) >= 3, f"peak memory of the demo's processes: {run['processes']}"
for p in run["processes"]:
    need(p, ["name", "pid", "vm_hwm_kib"], "process")
    assert p["vm_hwm_kib"] > 0
expected = {"A": {"read", "update"}, "B": {"read", "update"}, "C": {"read"}, "D": {"read", "insert"},
            "E": {"scan", "insert"}, "F": {"read", "read-modify-write"}}
names = [w["name"] for w in run["workloads"]]
assert names == list("ABCDEF"), names
for w in run["workloads"]:
    need(w, ["description", "distribution", "clients", "target_rate", "seconds", "ops", "ops_per_second", "errors",
             "throttles", "operations", "latency_over_time"], "workload " + w["name"])
    assert set(w["operations"]) == expected[w["name"]], (w["name"], sorted(w["operations"]))
    assert w["ops"] > 0, f"workload {w['name']} did nothing"
    for name, op in w["operations"].items():
        where = f"workload {w['name']} {name}"
        need(op, ["ops", "ok", "not_found", "condition_failed", "throttles", "errors", "ops_per_second",
                  "p50_us", "p95_us", "p99_us", "p999_us", "max_us", "limits"], where)
        assert op["p50_us"] <= op["p95_us"] <= op["p99_us"] <= op["p999_us"] <= op["max_us"], where
        assert op["limits"], where + ": no limit"
        for l in op["limits"]:
            need(l, ["name", "p99_us", "p99_ratio"], where + " limit")
    assert w["latency_over_time"], "workload " + w["name"] + ": no latency over time"
assert run["workloads"][3]["distribution"] == "latest" and run["workloads"][0]["distribution"] == "zipfian"
print("report shape ok:", len(run["workloads"]), "workloads")
PY

# Everything it started has stopped: no process runs from the work folder.
sleep 1
if pgrep -f "$work/" >/dev/null; then
  pgrep -af "$work/"
  fail "processes of the benchmark's demo are still running"
fi
echo "bench smoke test: ok"
