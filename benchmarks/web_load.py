"""Load test of the dashboards' JSON: N concurrent users fetching cached analyses.

    python benchmarks/web_load.py                           # a generated shop (20k customers)
    python benchmarks/web_load.py --workspace demo/          # an existing workspace (the demo)
    python benchmarks/web_load.py --users 20 --seconds 20 --customers 50000

The server runs in its own process (uvicorn, one worker, loopback only), as
``jornada serve`` does; the users are threads with their own ``httpx`` client and an API
token, each fetching the JSON of the dashboards' analyses in turn (the JSON a dashboard
page draws). Every URL is fetched once first, so the measured requests are cache hits
(the issue's target: p99 <= 300 ms for cached dashboard JSON, 0 errors). The run is
bounded by ``--seconds``. Prints p50/p90/p99/max latency, requests per second and
errors; the exit status is 1 when any request failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

# The JSON the dashboards fetch (formats plotly and table, as the pages ask for them).
DASHBOARD_URLS = (
    "/api/analyses/funnel?steps=product_view,add_to_cart,purchase&window=30d&format=plotly",
    "/api/analyses/funnel?steps=product_view,add_to_cart,purchase&window=30d&format=table",
    "/api/analyses/sankey?steps=4&format=plotly",
    "/api/analyses/transitions?format=plotly",
    "/api/analyses/variants?top=15&format=table",
    "/api/analyses/attribution?conversion=purchase&format=plotly",
    "/api/analyses/attribution?conversion=purchase&format=table",
    "/api/analyses/retention?period=week&periods=12&format=plotly",
    "/api/analyses/lifecycle?period=week&format=plotly",
    "/api/analyses/funnel?steps=product_view,purchase&channel=web&format=json",
    "/dashboards.json",
)


def _serve(root: str, port: int) -> None:
    import uvicorn

    from jornada.accounts import AppState, state_url
    from jornada.web import create_app
    from jornada.workspace import Workspace

    workspace = Workspace.open(Path(root))
    app = create_app(workspace, state=AppState.open(state_url(workspace.root)))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uvicorn.Server(config).run()


def _started(base: str, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def _workspace(args: argparse.Namespace) -> Path:
    if args.workspace is not None:
        return Path(args.workspace)
    from jornada.demo import create_demo_workspace

    root = Path(tempfile.mkdtemp(prefix="jornada-web-load-")) / "shop"
    print(f"generating a shop of {args.customers:,} customers in {root} ...", flush=True)
    create_demo_workspace(root, customers=args.customers)
    return root


def _token(root: Path) -> str:
    """An API token of a (new) viewer of the workspace."""
    import secrets

    from jornada.accounts import AppState, state_url, workspace_key
    from jornada.accounts.tokens import create_token
    from jornada.accounts.users import add_user
    from jornada.workspace import Workspace

    workspace = Workspace.open(root)
    state = AppState.open(state_url(root))
    try:
        email = f"load-{secrets.token_hex(4)}@jornada.local"
        user = add_user(state, workspace_key(workspace), email, role="viewer")
        return create_token(state, user.user.id, "web load test").secret
    finally:
        state.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="An existing workspace with events.")
    parser.add_argument("--customers", type=int, default=20_000, help="Size of a generated shop.")
    parser.add_argument("--users", type=int, default=20, help="Concurrent users.")
    parser.add_argument("--seconds", type=float, default=15.0, help="Length of the run.")
    args = parser.parse_args()

    root = _workspace(args)
    try:
        return _run(args, root)
    finally:
        if args.workspace is None:  # a generated shop is thrown away
            shutil.rmtree(root.parent, ignore_errors=True)


def _run(args: argparse.Namespace, root: Path) -> int:
    token = _token(root)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    context = multiprocessing.get_context("spawn")
    server = context.Process(target=_serve, args=(str(root), port), daemon=True)
    server.start()
    try:
        if not _started(base):
            print("the server did not start", file=sys.stderr)
            return 1
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            started = time.perf_counter()
            for url in DASHBOARD_URLS:  # warm the cache: the run measures cached answers
                client.get(url).raise_for_status()
            print(f"cache warmed in {time.perf_counter() - started:.1f} s", flush=True)

        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        deadline = time.perf_counter() + args.seconds

        def user(offset: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                index = offset
                while time.perf_counter() < deadline:
                    url = DASHBOARD_URLS[index % len(DASHBOARD_URLS)]
                    index += 1
                    begin = time.perf_counter()
                    try:
                        response = client.get(url)
                        ok = response.status_code == 200
                        problem = f"{response.status_code} {url}"
                    except httpx.HTTPError as error:
                        ok, problem = False, f"{type(error).__name__} {url}"
                    elapsed = time.perf_counter() - begin
                    with lock:
                        latencies.append(elapsed)
                        if not ok:
                            errors.append(problem)

        threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
        begin = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - begin
    finally:
        server.terminate()
        server.join(10)

    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    print(
        f"{args.users} users, {wall:.1f} s, {len(ordered):,} requests, "
        f"{len(ordered) / wall:,.0f} requests/s"
    )
    print(
        f"latency ms: p50 {percentile(50):.1f}  p90 {percentile(90):.1f}  "
        f"p99 {percentile(99):.1f}  max {ordered[-1] * 1000:.1f}  "
        f"mean {statistics.fmean(ordered) * 1000:.1f}"
    )
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
