"""Variational autoencoders with disentangling objectives (torch).

Model: an encoder ``q(z | x) = N(mu(x), diag exp(logvar(x)))``, a prior ``p(z) = N(0, I)`` and a
decoder ``p(x | z)``, one of the :data:`LIKELIHOODS`:

* ``gaussian``: ``N(x; m(z), exp(2 s))`` per feature, ``s`` a learned log scale per feature;
* ``nb``: negative binomial on counts with mean ``l * softmax(m(z))`` for the cell's observed
  library size ``l`` and a learned inverse dispersion per gene (as scVI does); the encoder reads
  ``log1p`` counts;
* ``bernoulli``: ``x`` in {0, 1} with logits ``m(z)`` (binary images).

Encoder and decoder are MLPs (``hidden`` sizes, SiLU), or for square images (``architecture:
conv``) three stride-2 4x4 convolutions (32, 32, 64 channels) and their transposes, or
(``architecture: burgess``) the pair of Burgess et al. (2018) that disentanglement_lib also uses:
stride-2 4x4 convolutions of 32 channels down to 4 x 4 pixels (four at 64 x 64, three at
32 x 32), two dense layers of 256, ReLU, and the mirror image for the decoder.

Objectives, per sample, with ``R = -E_q log p(x | z)`` (one reparameterised draw) and ``KL =
KL(q(z | x) || p(z))`` in closed form (:func:`kl_standard_normal`):

=============  ====================================================================================
``vae``        ``R + w KL``                                           (Kingma and Welling 2014)
``beta``       ``R + w beta KL``                                      (Higgins et al. 2017)
``capacity``   ``R + gamma |KL - C|``, ``C`` raised linearly from 0 to ``C_max`` nats over
               ``C_steps`` minibatches                                (Burgess et al. 2018)
``tc``         ``R + w KL + (beta - 1) TC``, the total correlation ``KL(q(z) || prod_j q(z_j))``
               estimated by minibatch-weighted sampling              (Chen et al. 2018)
=============  ====================================================================================

``w`` is the KL warm-up factor, ``min(1, epoch / warmup_epochs)`` (1 without warm-up). Whatever
the objective, the held-out loss is the negative ELBO ``R + KL`` (the ``vae`` objective), so that
early stopping and the reported ELBO compare across objectives.

The package: :mod:`~figureflow.generative.vae.likelihoods` (likelihoods, KL, total correlation,
capacity), :mod:`~figureflow.generative.vae.models` (the networks),
:mod:`~figureflow.generative.vae.objectives` (a minibatch's loss, the held-out terms) and
:mod:`~figureflow.generative.vae.run` (training a replicate, what it learned, encodings,
traversals, gathering, saving); this face re-exports their public names.
"""

from __future__ import annotations

from figureflow.generative.settings import ARCHITECTURES, DEFAULTS, LIKELIHOODS, OBJECTIVES
from figureflow.generative.vae.likelihoods import LOG_2PI, bernoulli_log_likelihood, capacity, gaussian_log_likelihood, kl_standard_normal, nb_log_likelihood, total_correlation
from figureflow.generative.vae.models import VAE, build_vae, burgess_convolutions
from figureflow.generative.vae.objectives import EVALUATION_ROWS, held_out_terms, objective_terms
from figureflow.generative.vae.run import ACTIVE_UNIT_KL, constant_reconstruction, decode_mean, decoder_function, encode, gather_replicates, keep_rule, kl_per_dimension, latent_arrays, learned_nothing, load_model, save_model, train_replicate, train_vae, training_data, traversal_base, traversal_contrast, traverse

__all__ = [
    "LIKELIHOODS",
    "OBJECTIVES",
    "ARCHITECTURES",
    "DEFAULTS",
    "kl_standard_normal",
    "gaussian_log_likelihood",
    "nb_log_likelihood",
    "bernoulli_log_likelihood",
    "total_correlation",
    "capacity",
    "VAE",
    "build_vae",
    "objective_terms",
    "train_vae",
    "encode",
    "decode_mean",
    "traverse",
    "decoder_function",
    "save_model",
    "load_model",
    "training_data",
    "kl_per_dimension",
    "train_replicate",
    "gather_replicates",
    "constant_reconstruction",
    "learned_nothing",
    "traversal_contrast",
    "traversal_base",
    "ACTIVE_UNIT_KL",
    "keep_rule",
    "held_out_terms",
    "burgess_convolutions",
    "latent_arrays",
    "LOG_2PI",
    "EVALUATION_ROWS",
]
