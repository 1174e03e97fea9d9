"""An HTTPS origin for the interception tests: serves the certificate chosen by the client's SNI,
echoes each request as JSON ({host, path, headers, body}) and appends it to a log file, so a test
can tell exactly what reached the origin.

usage: https-origin.py PORT LOG NAME=CERT,KEY [NAME=CERT,KEY ...]
The first pair is also served to a client that sends no SNI or an unknown one."""
import http.server
import json
import ssl
import sys
import threading

port, log_path = int(sys.argv[1]), sys.argv[2]
contexts = {}
for spec in sys.argv[3:]:
    name, files = spec.split("=", 1)
    cert, key = files.split(",", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    contexts[name] = context
default = next(iter(contexts.values()))
lock = threading.Lock()


def choose(sock, server_name, _):
    sock.context = contexts.get(server_name, default)


default.sni_callback = choose


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        record = {"host": self.headers.get("host", ""), "path": self.path,
                  "headers": [[k.lower(), v] for k, v in self.headers.items()], "body": body}
        with lock, open(log_path, "a") as log:
            log.write(json.dumps(record) + "\n")
        out = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Echo)
server.socket = default.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
