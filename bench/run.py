"""`make bench`: wrk against `chatframe serve` next to node-oidc-provider, as same-run ratios.

    .venv/bin/python -m bench.run [--backends sqlite,postgres] [--duration 6] [--growth]

See bench/README.md for the workloads, what is prepared before the clock and the env knobs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import wrk
from bench.peer import Peer
from bench.prepare import check
from bench.prepare import line as request_line
from bench.server import Chatframe

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = ("client_credentials", "token_exchange", "redemption", "refresh", "chat_token_check")
# Same-run ratios to node-oidc-provider's client_credentials (issue 7), PostgreSQL + Redis;
# SQLite must reach at least half of each.
TARGETS = {
    "client_credentials": 1.0,
    "token_exchange": 0.6,
    "redemption": 0.35,
    "refresh": 0.35,
    "chat_token_check": 1.0,
}
EMPTY_ROUTE = "empty_route"  # a reference row: GET /healthz, which does no work
RSS_LIMIT_MB = 150
GROWTH_LOSS_LIMIT = 0.10


def env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw.strip() else default
    except ValueError:
        raise SystemExit(f"bench: {name} must be a number, not {raw!r}") from None


class Bench:
    """The wrk settings every run shares, and the peer's client_credentials measures."""

    def __init__(self, duration: float, threads: int, connections: int, warmup: float = 0) -> None:
        self.duration = duration
        self.threads = threads
        self.connections = connections
        self.warmup = warmup
        self.peer_runs: list[wrk.Measure] = []

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def replay(self, url: str, lines: list[str], **kw: object) -> wrk.Measure:
        return wrk.run(
            url,
            lines,
            duration=self.duration,
            connections=self.connections,
            threads=self.threads,
            **kw,  # type: ignore[arg-type]
        )

    def warm_up(self, url: str, line: str) -> None:
        """Load a freshly started server untimed first (caches, pools, a JIT), as a customer's
        long-running one would be; the peer and Chatframe alike."""
        if self.warmup > 0:
            wrk.run(url, [line], duration=self.warmup, connections=self.connections, repeat=True)

    def measure_peer(self, peer: Peer) -> wrk.Measure:
        self.say("node-oidc-provider: client_credentials")
        line = peer.client_credentials_line()
        check(line, peer.base_url, "node-oidc-provider client_credentials")
        if not self.peer_runs:
            self.warm_up(peer.base_url, line)
        measure = self.replay(peer.base_url, [line], repeat=True)
        self.say(f"  {measure.rps:,.0f} req/s, p99 {measure.p99_ms:.1f} ms")
        self.peer_runs.append(measure)
        return measure

    def unique(
        self,
        name: str,
        url: str,
        make_lines: Callable[[int], list[str]],
        count: int,
        capture: str = "none",
    ) -> wrk.Measure:
        """Replay ``count`` fresh requests; if wrk runs out, say so and retry with twice as many."""
        for _ in range(3):
            self.say(f"  {name}: preparing {count:,} unique requests")
            lines = make_lines(count + 1)
            if len(lines) < 2:
                raise SystemExit(
                    f"bench: could not prepare {name} requests: the server issued no embed codes "
                    "or sessions to build them from"
                )
            check(lines[0], url, name)
            measure = self.replay(url, lines[1:], capture=capture)
            if not measure.ran_out:
                break
            self.say(
                f"  {name}: wrk ran out of prepared requests ({count:,}) before the clock "
                "stopped; that measure is discarded, preparing twice as many"
            )
            count *= 2
        self.say(
            f"  {name}: {measure.rps:,.0f} req/s, p50 {measure.p50_ms:.1f} ms, "
            f"p99 {measure.p99_ms:.1f} ms, non-2xx {measure.non2xx}"
            + (" (RAN OUT of prepared requests)" if measure.ran_out else "")
        )
        return measure

    def workloads(self, server: Chatframe) -> dict[str, wrk.Measure]:
        """The five workloads of issue 7 against one running Chatframe, each on fresh data."""
        tenant, url, seconds = server.tenant, server.base_url, self.duration
        assert tenant is not None, "create() the server's tenant first"
        results: dict[str, wrk.Measure] = {}

        self.say(f"chatframe ({server.backend}): client_credentials")
        line = tenant.client_credentials_line()
        check(line, url, "client_credentials")
        self.warm_up(url, line)
        results["client_credentials"] = cc = self.replay(url, [line], repeat=True)
        self.say(f"  client_credentials: {cc.rps:,.0f} req/s, p99 {cc.p99_ms:.1f} ms")
        # For reference, not a target: what a request doing no work at all costs through the
        # same app, hooks and HTTP server (the ceiling any workload above can approach).
        results[EMPTY_ROUTE] = empty = self.replay(
            url, [request_line("GET", f"{url}/healthz")], repeat=True
        )
        self.say(f"  {EMPTY_ROUTE} (GET /healthz, reference): {empty.rps:,.0f} req/s")
        # An exchange costs more than client_credentials, so cc's rate bounds what is needed.
        expect = max(cc.rps, 50.0) * seconds

        results["token_exchange"] = ex = self.unique(
            "token_exchange", url, tenant.exchange_lines, int(expect * 1.3) + 200, capture="code"
        )
        codes = ex.captured

        def redemption_lines(count: int) -> list[str]:
            if len(codes) < count:
                self.say(f"  redemption: asking for {count - len(codes):,} more embed codes")
                codes.extend(tenant.codes(count - len(codes)))
            taken = codes[:count]
            del codes[:count]
            return tenant.redemption_lines(taken)

        first = max(len(codes) - 1, int(ex.rps * seconds * 1.3) + 100)
        results["redemption"] = rd = self.unique(
            "redemption", url, redemption_lines, first, capture="tokens"
        )
        sessions = [pair.split("\t") for pair in rd.captured]

        def refresh_lines(count: int) -> list[str]:
            if len(sessions) < count:
                self.say(f"  refresh: opening {count - len(sessions):,} more sessions")
                sessions.extend(list(p) for p in tenant.sessions(count - len(sessions)))
            taken = sessions[:count]
            del sessions[:count]
            return tenant.refresh_lines([refresh for refresh, _ in taken])

        first = max(len(sessions) - 1, int(rd.rps * seconds * 1.3) + 100)
        results["refresh"] = rf = self.unique(
            "refresh", url, refresh_lines, first, capture="tokens"
        )
        # Fresh access tokens of many sessions (the refresh run's answers), each bound to the
        # bench's DPoP key; a proof per request.
        tokens = [pair.split("\t")[1] for pair in rf.captured][:1000] or [
            access for _, access in tenant.sessions(100)
        ]

        def chat_lines(count: int) -> list[str]:
            return tenant.chat_lines(tokens, count)

        results["chat_token_check"] = self.unique(
            "chat_token_check", url, chat_lines, int(expect * 1.3) + 200
        )
        return results


def references(bench: Bench, backends: list[str]) -> dict[str, float]:
    """Each backend's 1.0x: the mean of the peer's runs just before and just after it, so the
    machine's load while it ran is the load both were measured under."""
    runs = bench.peer_runs
    return {b: statistics.mean(m.rps for m in runs[i : i + 2]) for i, b in enumerate(backends)}


def table_rows(
    results: dict[str, dict[str, wrk.Measure]], refs: dict[str, float]
) -> list[dict[str, object]]:
    rows = []
    for backend, measures in results.items():
        share = 1.0 if backend == "postgres" else 0.5
        ref = refs[backend]
        for workload in WORKLOADS:
            m = measures[workload]
            ratio = m.rps / ref if ref else 0.0
            target = TARGETS[workload] * share
            valid = not m.ran_out and m.non2xx == 0 and not any(m.socket_errors.values())
            rows.append(
                {
                    "backend": backend,
                    "workload": workload,
                    **m.as_dict(),
                    "ratio": round(ratio, 3),
                    "target": target,
                    "meets": bool(valid and ratio >= target),
                }
            )
    return rows


def print_table(rows: list[dict[str, object]], refs: dict[str, float], bench: Bench) -> None:
    peers = ", ".join(f"{m.rps:,.0f}" for m in bench.peer_runs)
    print()
    print(f"node-oidc-provider client_credentials, before and after each backend: {peers} req/s")
    print(
        "1.0x = the mean of the peer's runs around each backend: "
        + ", ".join(f"{b} {ref:,.0f} req/s" for b, ref in refs.items())
    )
    header = (
        f"{'backend':<9} {'workload':<19} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'ratio':>7} {'target':>8}  meets"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        notes = []
        if r["ran_out"]:
            notes.append("ran out of prepared requests")
        errors = sum(r["socket_errors"].values())  # type: ignore[attr-defined]
        if errors:
            notes.append(f"{errors} socket errors")
        print(
            f"{r['backend']:<9} {r['workload']:<19} {r['rps']:>9,.0f} {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['non2xx']:>8} {r['ratio']:>6.2f}x {r['target']:>7.3f}x  "
            f"{'yes' if r['meets'] else 'NO'}" + (f"  ({'; '.join(notes)})" if notes else "")
        )


def machine() -> dict[str, object]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def write_json(data: dict[str, object], name: str = "latest.json") -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def run_bench(bench: Bench, backends: list[str], peer: Peer) -> None:
    results: dict[str, dict[str, wrk.Measure]] = {}
    rss: dict[str, dict[int, float]] = {}
    bench.measure_peer(peer)
    for backend in backends:
        server = Chatframe(backend)
        try:
            server.create()
            server.start()
            results[backend] = bench.workloads(server)
            rss[backend] = server.worker_rss_mb()
        finally:
            server.destroy()
        bench.measure_peer(peer)
    refs = references(bench, backends)
    rows = table_rows(results, refs)
    print_table(rows, refs, bench)
    ceiling = {b: m[EMPTY_ROUTE].rps for b, m in results.items()}
    print(
        "for reference, GET /healthz (no work; the same app, hooks and server): "
        + ", ".join(f"{b} {rps:,.0f} req/s = {rps / refs[b]:.2f}x" for b, rps in ceiling.items())
    )
    for backend, sizes in rss.items():
        listed = ", ".join(f"{mb:.0f} MB" for mb in sizes.values())
        print(f"{backend}: worker RSS after the run: {listed}")
    path = write_json(
        {
            "machine": machine(),
            "settings": vars_of(bench),
            "peer_client_credentials": [m.as_dict() for m in bench.peer_runs],
            "reference_rps": {b: round(ref, 1) for b, ref in refs.items()},
            "rows": rows,
            "empty_route_rps": {b: round(rps, 1) for b, rps in ceiling.items()},
            "worker_rss_mb": {b: list(s.values()) for b, s in rss.items()},
        }
    )
    print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


def vars_of(bench: Bench) -> dict[str, object]:
    return {
        "duration_s": bench.duration,
        "wrk_threads": bench.threads,
        "connections": bench.connections,
        "server_workers": 2,
    }


def run_growth(bench: Bench, users: int, sessions: int, bots: int, rounds: int) -> None:
    """Same workloads on two PostgreSQL + Redis databases, one as seeded and one with the bulk
    data, measured in alternation (empty, loaded, empty, loaded...) so that a machine getting
    busier or quieter hits both alike; then RSS after 100 k requests on the loaded one."""
    from bench.growth import load

    target_requests = int(env_number("BENCH_RSS_REQUESTS", 100_000))
    empty_server, loaded_server = Chatframe("postgres"), Chatframe("postgres")
    measures: dict[str, list[dict[str, wrk.Measure]]] = {"empty": [], "loaded": []}
    try:
        empty_server.create()
        tenant = loaded_server.create()
        bench.say(f"loading {users:,} partner users, {sessions:,} sessions, {bots:,} bots")
        started = time.monotonic()
        load(
            loaded_server.database_url,
            tenant,
            loaded_server.customer_id,
            users,
            sessions,
            bots,
            progress=bench.say,
        )
        bench.say(f"  loaded in {time.monotonic() - started:.0f} s")
        for round_ in range(1, rounds + 1):
            for name, server in (("empty", empty_server), ("loaded", loaded_server)):
                bench.say(f"round {round_}/{rounds}, {name} database")
                server.start()
                measures[name].append(bench.workloads(server))
                if not (name == "loaded" and round_ == rounds):
                    server.stop()
        served = sum(m.requests for run in measures["loaded"] for m in run.values())
        # Reach the request count with the cheapest workload, in bounded time.
        rate = max(measures["loaded"][-1]["client_credentials"].rps, 1.0)
        if served < target_requests:
            seconds = min(
                (target_requests - served) / rate + 1, env_number("BENCH_RSS_SECONDS", 180)
            )
            bench.say(f"driving client_credentials for {seconds:.0f} s to pass {target_requests:,}")
            saved, bench.duration = bench.duration, seconds
            line = tenant.client_credentials_line()
            served += bench.replay(loaded_server.base_url, [line], repeat=True).requests
            bench.duration = saved
        rss = loaded_server.worker_rss_mb()
    finally:
        empty_server.destroy()
        loaded_server.destroy()

    print()
    print(
        f"growth: {users:,} partner users, {sessions:,} sessions, {bots:,} bots "
        f"(PostgreSQL + Redis), {rounds} alternating rounds; req/s is the mean over the rounds"
    )
    header = f"{'workload':<19} {'empty req/s':>11} {'loaded req/s':>12} {'loss':>7}  <= 10 %"
    print(header)
    print("-" * len(header))
    rows = []
    for workload in WORKLOADS:
        a = [run[workload] for run in measures["empty"]]
        b = [run[workload] for run in measures["loaded"]]
        rps_a = statistics.mean(m.rps for m in a)
        rps_b = statistics.mean(m.rps for m in b)
        loss = 1 - rps_b / rps_a if rps_a else 1.0
        valid = not any(m.ran_out or m.non2xx for m in a + b)
        ok = valid and loss <= GROWTH_LOSS_LIMIT
        rows.append(
            {
                "workload": workload,
                "empty": [m.as_dict() for m in a],
                "loaded": [m.as_dict() for m in b],
                "loss": round(loss, 3),
                "meets": ok,
            }
        )
        print(
            f"{workload:<19} {rps_a:>11,.0f} {rps_b:>12,.0f} {loss * 100:>6.1f}%  "
            f"{'yes' if ok else 'NO'}" + ("" if valid else "  (non-2xx or ran out)")
        )
    worst = max(rss.values(), default=0.0)
    reached = served >= target_requests
    print(
        f"loaded server's worker RSS after {served:,} requests: "
        + ", ".join(f"{mb:.0f} MB" for mb in rss.values())
        + f" -> {'yes' if worst < RSS_LIMIT_MB else 'NO'} (< {RSS_LIMIT_MB} MB each)"
        + (
            ""
            if reached
            else f"; NOT at {target_requests:,} requests: the server was too slow to reach them "
            "within BENCH_RSS_SECONDS, raise it"
        )
    )
    path = write_json(
        {
            "machine": machine(),
            "settings": {**vars_of(bench), "rounds": rounds},
            "data": {"partner_users": users, "sessions": sessions, "bots": bots},
            "rows": rows,
            "requests_served": served,
            "worker_rss_mb": list(rss.values()),
            "rss_meets": worst < RSS_LIMIT_MB if reached else None,
        },
        "growth.json",
    )
    print(f"results: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=os.environ.get("BENCH_BACKENDS", "sqlite,postgres"))
    parser.add_argument("--duration", type=float, default=env_number("BENCH_DURATION", 6))
    parser.add_argument(
        "--warmup",
        type=float,
        default=env_number("BENCH_WARMUP", 2),
        help="seconds of untimed client_credentials load on each freshly started server",
    )
    parser.add_argument("--threads", type=int, default=int(env_number("BENCH_THREADS", 1)))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--growth", action="store_true", help="the growth bench (issue 7, part 4)")
    parser.add_argument("--users", type=int, default=int(env_number("BENCH_USERS", 1_000_000)))
    parser.add_argument(
        "--sessions", type=int, default=int(env_number("BENCH_SESSIONS", 1_000_000))
    )
    parser.add_argument("--bots", type=int, default=int(env_number("BENCH_BOTS", 100_000)))
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown or not backends:
        raise SystemExit("bench: --backends takes sqlite, postgres or both (comma-separated)")
    if args.duration < 1:
        raise SystemExit("bench: BENCH_DURATION must be at least 1 second")
    if args.warmup < 0:
        raise SystemExit("bench: BENCH_WARMUP must be 0 (none) or more seconds")
    wrk.ensure_wrk()
    bench = Bench(args.duration, args.threads, args.connections, args.warmup)
    if args.growth:
        rounds = int(env_number("BENCH_GROWTH_ROUNDS", 2))
        run_growth(bench, args.users, args.sessions, args.bots, max(rounds, 1))
        return
    peer = Peer()
    peer.start()
    try:
        run_bench(bench, backends, peer)
    finally:
        peer.stop()


if __name__ == "__main__":
    main()
