"""Generative models trained with torch: the beta-VAE and the continuous normalizing flow (CNF),
sharing one training loop.

=====================  ===============================================================
module                 what it holds
=====================  ===============================================================
``training``           what every trainer needs: device, seeded torch generators and
                       weight initialisation, held-out split, the epoch loop with early
                       stopping, a checkpoint every epoch and exact resume, progress
``vae``                encoder/decoder pairs (MLP, a small conv pair), likelihoods
                       (Gaussian, negative binomial, Bernoulli), objectives (``vae``,
                       ``beta``, ``capacity``, ``tc``), encoding, decoding, traversals
``known_factors``      data with known generative factors: an expression simulator and
                       dSprites-like sprites
``disentanglement``    MIG and SAP against known factors; PCA and FastICA baselines
``cnf``                time-conditioned vector fields, torchdiffeq solves with the exact
                       or Hutchinson trace, maximum likelihood (FFJORD, optional RNODE
                       regularisation) and flow matching, held-out NLL, the flow as a
                       Jacobian map
``toys``               2-D toys (moons, circles, eight Gaussians, pinwheel) and their true
                       densities
``settings``           both models' options, defaults and config checks (no torch import)
=====================  ===============================================================

Nothing here draws from torch's global generator: weights and minibatches come from a
``torch.Generator`` seeded through :mod:`figureflow.seeding`, so a CPU run is the same for a seed.
"""
