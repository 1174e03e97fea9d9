"""Holds one HTTPS connection through the proxy across a certificate rotation.

usage: tls-client.py PROXY_PORT HOST CA_FILE SECONDS
Sends a request, waits SECONDS, sends another on the same connection, then one on a new
connection. Prints JSON: the status of each request and the sha256 of the certificate each
connection was given."""
import hashlib
import http.client
import json
import ssl
import sys
import time

proxy_port, host, ca, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
context = ssl.create_default_context(cafile=ca)


def connection():
    conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=context, timeout=10)
    conn.set_tunnel(host, 443)
    conn.connect()
    return conn


def get(conn, path):
    conn.request("GET", path, headers={"host": host})
    response = conn.getresponse()
    response.read()
    return response.status


def fingerprint(conn):
    return hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()


first = connection()
result = {"first": get(first, "/one"), "firstCert": fingerprint(first)}
time.sleep(seconds)
result["sameConnection"] = get(first, "/two")
result["sameConnectionCert"] = fingerprint(first)
second = connection()
result["newConnection"] = get(second, "/three")
result["newConnectionCert"] = fingerprint(second)
print(json.dumps(result))
