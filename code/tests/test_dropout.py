"""worked.dropout: closed forms against exact enumeration of every dropout mask."""

import itertools

import numpy as np
from hypothesis import given, strategies as st

from worked.dropout import (dropout_minimizer, dropout_moments, expected_dropout_cost,
                            matching_gaussian_variance)

drop = st.floats(0.05, 0.95)  # drop probability p, as in the book


def masks(d, p):
    """Every keep-mask of d inputs with its probability (each input kept with probability 1 - p)."""
    for m in itertools.product([0, 1], repeat=d):
        m = np.array(m)
        yield m, (1 - p) ** m.sum() * p ** (d - m.sum())


@given(st.integers(1, 6), drop, st.integers(0, 2**32 - 1))
def test_moments_and_cost_equal_the_average_over_all_masks(d, p, seed):
    rng = np.random.default_rng(seed)
    X, t, w = rng.normal(size=(5, d)), rng.normal(size=5), rng.normal(size=d)
    mean = var = cost = 0.0
    m1, v1 = dropout_moments(w, X[0], p)
    for m, prob in masks(d, p):
        preds = X @ (m * w) / (1 - p)
        cost += prob * np.mean((preds - t) ** 2) / 2
        mean += prob * preds[0]
        var += prob * preds[0] ** 2
    np.testing.assert_allclose(mean, m1, atol=1e-10)
    np.testing.assert_allclose(var - mean**2, v1, atol=1e-9)
    np.testing.assert_allclose(cost, expected_dropout_cost(X, t, w, p), atol=1e-9)


@given(st.integers(1, 5), drop, st.integers(0, 2**32 - 1))
def test_minimizer_zeroes_the_gradient_of_the_expected_cost(d, p, seed):
    rng = np.random.default_rng(seed)
    X, t = rng.normal(size=(20, d)), rng.normal(size=20)
    w = dropout_minimizer(X, t, p)
    h = 1e-6
    grad = [(expected_dropout_cost(X, t, w + h * e, p) - expected_dropout_cost(X, t, w - h * e, p)) / (2 * h)
            for e in np.eye(d)]
    np.testing.assert_allclose(grad, 0, atol=1e-6)


@given(drop)
def test_matching_variance_gives_dropouts_variance(p):
    # Var[(1 + eps) c] = sigma^2 c^2 must equal Var[m c / (1-p)] / c^2, with m = 1 (probability
    # 1 - p: value 1/(1-p), deviation 1/(1-p) - 1) or m = 0 (probability p: deviation -1)
    np.testing.assert_allclose(matching_gaussian_variance(p), (1 - p) * (1 / (1 - p) - 1) ** 2 + p * 1)
