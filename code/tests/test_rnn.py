"""Tests of worked.rnn: the unrolled unit, its hidden-state Jacobian and the spectral norm."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from worked.rnn import hidden_jacobian, rnn_unroll, spectral_norm

F64 = torch.float64


def random_unit(seed, n, m, T, w_scale=0.5):
    g = torch.Generator().manual_seed(seed)
    W = w_scale * torch.randn(n, n, generator=g, dtype=F64)
    U = torch.randn(n, m, generator=g, dtype=F64)
    b = torch.randn(n, generator=g, dtype=F64)
    xs = torch.randn(T, m, generator=g, dtype=F64)
    h0 = torch.randn(n, generator=g, dtype=F64)
    return h0, W, U, b, xs


def test_unroll_matches_numpy_loop():
    h0, W, U, b, xs = random_unit(0, n=4, m=3, T=6)
    hs = rnn_unroll(h0, W, U, b, xs, torch.tanh)
    assert hs.shape == (6, 4)
    h, Wn, Un, bn = h0.numpy(), W.numpy(), U.numpy(), b.numpy()
    for t, x in enumerate(xs.numpy()):
        h = Wn @ np.tanh(h) + Un @ x + bn
        np.testing.assert_allclose(hs[t].numpy(), h, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("sigma", [torch.tanh, torch.sigmoid], ids=["tanh", "sigmoid"])
@pytest.mark.parametrize("seed,n,m,T", [(1, 4, 3, 5), (2, 3, 2, 1), (3, 6, 2, 8)])
def test_jacobian_matches_central_differences(sigma, seed, n, m, T):
    h0, W, U, b, xs = random_unit(seed, n, m, T, w_scale=0.8)
    J = hidden_jacobian(h0, W, U, b, xs, sigma)
    assert J.shape == (n, n)

    eps = 1e-6
    J_fd = torch.empty(n, n, dtype=F64)
    for j in range(n):
        e = torch.zeros(n, dtype=F64)
        e[j] = eps
        plus = rnn_unroll(h0 + e, W, U, b, xs, sigma)[-1]
        minus = rnn_unroll(h0 - e, W, U, b, xs, sigma)[-1]
        J_fd[:, j] = (plus - minus) / (2 * eps)  # column j = dh_T / dh_0[j]
    # Truncation O(eps^2) ~ 1e-12, rounding ~ 1e-16 / eps ~ 1e-10.
    torch.testing.assert_close(J, J_fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("T", [1, 2, 3, 7])
@pytest.mark.parametrize("seed,n", [(4, 1), (5, 3), (6, 5)])
def test_linear_jacobian_is_matrix_power(seed, n, T):
    h0, W, U, b, xs = random_unit(seed, n, m=2, T=T, w_scale=0.7)
    J = hidden_jacobian(h0, W, U, b, xs, lambda h: h)
    expected = torch.linalg.matrix_power(W, T)
    torch.testing.assert_close(J, expected, rtol=1e-12, atol=1e-12)
    if T > 1 and n > 1:  # W^T differs from W and from its transpose here: the check has teeth
        assert not torch.allclose(expected, W, atol=1e-3)
        assert not torch.allclose(expected, expected.T, atol=1e-3)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 5),  # n
    st.integers(1, 3),  # m
    st.integers(1, 8),  # T
    st.floats(0.1, 0.99),  # delta
    st.sampled_from(["tanh", "sigmoid"]),
    st.integers(0, 2**31 - 1),
)
def test_jacobian_norm_bound(n, m, T, delta, act, seed):
    # ||dh_t/dh_{t-1}|| = ||W diag(sigma'(h_{t-1}))|| <= ||W|| gamma = delta, gamma = sup sigma'.
    sigma, gamma = {"tanh": (torch.tanh, 1.0), "sigmoid": (torch.sigmoid, 0.25)}[act]
    h0, W, U, b, xs = random_unit(seed, n, m, T)
    # Scale W with numpy's SVD (not the module) so that ||W|| = delta / gamma.
    W = W * (delta / gamma) / np.linalg.svd(W.numpy(), compute_uv=False)[0]
    assert np.isclose(float(spectral_norm(W)), delta / gamma, rtol=1e-12)

    J = hidden_jacobian(h0, W, U, b, xs, sigma)
    norm = np.linalg.norm(J.numpy(), 2)
    assert norm <= delta**T * (1 + 1e-9)


def test_jacobian_norm_bound_is_attained():
    # tanh at the fixed point h = 0 (no input, no bias) has sigma'(0) = 1, so the Jacobian is
    # W^T exactly; with W = delta Q, Q orthogonal, its norm is exactly delta^T: the bound is tight.
    n, T, delta = 4, 6, 0.9
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(7), dtype=F64))
    W = delta * Q
    J = hidden_jacobian(torch.zeros(n, dtype=F64), W, torch.zeros(n, 1, dtype=F64), torch.zeros(n, dtype=F64),
                        torch.zeros(T, 1, dtype=F64), torch.tanh)
    assert np.isclose(np.linalg.norm(J.numpy(), 2), delta**T, rtol=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.floats(1e-3, 1e3), st.integers(0, 2**31 - 1))
def test_spectral_norm_is_sqrt_of_top_eigenvalue_of_gram(rows, cols, scale, seed):
    A = scale * torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=F64)
    top = torch.linalg.eigvalsh(A.T @ A)[-1]  # ascending order
    expected = float(torch.sqrt(torch.clamp(top, min=0.0)))
    assert np.isclose(float(spectral_norm(A)), expected, rtol=1e-10, atol=1e-300)
    # Not the Frobenius norm (unless A has rank one).
    if min(rows, cols) > 1:
        assert float(spectral_norm(A)) < float(torch.linalg.norm(A)) * (1 - 1e-9)


def test_spectral_norm_hand_example():
    A = torch.tensor([[3.0, 0.0], [4.0, 0.0]], dtype=F64)  # rank one: ||A|| = ||(3, 4)|| = 5
    assert float(spectral_norm(A)) == pytest.approx(5.0, rel=1e-14)
    B = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=F64)  # symmetric, eigenvalues 3 and 1
    assert float(spectral_norm(B)) == pytest.approx(3.0, rel=1e-14)
