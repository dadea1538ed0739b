#!/usr/bin/env python3
"""
What TLS costs camserve per delivered frame, beside plain TCP and the floor.

    .venv/bin/python bench/tls_cpu.py [--clients 100] [--seconds 15] [--runs 2]
        [--json FILE]

Makes a self-signed certificate (P-256, for 127.0.0.1) and, for each run,
starts on the standard frames (C{bench/make_frames.py}, C{--source FRAMES
--fps 30}) in turn: camserve from this checkout on a plain
C{tcp:PORT:interface=127.0.0.1} endpoint, camserve on
C{ssl:PORT:privateKey=...:certKey=...:interface=127.0.0.1}, and the floor
(C{../shared/bench/floor.c} built with C{cc -O2}; plain TCP only). Each is
measured with C{--clients} viewers of C{bench/mjpeg_load.py} (with C{--tls}
for the TLS server: the same parser and figures) over a window of
C{--seconds}, its CPU sampled every 20 ms through the process's CPU-time clock
(L{servers.Sampler}) and interpolated at the window's ends.

Reports per run: server CPU % (of one core), CPU µs per delivered frame,
viewers' fps (median and minimum), the load generator's CPU, the host's busy
share; then the ratios TLS / plain, plain / floor and TLS / floor per run.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from make_frames import make_frames
from scenarios import ramp_for
from servers import (
    BENCH,
    FPS,
    ROOT,
    SHARED,
    VENV,
    Sampler,
    ServerProcess,
    free_port,
    log,
)

sys.path.insert(0, str(ROOT))
from camserve.testing import self_signed_pem

MAX_CONNECTIONS = 5000


def self_signed(folder: Path) -> tuple[Path, Path]:
    """Write a fresh self-signed key and certificate for 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    key, certificate = self_signed_pem("127.0.0.1")
    key_path = folder / "key.pem"
    cert_path = folder / "cert.pem"
    key_path.write_bytes(key)
    cert_path.write_bytes(certificate)
    return key_path, cert_path


class Process(ServerProcess):
    """
    One server on a free port of 127.0.0.1: camserve (over plain TCP or TLS,
    from this checkout or another) or the floor.
    """

    def __init__(
        self,
        kind: str,
        frames: Path,
        floor: Path | None,
        tls: tuple[Path, Path] | None,
        logs: Path,
        *,
        root: Path | None = None,
        config: str = "",
        name: str | None = None,
        query: str = "",
        headers: tuple[str, ...] = (),
    ) -> None:
        """
        @param kind: C{"floor"}, or the camserve kind this server stands for
            (C{"plain"}, C{"tls"}, ...).
        @param tls: the key and certificate to serve TLS with; L{None} for
            plain TCP.
        @param root: the checkout whose camserve runs (default this one).
        @param config: more of the config file, after C{[server]}'s keys.
        @param name: how the tables name it (default C{kind}).
        @param query: added to the stream's URL (C{token=...}).
        @param headers: sent by every viewer (C{Authorization: ...}).
        """
        self.kind = kind
        self.name = name or kind
        self.query = query
        self.headers = headers
        self.tls = tls if kind != "floor" else None
        self.port = free_port()
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{self.name}-{self.port}.log"
        if kind == "floor":
            if floor is None:
                raise ValueError("no floor binary")
            command = [str(floor), str(self.port), str(frames), str(FPS)]
        else:
            if self.tls is not None:
                key, cert = self.tls
                endpoint = (
                    f"ssl:{self.port}:privateKey={key}:certKey={cert}"
                    ":interface=127.0.0.1"
                )
            else:
                endpoint = f"tcp:{self.port}:interface=127.0.0.1"
            # A config file, not --endpoint and --source: the viewers all come
            # from 127.0.0.1, beyond the default max_connections_per_client.
            config_path = logs / f"{self.name}-{self.port}.toml"
            config_path.write_text(
                f"[server]\nendpoints = [{json.dumps(endpoint)}]\n"
                f"max_connections = {MAX_CONNECTIONS}\n"
                f"max_connections_per_client = {MAX_CONNECTIONS}\n\n"
                f'[[cameras]]\nname = "cam"\ndriver = "emulated"\n'
                f"source = {json.dumps(str(frames))}\nfps = {FPS}\n\n{config}"
            )
            command = [
                str(VENV / "twistd"),
                "--pidfile=",
                "-n",
                "camserve",
                "--config",
                str(config_path),
            ]
        self._launch(command, logs, root or ROOT)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        path = "/video_feed" if self.kind == "floor" else "/cameras/cam/video_feed"
        query = f"?{self.query}" if self.query else ""
        return f"{scheme}://127.0.0.1:{self.port}{path}{query}"

    def _probe(self) -> bool:
        """A whole response head from C{/healthz} (the floor: a connection)."""
        if self.kind == "floor":
            return super()._probe()
        with socket.create_connection(("127.0.0.1", self.port), 2) as raw:
            sock: socket.socket = raw
            if self.tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(raw)
            host = f"127.0.0.1:{self.port}"
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            return sock.recv(4096).startswith(b"HTTP/1.1 200")


def measure(
    server: Process,
    frames: Path,
    *,
    clients: int,
    seconds: float,
    out: Path,
    label: str,
) -> dict[str, Any]:
    """One window of C{clients} viewers on C{server}; its figures."""
    ramp = ramp_for(clients)
    warmup = 3.0 + ramp
    json_path = out / f"{label}.json"
    t0 = time.time() + 1.0
    command = [
        sys.executable,
        str(BENCH / "mjpeg_load.py"),
        "--url",
        server.url,
        "--clients",
        str(clients),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
        "--ramp",
        str(ramp),
        "--t0",
        repr(t0),
        "--fps",
        str(FPS),
        "--frames-dir",
        str(frames),
        "--json",
        str(json_path),
        "--quiet",
        *(["--tls"] if server.tls is not None else []),
        *[arg for header in server.headers for arg in ("--header", header)],
    ]
    sampler = Sampler(server.pid)
    sampler.start()
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=warmup + seconds + 120,
        check=False,
    )
    time.sleep(0.1)
    sampler.finish()
    if completed.returncode:
        raise RuntimeError(f"load generator failed:\n{completed.stderr[-3000:]}")
    load = json.loads(json_path.read_text())
    window = load["window"]
    cpu = sampler.window(window["t_start"], window["t_end"])
    a = load["aggregate"]
    frames_delivered = a["frames_window"]
    return {
        "kind": server.kind,
        "name": server.name,
        "label": label,
        "clients": clients,
        "seconds": seconds,
        "server_cpu_s": cpu["cpu_s"],
        "server_cpu_s_stat": cpu["cpu_s_stat"],
        "server_cpu_pct": 100 * cpu["cpu_s"] / seconds,
        "frames": frames_delivered,
        "cpu_us_per_frame": (
            1e6 * cpu["cpu_s"] / frames_delivered if frames_delivered else None
        ),
        "MBps": a["MBps"],
        "fps_median": a["fps_median"],
        "fps_min": a["fps_min"],
        "dups": a["dups"],
        "malformed": a["malformed"],
        "errors": a["errors"],
        "loadgen_cpu_pct": a["loadgen_cpu_pct"],
        "host_busy_pct": cpu["host_busy_pct"],
        "rss_peak_mb": cpu["rss_peak_mb"],
        "faults_per_frame": (
            cpu["minor_faults"] / frames_delivered if frames_delivered else None
        ),
        "alive": server.process.poll() is None,
    }


def build_floor(out: Path) -> Path | None:
    source = SHARED / "floor.c"
    if not source.exists():
        log(f"floor not measured: {source} is not there")
        return None
    binary = out / "floor"
    subprocess.run(
        ["cc", "-O2", "-o", str(binary), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    log(f"floor: built {binary} from {source}")
    return binary


def _f(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(records: list[dict[str, Any]], names: dict[str, str]) -> str:
    """Each run's figures, a line per server."""
    head = (
        "| run | server | CPU µs/frame | page faults/frame | server CPU % | fps median"
        " | fps min | MB/s | bad | load gen CPU % | host busy % |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        bad = r["malformed"] + sum(r["errors"].values())
        lines.append(
            f"| {r['run']} | {names.get(r['name'], r['name'])}"
            f" | {_f(r['cpu_us_per_frame'])} | {_f(r['faults_per_frame'], '.2f')}"
            f" | {_f(r['server_cpu_pct'])} | {_f(r['fps_median'], '.2f')}"
            f" | {_f(r['fps_min'], '.2f')} | {_f(r['MBps'], '.0f')} | {bad}"
            f" | {_f(r['loadgen_cpu_pct'], '.0f')} | {_f(r['host_busy_pct'], '.0f')} |"
        )
    return "\n".join(lines)


Pair = tuple[str, str]


def ratios(records: list[dict[str, Any]], pairs: list[Pair]) -> list[dict[str, Any]]:
    """Per run, each pair's ratio of CPU µs per frame: C{a / b} under C{"a/b"}."""
    result = []
    for run in sorted({r["run"] for r in records}):
        by = {r["name"]: r["cpu_us_per_frame"] for r in records if r["run"] == run}
        row: dict[str, Any] = {"run": run}
        for a, b in pairs:
            row[f"{a}/{b}"] = by[a] / by[b] if by.get(a) and by.get(b) else None
        result.append(row)
    return result


def ratio_table(rows: list[dict[str, Any]], pairs: list[Pair]) -> str:
    """The ratios per run, then their mean and spread (lowest to highest)."""
    keys = [f"{a}/{b}" for a, b in pairs]
    lines = [
        "| run | " + " | ".join(k.replace("/", " / ") for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    lines.extend(
        f"| {row['run']} | " + " | ".join(_x(row[k]) for k in keys) + " |"
        for row in rows
    )
    if len(rows) > 1:
        cells = []
        for k in keys:
            values = [row[k] for row in rows if row[k]]
            cells.append(
                f"{statistics.fmean(values):.2f}x ({min(values):.2f}-{max(values):.2f})"
                if values
                else "-"
            )
        lines.append("| mean (range) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_interleaved(
    servers: list[tuple[str, dict[str, Any]]],
    frames: Path,
    floor: Path | None,
    out: Path,
    *,
    runs: int,
    clients: int,
    seconds: float,
    prefix: str,
) -> list[dict[str, Any]]:
    """
    C{runs} runs of each server, a fresh process for each measurement, in an
    order that turns round each run: C{servers} is a list of (name, options):
    C{kind} (default the name), C{process} (L{Process} or a subclass) and
    L{Process}'s keyword arguments.
    """
    records = []
    for run in range(1, runs + 1):
        order = servers if run % 2 else list(reversed(servers))
        for name, options in order:
            make = options.get("process", Process)
            server = make(
                options.get("kind", name),
                frames,
                floor,
                options.get("tls"),
                out / "logs",
                root=options.get("root"),
                config=options.get("config", ""),
                name=name,
                query=options.get("query", ""),
                headers=options.get("headers", ()),
            )
            try:
                record = measure(
                    server,
                    frames,
                    clients=clients,
                    seconds=seconds,
                    out=out / "load",
                    label=f"{prefix}-{name}-{clients}-{run}",
                )
            finally:
                server.stop()
            record["run"] = run
            records.append(record)
            log(
                f"run {run} {name}: {_f(record['cpu_us_per_frame'])} µs/frame,"
                f" {_f(record['faults_per_frame'], '.2f')} page faults/frame,"
                f" CPU {record['server_cpu_pct']:.1f}%, fps median"
                f" {_f(record['fps_median'], '.2f')} min {_f(record['fps_min'], '.2f')},"
                f" load gen {record['loadgen_cpu_pct']:.0f}%"
            )
    return records


NAMES = {
    "plain": "camserve tcp",
    "tls": "camserve ssl",
    "tls-before": "camserve ssl, --before",
    "floor": "floor",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout (a git worktree of an earlier commit) whose"
        " camserve is measured over TLS too, in the same runs",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    out: Path = args.out
    frames = out / "frames"
    info = make_frames(frames)
    log(f"frames: {frames} ({info['kb_mean']} KB mean)")
    floor = None if args.no_floor else build_floor(out)
    tls = self_signed(out / "tls")
    (out / "load").mkdir(parents=True, exist_ok=True)
    servers: list[tuple[str, dict[str, Any]]] = [
        ("plain", {}),
        ("tls", {"tls": tls}),
    ]
    pairs: list[Pair] = [("tls", "plain"), ("plain", "floor"), ("tls", "floor")]
    if args.before is not None:
        servers.append(
            ("tls-before", {"kind": "tls", "tls": tls, "root": args.before.resolve()})
        )
        pairs += [
            ("tls-before", "plain"),
            ("tls-before", "floor"),
            ("tls", "tls-before"),
        ]
    if floor is not None:
        servers.append(("floor", {"kind": "floor"}))
    records = run_interleaved(
        servers,
        frames,
        floor,
        out,
        runs=args.runs,
        clients=args.clients,
        seconds=args.seconds,
        prefix="tls",
    )
    rows = ratios(records, pairs)
    print()
    print(f"{args.clients} viewers, {args.seconds:g} s windows, {args.runs} run(s)")
    if args.before is not None:
        print(f"--before: {args.before}")
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
