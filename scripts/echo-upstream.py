#!/usr/bin/env python3
"""A tiny HTTP upstream for `make run` and the integration tests.

Every request is answered with a JSON description of itself: method, path, the headers in the
order received (a list of [name, value] pairs, so repeated headers stay visible) and the body.
GET /__requests returns every request seen so far, so a test can check what reached the upstream.
"""
import http.server
import json
import sys
import threading

seen = []
lock = threading.Lock()


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if self.path == "/__requests":
            with lock:
                payload = json.dumps(seen).encode()
        else:
            record = {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body,
            }
            with lock:
                seen.append(record)
            payload = json.dumps(record, indent=2).encode() + b"\n"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, fmt, *args):
        sys.stderr.write("upstream: " + fmt % args + "\n")


host, port = sys.argv[1], int(sys.argv[2])
server = http.server.ThreadingHTTPServer((host, port), Echo)
print(f"listening on {host}:{server.server_address[1]}", flush=True)
server.serve_forever()
