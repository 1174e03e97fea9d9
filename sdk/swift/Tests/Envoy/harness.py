"""A small harness that runs one Proxy-Wasm module in a real Envoy, on 127.0.0.1 only.

It starts a loopback echo upstream (in this process), writes a static Envoy config with the
module as an `envoy.filters.http.wasm` filter (V8, `code.local.filename`), starts Envoy with
`--disable-hot-restart --concurrency 1` and its own admin port, and stops everything it started.

Used by scenarios.py; see the SDK guide (docs/sdk.md, "Trying a module in Envoy").
"""
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ENVOY = os.environ.get("QPILOT_ENVOY", os.path.join(ROOT, ".venv", "bin", "envoy"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """An HTTP/1.1 echo server. It reads content-length and chunked bodies and answers with
    JSON {method, path, headers, body}. Paths: /status/<code> answers with that status,
    /slow/<ms> waits first. Every request is kept in `seen`."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without this, Nagle's algorithm and
            # delayed ACKs add 40 ms to every response.
            disable_nagle_algorithm = True

            def read_body(self):
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def answer(self):
                body = self.read_body()
                record = {
                    "method": self.command,
                    "path": self.path,
                    "headers": [[k.lower(), v] for k, v in self.headers.items()],
                    "body": body.decode("utf-8", "replace"),
                    "body_length": len(body),
                }
                with upstream.lock:
                    upstream.seen.append(record)
                status = 200
                parts = self.path.split("/")
                if len(parts) >= 3 and parts[1] == "status":
                    status = int(parts[2])
                if len(parts) >= 3 and parts[1] == "slow":
                    time.sleep(int(parts[2]) / 1000)
                payload = json.dumps(record).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def log_message(self, fmt, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def last(self):
        with self.lock:
            return self.seen[-1] if self.seen else None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def wasm_filter(name, module_path, configuration, vm_id="", root_id=""):
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "root_id": root_id,
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": configuration,
                },
                "vm_config": {
                    "vm_id": vm_id,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": module_path}},
                },
            },
        },
    }


class Envoy:
    """Envoy with one listener (every request goes to the upstream, through `filters`) and,
    when `callout_port` is given, a `qpilot_callout` cluster pointing at that loopback port."""

    def __init__(self, filters, upstream_port, callout_port=None, log_level="info"):
        self.listener_port = free_port()
        self.admin_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sdk-envoy-")
        self.log_path = os.path.join(self.dir, "envoy.log")
        self.final_log = None
        clusters = [self.cluster("upstream", upstream_port)]
        if callout_port is not None:
            clusters.append(self.cluster("qpilot_callout", callout_port))
        config = {
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}}},
            "static_resources": {
                "listeners": [{
                    "name": "sdk_test",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.listener_port}},
                    "filter_chains": [{"filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": "sdk_test",
                            "route_config": {"virtual_hosts": [{
                                "name": "all", "domains": ["*"],
                                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "5s"}}],
                            }]},
                            "http_filters": filters + [{
                                "name": "envoy.filters.http.router",
                                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                            }],
                        },
                    }]}],
                }],
                "clusters": clusters,
            },
        }
        self.config_path = os.path.join(self.dir, "envoy.yaml")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=1)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [ENVOY, "-c", self.config_path, "--disable-hot-restart", "--concurrency", "1",
             "--log-level", log_level, "--component-log-level", "wasm:debug"],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except Exception:
            self.stop()
            raise

    @staticmethod
    def cluster(name, port):
        return {
            "name": name, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]},
        }

    def wait_ready(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("envoy exited:\n" + self.read_log()[-3000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError("envoy not ready:\n" + self.read_log()[-3000:])

    def request(self, method, path, body=None, headers=None, chunks=None):
        """Sends one request; `chunks` sends the body chunked, one write per chunk, with a short
        pause between writes so that Envoy sees them as separate body steps."""
        connection = http.client.HTTPConnection("127.0.0.1", self.listener_port, timeout=10)
        headers = dict(headers or {})
        if chunks is not None:
            connection.putrequest(method, path)
            for k, v in headers.items():
                connection.putheader(k, v)
            connection.putheader("transfer-encoding", "chunked")
            connection.endheaders()
            for chunk in chunks:
                data = chunk.encode() if isinstance(chunk, str) else chunk
                connection.send(b"%x\r\n%s\r\n" % (len(data), data))
                time.sleep(0.05)
            connection.send(b"0\r\n\r\n")
        else:
            data = body.encode() if isinstance(body, str) else body
            connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        result = (response.status, dict((k.lower(), v) for k, v in response.getheaders()), response.read())
        connection.close()
        return result

    def stats(self, filter_text=""):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/stats?filter={filter_text}", timeout=5) as r:
            lines = r.read().decode().splitlines()
        values = {}
        for line in lines:
            name, _, value = line.partition(": ")
            values[name] = value
        return values

    def read_log(self):
        if self.final_log is not None:
            return self.final_log
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        if self.final_log is None:
            with open(self.log_path) as f:
                self.final_log = f.read()
            shutil.rmtree(self.dir, ignore_errors=True)
