#!/usr/bin/env python3
"""An HTTP server for the module-fetch tests. It serves one wasm module in every shape a fetch
must handle, and hostile shapes a fetch must refuse. Usage: module-server.py MODULE.wasm PORT
(port 0 picks one; the chosen port is printed as "listening on 127.0.0.1:PORT")."""
import gzip
import http.server
import io
import sys
import tarfile
import threading
import time

module = open(sys.argv[1], "rb").read()
counts = {}
hosts = []
lock = threading.Lock()


def tar_gz(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


routes = {
    "/module.wasm": module,
    "/module.tar.gz": tar_gz([("README", b"hello", "file"), ("plugin.wasm", module, "file")]),
    "/only.tgz": tar_gz([("dist/filter.wasm", module, "file")]),
    "/two.tar.gz": tar_gz([("a.wasm", module, "file"), ("b.wasm", module, "file")]),
    "/traversal.tar.gz": tar_gz([("../../evil/plugin.wasm", module, "file")]),
    "/absolute.tar.gz": tar_gz([("/tmp/plugin.wasm", module, "file")]),
    "/link.tar.gz": tar_gz([("plugin.wasm", b"", "symlink")]),
    # 64 MiB of zeros compress to about 64 KiB: a gzip bomb for a small decompression limit.
    # a small archive whose one member is over a 1 MiB module limit (and under 4 MiB decompressed)
    "/big-member.tar.gz": tar_gz([("plugin.wasm", module + b"\0" * (2 * 1024 * 1024), "file")]),
    "/bomb.tar.gz": gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9),
    "/not-wasm": b"<html>login page</html>",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?")[0]
        with lock:
            counts[path] = counts.get(path, 0) + 1
            count = counts[path]
            if path != "/__hosts":
                hosts.append(self.headers.get("Host", ""))
        if path == "/redirect":
            return self.reply(302, b"", {"location": "/hop"})
        if path == "/hop":
            return self.reply(301, b"", {"location": "/module.wasm"})
        if path == "/loop":
            return self.reply(302, b"", {"location": "/loop"})
        if path == "/flaky.wasm":  # two 503s, then the module
            return self.reply(503, b"busy") if count <= 2 else self.reply(200, module)
        if path == "/down.wasm":
            return self.reply(500, b"broken")
        if path == "/slow.wasm":
            time.sleep(5)
            return self.reply(200, module)
        if path == "/huge.wasm":  # claims and sends 8 MiB
            return self.reply(200, module + b"\0" * (8 * 1024 * 1024 - len(module)))
        if path == "/chunked-huge.wasm":  # no content-length, 8 MiB streamed
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            chunk = b"\0" * 65536
            try:
                for _ in range(128):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if path == "/drip.wasm":  # headers at once, then one byte every 0.2 s
            self.send_response(200)
            self.send_header("content-length", str(len(module)))
            self.end_headers()
            try:
                for byte in module:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if path == "/__count":
            return self.reply(200, str(counts).encode())
        if path == "/__hosts":  # the Host header of every request so far, one a line
            return self.reply(200, "\n".join(hosts).encode())
        if path in routes:
            return self.reply(200, routes[path])
        return self.reply(404, b"not found")

    def reply(self, status, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, fmt, *args):
        sys.stderr.write("module-server: " + fmt % args + "\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
