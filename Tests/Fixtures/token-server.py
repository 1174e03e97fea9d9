#!/usr/bin/env python3
"""A registry token service for the OCI auth tests (the distribution "token" auth flow).

Usage: token-server.py PORT CERT_OUT USER PASSWORD
It makes an RSA key and a self-signed certificate, writes the certificate to CERT_OUT for the
registry's `auth.token.rootcertbundle`, and answers GET /token?service=…&scope=… for requests
with the right basic credentials with a JWT (RS256, the certificate in its x5c header) granting
what the scope asks. Wrong or missing credentials get 401.
"""
import base64
import datetime
import http.server
import json
import sys
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

port, cert_out, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ISSUER = "qpilot-test-issuer"

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qpilot test token signer")])
now = datetime.datetime.utcnow()
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=1))
    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    .sign(key, hashes.SHA256())
)
with open(cert_out, "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(service, scopes):
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) == 3:
            access.append({"type": parts[0], "name": parts[1], "actions": parts[2].split(",")})
    header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
    issued = int(time.time())
    claims = {"iss": ISSUER, "sub": user, "aud": service, "exp": issued + 300, "nbf": issued - 10, "iat": issued,
              "jti": str(uuid.uuid4()), "access": access}
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64(signature)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if url.path != "/token" or self.headers.get("authorization") != expected:
            self.send_response(401)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = json.dumps({"token": token(query.get("service", [""])[0], query.get("scope", []))}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("token-server: " + fmt % args + "\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"listening on 127.0.0.1:{port}", flush=True)
server.serve_forever()
