"""Tests of worked.ridge: the closed form against autograd, scikit-learn and scipy."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn.linear_model import Ridge

from worked.ridge import fgm, fgsm, ridge_closed_form, ridge_objective

problems = st.tuples(
    st.integers(2, 12),  # n
    st.integers(1, 6),  # d
    st.floats(1e-3, 10.0),  # lam
    st.integers(0, 2**32 - 1),  # seed
)


def make_problem(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def autograd_gradient(X, t, w, lam):
    """dJ/dw at w by torch autograd through ridge_objective on float64 tensors."""
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    J = ridge_objective(torch.tensor(X, dtype=torch.float64), torch.tensor(t, dtype=torch.float64), wt, lam)
    (g,) = torch.autograd.grad(J, wt)
    return g.numpy()


def gradient_scale(X, t, w, lam):
    """Size of the terms that cancel in the gradient, for a relative tolerance."""
    n = X.shape[0]
    return np.linalg.norm(X, 2) ** 2 / n * np.linalg.norm(w) + np.linalg.norm(X.T @ t) / n + 2 * lam * np.linalg.norm(w)


@settings(max_examples=150, deadline=None)
@given(problems)
def test_objective_matches_direct_formula(problem):
    n, d, lam, seed = problem
    X, t = make_problem(n, d, seed)
    w = np.random.default_rng(seed + 1).standard_normal(d)
    expected = sum((X[i] @ w - t[i]) ** 2 for i in range(n)) / (2 * n) + lam * sum(wj**2 for wj in w)
    assert np.isclose(ridge_objective(X, t, w, lam), expected, rtol=1e-12, atol=1e-14)
    as_torch = ridge_objective(torch.tensor(X), torch.tensor(t), torch.tensor(w), lam)
    assert np.isclose(float(as_torch), expected, rtol=1e-12, atol=1e-14)


@settings(max_examples=150, deadline=None)
@given(problems)
def test_autograd_gradient_vanishes_at_closed_form(problem):
    n, d, lam, seed = problem
    X, t = make_problem(n, d, seed)
    w = ridge_closed_form(X, t, lam)
    assert w.shape == (d,)
    g = autograd_gradient(X, t, w, lam)
    assert np.linalg.norm(g) <= 1e-12 * gradient_scale(X, t, w, lam) + 1e-15


@settings(max_examples=150, deadline=None)
@given(problems)
def test_closed_form_matches_sklearn(problem):
    n, d, lam, seed = problem
    X, t = make_problem(n, d, seed)
    w = ridge_closed_form(X, t, lam)
    # sklearn minimises ||X w - t||^2 + alpha ||w||^2 = 2n J(w) with alpha = 2 n lam.
    model = Ridge(alpha=2 * n * lam, fit_intercept=False).fit(X, t)
    np.testing.assert_allclose(w, model.coef_, rtol=1e-8, atol=1e-10)


@settings(max_examples=100, deadline=None)
@given(problems)
def test_closed_form_matches_scipy_minimize(problem):
    n, d, lam, seed = problem
    X, t = make_problem(n, d, seed)
    w = ridge_closed_form(X, t, lam)

    res = minimize(
        lambda v: float(ridge_objective(X, t, v, lam)),
        np.zeros(d),
        jac=lambda v: autograd_gradient(X, t, v, lam),
        method="BFGS",
        options=dict(gtol=1e-11, maxiter=1000),
    )
    # The Hessian X^T X / n + 2 lam I has smallest eigenvalue >= 2 lam >= 2e-3, so a gradient
    # of 1e-9 puts the iterate within 5e-7 of the minimiser.
    np.testing.assert_allclose(res.x, w, rtol=1e-6, atol=1e-6)
    assert ridge_objective(X, t, w, lam) <= res.fun + 1e-12 * (1 + abs(res.fun))


@settings(max_examples=100, deadline=None)
@given(problems)
def test_closed_form_beats_random_perturbations(problem):
    n, d, lam, seed = problem
    X, t = make_problem(n, d, seed)
    w = ridge_closed_form(X, t, lam)
    J0 = ridge_objective(X, t, w, lam)
    rng = np.random.default_rng(seed + 2)
    for eps in (1e-4, 1e-2, 1.0):
        for _ in range(10):
            dw = eps * rng.standard_normal(d)
            # J is quadratic: J(w + dw) - J(w) = g.dw + ||X dw||^2/(2n) + lam ||dw||^2 with g = 0.
            curvature = np.sum((X @ dw) ** 2) / (2 * n) + lam * dw @ dw
            J1 = ridge_objective(X, t, w + dw, lam)
            assert J1 - J0 >= 0.5 * curvature - 1e-12 * (1 + abs(J0))


def test_wrong_formula_does_not_zero_the_gradient():
    # (X^T X + n lam I)^{-1} X^T t minimises the objective with lam/2 in place of lam: a
    # common slip.  There the gradient of J is (1/n) X^T (X w - t) + 2 lam w = lam w != 0.
    n, d, lam = 20, 4, 0.5
    X, t = make_problem(n, d, seed=2023)
    w_bad = np.linalg.solve(X.T @ X + n * lam * np.eye(d), X.T @ t)
    w_good = ridge_closed_form(X, t, lam)

    g_bad = autograd_gradient(X, t, w_bad, lam)
    assert np.linalg.norm(w_bad) > 0.1
    assert np.linalg.norm(g_bad) > 0.05
    np.testing.assert_allclose(g_bad, lam * w_bad, rtol=1e-9, atol=1e-12)  # the hand derivation above
    assert np.linalg.norm(autograd_gradient(X, t, w_good, lam)) < 1e-12
    assert not np.allclose(w_bad, w_good, rtol=1e-3, atol=1e-3)
    assert ridge_objective(X, t, w_good, lam) < ridge_objective(X, t, w_bad, lam) - 1e-6


@given(st.integers(1, 8), st.floats(0.01, 5), st.integers(0, 2**32 - 1))
def test_attacks_on_a_linear_logit(d, eps, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=d), rng.normal(size=d)
    xt = torch.tensor(x, requires_grad=True)
    (torch.tensor(w) @ xt).backward()
    np.testing.assert_allclose(fgm(x, w, eps), x - eps * xt.grad.numpy())  # FGM follows the autograd gradient
    np.testing.assert_allclose(w @ fgm(x, w, eps), w @ x - eps * w @ w)
    np.testing.assert_allclose(np.abs(fgsm(x, w, eps) - x).max(), eps)    # FGSM moves every coordinate by eps
    np.testing.assert_allclose(w @ fgsm(x, w, eps), w @ x - eps * np.abs(w).sum())
