"""The beta-VAE's sprites budget: Adam steps per second of the Burgess pair on this machine, to
choose the paper-scale comparison's canvas, layout and length from.

    python benchmarks/vae_sprites.py            # about 3 minutes on 2 cores
    python benchmarks/vae_sprites.py --steps 100

Each case trains figureflow's own model (figureflow.generative.vae, architecture burgess, 10
latents, Bernoulli likelihood, batch 64, Adam 5e-4, the beta-TCVAE objective at beta 6, the
costliest) on dSprites' grid drawn here, in a fresh process as a job is, and reports steps per
second over ``--steps`` steps after 20 warm-up steps, and the whole process's time (imports, data
and set-up included). Cases: the 32 x 32 and 64 x 64 canvases on one thread, 32 x 32 on two
threads, and two one-thread processes side by side (what ``--cores 2`` runs with one job per
replicate): printed as the sum of their rates.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def case(canvas: int, threads: int, steps: int) -> dict:
    import numpy as np
    import torch

    from figureflow.generative.known_factors import draw_sprites
    from figureflow.generative.settings import DEFAULTS
    from figureflow.generative.vae import build_vae, objective_terms

    torch.set_num_threads(threads)
    sprites = draw_sprites(np.random.default_rng(0), 64 * (steps + 20), canvas)
    x = torch.as_tensor(sprites["images"].reshape(len(sprites["images"]), -1).astype(np.float32))
    options = {**DEFAULTS, "objective": "tc", "beta": 6.0, "likelihood": "bernoulli", "architecture": "burgess", "latent_dim": 10}
    model = build_vae(x.shape[1], options, 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    generator = torch.Generator().manual_seed(0)
    began = None
    for step in range(steps + 20):
        if step == 20:
            began = time.perf_counter()
        state = {"epoch": 0, "step": step, "n_train": len(x), "generator": generator}
        loss = objective_terms(model, x[step * 64 : (step + 1) * 64], None, options, state)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    rate = steps / (time.perf_counter() - began)
    return {"canvas": canvas, "threads": threads, "steps_per_s": rate, "process_s": time.perf_counter() - STARTED}


def run(canvas: int, threads: int, steps: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--case", f"{canvas},{threads}", "--steps", str(steps)], stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        canvas, threads = map(int, args.case.split(","))
        print(json.dumps(case(canvas, threads, args.steps)))
        return
    print(f"{'case':<34} {'steps/s':>8} {'process s':>10}")
    for canvas, threads in ((32, 1), (64, 1), (32, 2)):
        r = r2 = result(run(canvas, threads, args.steps if canvas == 32 else max(50, args.steps // 4)))
        print(f"{f'{canvas} x {canvas}, {threads} thread(s), alone':<34} {r['steps_per_s']:8.1f} {r['process_s']:10.1f}")
    pair = [result(p) for p in (run(32, 1, args.steps), run(32, 1, args.steps))]
    together = sum(r["steps_per_s"] for r in pair)
    print(f"{'32 x 32, two 1-thread jobs at once':<34} {together:8.1f} {max(r['process_s'] for r in pair):10.1f}"
          f"   ({pair[0]['steps_per_s']:.1f} + {pair[1]['steps_per_s']:.1f})")
    print(f"two 1-thread jobs / one 2-thread job: {together / r2['steps_per_s']:.2f}x the steps per second on 2 cores")
    steps_needed = 19_698
    per_job = steps_needed / (sum(r["steps_per_s"] for r in pair) / 2)
    print(f"the paper config's {steps_needed} steps per replicate: {per_job / 60:.1f} min of training per job at that rate, "
          f"15 jobs on 2 cores: {15 * per_job / 2 / 60:.0f} min")


if __name__ == "__main__":
    main()
