#!/usr/bin/env python3
"""Audits a boxoffice database after a load run (stdlib only).

Checks the rules of docs/design.md ("Rules that must hold") on the data a run left behind:
  - no seat is sold twice, no seat is held by two live holds, and every sold or held seat
    points at a reservation of its own that agrees;
  - every balance equals the sum of its history;
  - availableSeats, as the running server answers GET /api/concerts, equals the seats a buyer
    could hold according to the seat rows;
  - every payment has its payment.completed outbox event;
  - with --paid FILE (lines "PAID <paymentId> <userId> <reservationId>", what clients were
    answered 201): every such payment is in the database, with that user and reservation;
  - with --race: no seat was ever held by more than one reservation.

Prints a JSON object with the counts; exits 1 when any check failed.
"""

import argparse
import json
import sqlite3
import sys
import time
import urllib.request


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--base", help="the running server, for availableSeats")
    ap.add_argument("--paid", help="file of PAID lines the clients logged")
    ap.add_argument("--race", action="store_true")
    args = ap.parse_args()

    conn = sqlite3.connect(args.db, timeout=30)
    # One snapshot for every query: the server may still be writing (hold sweeps).
    conn.execute("BEGIN")
    now_ms = int(time.time() * 1000)
    problems = {}
    counts = {}

    counts["payments"] = one(conn, "SELECT COUNT(*) FROM payments")
    counts["reservations"] = one(conn, "SELECT COUNT(*) FROM reservations")
    counts["seats_sold"] = one(conn, "SELECT COUNT(*) FROM seats WHERE status = 'sold'")
    counts["users"] = one(conn, "SELECT COUNT(*) FROM users")

    # The seats of each reservation (a group hold has several). A database of a build from
    # before group holds has one seat per reservation, in reservations.seat_id.
    if not one(conn, """SELECT COUNT(*) FROM sqlite_master
                        WHERE type = 'table' AND name = 'reservation_seats'"""):
        conn.execute("""CREATE TEMP VIEW reservation_seats AS
                        SELECT id AS reservation_id, seat_id, price FROM reservations""")
    # The seats each payment still pays for: its tickets that were not refunded, or, in a
    # database from before tickets, every seat of its reservation.
    if one(conn, """SELECT COUNT(*) FROM sqlite_master
                    WHERE type = 'table' AND name = 'tickets'"""):
        conn.execute("""CREATE TEMP VIEW paid_seats AS
                        SELECT payment_id, reservation_id, seat_id FROM tickets
                        WHERE status = 'valid'""")
    else:
        conn.execute("""CREATE TEMP VIEW paid_seats AS
                        SELECT p.id AS payment_id, p.reservation_id, rs.seat_id
                        FROM payments p
                        JOIN reservation_seats rs ON rs.reservation_id = p.reservation_id""")
    problems["seats_paid_twice"] = one(conn, """
        SELECT COUNT(*) FROM (SELECT seat_id FROM paid_seats
          GROUP BY seat_id HAVING COUNT(*) > 1)""")
    problems["seats_confirmed_twice"] = one(conn, """
        SELECT COUNT(*) FROM (SELECT ps.seat_id FROM paid_seats ps
          JOIN reservations r ON r.id = ps.reservation_id
          WHERE r.status = 'confirmed'
          GROUP BY ps.seat_id HAVING COUNT(*) > 1)""")
    problems["seats_held_twice"] = one(conn, """
        SELECT COUNT(*) FROM (SELECT rs.seat_id FROM reservations r
          JOIN reservation_seats rs ON rs.reservation_id = r.id
          WHERE r.status = 'held' AND r.expires_at > ?
          GROUP BY rs.seat_id HAVING COUNT(*) > 1)""", now_ms)
    problems["sold_seats_without_their_payment"] = one(conn, """
        SELECT COUNT(*) FROM seats s WHERE s.status = 'sold' AND NOT EXISTS (
          SELECT 1 FROM paid_seats ps JOIN reservations r ON r.id = ps.reservation_id
          WHERE ps.seat_id = s.id AND r.id = s.held_by AND r.status = 'confirmed')""")
    problems["payments_of_unsold_seats"] = one(conn, """
        SELECT COUNT(*) FROM paid_seats ps JOIN reservations r ON r.id = ps.reservation_id
          JOIN seats s ON s.id = ps.seat_id
          WHERE s.status != 'sold' OR s.held_by != r.id OR r.status != 'confirmed'""")
    if one(conn, """SELECT COUNT(*) FROM sqlite_master
                    WHERE type = 'table' AND name = 'refunds'"""):
        counts["refunds"] = one(conn, "SELECT COUNT(*) FROM refunds")
        problems["payments_refunded_more_than_paid"] = one(conn, """
            SELECT COUNT(*) FROM payments p
            WHERE (SELECT COALESCE(SUM(amount), 0) FROM refunds f
                   WHERE f.payment_id = p.id) > p.amount""")
        problems["refunds_without_outbox_event"] = one(conn, """
            SELECT COUNT(*) FROM refunds f WHERE NOT EXISTS (
              SELECT 1 FROM outbox o WHERE o.event_type = 'payment.refunded'
                AND json_extract(o.envelope, '$.data.refundId') = f.id)""")
    problems["payments_not_the_sum_of_their_seats"] = one(conn, """
        SELECT COUNT(*) FROM payments p WHERE p.amount != (
          SELECT COALESCE(SUM(rs.price), -1) FROM reservation_seats rs
          WHERE rs.reservation_id = p.reservation_id)""")
    problems["held_seats_not_owned_by_their_hold"] = one(conn, """
        SELECT COUNT(*) FROM seats s WHERE s.status = 'held' AND s.held_until > ?
          AND NOT EXISTS (SELECT 1 FROM reservation_seats rs
            JOIN reservations r ON r.id = rs.reservation_id
            WHERE rs.seat_id = s.id AND r.id = s.held_by AND r.status = 'held')""", now_ms)
    problems["balances_not_equal_to_history"] = one(conn, """
        SELECT COUNT(*) FROM users u LEFT JOIN (
          SELECT user_id, SUM(amount) AS total FROM balance_history GROUP BY user_id) h
          ON h.user_id = u.id
          WHERE u.balance != COALESCE(h.total, 0)""")
    # The payment events, indexed once by payment id: looking each payment up in the outbox
    # itself (no index on the envelope) took minutes for 20,000 payments. The columns are
    # typed: SQLite does not use the index of an untyped column (CREATE TABLE AS) to compare
    # with the payments' integer ids, and scanned the whole table for every payment.
    conn.executescript("""
        CREATE TEMP TABLE payment_events (payment_id INTEGER, aggregate_key TEXT);
        INSERT INTO payment_events
          SELECT json_extract(envelope, '$.data.paymentId'), aggregate_key
          FROM outbox WHERE event_type = 'payment.completed';
        CREATE INDEX temp.payment_events_by_id ON payment_events (payment_id);""")
    problems["payments_without_outbox_event"] = one(conn, """
        SELECT COUNT(*) FROM payments p WHERE NOT EXISTS (
          SELECT 1 FROM payment_events e WHERE e.payment_id = p.id
            AND e.aggregate_key = 'reservation:' || p.reservation_id)""")
    counts["payment_events"] = one(
        conn, "SELECT COUNT(*) FROM outbox WHERE event_type = 'payment.completed'")

    if args.race:
        counts["most_reservations_of_one_seat"] = one(conn, """
            SELECT COALESCE(MAX(n), 0) FROM (
              SELECT COUNT(*) AS n FROM reservation_seats GROUP BY seat_id)""")
        problems["seats_held_more_than_once"] = one(conn, """
            SELECT COUNT(*) FROM (SELECT seat_id FROM reservation_seats
              GROUP BY seat_id HAVING COUNT(*) > 1)""")

    if args.base:
        with urllib.request.urlopen(f"{args.base}/api/concerts", timeout=60) as resp:
            concerts = json.load(resp)["concerts"]
        # Seat rows a buyer could hold: free, or held by a hold that ran out.
        rows = dict(conn.execute("""
            SELECT schedule_id, SUM(status = 'available'
                                    OR (status = 'held' AND held_until <= ?))
            FROM seats GROUP BY schedule_id""", (int(time.time() * 1000),)).fetchall())
        mismatched = 0
        for concert in concerts:
            for show in concert["schedules"]:
                if rows.get(show["scheduleId"], 0) != show["availableSeats"]:
                    mismatched += 1
        counts["schedules_checked"] = sum(len(c["schedules"]) for c in concerts)
        problems["available_seats_mismatched"] = mismatched

    if args.paid:
        confirmed = []
        with open(args.paid) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4 and parts[0] == "PAID":
                    confirmed.append(tuple(int(p) for p in parts[1:]))
        found = 0
        for payment_id, user_id, reservation_id in confirmed:
            row = conn.execute(
                "SELECT user_id, reservation_id FROM payments WHERE id = ?", (payment_id,)
            ).fetchone()
            if row == (user_id, reservation_id):
                found += 1
        counts["payments_confirmed_to_clients"] = len(confirmed)
        counts["confirmed_payments_found"] = found
        problems["confirmed_payments_lost"] = len(confirmed) - found

    conn.rollback()
    failed = {k: v for k, v in problems.items() if v}
    json.dump({"ok": not failed, "counts": counts, "problems": problems}, sys.stdout, indent=1)
    print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
