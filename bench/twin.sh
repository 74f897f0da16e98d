#!/usr/bin/env bash
# Twin throughput on one core, next to nginx serving a static file in the
# same run: wrk (1 thread, 64 connections) pinned to CPU 0, the server
# under test pinned to CPU 1. Prints requests/s per endpoint and the ratio
# to nginx. The twin's uncapped endpoints (home page, ticket poll, quota
# read) must each serve at least 30,000 requests/s.
#
#   bash bench/twin.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
NGINX_PORT=18080

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need taskset || ! need curl; then
  echo "installing wrk, nginx, curl (util-linux has taskset)..." >&2
  apt-get update -qq && apt-get install -y -qq wrk nginx-light curl util-linux >/dev/null
fi
if [ "$(nproc)" -lt 2 ]; then echo "needs 2 cores (one for wrk, one for the server)" >&2; exit 1; fi

cargo build --release --locked -q
work=$(mktemp -d)
cleanup() { kill "${twin_pid:-}" "${nginx_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# nginx: one worker, a static file the size of the twin's home page.
curl_home_size=520
chmod 755 "$work"
head -c "$curl_home_size" /dev/zero | tr '\0' 'x' > "$work/index.html"
chmod 644 "$work/index.html"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:$NGINX_PORT; root $work; location / { } }
}
CONF
taskset -c 1 nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!

taskset -c 1 target/release/surge twin --listen 127.0.0.1:0 --workers 1 > "$work/twin.out" &
twin_pid=$!
for _ in $(seq 50); do grep -q listening "$work/twin.out" 2>/dev/null && break; sleep 0.1; done
TWIN=$(grep -o 'http://[0-9.:]*' "$work/twin.out")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/index.html" >/dev/null && break; sleep 0.1; done

# A session for the quota read and a ticket for the poll.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
challenge=$(curl -s -XPOST "$TWIN/storefront/login" -H 'content-type: application/json' -d '{"phone":"returning-1"}' | json challenge)
sleep 3
code=$(curl -s "$TWIN/storefront/otp/$challenge" | json code)
session=$(curl -s -XPOST "$TWIN/storefront/login/verify" -H 'content-type: application/json' \
  -d "{\"challenge\":\"$challenge\",\"code\":\"$code\"}" | json session)
ticket=$(curl -s -XPOST "$TWIN/storefront/queue" | json ticket)

run() { # name url [header]
  local out
  if [ -n "${3:-}" ]; then
    out=$(taskset -c 0 wrk -t1 -c64 -d"${SECONDS_EACH}s" --latency -H "$3" "$2")
  else
    out=$(taskset -c 0 wrk -t1 -c64 -d"${SECONDS_EACH}s" --latency "$2")
  fi
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-28s %12.0f %10s %8s\n' "$1" "$rps" "$p99" "${non2xx:-0}"
  echo "$rps" > "$work/$1.rps"
}

echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t1 -c64 -d${SECONDS_EACH}s on CPU 0; server on CPU 1"
printf '%-28s %12s %10s %8s\n' endpoint "requests/s" "p99" "non-2xx"
run nginx-static "http://127.0.0.1:$NGINX_PORT/index.html"
run twin-home "$TWIN/storefront/"
run twin-ticket-poll "$TWIN/storefront/queue/$ticket"
run twin-quota-read "$TWIN/storefront/quota" "Authorization: Bearer $session"

nginx=$(cat "$work/nginx-static.rps")
echo
fail=0
for e in twin-home twin-ticket-poll twin-quota-read; do
  r=$(cat "$work/$e.rps")
  verdict=$(python3 -c "print('ok' if $r >= 30000 else 'BELOW 30000')")
  [ "$verdict" = ok ] || fail=1
  printf '%-28s %5.2f x nginx   %s\n' "$e" "$(python3 -c "print($r/$nginx)")" "$verdict"
done
exit $fail
