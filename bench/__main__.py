"""`make bench` / `python -m bench`: every benchmark, each printing its figures beside a baseline
measured in the same run. Numbers, never assertions."""

from __future__ import annotations

import asyncio
import sys

from bench import cluster, delivery, matching, pipeline, polling, scheduling


def main(argv: list[str]) -> int:
    which = set(argv) or {"pipeline", "matching", "polling", "scheduling", "delivery", "cluster"}
    if "pipeline" in which:
        pipeline.main()
    if "polling" in which:
        asyncio.run(polling.main())
    if "scheduling" in which:
        asyncio.run(scheduling.main())
    if "cluster" in which:
        cluster.main()
    if "matching" in which:
        matching.main()
    if "delivery" in which:
        delivery.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
