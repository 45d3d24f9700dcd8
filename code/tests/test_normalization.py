"""worked.normalization against torch's own normalizations and autograd, for random shapes."""

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from worked.normalization import norm_stats, normalize, weight_norm, weight_norm_grad_u

shapes = st.tuples(st.integers(2, 5), st.integers(1, 4), st.integers(2, 6))


def batch(shape, seed):
    return np.random.default_rng(seed).normal(size=shape) * 3 + 1


@given(shapes, st.integers(0, 2**32 - 1))
def test_normalize_matches_torch(shape, seed):
    x = batch(shape, seed)
    t = torch.tensor(x)
    eps = 1e-5
    torch_out = {
        "batch": F.batch_norm(t, None, None, training=True, eps=eps),
        "layer": F.layer_norm(t, t.shape[1:], eps=eps),
        "instance": F.instance_norm(t, eps=eps),
    }
    for kind, expected in torch_out.items():
        np.testing.assert_allclose(normalize(x, kind, eps), expected.numpy(), atol=1e-9)


@given(shapes, st.integers(0, 2**32 - 1))
def test_normalized_batch_has_zero_mean_and_unit_variance_over_its_axes(shape, seed):
    x = batch(shape, seed)
    for kind in ("batch", "layer", "instance"):
        mean, var = norm_stats(normalize(x, kind), kind)
        np.testing.assert_allclose(mean, 0, atol=1e-12)
        np.testing.assert_allclose(var, 1, atol=1e-9)


def test_statistics_have_one_entry_per_kept_index():
    x = batch((4, 2, 3), 0)
    assert [norm_stats(x, k)[0].shape for k in ("batch", "layer", "instance")] == [(2,), (4,), (4, 2)]


@given(st.integers(2, 8), st.floats(-3, 3).filter(lambda g: abs(g) > 0.1), st.integers(0, 2**32 - 1))
def test_weight_norm_gradient_matches_autograd(d, gamma, seed):
    rng = np.random.default_rng(seed)
    u, a = rng.normal(size=d), rng.normal(size=d)
    ut = torch.tensor(u, requires_grad=True)
    wt = gamma * ut / ut.norm()
    loss = torch.sin(wt @ torch.tensor(a)) + (wt**3).sum()
    grad_w, = torch.autograd.grad(loss, wt, retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(weight_norm_grad_u(u, gamma, grad_w.numpy()), ut.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(weight_norm(u, gamma)), abs(gamma))
    assert abs(weight_norm_grad_u(u, gamma, grad_w.numpy()) @ u) < 1e-9  # orthogonal to u
