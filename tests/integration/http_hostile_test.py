#!/usr/bin/python3
"""Malformed and hostile HTTP requests against a real Meridian node, while a well-behaved boto3
client keeps being served. Called by tests/integration/http_test.cc with:

  http_hostile_test.py ENDPOINT_URL CREDENTIALS_FILE HEADER_TIMEOUT_SECONDS

Each hostile request must get DynamoDB's error shape or a closed connection; every wait is bounded.
"""
import configparser
import json
import socket
import sys
import threading
import time
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config

ENDPOINT, CREDENTIALS, HEADER_TIMEOUT = sys.argv[1], sys.argv[2], float(sys.argv[3])
HOST = urllib.parse.urlparse(ENDPOINT).hostname
PORT = urllib.parse.urlparse(ENDPOINT).port
ini = configparser.ConfigParser()
ini.read(CREDENTIALS)
KEY, SECRET = ini["meridian"]["aws_access_key_id"], ini["meridian"]["aws_secret_access_key"]
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    if not ok:
        failures.append(name)


def connect():
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.settimeout(10)
    return s


def read_response(s):
    """(status, headers, body) or None when the server closed the connection without answering."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body
    except (ConnectionResetError, socket.timeout, BrokenPipeError):
        return None


def raw(request_bytes):
    s = connect()
    try:
        s.sendall(request_bytes)
    except (BrokenPipeError, ConnectionResetError):
        return None
    r = read_response(s)
    s.close()
    return r


def signed(target, body, content_type="application/x-amz-json-1.0", extra=None):
    req = botocore.awsrequest.AWSRequest(method="POST", url=ENDPOINT + "/", data=body,
                                         headers={"Content-Type": content_type, "X-Amz-Target": target})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(KEY, SECRET), "dynamodb",
                            "us-east-1").add_auth(req)
    p = req.prepare()
    lines = ["POST / HTTP/1.1", "Host: %s:%d" % (HOST, PORT)]
    for k, v in p.headers.items():
        if k.lower() != "host":
            lines.append("%s: %s" % (k, v))
    for k, v in (extra or []):
        lines.append("%s: %s" % (k, v))
    body = body if isinstance(body, bytes) else body.encode()
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def dynamo_error(r, status, type_suffix):
    if r is None:
        return False
    try:
        j = json.loads(r[2])
    except ValueError:
        return False
    return (r[0] == status and j.get("__type", "").endswith("#" + type_suffix)
            and r[1].get("content-type", "").startswith("application/x-amz-json-1.0")
            and "x-amzn-requestid" in r[1] and "x-amz-crc32" in r[1])


# --- a well-behaved client running throughout -----------------------------------------------
stop = threading.Event()
served = {"ok": 0, "failed": 0, "errors": []}


def well_behaved():
    c = boto3.session.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                              region_name="us-east-1").client(
        "dynamodb", endpoint_url=ENDPOINT,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
    i = 0
    while not stop.is_set():
        try:
            c.put_item(TableName="hostile", Item={"pk": {"S": "k%d" % (i % 50)}, "v": {"N": str(i)}})
            c.get_item(TableName="hostile", Key={"pk": {"S": "k%d" % (i % 50)}})
            served["ok"] += 1
        except Exception as e:  # noqa: BLE001 - any failure of the good client counts
            served["failed"] += 1
            served["errors"].append(repr(e))
        i += 1
        time.sleep(0.02)


admin = boto3.session.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                              region_name="us-east-1").client("dynamodb", endpoint_url=ENDPOINT)
admin.create_table(TableName="hostile", BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
good = threading.Thread(target=well_behaved)
good.start()

# --- hostile requests ---------------------------------------------------------------------
r = raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
check("health", r is not None and r[0] == 200 and r[2] == b"healthy: dynamodb.us-east-1.amazonaws.com ", r)

base = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
check("unknown target (signed)",
      dynamo_error(raw(signed("DynamoDB_20120810.Frobnicate", "{}")), 400, "UnknownOperationException"))
check("target of another service",
      dynamo_error(raw((base + "X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 2\r\n\r\n{}").encode()),
                   400, "UnknownOperationException"))
check("missing target",
      dynamo_error(raw((base + "Content-Length: 2\r\n\r\n{}").encode()), 400, "UnknownOperationException"))
check("duplicated target",
      dynamo_error(raw((base + "X-Amz-Target: DynamoDB_20120810.ListTables\r\nX-Amz-Target: DynamoDB_20120810.DeleteTable\r\n"
                        "Content-Length: 2\r\n\r\n{}").encode()), 400, "SerializationException"))
check("wrong content type",
      dynamo_error(raw(signed("DynamoDB_20120810.ListTables", "{}", content_type="application/json")),
                   400, "UnknownOperationException"))
check("content type with charset is fine",
      (lambda r: r is not None and r[0] == 200)(raw(signed("DynamoDB_20120810.ListTables", "{}",
                                                           content_type="application/x-amz-json-1.0; charset=UTF-8"))))
check("bad JSON (signed)",
      dynamo_error(raw(signed("DynamoDB_20120810.GetItem", '{"TableName": ')), 400, "SerializationException"))
check("JSON that is not an object (signed)",
      dynamo_error(raw(signed("DynamoDB_20120810.GetItem", '[1,2]')), 400, "SerializationException"))
check("unsigned request",
      dynamo_error(raw((base + "X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 2\r\n\r\n{}").encode()),
                   400, "MissingAuthenticationTokenException"))
check("duplicated Authorization",
      dynamo_error(raw(signed("DynamoDB_20120810.ListTables", "{}",
                              extra=[("Authorization", "AWS4-HMAC-SHA256 Credential=x")])),
                   400, "IncompleteSignatureException"))
check("other method", dynamo_error(raw(b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                                   400, "UnknownOperationException"))

# A huge body: refused from its Content-Length before any of it is read.
t0 = time.monotonic()
r = raw((base + "X-Amz-Target: DynamoDB_20120810.PutItem\r\nContent-Length: 104857600\r\n\r\n").encode())
check("huge Content-Length refused up front", r is not None and r[0] == 413 and time.monotonic() - t0 < 5, r)
# A chunked body that grows past the limit: refused (413) or the connection is closed.
s = connect()
s.sendall((base + "X-Amz-Target: DynamoDB_20120810.PutItem\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
chunk = b"x" * (1 << 20)
sent = 0
try:
    for _ in range(40):
        s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sent += len(chunk)
except (BrokenPipeError, ConnectionResetError):
    pass
r = read_response(s)
check("huge chunked body refused", r is None or r[0] == 413, r)
s.close()

# Garbage and oversized headers: the connection is closed (or a 400).
r = raw(b"\x00\x01\x02 not http at all\r\n\r\n")
check("garbage request line", r is None or r[0] == 400, r)
r = raw(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
check("oversized headers", r is None or r[0] in (400, 431), r)

# Slowloris: a client trickling its headers is cut off after the header timeout.
s = connect()
t0 = time.monotonic()
closed_after = None
try:
    for b in (base + "X-Amz-Target: DynamoDB_20120810.ListTables\r\n").encode() * 100:
        s.sendall(bytes([b]))
        time.sleep(0.25)
        if time.monotonic() - t0 > HEADER_TIMEOUT + 10:
            break
except (BrokenPipeError, ConnectionResetError):
    closed_after = time.monotonic() - t0
if closed_after is None:
    s.settimeout(HEADER_TIMEOUT + 5)
    try:
        closed_after = time.monotonic() - t0 if s.recv(1) == b"" else None
    except (socket.timeout, ConnectionResetError):
        closed_after = None if isinstance(sys.exc_info()[1], socket.timeout) else time.monotonic() - t0
check("slowloris cut off", closed_after is not None and closed_after < HEADER_TIMEOUT + 5, closed_after)
s.close()

# Many idle connections: they hold nothing; the good client is served; they are closed later.
idle = []
for _ in range(300):
    try:
        idle.append(connect())
    except OSError:
        break
check("300 idle connections opened", len(idle) == 300, len(idle))
before = served["ok"]
time.sleep(1.0)
check("served while idle connections are open", served["ok"] > before, (before, served["ok"]))
time.sleep(HEADER_TIMEOUT + 1)
closed = 0
for s in idle:
    s.settimeout(2)
    try:
        if s.recv(1) == b"":
            closed += 1
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
check("idle connections closed after the header timeout", closed == len(idle), closed)

# Keep-alive: several requests on one connection.
s = connect()
ok = 0
for _ in range(5):
    s.sendall(signed("DynamoDB_20120810.ListTables", "{}"))
    r = read_response(s)
    ok += r is not None and r[0] == 200
s.close()
check("keep-alive serves several requests on one connection", ok == 5, ok)

stop.set()
good.join(timeout=30)
check("well-behaved client served throughout",
      served["failed"] == 0 and served["ok"] > 10, served)
print("served %d well-behaved round trips" % served["ok"])
sys.exit(1 if failures else 0)
