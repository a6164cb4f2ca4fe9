#!/usr/bin/env python3
"""The chaos test's publisher (Benchmarks/chaos.sh): POSTs events to the nodes in turn while
they are being killed, until every one is acknowledged. Standard library only.

Usage: chaos_publisher.py --ports P1,P2,P3 --token T --rate R --seconds S --seed N
                          --acks FILE --summary FILE

Ten workers, one per partition key k0..k9, each publishing its key's events one after the
other: data.seq counts up per key and the next event of a key is sent only once the previous
one is acknowledged, so a key's journal order is its seq order (what the ordered subscription
is checked against). Together they send R events a second for S seconds.

Each event has its own Idempotency-Key. A request that fails (connection refused or reset,
no answer within 10 s, a 5xx) is sent again, same key and body, through the NEXT node, until
a 202 or 200 acknowledges it; every acknowledged (key, id) is a JSON line in FILE. About 5%
of the time a worker also re-sends one of its acknowledged events through another node than
the one that acknowledged it: the answer must be 200 with the original id, else it counts as
a mismatch. The summary (JSON) goes to --summary and stdout.

Event types: chaos.fail (1/300: the /fail subscription, dead-lettered), chaos.flaky (1/60:
the /flaky one), chaos.rated (40%: the rate-limited one, which gets more than its 20/s at the
default 60 events/s) and chaos.plain.
"""
import argparse
import http.client
import json
import random
import socket
import threading
import time
import traceback

KEYS = 10
RESEND_SHARE = 0.05
REQUEST_TIMEOUT = 10
# After the load, how long a worker keeps retrying its last event before giving up on it.
GIVE_UP_AFTER = 60


def event_type(rng):
    draw = rng.random()
    if draw < 1 / 300:
        return "chaos.fail"
    if draw < 1 / 300 + 1 / 60:
        return "chaos.flaky"
    if draw < 1 / 300 + 1 / 60 + 0.4:
        return "chaos.rated"
    return "chaos.plain"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"acknowledged": 0, "acknowledgedBy200": 0, "retries": 0, "connectionErrors": 0,
                       "timeouts": 0, "status5xx": 0, "unexpectedAnswers": 0, "gaveUp": 0,
                       "resends": 0, "resendMismatches": 0, "workersCrashed": 0}
        self.longest_to_ack = 0.0
        self.mismatches = []

    def add(self, name, amount=1):
        with self.lock:
            self.counts[name] += amount

    def acknowledged(self, seconds, by_200):
        with self.lock:
            self.counts["acknowledged"] += 1
            self.counts["acknowledgedBy200"] += by_200
            self.longest_to_ack = max(self.longest_to_ack, seconds)

    def mismatch(self, what):
        with self.lock:
            self.counts["resendMismatches"] += 1
            self.mismatches.append(what)


class Nodes:
    """One keep-alive connection per node for one worker."""

    def __init__(self, ports, token):
        self.ports = ports
        self.token = token
        self.connections = [None] * len(ports)

    def post(self, node, body, key):
        """(status, parsed body or None); raises OSError/HTTPException on a failed exchange."""
        connection = self.connections[node]
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.ports[node], timeout=REQUEST_TIMEOUT)
            self.connections[node] = connection
        try:
            connection.request("POST", "/v1/events", body, {
                "Authorization": "Bearer " + self.token, "Content-Type": "application/json",
                "Idempotency-Key": key})
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            self.close(node)
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close(node)
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, None

    def close(self, node):
        if self.connections[node] is not None:
            self.connections[node].close()
            self.connections[node] = None


class Worker(threading.Thread):
    def __init__(self, index, args, stats, acks, acks_lock, stop_at):
        super().__init__(daemon=True)
        self.key = "k%d" % index
        self.rng = random.Random(args.seed * 1000 + index)
        self.args = args
        self.nodes = Nodes(args.ports, args.token)
        self.node = index % len(args.ports)
        self.stats, self.acks, self.acks_lock = stats, acks, acks_lock
        self.stop_at = stop_at
        self.sent = []  # (idempotency key, body, id, node) of this worker's acknowledged events

    def send(self, body, key, first_node, deadline):
        """Sends until acknowledged: (status, answer, node), or None when it gave up or the
        answer was one no retry can change (a 4xx)."""
        node, pause = first_node, 0.05
        while True:
            try:
                status, answer = self.nodes.post(node, body, key)
                if status in (200, 202) and answer and "id" in answer:
                    return status, answer, node
                if status < 500:
                    self.stats.add("unexpectedAnswers")
                    print("publisher: %s answered %d to %s: %s" % (self.args.ports[node], status, key, answer), flush=True)
                    return None
                self.stats.add("status5xx")
            except socket.timeout:
                self.stats.add("timeouts")
            except (OSError, http.client.HTTPException):
                self.stats.add("connectionErrors")
            if time.time() > deadline:
                self.stats.add("gaveUp")
                print("publisher: gave up on %s after retrying until the deadline" % key, flush=True)
                return None
            self.stats.add("retries")
            node = (node + 1) % len(self.args.ports)
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def resend_one(self):
        key, body, original, acked_by = self.rng.choice(self.sent)
        nodes = len(self.args.ports)
        other = (acked_by + 1 + self.rng.randrange(max(1, nodes - 1))) % nodes  # with one node, that one
        self.stats.add("resends")
        result = self.send(body, key, other, time.time() + GIVE_UP_AFTER)
        if result is None:
            self.stats.mismatch({"key": key, "original": original, "answer": "no acknowledgement"})
        elif result[0] != 200 or result[1]["id"] != original:
            self.stats.mismatch({"key": key, "original": original, "status": result[0], "answer": result[1]})

    def run(self):
        try:
            self.publish()
        except Exception:
            self.stats.add("workersCrashed")
            traceback.print_exc()

    def publish(self):
        interval = KEYS / self.args.rate
        next_at = time.time() + self.rng.random() * interval
        seq = 0
        while True:
            now = time.time()
            if now >= self.stop_at:
                return
            if next_at > now:
                time.sleep(next_at - now)
            # Behind schedule by more than a second (a stall): carry on from now, no burst.
            next_at = max(next_at + interval, time.time() - 1)
            seq += 1
            kind = event_type(self.rng)
            body = json.dumps({"type": kind, "partitionKey": self.key,
                               "data": {"key": self.key, "seq": seq}}, separators=(",", ":"))
            key = "chaos-%d-%s-%d" % (self.args.seed, self.key, seq)
            started = time.time()
            result = self.send(body, key, self.node, self.stop_at + GIVE_UP_AFTER)
            self.node = (self.node + 1) % len(self.args.ports)
            if result is None:
                continue
            status, answer, node = result
            event_id = answer["id"]
            self.stats.acknowledged(time.time() - started, status == 200)
            line = json.dumps({"key": key, "id": event_id, "sequence": answer.get("sequence"), "type": kind,
                               "partitionKey": self.key, "seq": seq, "port": self.args.ports[node],
                               "status": status, "at": time.time()})
            with self.acks_lock:
                self.acks.write(line + "\n")
                self.acks.flush()
            self.sent.append((key, body, event_id, node))
            if self.rng.random() < RESEND_SHARE:
                self.resend_one()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True, type=lambda text: [int(p) for p in text.split(",")])
    parser.add_argument("--token", required=True)
    parser.add_argument("--rate", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--acks", required=True)
    parser.add_argument("--summary", required=True)
    args = parser.parse_args()

    stats = Stats()
    acks_lock = threading.Lock()
    started = time.time()
    with open(args.acks, "a", encoding="utf-8") as acks:
        workers = [Worker(i, args, stats, acks, acks_lock, started + args.seconds) for i in range(KEYS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    summary = dict(stats.counts, longestSecondsToAcknowledge=round(stats.longest_to_ack, 3),
                   seconds=round(time.time() - started, 1), mismatches=stats.mismatches[:20])
    with open(args.summary, "w", encoding="utf-8") as file:
        json.dump(summary, file)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
