"""Compute-optimal scaling from IsoFLOP profiles (book chapter "Scaling laws").

Training compute is counted as C = 6 N D floating-point operations: N non-embedding parameters,
D tokens processed, 2 N per token for the forward pass (a multiply and an add per weight) and
4 N for the backward pass (gradients with respect to activations and to weights)
(Kaplan et al., 2020; Hoffmann et al., 2022). Attention scores and the embedding and output
layers are left out of N, as in those papers.

- ``training_flops``: 6 N D.
- ``isoflop_vertex``: a quadratic fit of loss against log N at one budget, and its minimum.
- ``power_law_fit``: the straight line log y = a log x + b, for N_opt against C.
- ``isoflop_analysis``: both steps on a grid of losses, with each quadratic's R^2 and residuals.
- ``chinchilla_loss``: L(N, D) = E + A / N^a + B / D^b, a loss with a known compute-optimal
  exponent b / (a + b), to check the analysis on before trusting it with measured losses.
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


def chinchilla_loss(
    n_params, n_tokens, E=1.69, A=406.4, B=410.7, a=0.34, b=0.28
):
    """The parametric loss of Hoffmann et al. (2022), with their fitted constants by default.
    At a fixed C = 6 N D its minimum over N is at N* proportional to C^(b / (a + b))."""
    return E + A / np.asarray(n_params) ** a + B / np.asarray(n_tokens) ** b


def isoflop_analysis(n_params, losses, budgets):
    """IsoFLOP analysis of losses (sizes, budgets) measured for n_params at FLOP budgets:
    the vertex of a quadratic in ln N per budget (isoflop_vertex), then the power law
    N* = k C^alpha through the vertices (power_law_fit). Returns a dict: optima (budgets,),
    tokens D* = C / (6 N*) (budgets,), curvature a (budgets,), r2 and max_residual (budgets,)
    of each quadratic, alpha and k."""
    log_n = np.log(n_params)
    optima, curvature, r2, worst = [], [], [], []
    for column in np.asarray(losses, dtype=float).T:
        coefficients, n_star = isoflop_vertex(n_params, column)
        residuals = column - np.polyval(coefficients, log_n)
        optima.append(n_star)
        curvature.append(coefficients[0])
        r2.append(
            1 - np.sum(residuals**2) / np.sum((column - column.mean()) ** 2)
        )
        worst.append(np.abs(residuals).max())
    alpha, k = power_law_fit(budgets, optima)
    optima = np.array(optima)
    return {
        "optima": optima,
        "tokens": budgets / training_flops(optima, 1),
        "curvature": np.array(curvature),
        "r2": np.array(r2),
        "max_residual": np.array(worst),
        "alpha": alpha,
        "k": k,
    }
