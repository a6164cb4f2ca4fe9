#!/usr/bin/env python3
"""The benchmark scripts' client for a gatewayd on 127.0.0.1 (admin token "bench").

Usage: gateway_client.py PORT COMMAND ...
  wait-ready [--since EPOCH]        wait until /readyz answers 200; print the seconds since
                                    EPOCH (a Unix time taken before gatewayd was started)
  subscribe URL [--max-in-flight N] [--paused]
                                    create a subscription to every event type; print its id
  subscribe-many COUNT URL          create COUNT subscriptions to URL, each to its own exact type
                                    (customer.N.signed-up), none of which the standard event has
  ingest TOTAL                      POST TOTAL standard ~300-byte events, 500 per batch
  drain ID TOTAL [--resume ID ...]  resume ID (and the others listed), wait until ID has
                                    delivered or dead-lettered TOTAL events; print
                                    "deliveries/s delivered failedAttempts"
  stats ID                          print the subscription's stats
"""
import argparse
import http.client
import json
import sys
import time
import urllib.request

TOKEN = "bench"
EVENT = {"type": "order.created", "data": {"order_id": "ord_0123456789", "amount": 1234, "note": "a" * 180}}


def call(port, method, path, body=None):
    """One request on a fresh connection, retried while gatewayd is still starting."""
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(method, path, json.dumps(body) if body is not None else None,
                               {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            connection.close()
            return response.status, (json.loads(data) if data else None)
        except ConnectionRefusedError:
            time.sleep(0.1)
    sys.exit("gatewayd on port %d did not start" % port)


def wait_ready(port, since):
    while True:
        try:
            if urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=1).status == 200:
                return time.time() - since
        except Exception:
            time.sleep(0.005)


def subscribe(port, url, max_in_flight, paused):
    body = {"url": url, "eventTypes": ["*"]}
    if max_in_flight:
        body["maxInFlight"] = max_in_flight
    status, subscription = call(port, "POST", "/v1/subscriptions", body)
    if status != 201:
        sys.exit("subscribing failed: %d %s" % (status, subscription))
    if paused:
        call(port, "POST", "/v1/subscriptions/%s/pause" % subscription["id"])
    return subscription["id"]


def subscribe_many(port, count, url):
    # One keep-alive connection; each create waits for its own fsync.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    for n in range(count):
        body = {"url": url, "eventTypes": ["customer.%d.signed-up" % n]}
        connection.request("POST", "/v1/subscriptions", json.dumps(body), headers)
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            sys.exit("subscribing failed: %d" % response.status)


def ingest(port, total):
    # One keep-alive connection for the whole run.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    sent = 0
    while sent < total:
        count = min(500, total - sent)
        connection.request("POST", "/v1/events/batch", json.dumps({"events": [EVENT] * count}), headers)
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            sys.exit("batch failed: %d" % response.status)
        sent += count


def drain(port, subscription, total, others):
    start = time.monotonic()
    for resumed in [subscription] + others:
        call(port, "POST", "/v1/subscriptions/%s/resume" % resumed)
    while True:
        _, stats = call(port, "GET", "/v1/subscriptions/%s/stats" % subscription)
        if stats["delivered"] + stats["deadLettered"] >= total:
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    return "%.0f %d %d" % (stats["delivered"] / elapsed, stats["delivered"], stats["failedAttempts"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("wait-ready")
    command.add_argument("--since", type=float, default=time.time())
    command = commands.add_parser("subscribe")
    command.add_argument("url")
    command.add_argument("--max-in-flight", type=int)
    command.add_argument("--paused", action="store_true")
    command = commands.add_parser("subscribe-many")
    command.add_argument("count", type=int)
    command.add_argument("url")
    command = commands.add_parser("ingest")
    command.add_argument("total", type=int)
    command = commands.add_parser("drain")
    command.add_argument("id")
    command.add_argument("total", type=int)
    command.add_argument("--resume", nargs="*", default=[])
    command = commands.add_parser("stats")
    command.add_argument("id")
    arguments = parser.parse_args()
    port = arguments.port
    if arguments.command == "wait-ready":
        print("%.3f" % wait_ready(port, arguments.since))
    elif arguments.command == "subscribe":
        print(subscribe(port, arguments.url, arguments.max_in_flight, arguments.paused))
    elif arguments.command == "subscribe-many":
        subscribe_many(port, arguments.count, arguments.url)
    elif arguments.command == "ingest":
        ingest(port, arguments.total)
    elif arguments.command == "drain":
        print(drain(port, arguments.id, arguments.total, arguments.resume))
    elif arguments.command == "stats":
        print(json.dumps(call(port, "GET", "/v1/subscriptions/%s/stats" % arguments.id)[1]))


if __name__ == "__main__":
    main()
