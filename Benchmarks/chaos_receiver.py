#!/usr/bin/env python3
"""The chaos test's webhook receiver (Benchmarks/chaos.sh): records every delivery and answers
as the path asks. Standard library only.

Usage: chaos_receiver.py PORT LOG SECRET

Every POST is one JSON line appended to LOG (flushed at once, so a run that is cut short
still has what arrived): {"path", "id" (webhook-id), "at" (Unix seconds when the request
arrived), "status" (what we answered), "signed" (whether webhook-signature verified against
SECRET), "data" (the envelope's data)}.

Answers, by the path's first segment:
  /ok/...     200.
  /flaky/...  500 to the first request of each webhook-id on that path, then 200: every event
              needs a retry, which a node killed meanwhile must not forget.
  /fail/...   always 503 with `Retry-After: 1`. A failure, counted toward the subscription's
              maxAttempts like a 500, so every event ends in its dead letters — but retried
              after ~1 s rather than the 5 s and 30 s a 500 waits for. That matters because
              after 5 failures in a row the circuit breaker lets one delivery at a time
              through: on the 500 schedule each event would take ~35 s to dead-letter, one
              after the other, and the run could never finish.
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder:
    def __init__(self, path, secret):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.flaky_seen = set()
        self.key = base64.b64decode(secret.removeprefix("whsec_"))

    def first_request(self, path, webhook_id):
        """Whether this is the first request for webhook_id on path (flaky's rule)."""
        with self.lock:
            if (path, webhook_id) in self.flaky_seen:
                return False
            self.flaky_seen.add((path, webhook_id))
            return True

    def signed(self, webhook_id, timestamp, body, header):
        """Standard Webhooks: v1 = base64(HMAC-SHA256(key, "id.timestamp.body")), any of the
        space-separated entries may match."""
        if not webhook_id or not timestamp:
            return False
        mac = hmac.new(self.key, b"%s.%s.%s" % (webhook_id.encode(), timestamp.encode(), body), hashlib.sha256)
        expected = base64.b64encode(mac.digest()).decode()
        return any(entry.startswith("v1,") and hmac.compare_digest(entry[3:], expected)
                   for entry in header.split(" "))

    def record(self, entry):
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.lock:
            self.file.write(line)
            self.file.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: libcurl reuses its connections

    def do_POST(self):
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        webhook_id = self.headers.get("webhook-id", "")
        recorder = self.server.recorder
        headers = {}
        if self.path.startswith("/fail/"):
            status, headers = 503, {"Retry-After": "1"}
        elif self.path.startswith("/flaky/"):
            status = 500 if recorder.first_request(self.path, webhook_id) else 200
        else:
            status = 200
        try:
            data = json.loads(body).get("data")
        except ValueError:
            data = None
        recorder.record({
            "path": self.path, "id": webhook_id, "at": arrived, "status": status, "data": data,
            "signed": recorder.signed(webhook_id, self.headers.get("webhook-timestamp"), body,
                                      self.headers.get("webhook-signature", "")),
        })
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass  # every request is in LOG already


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    port, log, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.recorder = Recorder(log, secret)
    server.serve_forever()


if __name__ == "__main__":
    main()
