#!/usr/bin/env python3
"""A webhook receiver that answers every POST with 200 after DELAY seconds: the slow
subscriber of the isolation benchmark. A thread per connection, so each held delivery
costs the gateway one open connection, as a real slow endpoint would.

Usage: slow_receiver.py PORT [DELAY=5]"""
import http.server
import sys
import time

port = int(sys.argv[1])
delay = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0


class SlowHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections when deliveries open at once
    daemon_threads = True


Server(("127.0.0.1", port), SlowHandler).serve_forever()
