"""bench/fit.sh's platform that is not the twin: an HTTP service whose
`GET /reports/ID` holds one of WORKERS threads for SERVICE_MS, and whose
`POST /sessions` answers at once. Its capacity is WORKERS / SERVICE_MS.
A request that waits more than 2 s for a thread gets 503, as a server
with a bounded backlog would: without it, the requests of an overloaded
trial (their clients long gone) kept the threads busy for a minute into
the next trial.

    python3 bench/predict/pool-service.py PORT WORKERS SERVICE_MS
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, WORKERS, SERVICE_MS = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
POOL = threading.Semaphore(WORKERS)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's
        # algorithm and the client's delayed ACK add 40 ms to each answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.answer(201, {"id": "s1"})

    def do_GET(self):
        if not POOL.acquire(timeout=2.0):
            self.answer(503, {"error": "busy"})
            return
        try:
            time.sleep(SERVICE_MS / 1000)
        finally:
            POOL.release()
        self.answer(200, {"ready": True})

    def log_message(self, *args):
        pass

    def handle(self):
        # A client that left mid-answer is not the service's error.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
