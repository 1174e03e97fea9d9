#!/usr/bin/env python3
"""Runs the SDK's modules in a real Envoy 1.40 on 127.0.0.1 and checks what they do.

    python3 sdk/swift/Tests/Envoy/scenarios.py [scenario ...]

Scenarios: hello-header, body-rewrite, callout, stats-ticker, key-injector, upstream-watch,
upstream-watch-connect, pii-scrub, pii-block, pii-report, pii-oversize, pii-bad-config,
memory. With no argument, all of them run. Each starts its own Envoy (and stops it);
modules come from .build-wasm/ (`make middleware`). Exits non-zero when a check fails.
"""
import json
import os
import re
import sys
import time

import harness

WASM = os.path.join(harness.ROOT, ".build-wasm")
failures = []


def check(name, condition, detail=""):
    print(("  ok   " if condition else "  FAIL ") + name + ("" if condition else f"   ({detail})"))
    if not condition:
        failures.append(name)


def wasm_log(envoy):
    return [re.sub(r"^.*wasm log[^:]*: ", "", l) for l in envoy.read_log().splitlines() if "wasm log" in l]


def run(name, module, configuration, body, extra_filters=()):
    upstream = harness.Upstream()
    envoy = harness.Envoy([harness.wasm_filter(name, module, configuration)] + list(extra_filters), upstream.port)
    try:
        body(envoy, upstream)
    finally:
        envoy.stop()
        upstream.stop()
    return envoy


CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
EMAIL = "jane.doe@example.com"
PII_BODY = json.dumps({"note": f"card {CARD}, ssn {SSN}, mail {EMAIL}", "amount": 12})


def hello_header():
    print("hello-header")

    def body(envoy, upstream):
        status, headers, _ = envoy.request("GET", "/hello")
        check("request passes", status == 200, status)
        check("x-hello added to the request", ["x-hello", "qpilot"] in upstream.last()["headers"], upstream.last()["headers"])
        check("x-served-by added to the response", headers.get("x-served-by") == "hello-header", headers)

    run("hello", f"{WASM}/sdk-examples/hello-header.wasm", "qpilot", body)


def body_rewrite():
    print("body-rewrite")

    def body(envoy, upstream):
        status, _, _ = envoy.request("POST", "/w", body="an internal memo, internal only")
        seen = upstream.last()
        check("body rewritten", seen["body"] == "an public memo, public only", seen["body"])
        headers = dict(seen["headers"])
        check("sent chunked, no stale content-length", "content-length" not in headers and headers.get("transfer-encoding") == "chunked", headers)

    run("rewrite", f"{WASM}/sdk-examples/body-rewrite.wasm", json.dumps({"replace": {"internal": "public"}}), body)


def callout():
    print("callout (through a `qpilot_callout` cluster on loopback)")
    service = harness.Upstream()
    upstream = harness.Upstream()
    try:
        for path, expected in [("/status/200", "200"), ("/status/403", None)]:
            config = json.dumps({"url": f"http://127.0.0.1:{service.port}{path}"})
            envoy = harness.Envoy([harness.wasm_filter("callout", f"{WASM}/sdk-examples/callout.wasm", config)],
                                  upstream.port, callout_port=service.port)
            try:
                before = len(upstream.seen)
                status, _, payload = envoy.request("POST", "/x", body="payload")
                call = service.last()
                check(f"{path}: the service got the callout", call["path"] == path and ["x-original-method", "POST"] in call["headers"], call)
                if expected:
                    check(f"{path}: request resumed with x-check-status", status == 200 and ["x-check-status", expected] in upstream.last()["headers"], upstream.last())
                    check(f"{path}: body kept while paused", upstream.last()["body"] == "payload", upstream.last())
                else:
                    check(f"{path}: request denied", status == 403 and len(upstream.seen) == before, (status, payload))
            finally:
                envoy.stop()
    finally:
        service.stop()
        upstream.stop()


def stats_ticker():
    print("stats-ticker")

    def body(envoy, upstream):
        for method in ["GET", "POST", "GET"]:
            envoy.request(method, "/s", body="x" if method == "POST" else None)
        stats = envoy.stats("stats_ticker")
        check("requests counted", stats.get("wasmcustom.stats_ticker.requests") == "3", stats)
        check("writes counted", stats.get("wasmcustom.stats_ticker.writes") == "1", stats)

    run("ticker", f"{WASM}/sdk-examples/stats-ticker.wasm", "", body)


def pii_scrub():
    print("pii-guard scrub: {\"mode\": \"scrub\"}")

    def body(envoy, upstream):
        status, _, _ = envoy.request("POST", "/submit", body=PII_BODY, headers={"content-type": "application/json"})
        seen = upstream.last()
        check("request passes", status == 200, status)
        check("card masked", "**** **** **** ****" in seen["body"] and CARD not in seen["body"], seen["body"])
        check("ssn masked", "***-**-****" in seen["body"] and SSN not in seen["body"], seen["body"])
        check("e-mail masked", "****.***@*******.***" in seen["body"], seen["body"])
        length = dict(seen["headers"]).get("content-length")
        check("content-length matches the body", length == str(len(seen["body"].encode())), (length, len(seen["body"])))
        check("body still valid JSON", json.loads(seen["body"])["amount"] == 12)

        clean = json.dumps({"note": "nothing to see", "order": "4111 1111 1111 1112"})
        envoy.request("POST", "/clean", body=clean)
        check("clean body untouched (invalid Luhn kept)", upstream.last()["body"] == clean, upstream.last()["body"])

        envoy.request("POST", "/chunked", chunks=["card 4111 1111 ", "1111 1111 and ", "more"])
        seen = upstream.last()
        check("chunked body buffered and scrubbed across chunks", seen["body"] == "card **** **** **** **** and more", seen["body"])

        stats = envoy.stats("pii_guard")
        check("scrubbed counter", stats.get("wasmcustom.pii_guard.scrubbed") == "2", stats)
        check("card counter", stats.get("wasmcustom.pii_guard.found.card") == "2", stats)

    run("pii-guard", f"{WASM}/pii-guard.wasm", json.dumps({"mode": "scrub"}), body)


def pii_block():
    print("pii-guard block")

    def body(envoy, upstream):
        before = len(upstream.seen)
        status, headers, payload = envoy.request("POST", "/submit", body=PII_BODY)
        check("403", status == 403, status)
        answer = json.loads(payload)
        check("names the kinds found", answer.get("found") == ["card", "email", "ssn"], answer)
        check("upstream never received the body", len(upstream.seen) == before, upstream.seen[before:])
        status, _, _ = envoy.request("POST", "/ok", body='{"note": "fine"}')
        check("clean request passes", status == 200, status)
        status, _, payload = envoy.request("GET", "/search?email=jane%40example.com")
        check("query string blocked", status == 403 and b"query" in payload, (status, payload))
        stats = envoy.stats("pii_guard")
        check("blocked counter", stats.get("wasmcustom.pii_guard.blocked") == "2", stats)

    config = {"mode": "block", "scan": ["requestBody", "query"]}
    run("pii-guard", f"{WASM}/pii-guard.wasm", json.dumps(config), body)


def pii_report():
    print("pii-guard report (streaming)")

    def body(envoy, upstream):
        status, _, _ = envoy.request("POST", "/submit", body=PII_BODY)
        check("request passes", status == 200, status)
        check("body untouched", upstream.last()["body"] == PII_BODY, upstream.last()["body"])
        # A card number and an e-mail address split across chunk boundaries.
        chunks = ["pay with 4111 11", "11 1111 1111 today, write to jane.d", "oe@exam", "ple.com please"]
        envoy.request("POST", "/chunks", chunks=chunks)
        check("chunked body untouched", upstream.last()["body"] == "".join(chunks), upstream.last()["body"])
        stats = envoy.stats("pii_guard")
        check("card counted twice (one split across chunks)", stats.get("wasmcustom.pii_guard.found.card") == "2", stats)
        check("e-mail counted twice (one split across chunks)", stats.get("wasmcustom.pii_guard.found.email") == "2", stats)
        check("ssn counted once", stats.get("wasmcustom.pii_guard.found.ssn") == "1", stats)
        check("BLUEBIRD counted", stats.get("wasmcustom.pii_guard.found.codename") == "1", stats)
        check("exchanges with findings", stats.get("wasmcustom.pii_guard.exchanges_with_findings") == "3", stats)

    def with_codename(envoy, upstream):
        envoy.request("POST", "/codename", chunks=["project blue", "bird is a go"])
        body(envoy, upstream)

    config = {"mode": "report", "customPatterns": [{"name": "codename", "literal": "BLUEBIRD"}]}
    envoy = run("pii-guard", f"{WASM}/pii-guard.wasm", json.dumps(config), with_codename)
    lines = [l for l in wasm_log(envoy) if "pii-guard: found" in l]
    check("log line per exchange with findings", len(lines) == 3, lines)
    check("log never contains the values", not any(CARD in l or SSN in l or "jane" in l for l in wasm_log(envoy)), lines)
    for line in lines:
        print("       log: " + line)


def pii_oversize():
    print("pii-guard over-size policies")

    def block(envoy, upstream):
        status, _, payload = envoy.request("POST", "/big", body="x" * 2000)
        check("block policy: 413", status == 413, (status, payload))

    run("pii-guard", f"{WASM}/pii-guard.wasm", json.dumps({"mode": "scrub", "maxBodyBytes": 1000}), block)

    def pass_(envoy, upstream):
        status, _, _ = envoy.request("POST", "/big", body="x" * 1990 + CARD)
        check("pass policy: passes unscanned", status == 200 and CARD in upstream.last()["body"], status)
        status, _, _ = envoy.request("POST", "/big", chunks=["x" * 600, "y" * 600, CARD])
        check("pass policy, chunked (no content-length): passes", status == 200 and upstream.last()["body_length"] == 1219, status)
        check("oversize counter", envoy.stats("pii_guard").get("wasmcustom.pii_guard.oversize_passed") == "2")

    run("pii-guard", f"{WASM}/pii-guard.wasm",
        json.dumps({"mode": "scrub", "maxBodyBytes": 1000, "oversizePolicy": "pass"}), pass_)


def pii_rejects_bad_config():
    print("pii-guard rejects a bad configuration")
    upstream = harness.Upstream()
    try:
        envoy = harness.Envoy([harness.wasm_filter("pii-guard", f"{WASM}/pii-guard.wasm", '{"mode": "scrubb"}')], upstream.port)
        envoy.stop()
        check("Envoy refuses the configuration", False, "Envoy started")
    except RuntimeError as error:
        text = str(error)
        check("Envoy refuses the configuration", "Unable to create Wasm HTTP filter" in text or "configure" in text, text[-500:])
        check("the log names the field", "'mode' must be" in text, text[-800:])
    finally:
        upstream.stop()


KEY_CONFIG = {
    "queryParameter": "api_key",
    "keys": [
        {"name": "service-a", "internalKey": "int-key-a", "realKey": "REAL-SECRET-A",
         "rules": [{"domains": ["api.example.com"], "methods": ["GET", "HEAD"], "paths": ["/v1/items", "/v1/items/*"]}]},
        {"name": "service-b", "internalKey": "int-key-b", "realKey": "REAL-SECRET-B",
         "rules": [{"domains": ["*"]}], "injectHeader": "x-api-key", "injectScheme": ""},
    ],
}


def key_injector():
    print("key-injector")

    def body(envoy, upstream):
        host = {"host": "api.example.com"}
        status, _, _ = envoy.request("GET", "/v1/items/7", headers={**host, "authorization": "Bearer int-key-a"})
        seen = dict(upstream.last()["headers"])
        check("A's key on GET: allowed and swapped", status == 200 and seen.get("authorization") == "Bearer REAL-SECRET-A", (status, seen))

        before = len(upstream.seen)
        status, _, payload = envoy.request("POST", "/v1/items", body="{}", headers={**host, "authorization": "Bearer int-key-a"})
        reason = json.loads(payload).get("reason", "")
        check("A's key on POST: 403 naming the rule", status == 403 and "may not use method POST" in reason and "rule 1" in reason, (status, payload))
        check("A's POST never reached the upstream", len(upstream.seen) == before)

        status, _, _ = envoy.request("POST", "/anything", body="{}", headers={**host, "authorization": "Bearer int-key-b"})
        seen = dict(upstream.last()["headers"])
        check("B's key on POST: swapped into x-api-key", status == 200 and seen.get("x-api-key") == "REAL-SECRET-B" and "authorization" not in seen, (status, seen))

        status, _, _ = envoy.request("GET", "/v1/items?api_key=int-key-a&x=1", headers=host)
        check("A's key in the query: swapped in place", upstream.last()["path"] == "/v1/items?api_key=REAL-SECRET-A&x=1", upstream.last()["path"])

        status, _, payload = envoy.request("GET", "/v1/items", headers={**host, "authorization": "Bearer int-key-zzz"})
        check("unknown key: 403", status == 403 and b"unknown API key" in payload, (status, payload))

        status, _, _ = envoy.request("GET", "/public", headers=host)
        check("no key: passes untouched", status == 200 and "authorization" not in dict(upstream.last()["headers"]))

        internal_keys = [h for r in upstream.seen for h in r["headers"] if "int-key" in h[1]] + [r["path"] for r in upstream.seen if "int-key" in r["path"]]
        check("the upstream saw only real keys", not internal_keys, internal_keys)
        stats = envoy.stats("key_injector")
        check("metrics by key name", stats.get("wasmcustom.key_injector.allowed.service-a") == "2" and stats.get("wasmcustom.key_injector.denied.service-a") == "1", stats)

    envoy = run("key-injector", f"{WASM}/key-injector.wasm", json.dumps(KEY_CONFIG), body)
    log = envoy.read_log()
    config_lines = [l for l in log.splitlines() if "REAL-SECRET" in l]
    check("no real key anywhere in Envoy's log", not config_lines, config_lines[:3])
    for line in wasm_log(envoy):
        if "key-injector" in line:
            print("       log: " + line)


def upstream_watch():
    print("upstream-watch")
    collector = harness.Upstream()
    upstream = harness.Upstream()
    config = {"collectorURL": f"http://127.0.0.1:{collector.port}/reports", "reportIntervalMs": 500,
              "minRequests": 5, "p95LatencyThresholdMs": 300}
    envoy = harness.Envoy([harness.wasm_filter("upstream-watch", f"{WASM}/upstream-watch.wasm", json.dumps(config))],
                          upstream.port, callout_port=collector.port)
    try:
        for _ in range(6):
            envoy.request("GET", "/status/500", headers={"host": "flaky.example.com"})
            envoy.request("GET", "/slow/400", headers={"host": "slow.example.com"})
            envoy.request("GET", "/fine", headers={"host": "ok.example.com"})

        def reports():
            return [json.loads(r["body"]) for r in list(collector.seen) if r["path"] == "/reports"]

        deadline = time.time() + 5
        while time.time() < deadline and len({c["host"] for r in reports() for c in r["changes"]}) < 2:
            time.sleep(0.1)
        reports = reports()
        check("the collector got a report", len(reports) >= 1, collector.seen)
        changes = {c["host"]: c for r in reports for c in r["changes"]}
        check("flaky host reported degraded by error rate",
              changes.get("flaky.example.com", {}).get("state") == "degraded" and "error rate" in changes["flaky.example.com"]["reason"], changes)
        check("slow host reported degraded by p95 latency",
              changes.get("slow.example.com", {}).get("state") == "degraded" and "p95 latency" in changes["slow.example.com"]["reason"], changes)
        check("healthy host not reported", "ok.example.com" not in changes, changes)
        check("reports batched on the timer, not one per request", 1 <= len(reports) <= 6, len(reports))
        for report in reports:
            print("       report: " + json.dumps(report)[:300])
        stats = envoy.stats("")
        check("per-host metrics", stats.get("wasmcustom.upstream_watch.flaky_example_com.errors.5xx") == "6"
              and stats.get("wasmcustom.upstream_watch.ok_example_com.requests") == "6", {k: v for k, v in stats.items() if "upstream_watch" in k})
        check("the report went through the callout cluster", int(stats.get("cluster.qpilot_callout.upstream_rq_completed", "0")) >= 1,
              stats.get("cluster.qpilot_callout.upstream_rq_completed"))
        check("and not through the listener", stats.get("http.sdk_test.downstream_rq_completed") == "18", stats.get("http.sdk_test.downstream_rq_completed"))
    finally:
        envoy.stop()
        upstream.stop()
        collector.stop()


def upstream_watch_connect():
    print("upstream-watch: connection failures")
    collector = harness.Upstream()
    config = {"collectorURL": f"http://127.0.0.1:{collector.port}/reports", "reportIntervalMs": 500, "minRequests": 3}
    # The upstream cluster points at a port nobody listens on.
    envoy = harness.Envoy([harness.wasm_filter("upstream-watch", f"{WASM}/upstream-watch.wasm", json.dumps(config))],
                          harness.free_port(), callout_port=collector.port)
    try:
        statuses = [envoy.request("GET", "/x", headers={"host": "down.example.com"})[0] for _ in range(3)]
        deadline = time.time() + 5
        while time.time() < deadline and not collector.seen:
            time.sleep(0.1)
        stats = envoy.stats("upstream_watch")
        check("503s classified as connection failures (response flags)",
              statuses == [503] * 3 and stats.get("wasmcustom.upstream_watch.down_example_com.errors.connect") == "3", (statuses, stats))
        changes = [c for r in collector.seen for c in json.loads(r["body"])["changes"]]
        check("reported degraded", any(c["host"] == "down.example.com" and c["state"] == "degraded" for c in changes), changes)
    finally:
        envoy.stop()
        collector.stop()


def memory_run(label, module, configuration, prefix, send, requests=10000, callout_port=None):
    """Sends `requests` requests and compares the module's heap gauges after 1,000 and at the end."""
    upstream = harness.Upstream()
    envoy = harness.Envoy([harness.wasm_filter(label, module, configuration)], upstream.port, callout_port=callout_port)
    try:
        samples = []
        for i in range(requests):
            send(envoy, i)
            if i in (999, requests - 1):
                stats = envoy.stats(prefix)
                samples.append((int(stats[f"wasmcustom.{prefix}.heap_in_use_bytes"]), int(stats[f"wasmcustom.{prefix}.wasm_memory_bytes"])))
        print(f"       {label}: after 1,000: {samples[0][0]} B in use, {samples[0][1] // 1024} KiB linear memory;"
              f" after {requests:,}: {samples[1][0]} B in use, {samples[1][1] // 1024} KiB")
        check(f"{label}: no growth after warm-up", samples[1][1] == samples[0][1] and samples[1][0] <= samples[0][0] + 4096, samples)
    finally:
        envoy.stop()
        upstream.stop()


def memory(requests=10000):
    print(f"memory over {requests:,} requests per module")
    module = f"{WASM}/pii-guard.wasm"
    memory_run("pii-guard scrub", module, json.dumps({"mode": "scrub"}), "pii_guard",
               lambda envoy, i: envoy.request("POST", "/m", body=PII_BODY if i % 2 else '{"clean": true}'), requests)
    memory_run("pii-guard report", module, json.dumps({"mode": "report", "scan": ["requestBody", "query", "headers", "responseBody"]}), "pii_guard",
               lambda envoy, i: envoy.request("POST", f"/m?i={i}", body=PII_BODY), requests)
    memory_run("key-injector", f"{WASM}/key-injector.wasm", json.dumps(KEY_CONFIG), "key_injector",
               lambda envoy, i: envoy.request("POST" if i % 3 else "GET", "/v1/items/1", body="{}" if i % 3 else None,
                                              headers={"host": "api.example.com", "authorization": f"Bearer int-key-{'ab'[i % 2]}"}), requests)
    collector = harness.Upstream()
    try:
        config = {"collectorURL": f"http://127.0.0.1:{collector.port}/reports", "reportIntervalMs": 200, "minRequests": 5}
        memory_run("upstream-watch", f"{WASM}/upstream-watch.wasm", json.dumps(config), "upstream_watch",
                   lambda envoy, i: envoy.request("GET", "/status/500" if i % 4 == 0 else "/ok", headers={"host": f"h{i % 20}.example.com"}),
                   requests, callout_port=collector.port)
    finally:
        collector.stop()


SCENARIOS = {
    "hello-header": hello_header,
    "body-rewrite": body_rewrite,
    "callout": callout,
    "stats-ticker": stats_ticker,
    "key-injector": key_injector,
    "upstream-watch": upstream_watch,
    "upstream-watch-connect": upstream_watch_connect,
    "pii-scrub": pii_scrub,
    "pii-block": pii_block,
    "pii-report": pii_report,
    "pii-oversize": pii_oversize,
    "pii-bad-config": pii_rejects_bad_config,
    "memory": memory,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(SCENARIOS)
    for scenario in names:
        SCENARIOS[scenario]()
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)
