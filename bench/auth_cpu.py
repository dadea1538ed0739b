#!/usr/bin/env python3
"""
What logins cost camserve per delivered frame: the same stream with no
login, with a Basic login and with an API token, beside the floor.

    .venv/bin/python bench/auth_cpu.py [--clients 100] [--seconds 15] [--runs 3]
        [--json FILE]

For each run, starts in turn (the order turns round each run), each on a
free port of 127.0.0.1 and the standard frames (C{bench/make_frames.py}, one
C{emulated} camera at 30 fps, from a config file, as C{bench/tls_cpu.py}
does):

  - C{off}: camserve with no C{[auth]};
  - C{basic}: camserve with C{[auth]} (an htpasswd file of one user, bcrypt
    of the C{bcrypt} package's default cost, and a token key file), its
    viewers sending C{Authorization: Basic ...} with every request. One
    request with the login first: a password found right is remembered, so
    the viewers do not wait behind one bcrypt check each (and a burst of
    them from one address is not refused);
  - C{token}: the same config, the token minted by C{POST /api/tokens} with
    the login, the viewers asking for the stream with C{?token=...} and no
    login;
  - the floor (C{../shared/bench/floor.c} built with C{cc -O2}).

Each gets C{--clients} viewers of C{bench/mjpeg_load.py} over a window of
C{--seconds}, its CPU sampled through the process's CPU-time clock. Prints
per run the CPU µs per delivered frame and the ratios C{basic / off},
C{token / off} and each to the floor, then their mean and range.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
from make_frames import make_frames
from servers import BENCH, log
from tls_cpu import (
    Pair,
    Process,
    build_floor,
    ratio_table,
    ratios,
    run_interleaved,
    table,
)

USER = "bench"
PASSWORD = "bench-password"  # noqa: S105 - a throwaway user of the benchmark's own
NAMES = {
    "off": "camserve, no login",
    "basic": "camserve, Basic login",
    "token": "camserve, ?token=",
    "floor": "floor",
}


def auth_config(folder: Path) -> str:
    """
    Write an htpasswd file of L{USER} and a token key into C{folder}; the
    C{[auth]} tables that name them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt()).decode()
    htpasswd = folder / "users.htpasswd"
    htpasswd.write_text(f"{USER}:{hashed}\n")
    key = folder / "token.key"
    key.write_bytes(bytes(range(32)))
    return (
        f"[auth]\nhtpasswd = {json.dumps(str(htpasswd))}\n"
        f"token_secret_file = {json.dumps(str(key))}\n\n"
        f'[auth.users.{USER}]\nrole = "viewer"\n'
    )


def basic_header() -> str:
    login = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return f"Authorization: Basic {login}"


def log_in(server: Process) -> None:
    """One request with the login, so that the server remembers it."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/cameras",
        headers=dict([basic_header().split(": ", 1)]),
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - http://127.0.0.1
        response.read()


def mint_token(server: Process) -> str:
    """A token for the camera, from C{POST /api/tokens} with the login."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/tokens",
        data=json.dumps({"camera": "cam", "seconds": 3600}).encode(),
        headers=dict(
            [basic_header().split(": ", 1), ("Content-Type", "application/json")]
        ),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - http://127.0.0.1
        token: str = json.loads(response.read())["token"]
        return token


class LoggedIn(Process):
    """camserve with logins, its viewers logged in as the run asks."""

    def _wait_ready(self) -> None:
        super()._wait_ready()
        log_in(self)
        if self.name == "token":
            self.query = "token=" + urllib.request.quote(mint_token(self), safe="")
        else:
            self.headers = (basic_header(),)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    out: Path = args.out
    frames = out / "frames"
    info = make_frames(frames)
    log(f"frames: {frames} ({info['kb_mean']} KB mean)")
    floor = None if args.no_floor else build_floor(out)
    config = auth_config(out / "auth")
    (out / "load").mkdir(parents=True, exist_ok=True)
    servers: list[tuple[str, dict[str, Any]]] = [
        ("off", {}),
        ("basic", {"config": config, "process": LoggedIn}),
        ("token", {"config": config, "process": LoggedIn}),
    ]
    pairs: list[Pair] = [("basic", "off"), ("token", "off"), ("off", "floor")]
    if floor is not None:
        servers.append(("floor", {"kind": "floor"}))
        pairs += [("basic", "floor"), ("token", "floor")]
    records = run_interleaved(
        servers,
        frames,
        floor,
        out,
        runs=args.runs,
        clients=args.clients,
        seconds=args.seconds,
        prefix="auth",
    )
    rows = ratios(records, pairs)
    print()
    print(f"{args.clients} viewers, {args.seconds:g} s windows, {args.runs} run(s)")
    print(table(records, NAMES))
    print()
    print(ratio_table(rows, pairs))
    if args.json:
        args.json.write_text(
            json.dumps({"records": records, "ratios": rows, "frames": info}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
