#!/usr/bin/env python3
"""The client of loadtest/cost.sh: one connection, one request at a time, no think time.

    cost_client.py setup   --base URL --admin-token T --out FILE --purchases N --warmup W
    cost_client.py buy     --base URL --catalogue FILE --first I --count N
    cost_client.py health  --base URL --count M

`setup` creates the catalogue as seed.js does for the flow (shows of 500 seats, four per
concert, one price) and makes every buyer the way the flow's buyers are made: with
BUYER_JWT_SECRET in the environment, GET /api/accounts/current with the buyer's HS256 JWT
(sub `buyer-<n>`, the claims of lib.js buyerJwt); without it, POST /api/admin/users. It
writes the catalogue and which user id each buyer got to FILE.

`buy` makes purchases I .. I+N-1 exactly as one iteration of flow.js does: join the line
(with the buyer's JWT as the bearer), poll its status until active, the concert, the seat
map, hold seat I % 500 of show I / 500, top up by the price, pay (the last two with an
Idempotency-Key). Every status is checked; the first unexpected answer ends the run with
exit status 1 and the answer on stderr. `--count 0` opens the connection and closes it, so a
run without purchases has the same fixed part as one with them.

`health` sends M `GET /health` on one connection (M = 0: connect and close).

Standard library only; 127.0.0.1 only.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse

SEATS_PER_SHOW = 500
SHOWS_PER_CONCERT = 4
PRICE = 50000
MAX_POLLS = 50
JSON_HEADERS = {"Content-Type": "application/json"}


class Failed(Exception):
    pass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT_HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')


def buyer_jwt(secret: str, n: int, exp: int) -> str:
    """The JWT lib.js buyerJwt signs for buyer n (the same claims, in the same order)."""
    claims = (
        f'{{"sub":"buyer-{n}","name":"Buyer {n}","email":"buyer{n}@load.test",'
        f'"exp":{exp}}}'
    )
    data = f"{JWT_HEADER}.{b64url(claims.encode())}"
    sig = hmac.new(secret.encode(), data.encode(), hashlib.sha256).digest()
    return f"{data}.{b64url(sig)}"


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, base: str):
        url = urllib.parse.urlsplit(base)
        if url.hostname != "127.0.0.1":
            raise SystemExit("cost_client.py: only 127.0.0.1 is used")
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        self.conn.connect()

    def close(self):
        self.conn.close()

    def request(self, name, method, path, expected, payload=None, headers=None):
        all_headers = dict(JSON_HEADERS)
        all_headers.update(headers or {})
        body = None if payload is None else json.dumps(payload, separators=(",", ":"))
        self.conn.request(method, path, body=body, headers=all_headers)
        res = self.conn.getresponse()
        data = res.read()
        if res.status != expected:
            raise Failed(f"{name}: {res.status} (expected {expected}) {data[:200]!r}")
        return json.loads(data) if data else None


def setup(args):
    secret = os.environ.get("BUYER_JWT_SECRET", "")
    exp = int(time.time()) + args.jwt_ttl
    total = args.warmup + args.purchases
    shows_needed = max(1, -(-total // SEATS_PER_SHOW))
    seats = [
        {"seatNumber": f"R{n // 50 + 1}-{n % 50 + 1}", "price": PRICE}
        for n in range(SEATS_PER_SHOW)
    ]
    admin = {"Authorization": f"Bearer {args.admin_token}"}
    c = Client(args.base)
    shows = []
    concert = 0
    while len(shows) < shows_needed:
        concert += 1
        schedules = [
            {"startTime": f"2031-01-{s + 1:02d}T19:30:00.000Z", "seats": seats}
            for s in range(SHOWS_PER_CONCERT)
        ]
        created = c.request(
            "adminCreateConcert", "POST", "/api/admin/concerts", 201,
            {"title": f"Load concert {concert}", "schedules": schedules}, admin,
        )
        for s in created["schedules"]:
            shows.append({"concertId": created["concertId"], "scheduleId": s["scheduleId"]})
    buyers = []
    for n in range(1, total + 1):
        if secret:
            token = buyer_jwt(secret, n, exp)
            me = c.request(
                "currentAccount", "GET", "/api/accounts/current", 200,
                headers={"Authorization": f"Bearer {token}"},
            )
        else:
            me = c.request(
                "adminCreateUser", "POST", "/api/admin/users", 201,
                {"name": f"Buyer {n}", "email": f"buyer{n}@load.test"}, admin,
            )
        buyers.append({"n": n, "userId": me["userId"]})
    c.close()
    with open(args.out, "w") as f:
        json.dump({"shows": shows, "buyers": buyers, "price": PRICE, "exp": exp}, f)


def buy(args):
    with open(args.catalogue) as f:
        cat = json.load(f)
    secret = os.environ.get("BUYER_JWT_SECRET", "")
    run = os.environ.get("RUN_ID", "cost")
    c = Client(args.base)
    for i in range(args.first, args.first + args.count):
        buyer = cat["buyers"][i]
        show = cat["shows"][i // SEATS_PER_SHOW]
        purchase(c, run, secret, cat, buyer, show, i % SEATS_PER_SHOW)
    c.close()


def purchase(c, run, secret, cat, buyer, show, seat_index):
    """One iteration of flow.js (tryBuy)."""
    user, concert, schedule = buyer["userId"], show["concertId"], show["scheduleId"]
    auth = {}
    if secret:
        auth = {"Authorization": f"Bearer {buyer_jwt(secret, buyer['n'], cat['exp'])}"}
    joined = c.request(
        "issueToken", "POST", "/api/waiting-queues", 201,
        {"userId": user, "concertId": concert, "concertScheduleId": schedule}, auth,
    )
    queue = {"Queue-Token": joined["token"]}
    for _ in range(MAX_POLLS):
        status = c.request("queueStatus", "GET", "/api/waiting-queues", 200, headers=queue)
        if status["status"] == "active":
            break
        time.sleep(0.1)
    else:
        raise Failed(f"buyer {user} not admitted after {MAX_POLLS} polls")
    c.request("getConcert", "GET", f"/api/concerts/{concert}", 200, headers=queue)
    seats = c.request(
        "getSeats", "GET", f"/api/concerts/{concert}/schedules/{schedule}/seats", 200,
        headers=queue,
    )["seats"]
    seat = seats[seat_index]
    if seat["status"] != "available":
        raise Failed(f"seat {seat['seatId']} is {seat['status']}, not available")
    held = c.request(
        "reserveSeat", "POST", "/api/concerts/reservations", 201,
        {"concertId": concert, "scheduleId": schedule, "seatId": seat["seatId"]}, queue,
    )
    c.request(
        "chargeBalance", "PATCH", f"/api/users/{user}/balance", 200,
        {"amount": cat["price"] or seat["price"]},
        dict(queue, **{"Idempotency-Key": f"{run}-charge-{user}"}),
    )
    c.request(
        "pay", "POST", "/api/payments", 201,
        {"userId": user, "reservationId": held["reservationId"]},
        dict(queue, **{"Idempotency-Key": f"{run}-pay-{user}"}),
    )


def health(args):
    c = Client(args.base)
    for _ in range(args.count):
        c.request("health", "GET", "/health", 200)
    c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--base", required=True)
    s.add_argument("--admin-token", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--purchases", type=int, required=True)
    s.add_argument("--warmup", type=int, default=0)
    s.add_argument("--jwt-ttl", type=int, default=6 * 3600)
    b = sub.add_parser("buy")
    b.add_argument("--base", required=True)
    b.add_argument("--catalogue", required=True)
    b.add_argument("--first", type=int, required=True)
    b.add_argument("--count", type=int, required=True)
    h = sub.add_parser("health")
    h.add_argument("--base", required=True)
    h.add_argument("--count", type=int, required=True)
    args = p.parse_args()
    try:
        {"setup": setup, "buy": buy, "health": health}[args.cmd](args)
    except (Failed, OSError, http.client.HTTPException, KeyError, ValueError) as e:
        print(f"cost_client.py {args.cmd}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
