"""Ridge regression as set in CSC413 W2023 Assignment 3 (book section ``csc413-a3-q1-2-2``).

The objective is the assignment's, with its factors kept exactly::

    J(w) = 1/(2n) * ||X w - t||^2 + lam * ||w||^2

Setting its gradient ``(1/n) X^T (X w - t) + 2 lam w`` to zero gives the closed form below.
"""

import numpy as np


def ridge_objective(X, t, w, lam):
    """J(w) for X of shape (n, d), t of shape (n,), w of shape (d,). Works on numpy or torch."""
    n = X.shape[0]
    r = X @ w - t
    return (r @ r) / (2 * n) + lam * (w @ w)


def ridge_closed_form(X, t, lam):
    """The unique minimiser of ``ridge_objective`` for lam > 0:
    (X^T X + 2 n lam I)^{-1} X^T t, shape (d,)."""
    n, d = X.shape
    return np.linalg.solve(X.T @ X + 2 * n * lam * np.eye(d), X.T @ t)


def fgm(x, w, eps):
    """The fast gradient method against the logit of the linear model f(x) = w.x, lowering it:
    x' = x - eps * grad_x f(x) = x - eps * w."""
    return x - eps * w


def fgsm(x, w, eps):
    """The fast gradient sign method against the same logit: x' = x - eps * sgn(w)."""
    return x - eps * np.sign(w)
