"""Redrawing a Jacobian figure: from the grid a compute rule wrote, against rebuilding the map.

    python benchmarks/figures.py            # about a minute on 2 cores
    python benchmarks/figures.py --repeats 1

For the demo's maps ``toy`` (numba) and ``decoder`` (a torch MLP), with the schema's grid sizes
(D over 121 x 121 points, the image over 61 x 61), each path runs as a figure job does: a fresh
Python process that imports what it needs, computes or reads, draws both figures (D over the
grid, the image coloured by D) and saves them as PNG and PDF. The time is the whole process,
start-up included, as the parent sees it (median of the repeats).

* reference: what plot_jacobian and plot_jacobian_image did before figures were drawn from
  tables: resolve the map (numba compile, or torch import and weights), compute D and x over both
  grids (figureflow.jacobian.measure.latent_grid), draw;
* fast path: read results/jacobian/{map}/grid.npz (written once by jacobian_grid) and draw.

Both paths' figures are compared byte for byte, and the arrays they drew are compared exactly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
GRID, IMAGE, EXTENT = 121, 61, 3.0
MAPS = ("toy", "decoder")


def demo_map(name: str):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return config["jacobian"]["maps"][name], config["seed"]


def draw(arrays: dict, name: str, out: Path) -> None:
    from figureflow.plotting.jacobian import plot_image_coloured, plot_volume_grid
    from figureflow.plotting.style import save_figure

    save_figure(plot_volume_grid(arrays["axis"], arrays["volume"], int(arrays["latent_dim"]), title=name), out / "volume.png", out / "volume.pdf")
    save_figure(plot_image_coloured(arrays["image_points"], arrays["image_volume"], title=name), out / "image.png", out / "image.pdf")


def case_rebuild(name: str, out: Path) -> None:
    """The reference: rebuild the map, compute both grids, draw."""
    from figureflow.jacobian.measure import figure_grids
    from figureflow.maps import resolve_map

    spec, seed = demo_map(name)
    arrays = figure_grids(resolve_map(name, spec, seed), GRID, EXTENT, IMAGE, n_threads=1)
    draw(arrays, name, out)
    import numpy as np

    np.savez(out / "drawn.npz", **arrays)


def case_from_grid(name: str, out: Path, grid: Path) -> None:
    """The fast path: read the grid the compute rule wrote, draw."""
    from figureflow.io import read_arrays

    arrays = read_arrays(grid, ["latent_dim", "axis", "volume", "image_points", "image_volume"])
    draw(arrays, name, out)


def case_write_grid(name: str, grid: Path) -> None:
    """What the jacobian_grid job writes (setup of the fast path, not timed)."""
    from figureflow.io import write_arrays
    from figureflow.jacobian.measure import figure_grids
    from figureflow.maps import resolve_map

    spec, seed = demo_map(name)
    write_arrays(grid, **figure_grids(resolve_map(name, spec, seed), GRID, EXTENT, IMAGE, n_threads=1))


def timed_process(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["rebuild", "from_grid", "write_grid"])
    parser.add_argument("--map", choices=MAPS)
    parser.add_argument("--out")
    parser.add_argument("--grid")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.case == "rebuild":
        return case_rebuild(args.map, Path(args.out))
    if args.case == "from_grid":
        return case_from_grid(args.map, Path(args.out), Path(args.grid))
    if args.case == "write_grid":
        return case_write_grid(args.map, Path(args.grid))

    import numpy as np

    print(f"Redrawing the Jacobian figures (D over {GRID}x{GRID}, image over {IMAGE}x{IMAGE}), fresh process each, median of {args.repeats}")
    print(f"{'map':<9} {'rebuild map + grids + draw':>27} {'read grid.npz + draw':>21} {'ratio':>6}  figures identical  arrays identical")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in MAPS:
            grid = tmp / f"{name}.grid.npz"
            subprocess.run([sys.executable, __file__, "--case", "write_grid", "--map", name, "--grid", str(grid)], check=True)
            slow, fast = [], []
            for r in range(args.repeats):
                for case, times in (("rebuild", slow), ("from_grid", fast)):
                    out = tmp / f"{name}.{case}.{r}"
                    out.mkdir()
                    times.append(timed_process("--case", case, "--map", name, "--out", str(out), "--grid", str(grid)))
            a, b = tmp / f"{name}.rebuild.0", tmp / f"{name}.from_grid.0"
            same_figures = all((a / f).read_bytes() == (b / f).read_bytes() for f in ("volume.png", "volume.pdf", "image.png", "image.pdf"))
            with np.load(a / "drawn.npz") as drawn, np.load(grid) as stored:
                same_arrays = all(np.array_equal(drawn[k], stored[k]) for k in stored.files)
            slow_s, fast_s = statistics.median(slow), statistics.median(fast)
            results[name] = {"rebuild_s": slow_s, "from_grid_s": fast_s, "figures_identical": same_figures, "arrays_identical": same_arrays}
            print(f"{name:<9} {slow_s:>25.2f} s {fast_s:>19.2f} s {slow_s / fast_s:>5.1f}x  {str(same_figures):<17}  {same_arrays}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
