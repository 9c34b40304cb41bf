"""`make bench` / `python -m bench [name …]`: every benchmark, each printing its figures beside a
baseline measured in the same run. Numbers, never assertions. Several benchmarks run one after
another, each in a process of its own, so that one's caches and heap do not weigh on the next's
time and memory figures."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from bench import cluster, delivery, matching, pipeline, polling, scheduling

BENCHMARKS = ("pipeline", "matching", "polling", "scheduling", "delivery", "cluster")


def run(name: str) -> None:
    if name == "pipeline":
        pipeline.main()
    elif name == "polling":
        asyncio.run(polling.main())
    elif name == "scheduling":
        asyncio.run(scheduling.main())
    elif name == "cluster":
        cluster.main()
    elif name == "matching":
        matching.main()
    elif name == "delivery":
        delivery.main()


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    names = [name for name in BENCHMARKS if name in argv] if argv else list(BENCHMARKS)
    if len(names) == 1:
        run(names[0])
        return 0
    failed = 0
    for name in names:
        failed |= subprocess.run([sys.executable, "-m", "bench", name], check=False).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
