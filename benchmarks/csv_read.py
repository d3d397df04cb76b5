"""How long nas takes to read a CSV, beside pandas.read_csv of the same file: a 200,000 x 31 file
(28 numbers, two text columns of 4 and 50 categories, a 0/1 target), written once from a seeded
generator into the system's temporary folder (the same bytes for each checkout timed).

    .venv/bin/python benchmarks/csv_read.py --tag new
    PYTHONPATH=OLD_CHECKOUT .venv/bin/python benchmarks/csv_read.py --tag old   # a checkout before

Three timings, each the quickest of ``--repeats`` in this process, on one thread: pandas'
``read_csv``; ``nas.data.csvfile.read_table`` (the file read as people have them: a sniffed
delimiter, the header's names as written, text cells stripped, blanks missing); and
``nas.data.load_file`` (all of it: the notes on columns, the split, the fitted preprocessing).
Writes benchmarks/results/csv_read-TAG.json with the nas commit it ran on.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from _cli import parser, positive_int

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def make_file(path: Path, rows: int) -> Path:
    """The seeded file (kept for the next run)."""
    if path.is_file():
        return path
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 28)).round(4), columns=[f"x{i}" for i in range(28)])
    frame["cat"] = rng.choice(["a", "b", "c", "d"], rows)
    frame["cat2"] = rng.choice([f"k{i}" for i in range(50)], rows)
    frame["y"] = (frame.x0 + frame.x1 > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def quickest(work, repeats: int) -> float:  # noqa: ANN001 -- a callable
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = parser(__doc__, "csv_read-TAG.json")
    p.add_argument("--tag", default="new", help="names the results file")
    p.add_argument("--rows", type=positive_int, default=200_000)
    p.add_argument("--repeats", type=positive_int, default=3)
    args = p.parse_args()

    import pandas as pd
    import torch

    import nas
    from nas.data import load_file
    from nas.data.csvfile import read_table

    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = make_file(Path(tempfile.gettempdir()) / f"nas-csv-read-{args.rows}.csv", args.rows)
    seconds = {
        "pandas.read_csv": quickest(lambda: pd.read_csv(path), args.repeats),
        "nas read_table": quickest(lambda: read_table(path), args.repeats),
        "nas load_file": quickest(lambda: load_file(path, target="y"), args.repeats),
    }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(nas.__file__).parent,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    for name, s in seconds.items():
        print(f"{name:16s} {s:6.2f} s  ({s / seconds['pandas.read_csv']:.1f}x pandas)")
    out = RESULTS / f"csv_read-{args.tag}.json"
    out.write_text(json.dumps({"rows": args.rows, "columns": 31, "nas_commit": commit,
                               "seconds": seconds}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
