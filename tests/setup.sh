#!/usr/bin/env bash
# What the tests need besides the Rust toolchain, installed when missing:
# the Debian packages `prometheus` (a real Prometheus receives remote
# write in tests/remote_write.rs; promtool checks /metrics) and `chromium`
# (a real browser reads the live dashboard in tests/dashboard.rs),
# `sqlite3` (README's query on the run history runs in tests/history.rs),
# `nginx-light` (a real nginx writes the access log tests/import.rs imports),
# `nodejs` and `npm` with playwright-core from the npm registry (pinned in
# tests/browser/package-lock.json; it drives the Debian chromium to record
# the HARs tests/import_har.rs imports), `postgresql` and `mariadb-server`
# (tests/books.rs makes a cluster of each in a temporary folder and reads
# a test platform's books from it), and the Python packages of
# tests/requirements.txt (HdrHistogram's own decoder checks latency.hlog;
# Toxiproxy's Python client drives `surge proxy`).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -m pip install --quiet -r tests/requirements.txt
# playwright-core only: the browser is the Debian one, nothing downloaded.
if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
