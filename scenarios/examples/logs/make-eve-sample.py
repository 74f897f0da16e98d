#!/usr/bin/env python3
"""Writes eve-sample.log.gz: an hour of a deadline eve as nginx logs it
(`combined`), 18:00 to 19:00 +07:00: a slow start at 1 applicant a second,
the climb to 5/s, the last quarter hour at 5/s, the rush at 8/s in the
final five minutes. 70% are buyers (home page, login, OTP, verify, order,
pay, then polling the order), 30% post office counters (login, stamp),
with the pages' assets. Seeded: the same file every time.

    python3 scenarios/examples/logs/make-eve-sample.py
"""
import gzip, math, os, random, time

random.seed(2024)
T0 = 1790766000  # 2026-09-30 18:00:00 +07:00
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
AGENTS = ['Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148']

def rate(t):
    m = t / 60
    if m < 20: return 1.0
    if m < 45: return 1.0 + 4.0 * (m - 20) / 25
    if m < 55: return 5.0
    return 8.0

def stamp(s):
    lt = time.gmtime(int(s) + 7 * 3600)
    return "%02d/%s/%d:%02d:%02d:%02d +0700" % (lt.tm_mday, MONTHS[lt.tm_mon - 1], lt.tm_year, lt.tm_hour, lt.tm_min, lt.tm_sec)

events = []
def log(at, ip, agent, request, status, size):
    if at < 3600:
        events.append((at, '%s - - [%s] "%s" %d %d "-" "%s"' % (ip, stamp(T0 + at), request, status, size, agent)))

# Arrivals of a Poisson process of rate(t), by thinning at the peak rate.
t = 0.0
while True:
    t += random.expovariate(8.0)
    if t >= 3600: break
    if random.random() * 8.0 > rate(t): continue
    ip = "%d.%d.%d.%d" % (36 + random.randrange(80), random.randrange(256), random.randrange(256), 1 + random.randrange(254))
    agent = random.choice(AGENTS)
    at = t
    if random.random() < 0.7:
        log(at - 2.0, ip, agent, "GET /storefront/ HTTP/1.1", 200, 5120)
        log(at - 1.8, ip, agent, "GET /static/app.3f9c2.js HTTP/1.1", 200, 81234)
        log(at - 1.8, ip, agent, "GET /static/app.3f9c2.css HTTP/1.1", 200, 12045)
        log(at, ip, agent, "POST /storefront/login HTTP/1.1", 202, 64)
        challenge = "%012x" % random.getrandbits(48)
        at += 1.5
        log(at, ip, agent, "GET /storefront/otp/%s HTTP/1.1" % challenge, 200, 40)
        at += 6 + random.random() * 10
        log(at, ip, agent, "POST /storefront/login/verify HTTP/1.1", 200, 80)
        order = "%010x" % random.getrandbits(40)
        at += 3
        log(at, ip, agent, "POST /storefront/orders HTTP/1.1", 201, 90)
        at += 5 + random.random() * 20
        log(at, ip, agent, "POST /storefront/orders/%s/pay HTTP/1.1" % order, 200 if random.random() < 0.97 else 503, 60)
        for _ in range(1 + random.randrange(3)):
            at += 2
            log(at, ip, agent, "GET /storefront/orders/%s HTTP/1.1" % order, 200, 70)
    else:
        counter = "10.20.%d.%d" % (random.randrange(16), 1 + random.randrange(254))
        log(at, counter, "pos-counter/2.1", "POST /partners/pos/login HTTP/1.1", 200, 70)
        at += 0.3
        log(at, counter, "pos-counter/2.1", "POST /partners/pos/stamp HTTP/1.1", 200 if random.random() < 0.95 else 503, 200)

events.sort(key=lambda e: e[0])
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eve-sample.log.gz")
with gzip.GzipFile(out, "wb", mtime=0) as f:
    f.write("".join(line + "\n" for _, line in events).encode())
print(f"{out}: {len(events)} lines")
