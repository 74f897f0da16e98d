"""Drives `surge proxy` with Toxiproxy's own Python client library
(toxiproxy-python, from the Python package registry), unchanged: create a
proxy, add a toxic, take the proxy down and up, populate, destroy. Prints
what it saw as JSON for tests/toxiproxy.rs to judge.

Usage: toxiproxy_client.py CONTROL_HOST:PORT UPSTREAM_HOST:PORT
"""

import json
import socket
import sys
import time

from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic


def round_trip_ms(listen):
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.monotonic()
        s.sendall(b"ping")
        got = b""
        while len(got) < 4:
            chunk = s.recv(4 - len(got))
            if not chunk:
                raise RuntimeError("the proxy closed before the echo")
            got += chunk
        return (time.monotonic() - started) * 1000.0


def refused(listen):
    host, port = listen.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def main():
    control, upstream = sys.argv[1], sys.argv[2]
    host, port = control.rsplit(":", 1)
    server = Toxiproxy()
    server.update_api_consumer(host, int(port))
    seen = {"running": server.running()}
    proxy = server.create(upstream=upstream, name="echo", listen="127.0.0.1:0")
    seen["plain_ms"] = round_trip_ms(proxy.listen)
    proxy.add_toxic(type="latency", attributes={"latency": 300})
    seen["toxics"] = sorted(proxy.toxics())
    seen["slow_ms"] = round_trip_ms(proxy.listen)
    proxy.destroy_toxic("latency_downstream")
    seen["after_ms"] = round_trip_ms(proxy.listen)
    with proxy.down():
        seen["refused_while_down"] = refused(proxy.listen)
    seen["back_ms"] = round_trip_ms(proxy.listen)
    try:
        proxy.add_toxic(type="latncy")
        seen["invalid_toxic"] = False
    except InvalidToxic:
        seen["invalid_toxic"] = True
    server.populate([{"name": "echo", "upstream": upstream, "listen": proxy.listen}])
    server.destroy(proxy)
    seen["proxies_left"] = sorted(server.proxies())
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
