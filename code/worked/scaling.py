"""Compute-optimal scaling from IsoFLOP profiles (book chapter "Scaling laws").

Training compute is counted as C = 6 N D floating-point operations: N non-embedding parameters,
D tokens processed, 2 N per token for the forward pass (a multiply and an add per weight) and
4 N for the backward pass (gradients with respect to activations and to weights)
(Kaplan et al., 2020; Hoffmann et al., 2022). Attention scores and the embedding and output
layers are left out of N, as in those papers.

- ``training_flops``: 6 N D.
- ``isoflop_vertex``: a quadratic fit of loss against log N at one budget, and its minimum.
- ``power_law_fit``: the straight line log y = a log x + b, for N_opt against C.
"""

import numpy as np


def training_flops(n_params, n_tokens):
    """C = 6 N D: the forward and backward passes over D tokens of a model with N parameters."""
    return 6.0 * n_params * n_tokens


def isoflop_vertex(n_params, losses):
    """Fit loss = a (ln N)^2 + b ln N + c to the models of one FLOP budget.

    Returns (a, b, c) and the fitted optimum N* = exp(-b / (2a)); the optimum is a minimum only
    if a > 0, which the caller checks, together with N* lying inside the sampled sizes.
    """
    a, b, c = np.polyfit(np.log(n_params), losses, 2)
    return (a, b, c), float(np.exp(-b / (2 * a)))


def power_law_fit(x, y):
    """Least-squares line through (ln x, ln y): returns (exponent, prefactor) of y = prefactor * x**exponent."""
    exponent, log_prefactor = np.polyfit(np.log(x), np.log(y), 1)
    return float(exponent), float(np.exp(log_prefactor))
