"""bench/fit.sh's platform that is not the twin: an HTTP service whose
`GET /reports/ID` holds one of WORKERS threads for SERVICE_MS, and whose
`POST /sessions` answers at once. Its capacity is WORKERS / SERVICE_MS.

    python3 bench/predict/pool-service.py PORT WORKERS SERVICE_MS
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, WORKERS, SERVICE_MS = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
POOL = threading.Semaphore(WORKERS)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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
        with POOL:
            time.sleep(SERVICE_MS / 1000)
        self.answer(200, {"ready": True})

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
