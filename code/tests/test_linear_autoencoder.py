"""Tests of worked.linear_autoencoder: the objective, the predicted global minimum, training
and the symmetries of the objective."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from worked.linear_autoencoder import ae_objective, optimal_singular_values, train_full_batch

F64 = torch.float64


def make_data(seed, m, n, spread=(4.0, 2.5, 1.0, 0.5, 0.2, 0.1)):
    """m x n data whose covariance has well separated eigenvalues (about `spread`)."""
    rng = np.random.default_rng(seed)
    return np.sqrt(np.array(spread[:m]))[:, None] * rng.standard_normal((m, n))


def covariance_spectrum(X):
    """Eigenvectors and eigenvalues of X X^T / n via the SVD of X (not eigh/eigvalsh)."""
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    return U, S**2 / X.shape[1]


def predicted_minimiser(X, k, lam):
    """W2 = U_k diag(sqrt(max(0, 1 - lam / s_i))), W1 = W2^T, built without the module."""
    U, s = covariance_spectrum(X)
    d = np.sqrt(np.maximum(0.0, 1.0 - lam / s[:k]))
    W2 = U[:, :k] * d
    return W2.T.copy(), W2, s


def objective_np(W1, W2, X, lam):
    n = X.shape[1]
    R = X - W2 @ (W1 @ X)
    return np.sum(R * R) / n + lam * np.sum(W1 * W1) + lam * np.sum(W2 * W2)


def L(W1, W2, X, lam):
    return float(ae_objective(torch.as_tensor(W1), torch.as_tensor(W2), torch.as_tensor(X), lam))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 20), st.floats(0.0, 3.0), st.integers(0, 2**31 - 1))
def test_objective_matches_numpy(m, k, n, lam, seed):
    rng = np.random.default_rng(seed)
    X, W1, W2 = rng.standard_normal((m, n)), rng.standard_normal((k, m)), rng.standard_normal((m, k))
    # Element-wise loops, independent of the matrix-product form.
    rec = sum((X[i, j] - sum(W2[i, a] * W1[a, l] * X[l, j] for a in range(k) for l in range(m))) ** 2
              for i in range(m) for j in range(n))
    expected = rec / n + lam * (W1**2).sum() + lam * (W2**2).sum()
    assert np.isclose(L(W1, W2, X, lam), expected, rtol=1e-11, atol=1e-12)
    assert np.isclose(objective_np(W1, W2, X, lam), expected, rtol=1e-11, atol=1e-12)


minimum_cases = st.tuples(
    st.integers(2, 6),  # m
    st.integers(0, 2**31 - 1),  # seed
    st.data(),
)


@settings(max_examples=60, deadline=None)
@given(minimum_cases)
def test_predicted_minimiser_is_critical_and_locally_minimal(case):
    m, seed, data = case
    k = data.draw(st.integers(1, m))
    X = make_data(seed, m, n=10 * m)
    W1, W2, s = predicted_minimiser(X, k, lam=0.0)
    lam = data.draw(st.floats(0.02, 0.95)) * s[k - 1]  # 0 < lam < s_k: no singular value clipped
    W1, W2, s = predicted_minimiser(X, k, lam)

    # Autograd gradient of the module's objective vanishes there.
    W1t = torch.tensor(W1, dtype=F64, requires_grad=True)
    W2t = torch.tensor(W2, dtype=F64, requires_grad=True)
    g1, g2 = torch.autograd.grad(ae_objective(W1t, W2t, torch.tensor(X, dtype=F64), lam), (W1t, W2t))
    assert float(g1.norm()) < 1e-10 and float(g2.norm()) < 1e-10

    # Its decoder (and encoder) singular values are the module's prediction.
    pred = optimal_singular_values(X, k, lam)
    assert pred.shape == (k,)
    np.testing.assert_allclose(np.linalg.svd(W2, compute_uv=False), pred, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(W1, compute_uv=False), pred, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pred, np.sqrt(1 - lam / s[:k]), rtol=1e-10)

    # The minimum value by hand: sum_{i>k} s_i + sum_{i<=k} (2 lam - lam^2 / s_i).
    L0 = L(W1, W2, X, lam)
    assert np.isclose(L0, s[k:].sum() + np.sum(2 * lam - lam**2 / s[:k]), rtol=1e-10, atol=1e-12)

    # Random perturbations, small and large, never lower the objective.
    rng = np.random.default_rng(seed + 1)
    for eps in (1e-5, 1e-3, 1e-1, 1.0):
        for _ in range(10):
            E1, E2 = eps * rng.standard_normal(W1.shape), eps * rng.standard_normal(W2.shape)
            assert L(W1 + E1, W2 + E2, X, lam) >= L0 - 1e-12 * (1 + L0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clipped_singular_values_when_lam_exceeds_eigenvalues(seed):
    # m = 5, k = 4, lam between s_3 and s_2: the predicted decoder has two zero singular values
    # (the components with s_i <= lam are switched off) and is still a minimum.
    m, k = 5, 4
    X = make_data(seed, m, n=60)
    _, s = covariance_spectrum(X)
    lam = 0.5 * (s[1] + s[2])
    W1, W2, _ = predicted_minimiser(X, k, lam)
    pred = optimal_singular_values(X, k, lam)
    assert np.all(pred[2:] == 0) and np.all(pred[:2] > 0)
    np.testing.assert_allclose(np.sort(np.linalg.svd(W2, compute_uv=False))[::-1], pred, rtol=1e-10, atol=1e-12)

    W1t = torch.tensor(W1, dtype=F64, requires_grad=True)
    W2t = torch.tensor(W2, dtype=F64, requires_grad=True)
    g1, g2 = torch.autograd.grad(ae_objective(W1t, W2t, torch.tensor(X, dtype=F64), lam), (W1t, W2t))
    assert float(g1.norm()) < 1e-10 and float(g2.norm()) < 1e-10
    L0 = L(W1, W2, X, lam)
    rng = np.random.default_rng(seed + 10)
    for eps in (1e-4, 1e-2, 1.0):
        for _ in range(10):
            E1, E2 = eps * rng.standard_normal(W1.shape), eps * rng.standard_normal(W2.shape)
            assert L(W1 + E1, W2 + E2, X, lam) >= L0 - 1e-12 * (1 + L0)


def test_optimal_singular_values_rank_deficient_data():
    # n = 3 examples in m = 5 dimensions: the covariance has rank 3, s_4 = s_5 = 0 <= lam,
    # so the 4th and 5th optimal singular values are 0 (and none can exceed 1).
    X = np.random.default_rng(199).standard_normal((5, 3))
    pred = optimal_singular_values(X, 5, 0.1)
    _, s = covariance_spectrum(X)
    np.testing.assert_allclose(pred[:3], np.sqrt(1 - 0.1 / s[:3]), rtol=1e-10)
    np.testing.assert_array_equal(pred[3:], 0.0)


def test_training_reaches_predicted_singular_values():
    m, n, k, lam, lr, steps = 4, 50, 2, 0.1, 0.02, 800
    X = torch.tensor(make_data(11, m, n), dtype=F64)
    g = torch.Generator().manual_seed(12)
    W1_0 = 0.1 * torch.randn(k, m, generator=g, dtype=F64)
    W2_0 = 0.1 * torch.randn(m, k, generator=g, dtype=F64)
    W1_init, W2_init = W1_0.clone(), W2_0.clone()

    W1, W2, history = train_full_batch(W1_0, W2_0, X, lam, lr, steps)

    assert history.shape == (steps, k)
    assert torch.equal(W1_0, W1_init) and torch.equal(W2_0, W2_init)  # inputs not modified
    np.testing.assert_allclose(history[-1].numpy(), torch.linalg.svdvals(W2).numpy(), rtol=1e-12)
    target = optimal_singular_values(X.numpy(), k, lam)
    _, _, s = predicted_minimiser(X.numpy(), k, lam)
    np.testing.assert_allclose(target, np.sqrt(1 - lam / s[:k]), rtol=1e-10)  # independent route
    np.testing.assert_allclose(history[-1].numpy(), target, atol=1e-4)
    # It did move: the start is far from the target.
    assert np.max(np.abs(history[0].numpy() - target)) > 0.3
    # And the encoder ends balanced with the decoder, as at the minimum.
    np.testing.assert_allclose(torch.linalg.svdvals(W1).numpy(), target, atol=1e-4)
    assert ae_objective(W1, W2, X, lam) < ae_objective(W1_0, W2_0, X, lam)


def random_invertible(rng, k, low=0.5, high=2.0):
    """Q1 diag(sv) Q2 with singular values in [low, high]: condition number <= high / low."""
    Q1, _ = np.linalg.qr(rng.standard_normal((k, k)))
    Q2, _ = np.linalg.qr(rng.standard_normal((k, k)))
    return Q1 @ np.diag(rng.uniform(low, high, size=k)) @ Q2


symmetry_cases = st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**31 - 1))


@settings(max_examples=150, deadline=None)
@given(symmetry_cases, st.floats(0.01, 2.0))
def test_invariance_under_invertible_reparametrisation(case, lam):
    m, k, seed = case
    rng = np.random.default_rng(seed)
    X, W1, W2 = rng.standard_normal((m, 15)), rng.standard_normal((k, m)), rng.standard_normal((m, k))
    A = random_invertible(rng, k)
    W1A, W2A = np.linalg.solve(A, W1), W2 @ A  # A^{-1} W1, W2 A

    # lam = 0: only W2 W1 matters, and it is unchanged.
    L_before = L(W1, W2, X, 0.0)
    assert np.isclose(L(W1A, W2A, X, 0.0), L_before, rtol=1e-10, atol=1e-12)

    # lam > 0: the change is exactly lam times the change of ||W1||^2 + ||W2||^2.
    reg_change = (W1A**2).sum() + (W2A**2).sum() - (W1**2).sum() - (W2**2).sum()
    change = L(W1A, W2A, X, lam) - L(W1, W2, X, lam)
    assert np.isclose(change, lam * reg_change, rtol=1e-8, atol=1e-10 * (1 + L_before))


@settings(max_examples=100, deadline=None)
@given(symmetry_cases, st.floats(0.01, 2.0))
def test_invariance_under_orthogonal_reparametrisation_with_lam(case, lam):
    m, k, seed = case
    rng = np.random.default_rng(seed)
    X, W1, W2 = rng.standard_normal((m, 15)), rng.standard_normal((k, m)), rng.standard_normal((m, k))
    Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    L_before = L(W1, W2, X, lam)
    assert np.isclose(L(Q.T @ W1, W2 @ Q, X, lam), L_before, rtol=1e-10, atol=1e-12)


def test_lam_breaks_invariance_under_scaling():
    # A = 2 I: W2 -> 2 W2, W1 -> W1 / 2 keeps W2 W1, but the penalty goes from
    # lam (a + b) to lam (a / 4 + 4 b), with a = ||W1||^2, b = ||W2||^2.
    rng = np.random.default_rng(5)
    m, k, lam = 4, 2, 0.3
    X, W1, W2 = rng.standard_normal((m, 20)), rng.standard_normal((k, m)), rng.standard_normal((m, k))
    a, b = (W1**2).sum(), (W2**2).sum()
    assert np.isclose(L(W1 / 2, 2 * W2, X, 0.0), L(W1, W2, X, 0.0), rtol=1e-12)
    change = L(W1 / 2, 2 * W2, X, lam) - L(W1, W2, X, lam)
    assert np.isclose(change, lam * (3 * b - 0.75 * a), rtol=1e-10)
    assert abs(change) > 0.1
