"""Input dropout in linear regression, in closed form (book section ``csc413-a3-dropout-a``).

As everywhere in the book, ``p`` is the probability of *dropping* an input (the argument of
``torch.nn.Dropout``). Input ``j`` is kept when ``m_j = 1``, ``m_j ~ Bernoulli(1 - p)``, and the
kept inputs are scaled by ``1 / (1 - p)``, so the prediction for one example is
``y~ = 1/(1-p) sum_j m_j w_j x_j``. Its mean is the plain prediction ``w.x`` and its variance
``p/(1-p) * sum_j w_j^2 x_j^2``. Averaged over the masks, the cost
``J = 1/(2N) sum_i (y~_i - t_i)^2`` is the plain cost plus a data-dependent ridge penalty.
(The CSC413 assignment states the question with the keep probability; its ``p`` is ``1 - p`` here.)
"""

import numpy as np


def dropout_moments(w, x, p):
    """Mean and variance of the dropout prediction for one input ``x`` (drop probability ``p``)."""
    return w @ x, p / (1 - p) * np.sum(w**2 * x**2)


def dropout_penalty(X, w, p):
    """The penalty dropout adds to the expected cost: ``p/(2(1-p)) * sum_j w_j^2 * mean_i x_ij^2``."""
    return p / (2 * (1 - p)) * np.sum(w**2 * np.mean(X**2, axis=0))


def expected_dropout_cost(X, t, w, p):
    """``E_m[J]`` for ``J = 1/(2N) sum_i (y~_i - t_i)^2``: plain cost plus the dropout penalty."""
    return np.mean((X @ w - t) ** 2) / 2 + dropout_penalty(X, w, p)


def dropout_minimizer(X, t, p):
    """The weights that minimize the expected cost: ``(X^T X + p/(1-p) diag(X^T X))^{-1} X^T t``."""
    gram = X.T @ X
    return np.linalg.solve(
        gram + p / (1 - p) * np.diag(np.diag(gram)), X.T @ t
    )


def matching_gaussian_variance(p):
    """The variance ``sigma^2`` of multiplicative noise ``(1 + eps_j)``, ``eps_j ~ N(0, sigma^2)``,
    that gives the same mean and variance, hence the same expected cost, as dropout with drop
    probability ``p``: ``p / (1 - p)``."""
    return p / (1 - p)
