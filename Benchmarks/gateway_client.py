#!/usr/bin/env python3
"""The benchmark scripts' client for a gatewayd on 127.0.0.1 (admin token "bench").

Usage: gateway_client.py PORT COMMAND ...
  wait-ready [--since EPOCH]        wait until /readyz answers 200; print the seconds since
                                    EPOCH (a Unix time taken before gatewayd was started)
  subscribe URL [--max-in-flight N] [--paused]
                                    create a subscription to every event type; print its id
  subscribe-many COUNT URL          create COUNT subscriptions to URL, each to its own exact type
                                    (customer.N.signed-up), none of which the standard event has
  ingest TOTAL [--ids FILE]         POST TOTAL standard ~300-byte events, 500 per batch; with
                                    --ids, append one id of every batch to FILE
  lookup COUNT --ids FILE           GET COUNT random events from FILE's ids; print
                                    "p50 p99 max" in milliseconds (all must answer 200)
  drain ID TOTAL [--resume ID ...]  resume ID (and the others listed), wait until ID has
                                    delivered or dead-lettered TOTAL events; print
                                    "deliveries/s delivered failedAttempts"
  stats ID                          print the subscription's stats
  steady RATE SECONDS               POST RATE standard events per second (a batch every 100 ms)
                                    for SECONDS; print "sent N errors E"
  tenants-many COUNT PER URL --ids FILE [--paused] [--type TYPE]
                                    mark order.created and order.shipped visible to tenants,
                                    create tenants t00000.. and PER subscriptions of each to TYPE
                                    (default order.created) at URL (8 connections at once);
                                    write the subscription ids to FILE
  resume-all FILE                   resume every subscription listed in FILE (8 connections)
  ingest-addressed TOTAL TENANTS    POST TOTAL standard events, 500 per batch, each addressed to
                                    one of tenants t00000..t{TENANTS-1} at random
  delivered                         print gateway_delivery_attempts_total{outcome="delivered"}
"""
import concurrent.futures
import argparse
import http.client
import json
import random
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


def ingest(port, total, ids_file=None):
    # One keep-alive connection for the whole run.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    ids = open(ids_file, "a") if ids_file else None
    body = {500: json.dumps({"events": [EVENT] * 500})}
    sent = 0
    while sent < total:
        count = min(500, total - sent)
        if count not in body:
            body[count] = json.dumps({"events": [EVENT] * count})
        connection.request("POST", "/v1/events/batch", body[count], headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 202:
            sys.exit("batch failed: %d" % response.status)
        if ids:
            receipts = json.loads(data)["events"]
            ids.write(receipts[random.randrange(len(receipts))]["id"] + "\n")
        sent += count


def lookup(port, count, ids_file):
    ids = [line.strip() for line in open(ids_file) if line.strip()]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": "Bearer " + TOKEN}
    timings = []
    for _ in range(count):
        event = random.choice(ids)
        start = time.perf_counter()
        connection.request("GET", "/v1/events/" + event, None, headers)
        response = connection.getresponse()
        response.read()
        timings.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            sys.exit("GET %s answered %d" % (event, response.status))
    timings.sort()
    return "%.3f %.3f %.3f" % (timings[len(timings) // 2], timings[int(len(timings) * 0.99)], timings[-1])


def steady(port, rate, seconds):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    per_batch = max(1, rate // 10)
    body = json.dumps({"events": [EVENT] * per_batch})
    start = time.monotonic()
    sent = errors = ticks = 0
    while time.monotonic() - start < seconds:
        try:
            connection.request("POST", "/v1/events/batch", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status == 202:
                sent += per_batch
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        ticks += 1
        pause = start + ticks * 0.1 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return "sent %d errors %d" % (sent, errors)


def parallel(port, requests, threads=8):
    """Sends (method, path, body) requests over `threads` keep-alive connections; returns the
    answers' bodies in order. Exits on any answer that is not 2xx."""
    def worker(chunk):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
        answers = []
        for method, path, body in chunk:
            connection.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = connection.getresponse()
            data = response.read()
            if response.status // 100 != 2:
                sys.exit("%s %s answered %d %s" % (method, path, response.status, data[:200]))
            answers.append(json.loads(data) if data else None)
        return answers
    chunks = [requests[n::threads] for n in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, chunks))
    # Back in the original order.
    answers = [None] * len(requests)
    for n, chunk in enumerate(results):
        for index, answer in enumerate(chunk):
            answers[n + index * threads] = answer
    return answers


def tenant_id(n):
    return "t%05d" % n


def tenants_many(port, count, per, url, ids_file, paused, event_type):
    for name in ["order.created", "order.shipped"]:
        status, _ = call(port, "PUT", "/v1/event-types/" + name, {"description": "bench", "tenantVisible": True})
        if status // 100 != 2:
            sys.exit("registering the event type failed: %d" % status)
    parallel(port, [("POST", "/v1/tenants", {"id": tenant_id(n), "name": "Tenant %d" % n}) for n in range(count)])
    subscriptions = parallel(port, [("POST", "/v1/subscriptions", {"url": url, "eventTypes": [event_type], "tenantId": tenant_id(n)})
                                    for n in range(count) for _ in range(per)])
    ids = [subscription["id"] for subscription in subscriptions]
    if paused:
        parallel(port, [("POST", "/v1/subscriptions/%s/pause" % id, None) for id in ids])
    with open(ids_file, "w") as out:
        out.write("\n".join(ids) + "\n")


def resume_all(port, ids_file):
    ids = [line.strip() for line in open(ids_file) if line.strip()]
    parallel(port, [("POST", "/v1/subscriptions/%s/resume" % id, None) for id in ids])


def ingest_addressed(port, total, tenants):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    sent = 0
    while sent < total:
        count = min(500, total - sent)
        events = [dict(EVENT, tenant=tenant_id(random.randrange(tenants))) for _ in range(count)]
        connection.request("POST", "/v1/events/batch", json.dumps({"events": events}), headers)
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            sys.exit("batch failed: %d" % response.status)
        sent += count


def delivered(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=60).read().decode()
    for line in text.splitlines():
        if line.startswith("gateway_delivery_attempts_total") and 'outcome="delivered"' in line:
            return int(float(line.split()[-1]))
    return 0


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
    command.add_argument("--ids")
    command = commands.add_parser("lookup")
    command.add_argument("count", type=int)
    command.add_argument("--ids", required=True)
    command = commands.add_parser("drain")
    command.add_argument("id")
    command.add_argument("total", type=int)
    command.add_argument("--resume", nargs="*", default=[])
    command = commands.add_parser("stats")
    command.add_argument("id")
    command = commands.add_parser("tenants-many")
    command.add_argument("count", type=int)
    command.add_argument("per", type=int)
    command.add_argument("url")
    command.add_argument("--ids", required=True)
    command.add_argument("--paused", action="store_true")
    command.add_argument("--type", default="order.created")
    command = commands.add_parser("resume-all")
    command.add_argument("ids")
    command = commands.add_parser("ingest-addressed")
    command.add_argument("total", type=int)
    command.add_argument("tenants", type=int)
    commands.add_parser("delivered")
    command = commands.add_parser("steady")
    command.add_argument("rate", type=int)
    command.add_argument("seconds", type=float)
    arguments = parser.parse_args()
    port = arguments.port
    if arguments.command == "wait-ready":
        print("%.3f" % wait_ready(port, arguments.since))
    elif arguments.command == "subscribe":
        print(subscribe(port, arguments.url, arguments.max_in_flight, arguments.paused))
    elif arguments.command == "subscribe-many":
        subscribe_many(port, arguments.count, arguments.url)
    elif arguments.command == "ingest":
        ingest(port, arguments.total, arguments.ids)
    elif arguments.command == "lookup":
        print(lookup(port, arguments.count, arguments.ids))
    elif arguments.command == "drain":
        print(drain(port, arguments.id, arguments.total, arguments.resume))
    elif arguments.command == "steady":
        print(steady(port, arguments.rate, arguments.seconds))
    elif arguments.command == "tenants-many":
        tenants_many(port, arguments.count, arguments.per, arguments.url, arguments.ids, arguments.paused, arguments.type)
    elif arguments.command == "resume-all":
        resume_all(port, arguments.ids)
    elif arguments.command == "ingest-addressed":
        ingest_addressed(port, arguments.total, arguments.tenants)
    elif arguments.command == "delivered":
        print(delivered(port))
    elif arguments.command == "stats":
        print(json.dumps(call(port, "GET", "/v1/subscriptions/%s/stats" % arguments.id)[1]))


if __name__ == "__main__":
    main()
