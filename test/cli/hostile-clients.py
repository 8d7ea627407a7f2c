#!/usr/bin/env python3
"""hostile-clients: holds many idle or slow (slowloris) HTTP connections open against a server.

Used by test/cli/test-hostile.sh and bench/hostile. It opens --count connections to
--host:--port, each bound to a source address (--sources many: 127.0.0.2 .. 127.0.0.250 in
turn, so a per-client limit does not refuse them all; or one address), and then keeps them
hostile until it is told to stop (SIGTERM/SIGINT) or --hold seconds pass:

  idle     connects and sends nothing;
  headers  sends a request line, then dribbles header bytes, one byte per connection every
           --interval seconds, and never ends the headers;
  body     sends complete headers of a POST with Content-Length: 1000000, then dribbles
           body bytes the same way and never finishes the body.

Every --report seconds, and once more at the end, it prints one line:

  hostile mode=M sources=S wanted=N connected=C refused=R open=O closed=X answered=A

connected: connections the kernel accepted; refused: connect() failed; open: still open
(no EOF or error seen, nothing received); closed: the server closed or reset them;
answered: the server sent bytes (e.g. an error status) - counted in closed as well once
the connection ends. It exits 0 after printing the last line; 2 on bad arguments.
"""
import argparse
import errno
import os
import selectors
import signal
import socket
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--mode", choices=("idle", "headers", "body"), default="idle")
    p.add_argument("--sources", default="many",
                   help="'many' (127.0.0.2-127.0.0.250 in turn) or one IPv4 address")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between two dribbled bytes of one connection")
    p.add_argument("--hold", type=float, default=0, help="seconds to run (0: until signalled)")
    p.add_argument("--report", type=float, default=1.0, help="seconds between status lines")
    a = p.parse_args()
    if a.count < 1 or a.interval <= 0 or a.report <= 0 or a.hold < 0:
        p.error("--count, --interval and --report must be positive, --hold >= 0")
    if a.sources != "many":
        try:
            socket.inet_aton(a.sources)
        except OSError:
            p.error("--sources must be 'many' or an IPv4 address, got %r" % a.sources)
    return a


def source_of(args, i):
    if args.sources == "many":
        return "127.0.0.%d" % (2 + i % 249)
    return args.sources


def first_bytes(args):
    if args.mode == "idle":
        return b""
    if args.mode == "headers":
        # A valid start, then a header that never ends.
        return b"GET /v1/version HTTP/1.1\r\nHost: pmemd\r\nX-Slow: "
    return (b"POST /v1/volumes HTTP/1.1\r\nHost: pmemd\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"name\":\"")


def main():
    args = parse_args()
    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    conns = {}  # fd -> socket
    answered = set()  # open connections the server sent bytes on
    connected = refused = closed = n_answered = 0
    start = first_bytes(args)
    for i in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((source_of(args, i), 0))
            s.settimeout(5)
            s.connect((args.host, args.port))
            if start:
                s.sendall(start)
        except OSError:
            refused += 1
            s.close()
            continue
        s.setblocking(False)
        connected += 1
        conns[s.fileno()] = s
        sel.register(s, selectors.EVENT_READ)

    def gone(fd):
        nonlocal closed
        s = conns.pop(fd)
        answered.discard(fd)
        sel.unregister(s)
        s.close()
        closed += 1

    def report():
        print("hostile mode=%s sources=%s wanted=%d connected=%d refused=%d open=%d closed=%d "
              "answered=%d" % (args.mode, args.sources, args.count, connected, refused,
                               len(conns) - len(answered), closed, n_answered),
              flush=True)

    report()
    t_end = time.monotonic() + args.hold if args.hold else None
    next_drip = time.monotonic() + args.interval
    next_report = time.monotonic() + args.report
    while not stop:
        now = time.monotonic()
        if t_end is not None and now >= t_end:
            break
        wait = min(next_drip, next_report) - now
        if t_end is not None:
            wait = min(wait, t_end - now)
        for key, _ in sel.select(max(wait, 0)):
            fd = key.fd
            try:
                data = conns[fd].recv(4096)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    continue
                data = b""
            if data:
                if fd not in answered:
                    answered.add(fd)
                    n_answered += 1
            else:
                gone(fd)
        now = time.monotonic()
        if now >= next_drip:
            if args.mode != "idle":
                for fd in list(conns):
                    if fd in answered:
                        continue
                    try:
                        conns[fd].send(b"a")
                    except OSError:
                        gone(fd)
            next_drip = now + args.interval
        if now >= next_report:
            report()
            next_report = now + args.report
    report()
    for s in conns.values():
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
