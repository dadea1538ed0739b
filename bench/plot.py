"""
results.png: CPU per delivered frame and p99 latency against viewers.

Camserve beside the floor on log scales, each run's point faint behind the
means, camserve's ratio to the floor written by its points, and saturated
hosts marked on the latency side.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from scenarios import SCENARIOS, Bench, grouped, mean_of
from servers import FPS

if TYPE_CHECKING:
    from pathlib import Path


def _annotate(
    cpu_axis: Any,
    lat_axis: Any,
    groups: dict[tuple[str, str], list[dict[str, Any]]],
    names: list[str],
    colour: str,
) -> None:
    """The ratio to the floor beside camserve's points; saturated hosts."""
    for name in names:
        runs, floor_runs = groups.get((name, "camserve")), groups.get((name, "floor"))
        if not runs:
            continue
        x = SCENARIOS[name].clients
        mine = mean_of(runs, "cpu_us_per_frame")
        floor_cpu = mean_of(floor_runs, "cpu_us_per_frame") if floor_runs else None
        if mine and floor_cpu:
            cpu_axis.annotate(
                f"{mine / floor_cpu:.2f}x",
                (x, mine),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color=colour,
            )
        busy = mean_of(runs, "host_busy_pct") or 0
        latency = mean_of(runs, "latency_ms_p99")
        if busy > 50 and latency is not None:
            lat_axis.annotate(
                f"host {busy:.0f}% busy",
                (x, latency),
                textcoords="offset points",
                xytext=(-8, 0),
                ha="right",
                va="center",
                fontsize=8,
                color="#7f8c8d",
            )


def _log_scale(axis: Any, formatter: Any) -> None:
    axis.set_yscale("log")
    low, high = axis.get_ylim()
    low, high = low / 1.3, high * 1.6  # room for the ratios
    steps = (2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    axis.set_yticks([t for t in steps if low <= t <= high])
    axis.set_ylim(low, high)
    axis.yaxis.set_major_formatter(formatter)


def plot(bench: Bench, path: Path) -> None:
    import matplotlib as mpl  # noqa: PLC0415 - only the plot needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import matplotlib.ticker  # noqa: PLC0415

    groups = grouped(bench.runs)
    names = [s.name for s in bench.scenarios() if SCENARIOS[s.name].floor]
    figure, (cpu_axis, lat_axis) = plt.subplots(1, 2, figsize=(12, 4.8))
    styles = {"camserve": ("#c0392b", "o"), "floor": ("#2c3e50", "s")}
    for kind in ("camserve", "floor"):
        colour, marker = styles[kind]
        xs, cpu, p99, fan = [], [], [], []
        for name in names:
            runs = groups.get((name, kind))
            if not runs:
                continue
            xs.append(SCENARIOS[name].clients)
            cpu.append(mean_of(runs, "cpu_us_per_frame"))
            p99.append(mean_of(runs, "latency_ms_p99"))
            fan.append(mean_of(runs, "fanout_ms_p99"))
            for r in runs:
                cpu_axis.plot(
                    SCENARIOS[name].clients,
                    r["cpu_us_per_frame"],
                    marker,
                    color=colour,
                    alpha=0.35,
                )
        if not xs:
            continue
        label = "floor (C, epoll)" if kind == "floor" else "camserve"
        cpu_axis.plot(xs, cpu, "-", marker=marker, color=colour, label=label)
        if kind == "camserve":
            lat_axis.plot(
                xs, p99, "-", marker=marker, color=colour, label="camserve: X-Timestamp"
            )
        lat_axis.plot(
            xs,
            fan,
            "--",
            marker=marker,
            color=colour,
            mfc="none",
            label=f"{label}: fan-out",
        )
    _annotate(cpu_axis, lat_axis, groups, names, styles["camserve"][0])
    for axis, title, unit in (
        (cpu_axis, "server CPU per delivered frame (log scale; x floor)", "µs"),
        (lat_axis, "p99 latency to the viewer's last byte", "ms"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("viewers")
        axis.set_ylabel(unit)
        axis.set_title(title, fontsize=10)
        if axis is cpu_axis:
            _log_scale(axis, matplotlib.ticker.ScalarFormatter())
        else:
            axis.set_ylim(bottom=0)
        ticks = [SCENARIOS[n].clients for n in names]
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.minorticks_off()
        axis.grid(visible=True, alpha=0.3)
        axis.legend(loc="upper right" if axis is cpu_axis else "upper left", fontsize=8)
    if bench.floor_note:
        cpu_axis.text(
            0.5,
            0.5,
            bench.floor_note,
            transform=cpu_axis.transAxes,
            ha="center",
            fontsize=9,
            color="#7f8c8d",
        )
    figure.suptitle(
        f"camserve {'(no floor)' if bench.floor_note else 'vs the floor'}:"
        f" 640x480 JPEGs at {FPS} fps,"
        f" {os.cpu_count()} cores, {bench.seconds:g} s windows",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
