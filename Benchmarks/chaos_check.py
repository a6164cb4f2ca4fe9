#!/usr/bin/env python3
"""The chaos test's set-up and verdict (Benchmarks/chaos.sh), against the nodes' admin API.
Standard library only.

Usage:
  chaos_check.py subscribe --ports P1,P2,P3 --token T --secret S --receiver PORT --out FILE
      Creates the five subscriptions, each through another node, and waits until every node
      lists all five; writes {name: {id, path, ...}} to FILE.
  chaos_check.py verify --ports ... --token T --subscriptions FILE --acks FILE
                        --deliveries FILE --chaos FILE --publisher FILE --node-logs L1,L2,L3
                        [--wait SECONDS]
      Waits (at most --wait seconds) until every acknowledged event reached each subscription
      it matches (the /fail one: is among its dead letters), then prints the figures and
      exits 1 if an invariant failed. --node-logs LOG,... (the nodes' logfmt output) tells
      when shards changed hands.

The subscriptions (receiver paths, see chaos_receiver.py):
  ok      /ok/a        every chaos.* event
  ordered /ok/ordered  every chaos.* event, "ordered": true (events carry partitionKey k0..k9)
  flaky   /flaky/b     chaos.flaky: the first attempt of each event fails
  fail    /fail/c      chaos.fail, "retry": {"maxAttempts": 3}: every attempt fails, so every
                       event must end in its dead letters
  rate    /ok/rate     chaos.rated, "rateLimit": 20
"""
import argparse
import datetime
import re
import http.client
import json
import sys
import time

RATE_LIMIT = 20
SUBSCRIPTIONS = {
    "ok": {"path": "/ok/a", "types": ["chaos.*"], "extra": {}},
    "ordered": {"path": "/ok/ordered", "types": ["chaos.*"], "extra": {"ordered": True}},
    "flaky": {"path": "/flaky/b", "types": ["chaos.flaky"], "extra": {}},
    "fail": {"path": "/fail/c", "types": ["chaos.fail"], "extra": {"retry": {"maxAttempts": 3}}},
    "rate": {"path": "/ok/rate", "types": ["chaos.rated"], "extra": {"rateLimit": RATE_LIMIT}},
}
# What a node logs when shards change hands (ShardLeases): it took some, gave some back,
# lost them to another node, or stopped delivering them (no database, leases not renewed).
HANDOVER_MESSAGES = ('msg="took shards"', 'msg="gave shards back"', 'msg="shards taken over by another node"',
                     'msg="stopped delivering every shard"', 'msg="shard leases not renewed in time')
SHARD_COUNT = 64  # ClusterSchema.shardCount


def matches(name, event_type):
    patterns = SUBSCRIPTIONS[name]["types"]
    return any(p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns)


class Admin:
    """Admin API calls, each through the next node (or a given one first), retried through
    the others while nodes are down or restarting; (None, None) when none answered."""

    def __init__(self, ports, token):
        self.ports, self.token, self.turn = ports, token, 0

    def call(self, method, path, body=None, node=None, attempts=60):
        for attempt in range(attempts):
            if node is None or attempt > 0:
                node = self.turn % len(self.ports)
                self.turn += 1
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.ports[node], timeout=10)
                connection.request(method, path, json.dumps(body) if body is not None else None,
                                   {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                connection.close()
                if response.status < 500:
                    return response.status, json.loads(data) if data else None
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if attempt + 1 < attempts:
                time.sleep(0.5)
        return None, None


def subscribe(args):
    admin = Admin(args.ports, args.token)
    created = {}
    for index, (name, spec) in enumerate(SUBSCRIPTIONS.items()):
        body = dict({"url": "http://127.0.0.1:%d%s" % (args.receiver, spec["path"]), "eventTypes": spec["types"],
                     "secret": args.secret, "description": "chaos " + name}, **spec["extra"])
        node = index % len(args.ports)
        status, answer = admin.call("POST", "/v1/subscriptions", body, node=node, attempts=1)
        if status != 201:
            sys.exit("chaos_check: creating %s through port %d: %s %s" % (name, args.ports[node], status, answer))
        created[name] = {"id": answer["id"], "path": spec["path"], "types": spec["types"],
                         "createdThrough": args.ports[node]}
    # Configuration reaches every node within seconds: publish only once each lists them all.
    wanted = {entry["id"] for entry in created.values()}
    deadline = time.time() + 30
    for node, port in enumerate(args.ports):
        while True:
            status, answer = admin.call("GET", "/v1/subscriptions", node=node, attempts=1)
            if status == 200 and wanted <= {s["id"] for s in answer["subscriptions"]}:
                break
            if time.time() > deadline:
                sys.exit("chaos_check: node on port %d does not list every subscription after 30 s" % port)
            time.sleep(0.2)
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump(created, file, indent=1)


class Deliveries:
    """The receiver's log, read incrementally."""

    def __init__(self, path):
        self.path, self.offset, self.entries = path, 0, []

    def refresh(self):
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            chunk = file.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written waits
        self.offset += len(complete)
        self.entries.extend(json.loads(line) for line in complete.splitlines() if line)

    def succeeded(self, path):
        return {e["id"] for e in self.entries if e["path"] == path and 200 <= e["status"] < 300}


def read_lines(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def outstanding(subscriptions, expected, deliveries, dead_letters):
    """Per subscription: the acknowledged events it has not got (delivered, or for /fail
    dead-lettered) yet."""
    missing = {}
    for name, entry in subscriptions.items():
        done = dead_letters if name == "fail" else deliveries.succeeded(entry["path"])
        missing[name] = expected[name] - done
    return missing


def fetch_dead_letters(admin, subscription_id):
    status, answer = admin.call("GET", "/v1/subscriptions/%s/dead-letters" % subscription_id)
    if status != 200:
        sys.exit("chaos_check: dead letters: %s %s" % (status, answer))
    return {entry["eventId"] for entry in answer["deadLetters"]}


def order_violations(entries, path):
    """Per key, a first delivery of an event (a new webhook-id) whose seq is lower than one
    already delivered. A repeat of an id already seen (re-sent after a kill) is a duplicate,
    not a violation, even if a later event of its key came in between."""
    seen, highest, violations = set(), {}, []
    for entry in entries:
        if entry["path"] != path or not (200 <= entry["status"] < 300) or entry["id"] in seen:
            continue
        seen.add(entry["id"])
        key, seq = entry["data"]["key"], entry["data"]["seq"]
        if seq < highest.get(key, 0):
            violations.append({"key": key, "seq": seq, "after": highest[key], "id": entry["id"], "at": entry["at"]})
        highest[key] = max(highest.get(key, 0), seq)
    return violations


def rate_windows(times, handovers, width):
    """The busiest `width`-second window of requests, against what the token bucket allows in
    it: RATE_LIMIT a second, plus one second's worth banked at the start, plus one more for
    every time the subscription may have changed hands in or just before the window (a new
    owner starts its lane with a full bucket while the old one has spent its own). Returns
    (most, its allowance, the handovers allowed for there, windows over their allowance, the
    worst such window)."""
    most, most_allowed, most_changes, over, worst = 0, 0, 0, 0, None
    end = 0
    for start in range(len(times)):
        while end < len(times) and times[end] < times[start] + width:
            end += 1
        count = end - start
        changes = sum(1 for t in handovers if times[start] - 1 <= t <= times[start] + width)
        allowed = RATE_LIMIT * width + RATE_LIMIT * (1 + changes)
        if count > most:
            most, most_allowed, most_changes = count, allowed, changes
        if count > allowed:
            over += 1
            if worst is None or count - allowed > worst[0] - worst[1]:
                worst = (count, allowed, times[start])
    return most, most_allowed, most_changes, over, worst


def unexplained_duplicates(entries, handovers):
    """Repeats of a delivery (the same webhook-id answered 2xx again on the same path) with
    no kill or handover of shards between the first copy and the repeat: at-least-once should
    re-send only what was in flight when its subscription changed hands."""
    first, unexplained = {}, []
    for entry in entries:
        if not (200 <= entry["status"] < 300):
            continue
        key = (entry["path"], entry["id"])
        if key not in first:
            first[key] = entry["at"]
        elif not any(first[key] - 1 <= t <= entry["at"] for t in handovers):
            unexplained.append({"path": entry["path"], "id": entry["id"], "first": first[key], "again": entry["at"]})
    return unexplained


def shard_of(subscription_id):
    """The shard a subscription is leased with: ShardLeases.shard(of:), StableHash (FNV-1a,
    then the SplitMix64 finalizer) of the id's UTF-8 modulo the shard count."""
    mask = (1 << 64) - 1
    value = 0xcbf29ce484222325
    for byte in subscription_id.encode():
        value = ((value ^ byte) * 0x100000001b3) & mask
    value ^= value >> 30
    value = (value * 0xbf58476d1ce4e5b9) & mask
    value ^= value >> 27
    value = (value * 0x94d049bb133111eb) & mask
    value ^= value >> 31
    return value % SHARD_COUNT


def shard_log(paths):
    """What the nodes logged about shards changing hands, in time order: (Unix seconds, node
    log index, message, the shards listed or None for every one the node held)."""
    lines = []
    for index, path in enumerate(paths):
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file:
                message = next((m for m in HANDOVER_MESSAGES if m in line), None)
                if not line.startswith("time=") or message is None:
                    continue
                stamp = datetime.datetime.strptime(line[5:line.index(" ")], "%Y-%m-%dT%H:%M:%S.%fZ")
                listed = re.search(r'shards="\[([0-9, ]*)\]"', line)
                shards = {int(n) for n in listed.group(1).split(",") if n.strip()} if listed else None
                lines.append((stamp.replace(tzinfo=datetime.timezone.utc).timestamp(), index, message, shards))
    return sorted(lines)


def handover_times(log, shard=None):
    """When shards changed hands; with `shard`, only the lines that may concern it."""
    return [t for t, _, _, shards in log if shard is None or shards is None or shard in shards]


def owner_at(log, shard, moment):
    """The node (log index) holding `shard` just before `moment`, by the logs; None if none."""
    owner = None
    for t, node, message, shards in log:
        if t >= moment:
            break
        if shards is not None and shard not in shards:
            continue
        if message == 'msg="took shards"':
            owner = node
        elif owner == node:
            owner = None
    return owner


def resumed_after_kills(entries, log, kills, subscriptions, names):
    """For each kill of the node delivering one of `names`' subscriptions: seconds from the
    kill to that subscription's next delivery (another node took it over)."""
    resumed = []
    for kill in kills:
        for name in names:
            if owner_at(log, shard_of(subscriptions[name]["id"]), kill["at"]) != kill["index"]:
                continue
            after = [e["at"] for e in entries if e["path"] == subscriptions[name]["path"] and e["at"] > kill["at"]]
            if after:
                resumed.append((kill["node"], name, min(after) - kill["at"]))
    return resumed


def explain_lost(admin, missing, events, start):
    """For a few lost events: which nodes know them (GET /v1/events/{id} through each). A node
    that answers 404 for an event another node serves has a hole in what it folded."""
    print("\nlost events, and what each node answers to GET /v1/events/{id}:")
    for name, ids in missing.items():
        for event_id in sorted(ids)[:5]:
            event = events[event_id]
            answers = []
            for node, port in enumerate(admin.ports):
                status, _ = admin.call("GET", "/v1/events/" + event_id, node=node, attempts=1)
                answers.append("%d: %s" % (port, status))
            print("  %s %s (%s seq %d, sequence %s, acknowledged through %s at +%.1f s): %s"
                  % (name, event_id, event["partitionKey"], event["seq"], event.get("sequence"),
                     event.get("port"), event["at"] - start, ", ".join(answers)))


def verify(args):
    subscriptions = json.load(open(args.subscriptions, encoding="utf-8"))
    acks = read_lines(args.acks)
    chaos = read_lines(args.chaos)
    publisher = json.load(open(args.publisher, encoding="utf-8"))
    events = {ack["id"]: ack for ack in acks}
    expected = {name: {i for i, e in events.items() if matches(name, e["type"])} for name in subscriptions}
    admin = Admin(args.ports, args.token)
    deliveries = Deliveries(args.deliveries)

    # Wait for the stragglers: the rate-limited backlog, retries, dead letters.
    started, last_report = time.time(), 0
    while True:
        deliveries.refresh()
        dead_letters = fetch_dead_letters(admin, subscriptions["fail"]["id"])
        missing = outstanding(subscriptions, expected, deliveries, dead_letters)
        left = sum(len(m) for m in missing.values())
        waited = time.time() - started
        if left == 0 or waited > args.wait:
            break
        if waited - last_report >= 5:
            print("  waiting %2.0f s: %s" % (waited, ", ".join("%s %d" % (n, len(m)) for n, m in missing.items() if m)),
                  flush=True)
            last_report = waited
        time.sleep(1)
    time.sleep(1)  # late duplicates still on the wire are counted too
    deliveries.refresh()
    dead_letters = fetch_dead_letters(admin, subscriptions["fail"]["id"])
    missing = outstanding(subscriptions, expected, deliveries, dead_letters)
    entries = deliveries.entries
    print("all delivered after %.0f s of waiting" % waited if left == 0 else
          "gave up waiting after %.0f s: %d deliveries missing" % (waited, left))

    # Every moment a subscription may have changed hands: kills, and what the nodes logged.
    log = shard_log(args.node_logs)
    handovers = sorted([c["at"] for c in chaos if c["what"] == "kill"] + handover_times(log))
    failures = []
    kinds = {}
    for event in events.values():
        kinds[event["type"]] = kinds.get(event["type"], 0) + 1
    print("\nacknowledged events: %d (%s)" % (len(events), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    print("publisher: %(retries)d retries (%(connectionErrors)d connection errors, %(timeouts)d timeouts, "
          "%(status5xx)d 5xx), %(acknowledgedBy200)d acknowledged by a 200 (an earlier try had committed), "
          "longest time to acknowledgement %(longestSecondsToAcknowledge).1f s" % publisher)
    if publisher["unexpectedAnswers"] or publisher["gaveUp"] or publisher["workersCrashed"]:
        failures.append("the publisher got %d unexpected answers, gave up on %d events and lost %d workers"
                        % (publisher["unexpectedAnswers"], publisher["gaveUp"], publisher["workersCrashed"]))

    print("\n%-8s %-12s %8s %8s %6s %10s %9s" % ("", "path", "expected", "got", "lost", "duplicates", "requests"))
    unknown = set()
    for name, entry in subscriptions.items():
        mine = [e for e in entries if e["path"] == entry["path"]]
        unknown |= {e["id"] for e in mine} - set(events)
        ok = [e["id"] for e in mine if 200 <= e["status"] < 300]
        duplicates = len(ok) - len(set(ok))
        got = len(dead_letters & expected[name]) if name == "fail" else len(set(ok) & expected[name])
        lost = len(missing[name])
        note = ""
        if name == "fail":
            attempts = {}
            for e in mine:
                attempts[e["id"]] = attempts.get(e["id"], 0) + 1
            note = "  (dead letters; attempts per event %s..%s)" % (min(attempts.values(), default=0),
                                                                   max(attempts.values(), default=0))
            unknown |= dead_letters - set(events)
        print("%-8s %-12s %8d %8d %6d %10d %9d%s" % (name, entry["path"], len(expected[name]), got, lost,
                                                    duplicates, len(mine), note))
        if lost:
            failures.append("%s lost %d acknowledged events, e.g. %s" % (name, lost, ", ".join(sorted(missing[name])[:3])))

    if unknown:
        failures.append("%d event ids delivered or dead-lettered that were never acknowledged, e.g. %s"
                        % (len(unknown), ", ".join(sorted(unknown)[:3])))
    stored_twice = {}
    for e in entries:
        if e["data"] and "key" in e["data"]:
            stored_twice.setdefault((e["data"]["key"], e["data"]["seq"]), set()).add(e["id"])
    twice = {k: ids for k, ids in stored_twice.items() if len(ids) > 1}
    print("\nevents stored twice (one key+seq under two ids): %d" % len(twice))
    if twice:
        failures.append("%d events stored twice, e.g. %s" % (len(twice), list(twice.items())[:2]))
    unsigned = sum(1 for e in entries if not e["signed"])
    print("deliveries whose signature did not verify: %d of %d" % (unsigned, len(entries)))
    if unsigned:
        failures.append("%d deliveries with a bad signature" % unsigned)

    unexplained = unexplained_duplicates(entries, handovers)
    print("duplicates with no kill or handover of shards between the two copies: %d" % len(unexplained))
    if unexplained:
        failures.append("%d duplicates not explained by a kill or handover, e.g. %s" % (len(unexplained), unexplained[:3]))
    violations = order_violations(entries, subscriptions["ordered"]["path"])
    print("per-key order violations on /ok/ordered: %d" % len(violations))
    if violations:
        failures.append("%d order violations, e.g. %s" % (len(violations), violations[:3]))

    print("idempotent re-sends through another node: %d, answered other than 200 with the original id: %d"
          % (publisher["resends"], publisher["resendMismatches"]))
    if publisher["resendMismatches"]:
        failures.append("%d idempotent re-sends mismatched: %s" % (publisher["resendMismatches"], publisher["mismatches"]))

    rated = sorted(e["at"] for e in entries if e["path"] == subscriptions["rate"]["path"])
    # Only the handovers of /ok/rate's own shard give it a new owner with a full bucket.
    rate_shard = shard_of(subscriptions["rate"]["id"])
    rate_handovers = sorted([c["at"] for c in chaos if c["what"] == "kill"] + handover_times(log, rate_shard))
    if not any(message == 'msg="took shards"' and shards and rate_shard in shards for _, _, message, shards in log):
        failures.append("no node logged taking shard %d, where /ok/rate should be: has the shard hash changed?" % rate_shard)
    for width in (1, 10):
        most, allowed, changes, over, worst = rate_windows(rated, rate_handovers, width)
        print("/ok/rate: most requests in %2d s: %d (allowed there: %d/s x %d s + %d banked x (1 + %d possible handovers) = %d)"
              % (width, most, RATE_LIMIT, width, RATE_LIMIT, changes, allowed))
        if over:
            failures.append("/ok/rate: %d %d-second windows over the limit; the worst %d > %d at %.3f"
                            % (over, width, worst[0], worst[1], worst[2]))
    if len(rated) > 1:
        print("/ok/rate: %d requests over %.1f s: %.1f/s on average"
              % (len(rated), rated[-1] - rated[0], (len(rated) - 1) / (rated[-1] - rated[0])))

    kills = [c for c in chaos if c["what"] == "kill"]
    pg = [c for c in chaos if c["what"] == "postgres-restart"]
    # Node N's log is the Nth of --node-logs.
    for kill in kills:
        kill["index"] = int(kill["node"].rsplit("-", 1)[1]) - 1
    resumed = resumed_after_kills(entries, log, kills, subscriptions, ["ok", "ordered", "rate"])
    if resumed:
        print("deliveries resumed after killing their node: %s; max %.1f s"
              % (", ".join("%s %s %.1f s" % r for r in resumed), max(r[2] for r in resumed)))
    print("PostgreSQL restarted (-m immediate): %s" % ("at +%.0f s, took %.1f s" % (
        pg[0]["at"] - chaos[0]["at"], pg[0]["took"]) if pg else "no"))

    if any(missing.values()):
        explain_lost(admin, missing, events, chaos[0]["at"] if chaos else 0)
    if failures:
        print("\nFAILED:")
        for failure in failures:
            print("  - " + failure)
        sys.exit(1)
    print("\nOK: every invariant held")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["subscribe", "verify"])
    parser.add_argument("--ports", required=True, type=lambda text: [int(p) for p in text.split(",")])
    parser.add_argument("--token", required=True)
    parser.add_argument("--secret")
    parser.add_argument("--receiver", type=int)
    parser.add_argument("--out")
    parser.add_argument("--subscriptions")
    parser.add_argument("--acks")
    parser.add_argument("--deliveries")
    parser.add_argument("--chaos")
    parser.add_argument("--publisher")
    parser.add_argument("--node-logs", type=lambda text: text.split(","), default=[])
    parser.add_argument("--wait", type=float, default=60)
    args = parser.parse_args()
    subscribe(args) if args.command == "subscribe" else verify(args)


if __name__ == "__main__":
    main()
