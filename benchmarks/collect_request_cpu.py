"""CPU per rater-app request, in one process and one thread: where a page's time goes, free of load noise.

Runs the rater app in-process (httpx's ASGI transport; the sync routes run inline instead of in the thread
pool, so one thread does all the work and `time.process_time` is the request's CPU) on a fresh SQLite store
and has one rater loop N times: task page -> answer -> redirect to the next task. Prints the mean CPU ms of
each request kind (the in-process client's share included); `--profile FILE` also writes a cProfile of the
loop (`python -m pstats FILE`).

    python benchmarks/collect_request_cpu.py --loops 300
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import re
import sys
import tempfile
import time
from pathlib import Path

import fastapi.dependencies.utils
import fastapi.routing
import httpx

sys.path.insert(0, str(Path(__file__).parent))
from collect_load import CSRF, OBJECTIVES, TASK, prepare  # noqa: E402

from tether.server import create_app  # noqa: E402


async def _inline(func, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    return func(*args, **kwargs)


# one thread does everything: the route's CPU is this thread's CPU
fastapi.routing.run_in_threadpool = _inline
fastapi.dependencies.utils.run_in_threadpool = _inline


async def loop(url: str, token: str, loops: int, profile: cProfile.Profile | None) -> dict[str, list[float]]:
    app = create_app(url)
    cpu: dict[str, list[float]] = {"task_page": [], "answer_post": [], "next_redirect": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def timed(kind: str, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN003
            t0 = time.process_time()
            response = await client.request(method, path, **kw)
            cpu[kind].append(time.process_time() - t0)
            return response

        link = await client.get(f"/collect/r/{token}")
        signed_in = await client.post("/collect/r", data={"token": token, "csrf_token": CSRF.search(link.text)[1]})
        match = TASK.search((await client.get(signed_in.headers["location"])).text)
        if profile:
            profile.enable()
        for _ in range(loops):
            page = await timed("task_page", "GET", match[1])
            data = {"csrf_token": CSRF.search(page.text)[1], **{f"choice_{o}": "first" for o in OBJECTIVES},
                    "confidence": "0.75"}
            answer = await timed("answer_post", "POST", match[1], data=data)
            if answer.status_code != 303:
                raise RuntimeError(f"answer refused: {answer.status_code} {answer.text[:200]}")
            nxt = await timed("next_redirect", "GET", answer.headers["location"])
            match = re.match(r"(.*/rater/tasks/\d+)$", nxt.headers.get("location", ""))
            if match is None:
                raise RuntimeError("the queue ran dry: raise --items")
        if profile:
            profile.disable()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loops", type=int, default=300)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the loop here")
    args = parser.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='tether-cpu-')) / 'tether.db'}"
    token = next(iter(prepare(url, 5, args.items).values()))
    profile = cProfile.Profile() if args.profile else None
    cpu = asyncio.run(loop(url, token, args.loops, profile))
    for kind, values in cpu.items():
        print(f"{kind:14s} mean CPU {1000 * sum(values) / len(values):6.2f} ms over {len(values)} requests")
    total = sum(sum(v) for v in cpu.values()) / args.loops
    print(f"{'one loop':14s} mean CPU {1000 * total:6.2f} ms")
    if profile:
        profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
