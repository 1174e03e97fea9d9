#!/usr/bin/env python3
"""Opens many ADS streams against qpilot with the official gRPC client (grpcio: the C core that
proxyless gRPC xDS clients use), CONNECTIONS connections with STREAMS streams each, asks each
stream for clusters (SotW), holds it for HOLD seconds, and prints one JSON line:
{"streams": N, "answered": N, "errors": [...]}.

    .venv/bin/python scripts/ads-load.py 127.0.0.1:18000 --connections 20 --streams 10

The Python stubs come from the project's own proto/ (`make grpc-client` writes them to
.build-grpc-py/)."""
import argparse
import asyncio
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, ".build-grpc-py"))

import grpc  # noqa: E402
from envoy.config.core.v3 import base_pb2  # noqa: E402
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2  # noqa: E402

CLUSTERS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


async def one_stream(stub, index, hold, errors):
    node = base_pb2.Node(id=f"ads-load-{index}", cluster="default")
    requests = asyncio.Queue()
    await requests.put(discovery_pb2.DiscoveryRequest(node=node, type_url=CLUSTERS))

    async def outgoing():
        while True:
            request = await requests.get()
            if request is None:
                return
            yield request

    call = stub.StreamAggregatedResources(outgoing())
    try:
        response = await asyncio.wait_for(call.read(), timeout=60)
        if response is grpc.aio.EOF:
            raise RuntimeError("the stream ended before any response")
        # ACK it, as Envoy would, then hold the stream open.
        await requests.put(discovery_pb2.DiscoveryRequest(
            node=node, type_url=CLUSTERS, version_info=response.version_info, response_nonce=response.nonce))
        await asyncio.sleep(hold)
        return True
    except Exception as error:  # noqa: BLE001 - every failure is reported
        errors.append(f"stream {index}: {type(error).__name__}: {str(error)[:300]}")
        return False
    finally:
        await requests.put(None)
        call.cancel()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--streams", type=int, default=10, help="streams per connection")
    parser.add_argument("--hold", type=float, default=3)
    args = parser.parse_args()
    errors = []
    channels = [
        # A local subchannel pool gives each channel its own TCP connection.
        grpc.aio.insecure_channel(args.target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(args.connections)
    ]
    tasks = []
    for number, channel in enumerate(channels):
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        for stream in range(args.streams):
            tasks.append(one_stream(stub, number * args.streams + stream, args.hold, errors))
    answered = sum(1 for ok in await asyncio.gather(*tasks) if ok)
    for channel in channels:
        await channel.close()
    print(json.dumps({"streams": len(tasks), "answered": answered, "errors": errors[:10]}))


asyncio.run(main())
