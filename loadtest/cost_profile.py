#!/usr/bin/env python3
"""Where a callgrind profile's instructions go, per unit of work (loadtest/cost.sh --profile).

    cost_profile.py FILE [--minus BASE] [--per N] [--top 15] [--markdown] [--callers REGEX]

FILE is a callgrind out file (one dump of cost.sh: the purchases window); BASE, when given,
is the dump of a window of the same length without the work (cost.sh's idle window), taken
off function by function; every figure is then divided by N. Prints:

- the share of each part of the server, by own (self) cost, so the parts add up to the whole.
  Each cost line goes to the crate its source file belongs to (the file of inlined code
  when it was inlined from a crate or from boxoffice's own src/), else to the crate of the
  function it is in; code of Rust's standard library goes to the function it was inlined
  into. The parts and the rules that make them are in PARTS below;
- the inclusive cost of a few entry points (the writer thread, SQLite statements, JSON,
  JWT verification), which overlap;
- the top functions by inclusive and by own cost;
- with --callers, the top callers of the functions a regex matches (e.g. '^__memcpy').

Standard library only.
"""

import argparse
import re
import sys
from collections import defaultdict

# (part, test on the crate or own-code module, test on the function name). The first part
# whose test matches wins; crate is e.g. "hyper", "serde_json", or "boxoffice/http" for
# src/http/... of this repository.
PARTS = [
    ("allocation (malloc, free)", None,
     re.compile(r"^(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|_int_realloc|"
                r"malloc_consolidate|tcache_\w+|__libc_(malloc|free|realloc|calloc)|"
                r"unlink_chunk|alloc_perturb|__rust_(alloc|dealloc|realloc)|"
                r"__rdl_\w+|__rg_\w+|_int_free_\w+|mremap_chunk|sysmalloc|"
                r"alloc::alloc::\w+|<alloc::alloc::Global as core::alloc::Allocator>.*)$")),
    ("SQLite (sqlite3, rusqlite)",
     re.compile(r"^(libsqlite3-sys|rusqlite|sqlite3\.c|sqlite3)$"), re.compile(r"^sqlite3")),
    ("store: boxoffice's SQLite adapter and the writer", re.compile(r"^boxoffice/store"), None),
    ("JSON (serde_json, serde)", re.compile(r"^(serde_json|serde|serde_core|ryu|itoa)$"), None),
    ("HTTP (hyper, poem, routing, boxoffice's handlers)",
     re.compile(r"^(hyper|hyper-util|http|http-body|http-body-util|httparse|httpdate|poem|"
                r"poem-openapi|poem-derive|poem-openapi-derive|h2|headers|mime|regex|"
                r"regex-automata|regex-syntax|aho-corasick|memchr|percent-encoding|"
                r"form_urlencoded|url|tower|tower-service|cookie|bytes|"
                r"boxoffice/http)$"), None),
    ("the waiting room (boxoffice's, moka)",
     re.compile(r"^(boxoffice/waiting_room|moka|crossbeam-\w+|quanta|tagptr|"
                r"crossbeam)$"), None),
    ("sign-in (JWT: jsonwebtoken, HMAC, SHA-2, base64)",
     re.compile(r"^(jsonwebtoken|hmac|sha2|sha1|digest|base64|subtle|ring|aws-lc-\w+|"
                r"simple_asn1|pem|boxoffice/identity)$"), None),
    ("logging (tracing)", re.compile(r"^(tracing|tracing-core|tracing-subscriber|"
                                     r"tracing-log|log|sharded-slab|nu-ansi-term)$"), None),
    ("metrics", re.compile(r"^(metrics|metrics-util|metrics-exporter-prometheus|"
                           r"boxoffice/metrics\.rs)$"), None),
    ("async runtime (tokio, futures)",
     re.compile(r"^(tokio|tokio-util|mio|futures-\w+|futures|parking_lot|parking_lot_core|"
                r"pin-project-lite|slab|socket2|event-listener|async-\w+)$"), None),
    ("boxoffice: domain, events, jobs", re.compile(r"^boxoffice/"), None),
    ("libc: memcpy, memset, strings", None,
     re.compile(r"^(__)?(mem|str|wmem|wcs)\w*$|^__(memcpy|memmove|memset|memcmp)\w*")),
    ("kernel entry (syscalls, futex, locks in libc)", None,
     re.compile(r"^(__GI_|__libc_|__lll_|__pthread|pthread_|syscall|epoll_|__futex|futex|"
                r"__(send|recv|read|write|close|poll|clock)|clock_gettime|__vdso|"
                r"(send|recv|read|write|writev|readv|accept4?|fsync|fdatasync|pwrite64|"
                r"pread64|lseek64|fcntl64?|__new_sem|sem_)\b)")),
]
OTHER = "other (std, time, uuid, ...)"

# Entry points whose inclusive cost is printed (a function name regex each).
ENTRIES = [
    ("HTTP connections, with the handlers they run (hyper's h1 dispatcher)",
     r"^hyper::proto::h1::dispatch::Dispatcher<.*>::poll_catch$"),
    ("  the handlers (poem's router, in)", r"^<poem::route::router::Route as poem::endpoint::endpoint::Endpoint>::call::\{\{closure\}\}$"),
    ("  reading requests (Conn::poll_read_head)", r"^hyper::proto::h1::conn::Conn<.*>::poll_read_head$"),
    ("  writing answers (Conn::write_head, write_body_and_end, Buffered::buffer, poll_flush)",
     r"^hyper::proto::h1::(conn::Conn<.*>::(write_head|write_body_and_end)|io::Buffered<.*>::poll_flush|io::WriteBuf<.*>::buffer)$"),
    ("answers to JSON (JsonReply::into_response)",
     r"^<boxoffice::http::json::JsonReply<T> as poem::web::IntoResponse>::into_response$"),
    ("the seat map answer (seat_map::Layout::answer)", r"^boxoffice::http::seat_map::Layout::answer$"),
    ("  its taken seats, read on every request (catalog::seats_taken)",
     r"^boxoffice::store::sqlite::catalog::seats_taken$"),
    ("request bodies from JSON (serde_json::de::from_slice)", r"^serde_json::de::from_slice$"),
    ("sign-in: the buyer's JWT (Identity::buyer)", r"^boxoffice::identity::Identity::buyer::\{\{closure\}\}$"),
    ("  JWT verification (JwtVerifier::verify)", r"^boxoffice::identity::jwt::JwtVerifier::verify$"),
    ("queue token checks (http::auth::verify)", r"^boxoffice::http::auth::verify::\{\{closure\}\}$"),
    ("the waiting room's calls (MemoryWaitingRoom: issue, state, end_session, ...)",
     r"^<boxoffice::waiting_room::memory::MemoryWaitingRoom as boxoffice::waiting_room::WaitingRoom>::\w+$"),
    ("the writer thread (store::sqlite::writer::run)", r"^boxoffice::store::sqlite::writer::run$"),
    ("  the waiting room's save (waiting_room_state::save)",
     r"^boxoffice::store::sqlite::waiting_room_state::save$"),
    ("  hold (holds::reserve_seat)", r"^boxoffice::store::sqlite::holds::reserve_seat$"),
    ("  pay (payments::pay)", r"^boxoffice::store::sqlite::payments::pay$"),
    ("  outbox rows (outbox::append)", r"^boxoffice::store::sqlite::outbox::append$"),
    ("  WAL frames and fsync (pagerWalFrames)", r"^pagerWalFrames$"),
    ("SQLite statements, everywhere (sqlite3_step)", r"^sqlite3_step$"),
    ("SQLite statements prepared (sqlite3LockAndPrepare)", r"^sqlite3LockAndPrepare"),
    ("SQLite pages loaded into a connection's cache (getPageNormal)", r"^getPageNormal$"),
    ("the jobs' runs: admission, the save, the relay (jobs::run_once)", r"^boxoffice::jobs::run_once::\{\{closure\}\}::\{\{closure\}\}$"),
    ("logging (tracing_subscriber Layered: event, new_span, enter, exit, close)",
     r"^<tracing_subscriber::layer::layered::Layered<.*> as tracing_core::subscriber::Subscriber>::(event|new_span|enter|exit|try_close)$"),
]

# Frames that hold whatever runs inside them (threads, the runtime, futures, unwinding):
# left out of the top by inclusive cost.
WRAPPERS = re.compile(
    r"__rust_try|catch_unwind|call_once|as core::future::future::Future>::poll$|^start_thread$|"
    r"^clone3?$|thread_start|spawn_unchecked|__rust_begin_short_backtrace|tokio::runtime::|"
    r"^std::thread::|vtable\.shim|^main$|^std::rt::|^core::ops::function::|"
    r"^<tracing::instrument::Instrumented<T> as core::future::future::Future>::poll$|"
    r"^<core::pin::Pin<P> as core::future::future::Future>::poll$")
RECURSION = re.compile(r"'\d+$")

REGISTRY = re.compile(r"/(?:registry/src|git/checkouts)/[^/]+/([A-Za-z0-9_\-]+?)-\d+\.\d+[^/]*/")
STD = re.compile(r"^/rustc/|/library/(core|alloc|std)/|/rustlib/")


def crate_of(path):
    """The crate of a source file: a registry crate, boxoffice's own module, or None."""
    if not path or path == "???":
        return None
    m = REGISTRY.search(path)
    if m:
        return m.group(1)
    if STD.search(path):
        return None
    if path.endswith("sqlite3.c"):
        return "sqlite3.c"
    if path.startswith("src/") or "/src/" in path:
        rest = path[4:] if path.startswith("src/") else path.rsplit("/src/", 1)[1]
        return f"boxoffice/{rest.split('/', 1)[0]}"
    return None


class Profile:
    """Own and inclusive cost per function of one callgrind out file."""

    def __init__(self, path):
        self.own = defaultdict(int)  # fn -> own Ir
        self.calls = defaultdict(int)  # fn -> Ir of calls to other functions
        self.edges = defaultdict(int)  # (caller, callee) -> Ir of the calls
        self.part_own = defaultdict(int)  # part -> own Ir
        self.total = 0
        names = {"fl": {}, "fn": {}}
        fl = fi = fn = None
        in_call = False
        callee = None
        part_cache = {}
        with open(path, errors="replace") as f:
            for line in f:
                c = line[0]
                if c.isdigit() or c in "+-*":
                    fields = line.split()
                    cost = int(fields[1]) if len(fields) > 1 else 0
                    if in_call:
                        in_call = False
                        # A call into a deeper level of the same recursion is inside the
                        # cost of the outermost level already.
                        if fn and callee != fn and not RECURSION.search(fn):
                            self.calls[fn] += cost
                        self.edges[(RECURSION.sub("", fn or ""), RECURSION.sub("", callee or ""))] += cost
                        continue
                    self.own[RECURSION.sub("", fn or "")] += cost
                    key = (fi or fl, fl, fn)
                    part = part_cache.get(key)
                    if part is None:
                        part = part_cache[key] = classify(fi or fl, fl, fn)
                    self.part_own[part] += cost
                    continue
                if "=" not in line:
                    if line.startswith(("summary:", "totals:")):
                        self.total = max(self.total, int(line.split()[1]))
                    continue
                key, _, value = line.rstrip("\n").partition("=")
                if key in ("fl", "fi", "fe", "cfl", "cfi"):
                    name = resolve(names["fl"], value)
                    if key == "fl":
                        fl, fi = name, None
                    elif key in ("fi", "fe"):
                        fi = None if name == fl else name
                elif key in ("fn", "cfn"):
                    name = resolve(names["fn"], value)
                    if key == "fn":
                        fn, fi = name, None
                    else:
                        callee = name
                elif key == "calls":
                    in_call = True
        if not self.total:
            self.total = sum(self.own.values())

    def inclusive(self, fn):
        return self.own.get(fn, 0) + self.calls.get(fn, 0)


def resolve(table, value):
    m = re.match(r"\((\d+)\)(?: (.*))?$", value)
    if not m:
        return value
    if m.group(2) is not None:
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), value)


def classify(file, fl, fn):
    crates = [crate_of(file), crate_of(fl)]
    for part, crate_re, name_re in PARTS:
        if name_re and name_re.search(fn or ""):
            return part
        if crate_re:
            for crate in crates:
                if crate and crate_re.search(crate):
                    return part
    # Code of the standard library, or with no file: the crate of the function's name.
    head = (fn or "").lstrip("<").split("::", 1)[0].replace("_", "-")
    for part, crate_re, _ in PARTS:
        if crate_re and head and (crate_re.search(head) or crate_re.search(head.replace("-", "_"))):
            return part
    return OTHER


def short(name, width=110):
    name = re.sub(r"::h[0-9a-f]{16}$", "", name or "???")
    return name if len(name) <= width else name[: width - 1] + "…"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--minus", help="callgrind out file of the window without the work")
    p.add_argument("--per", type=int, default=1, help="divide by this (purchases, requests)")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--markdown", action="store_true", help="tables in Markdown")
    p.add_argument("--callers", metavar="REGEX", action="append", default=[],
                   help="also list the top callers of the functions matching REGEX")
    args = p.parse_args()
    work = Profile(args.file)
    base = Profile(args.minus) if args.minus else None
    per = max(1, args.per)

    def net(getter):
        return (getter(work) - (getter(base) if base else 0)) / per

    total = net(lambda pr: pr.total)
    fmt_row = (lambda *c: "| " + " | ".join(c) + " |") if args.markdown else \
        (lambda *c: "  ".join(c))
    unit = "per unit" if per == 1 else f"per unit (÷ {per})"
    print(f"instructions {unit}: {total:,.0f}" + (" (minus the idle window)" if base else ""))
    print()
    print("By part (own cost; the parts add up to the whole):")
    print()
    if args.markdown:
        print("| part | instructions | share |\n| --- | ---: | ---: |")
    parts = sorted({*work.part_own, *(base.part_own if base else {})},
                   key=lambda k: -net(lambda pr: pr.part_own.get(k, 0)))
    for part in parts:
        v = net(lambda pr: pr.part_own.get(part, 0))
        print(fmt_row(f"{part:<55}" if not args.markdown else part,
                      f"{v:>12,.0f}", f"{100 * v / total:5.1f}%"))
    print()
    print("Entry points (inclusive; they overlap):")
    print()
    if args.markdown:
        print("| entry point | instructions | share |\n| --- | ---: | ---: |")
    for label, pattern in ENTRIES:
        rx = re.compile(pattern)
        v = net(lambda pr: sum(pr.inclusive(f) for f in pr.own.keys() | pr.calls.keys()
                               if f and rx.search(re.sub(r"::h[0-9a-f]{16}$", "", f))))
        print(fmt_row(f"{label:<70}" if not args.markdown else label,
                      f"{v:>12,.0f}", f"{100 * v / total:5.1f}%"))
    for title, getter in (("inclusive", lambda pr, f: pr.inclusive(f)),
                          ("own", lambda pr, f: pr.own.get(f, 0))):
        print()
        print(f"Top {args.top} functions by {title} cost:")
        print()
        if args.markdown:
            print("| function | instructions | share |\n| --- | ---: | ---: |")
        fns = work.own.keys() | work.calls.keys()
        ranked = sorted(fns, key=lambda f: -net(lambda pr: getter(pr, f)))
        shown = 0
        for f in ranked:
            if not f or (title == "inclusive" and WRAPPERS.search(short(f, 10**6))):
                continue
            v = net(lambda pr: getter(pr, f))
            if v > total:
                continue
            print(fmt_row(f"`{short(f, 100)}`" if args.markdown else short(f, 100),
                          f"{v:>12,.0f}", f"{100 * v / total:5.1f}%"))
            shown += 1
            if shown >= args.top:
                break
    for pattern in args.callers:
        rx = re.compile(pattern)
        print()
        print(f"Top {args.top} callers of /{pattern}/ (the cost of their calls to it):")
        print()
        if args.markdown:
            print("| caller | instructions | share |\n| --- | ---: | ---: |")
        totals = defaultdict(float)
        for pr, sign in ((work, 1), (base, -1)):
            if pr is None:
                continue
            for (caller, callee), v in pr.edges.items():
                if rx.search(callee) and not rx.search(caller):
                    totals[caller] += sign * v / per
        for caller, v in sorted(totals.items(), key=lambda kv: -kv[1])[: args.top]:
            print(fmt_row(f"`{short(caller, 100)}`" if args.markdown else short(caller, 100),
                          f"{v:>12,.0f}", f"{100 * v / total:5.1f}%"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
