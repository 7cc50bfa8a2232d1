"""Run wrk with replay.lua over prepared request lines and read back its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("replay.lua")


@dataclass
class Measure:
    """One wrk run: throughput, latency percentiles, refusals, and whether requests ran out."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: dict[str, int]
    ran_out: bool
    captured: list[str] = field(default_factory=list, repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("captured")
        data["rps"] = round(self.rps, 1)
        return data


def ensure_wrk() -> str:
    """Path of wrk; install the Debian package when missing and we are root, else explain."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk is missing; installing the Debian package (apt-get install wrk)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "bench: wrk is not installed. Install it (Debian/Ubuntu: sudo apt-get install wrk; "
        "macOS: brew install wrk) and run make bench again."
    )


def run(
    url: str,
    lines: list[str],
    *,
    duration: float,
    connections: int = 16,
    threads: int = 1,
    repeat: bool = False,
    capture: str = "none",
) -> Measure:
    """Replay ``lines`` (each once, split into one slice per wrk thread) for ``duration`` s."""
    with tempfile.TemporaryDirectory(prefix="chatframe-wrk-") as folder:
        prefix = str(Path(folder) / "w")
        for t in range(threads):
            text = "\n".join(lines if repeat else lines[t::threads])
            Path(f"{prefix}.{t}.req").write_text(text + "\n")
        command = [
            ensure_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            prefix,
            "repeat" if repeat else "once",
            capture,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        marker = [x for x in result.stdout.splitlines() if x.startswith("BENCHJSON ")]
        if result.returncode != 0 or not marker:
            raise SystemExit(
                f"bench: wrk failed ({result.returncode}): {result.stderr.strip()[-500:]}"
            )
        figures = json.loads(marker[-1].removeprefix("BENCHJSON "))
        captured: list[str] = []
        for t in range(threads):
            out = Path(f"{prefix}.{t}.out")
            if out.exists():
                captured.extend(x for x in out.read_text().splitlines() if x)
    return Measure(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        non2xx=figures["non2xx"],
        socket_errors=figures["socket_errors"],
        ran_out=figures["exhausted_threads"] > 0,
        captured=captured,
    )
