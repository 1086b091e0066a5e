"""`make bench`: every benchmark in turn, each printing its table.

    python -m bench                 # all
    python -m bench train decode    # some

Most need ../shared/data beside the repository and say so when it is missing. They take minutes each on
2 cores (`quality`, hours, runs only when named); never run two at once (they would measure each other).
"""

from __future__ import annotations

import importlib
import sys

ALL = ["prepare", "train", "decode", "peers", "ct2", "exposure_bias", "robustness", "threads", "precision"]
LONG = ["quality"]  # hours: run by name only (`python -m bench quality`, or `python -m bench.quality --only ...`)


def main(argv: list[str]) -> int:
    names = argv or ALL
    unknown = [n for n in names if n not in ALL + LONG]
    if unknown:
        print(f"bench: unknown benchmark {unknown[0]!r}; choose from: {', '.join(ALL + LONG)}", file=sys.stderr)
        return 2
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"bench.{name}":
                print(f"bench.{name}: not written yet", file=sys.stderr)
                continue
            raise
        print(f"\n== bench.{name}", flush=True)
        code = module.main([])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
