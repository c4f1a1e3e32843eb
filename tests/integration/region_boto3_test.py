#!/usr/bin/python3
"""boto3 against a three-facility region while its leader is killed (issue 5). Called by
tests/integration/region_test.cc (RegionTest.Boto3ThroughFollowerWhileLeaderKilled) with:

  region_boto3_test.py FOLLOWER_URL CREDENTIALS_FILE REGION LEADER_PID

FOLLOWER_URL is the HTTP endpoint of a facility that follows: every write and strong read sent
there is forwarded to the leader inside the region. The script creates a table, puts items one
after another (a steady load), SIGKILLs the leader (LEADER_PID) after some are acknowledged, keeps
putting with botocore's own retries until writes are acknowledged again, and then reads every
acknowledged item back with ConsistentRead. A put that fails even after botocore's retries is not
counted as acknowledged (it may or may not have been applied), and does not fail the script by
itself. Every loop is bounded in count and time. Exits non-zero on the first failed check.
"""
import configparser
import os
import signal
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

URL, CREDENTIALS, REGION, LEADER_PID = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
TABLE = "boto_region"
BEFORE_KILL = 100      # acknowledged puts before the kill
AFTER_KILL = 100       # acknowledged puts, sent after the kill, that must follow
TIME_LIMIT_S = 60      # for the whole load; the test fails rather than hangs
# Standard mode retries 5xx (the node answers ServiceUnavailable, HTTP 503, while the region has
# no leader) and connection errors, with exponential backoff and jitter.
CONFIG = Config(retries={"max_attempts": 10, "mode": "standard"}, connect_timeout=5, read_timeout=20)

ini = configparser.ConfigParser()
ini.read(CREDENTIALS)
session = boto3.session.Session(aws_access_key_id=ini["meridian"]["aws_access_key_id"],
                                aws_secret_access_key=ini["meridian"]["aws_secret_access_key"],
                                region_name=REGION)
client = session.client("dynamodb", endpoint_url=URL, config=CONFIG)
print(f"boto3 {boto3.__version__}: writing through {URL}, leader pid {LEADER_PID}", flush=True)

client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
client.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

acked = []          # keys whose put was acknowledged
acked_after_kill = 0  # of those, puts sent after the kill
failures = {}       # error code -> count (puts that failed after botocore's retries)
killed = False
start = time.monotonic()
i = 0
while acked_after_kill < AFTER_KILL:
    if time.monotonic() - start > TIME_LIMIT_S:
        sys.exit(f"FAIL: within {TIME_LIMIT_S} s only {len(acked)} puts were acknowledged "
                 f"({acked_after_kill} sent after the kill); failed after retries: {failures}")
    if not killed and len(acked) >= BEFORE_KILL:
        os.kill(LEADER_PID, signal.SIGKILL)
        killed = True
        print(f"killed the leader (pid {LEADER_PID}) after {len(acked)} acknowledged puts", flush=True)
    key = f"k{i}"
    try:
        client.put_item(TableName=TABLE, Item={"pk": {"S": key}, "v": {"S": f"v{i}"}})
        acked.append(key)
        acked_after_kill += 1 if killed else 0
    except (ClientError, BotoCoreError) as e:
        code = e.response["Error"]["Code"] if isinstance(e, ClientError) else type(e).__name__
        failures[code] = failures.get(code, 0) + 1
        print(f"put {key} failed after retries: {e}", flush=True)
    i += 1

print(f"{i} puts sent, {len(acked)} acknowledged ({acked_after_kill} sent after the kill); "
      f"failed after retries: {failures or 'none'}", flush=True)

# Every acknowledged item, read with ConsistentRead through the same follower (forwarded to the
# new leader).
missing = []
for key in acked:
    got = client.get_item(TableName=TABLE, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
    if got is None or got["v"]["S"] != "v" + key[1:]:
        missing.append(key)
if missing:
    sys.exit(f"FAIL: {len(missing)} of {len(acked)} acknowledged items not read back with ConsistentRead: "
             f"{missing[:10]}")
print(f"region boto3: all {len(acked)} acknowledged items read back with ConsistentRead", flush=True)
