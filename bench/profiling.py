"""
Where camserve's time goes: py-spy over a run's window, and what it found.

L{record_profile} runs C{py-spy record --native} on the server through the window
and counts each thread's CPU time from /proc over the same seconds;
L{summarise_profile} ranks the reactor thread's samples by leaf, by camserve
function and by file and draws the flame graph (L{write_flamegraph});
L{profile_markdown} is the tables that C{--publish} puts in the README.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from servers import TICKS, VENV

if TYPE_CHECKING:
    from servers import Server


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (utime + stime) of each of a process's threads."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def record_profile(path: Path, server: Server, start: float, seconds: float) -> None:
    """
    From Unix time C{start}, py-spy on C{server} for the window (at most
    15 s) into C{path}; each thread's CPU beside it, in C{*.threads.json}.
    """
    pid = server.pid
    time.sleep(max(0.0, start - time.time()))
    duration = int(min(15, seconds))
    before, started = thread_cpu(pid), time.monotonic()
    command = [
        str(VENV / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(duration),
        "--rate",
        "200",
        "--function",
        "--native",
        "--format",
        "raw",
        "--output",
        str(path),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if result.returncode:
        path.with_suffix(".err").write_text(result.stdout + result.stderr)
    after, elapsed = thread_cpu(pid), time.monotonic() - started
    main = 100 * (after.pop(pid, 0) - before.pop(pid, 0)) / elapsed
    others = 100 * (sum(after.values()) - sum(before.values())) / elapsed
    path.with_suffix(".threads.json").write_text(
        json.dumps({"reactor_cpu_pct": main, "other_threads_cpu_pct": others})
    )


def _leaf(frames: list[str]) -> str:
    """
    A stack's leaf as a person would name it: a system call in libc (where
    a Python socket call spends its time in the kernel), else the innermost
    Python function (interpreter internals are its cost).
    """
    leaf = frames[-1]
    if "(libc" in leaf:
        return f"{leaf.split(' (', 1)[0]}() in libc: the system call"
    return next((f for f in reversed(frames) if ".py:" in f), leaf)


def summarise_profile(path: Path, out: Path, top: int = 12) -> dict[str, Any]:
    """
    Where the reactor thread's on-CPU samples fall: by leaf (self), by
    camserve function (inclusive) and by file; the other threads (the
    camera's capture thread, Twisted's pool) are counted apart.
    """
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    write_flamegraph(stacks, out / "profile-300.svg")
    reactor = [
        (frames, count)
        for frames, count in stacks
        if any(f.startswith("<module> (twistd") for f in frames)
    ]
    everything = sum(count for _, count in stacks) or 1
    total = sum(count for _, count in reactor) or 1
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    files: dict[str, int] = {}
    for frames, count in reactor:
        leaf = _leaf(frames)
        own[leaf] = own.get(leaf, 0) + count
        where = leaf if "libc" in leaf else leaf.rpartition("(")[2].rsplit(":", 1)[0]
        files[where] = files.get(where, 0) + count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count
    # Frames on (nearly) every stack say nothing: the call chain's root.
    chain = {name for name, n in inclusive.items() if n >= 0.97 * total}

    def ranked(table: dict[str, int], keep: Any = lambda _: True) -> list[Any]:
        best = sorted(
            ((k, v) for k, v in table.items() if keep(k)), key=lambda kv: -kv[1]
        )
        return [(name, 100 * count / total) for name, count in best[:top]]

    threads_path = path.with_suffix(".threads.json")
    return {
        "samples": everything,
        "reactor_samples": total,
        "self": ranked(own),
        "inclusive": ranked(
            inclusive, lambda name: "(camserve/" in name and name not in chain
        ),
        "files": ranked(files),
        "threads": json.loads(threads_path.read_text())
        if threads_path.exists()
        else {},
        "raw": str(path),
        "svg": str(out / "profile-300.svg"),
    }


def write_flamegraph(stacks: list[tuple[list[str], int]], path: Path) -> None:
    """A plain SVG flame graph (root at the bottom; hover for names)."""
    tree: dict[str, Any] = {"count": 0, "children": {}}
    for frames, count in stacks:
        node = tree
        node["count"] += count
        for name in frames:
            node = node["children"].setdefault(name, {"count": 0, "children": {}})
            node["count"] += count

    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node["children"].values()), default=0)

    width, row = 1400.0, 16
    height = (depth(tree) + 1) * row + 30
    total = max(1, tree["count"])
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}"'
            ' font-family="monospace" font-size="11">'
        ),
        f'<text x="4" y="14">camserve, 300 viewers: py-spy, {total} samples</text>',
    ]

    def draw(node: dict[str, Any], name: str, x: float, level: int) -> None:
        w = width * node["count"] / total
        if w < 0.3:
            return
        y = height - (level + 1) * row
        if level:
            digest = hashlib.md5(name.encode()).digest()  # noqa: S324 - a colour, not security
            colour = (
                f"rgb({205 + digest[0] % 50},{90 + digest[1] % 110},{digest[2] % 60})"
            )
            share = 100 * node["count"] / total
            label = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(
                f'<g><title>{label} ({share:.1f}%)</title><rect x="{x:.1f}" y="{y}"'
                f' width="{w:.1f}" height="{row - 1}" fill="{colour}"/>'
            )
            if w > 40:
                text = label[: int(w / 6.6)]
                parts.append(f'<text x="{x + 2:.1f}" y="{y + 12}">{text}</text>')
            parts.append("</g>")
        child_x = x
        for child_name, child in sorted(node["children"].items()):
            draw(child, child_name, child_x, level + 1)
            child_x += width * child["count"] / total

    draw(tree, "all", 0.0, 0)
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def profile_markdown(profile: dict[str, Any]) -> str:
    if "error" in profile:
        return f"py-spy failed: {profile['error'][-500:]}"
    threads = profile.get("threads") or {}
    cpu = (
        f" Over the same seconds /proc counts the reactor thread at"
        f" {threads['reactor_cpu_pct']:.0f}% of a core and the other threads (the"
        f" camera's capture thread, Twisted's pool) at"
        f" {threads['other_threads_cpu_pct']:.0f}%."
        if threads
        else ""
    )
    lines = [
        f"py-spy (`--native`, 200 Hz) on camserve with 300 viewers:"
        f" {profile['reactor_samples']} samples of the reactor thread, of"
        f" {profile['samples']} in all; shares below are of the reactor thread's."
        + cpu,
        "",
        "| self % | where (the stack's leaf) |",
        "|---|---|",
    ]
    lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["self"]]
    lines += ["", "| inclusive % | camserve function (anywhere on the stack) |"]
    lines += ["|---|---|"]
    lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["inclusive"]]
    lines += ["", "| self % | file |", "|---|---|"]
    lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["files"]]
    return "\n".join(lines) + "\n"
