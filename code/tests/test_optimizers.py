"""Tests of worked.optimizers: each update rule against torch.optim step by step, and against
values computed by hand for its first steps."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from worked.optimizers import (
    AdaGrad,
    Adam,
    AdamW,
    GradientDescent,
    Momentum,
    RMSProp,
    torch_trajectory,
    trajectory,
)

H = np.diag([1.0, 30.0, 0.2])


def grad(w):
    """Gradient of an ill-conditioned quadratic plus a wiggle, so that gradients vary in sign and size."""
    return H @ w + 0.3 * np.sin(3 * w)


W0 = np.array([2.0, 1.0, -1.5])

# (ours, torch's) for the same hyper-parameters; torch's SGD buffer starts undamped
PAIRS = {
    "gd": (lambda: GradientDescent(0.03), lambda p: torch.optim.SGD(p, lr=0.03)),
    "momentum": (lambda: Momentum(0.02, 0.9), lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9)),
    "momentum-dampened": (lambda: Momentum(0.02, 0.9, dampening=0.9, torch_first_step=True),
                          lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, dampening=0.9)),
    "momentum-half-dampened": (lambda: Momentum(0.05, 0.5, dampening=0.3, torch_first_step=True),
                               lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3)),
    "adagrad": (lambda: AdaGrad(0.3), lambda p: torch.optim.Adagrad(p, lr=0.3)),
    "adagrad-eps": (lambda: AdaGrad(0.3, eps=0.5), lambda p: torch.optim.Adagrad(p, lr=0.3, eps=0.5)),
    "rmsprop": (lambda: RMSProp(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop-alpha": (lambda: RMSProp(0.02, alpha=0.9, eps=1e-3), lambda p: torch.optim.RMSprop(p, lr=0.02, alpha=0.9, eps=1e-3)),
    "rmsprop-centered": (lambda: RMSProp(0.01, centered=True), lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True)),
    "adam": (lambda: Adam(0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
    "adam-betas": (lambda: Adam(0.02, betas=(0.5, 0.9), eps=1e-3), lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
    "adamw": (lambda: AdamW(0.05, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_torch_step_by_step(name):
    ours, theirs = PAIRS[name]
    a = trajectory(ours(), grad, W0, 300)
    b = torch_trajectory(theirs, grad, W0, 300)
    assert a.shape == b.shape == (301, 3)
    # rounding differs (torch divides by sqrt(1 - beta2^t) separately, ...) and near the minimum,
    # where adaptive steps stay of size lr, differences of 1e-16 grow to about 1e-12
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert np.abs(a[-1] - a[0]).max() > 0.5  # the parameters did move


@given(st.integers(0, 10**6), st.sampled_from(sorted(PAIRS)))
def test_matches_torch_on_random_gradient_sequences(seed, name):
    """Gradients that do not come from any function (drawn at random per step)."""
    rng = np.random.default_rng(seed)
    gs = rng.normal(scale=rng.uniform(0.01, 10), size=(20, 4))
    w0 = rng.normal(size=4)
    ours, theirs = PAIRS[name]
    a_steps, b_steps = iter(gs), iter(gs)
    a = trajectory(ours(), lambda w: next(a_steps), w0, 20)
    b = torch_trajectory(theirs, lambda w: next(b_steps), w0, 20)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_momentum_first_steps_by_hand():
    g = [np.array([1.0]), np.array([2.0]), np.array([-1.0])]
    opt, w = Momentum(lr=0.1, mu=0.5), np.array([0.0])
    expected_v = [1.0, 0.5 * 1 + 2, 0.5 * 2.5 - 1]  # v_t = mu v_{t-1} + g_t
    for gt, v in zip(g, expected_v):
        w_next = opt.step(w, gt)
        np.testing.assert_allclose(w - w_next, [0.1 * v], rtol=1e-15)
        w = w_next


def test_dampened_momentum_is_heavy_ball_with_a_smaller_step():
    """v_0 = 0: the moving-average form with lr equals the heavy ball with lr (1 - mu)."""
    a = trajectory(Momentum(0.1, 0.8, dampening=0.8), grad, W0, 100)
    b = trajectory(Momentum(0.1 * 0.2, 0.8), grad, W0, 100)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_torch_first_step_only_matters_with_dampening():
    for d, same in [(0.0, True), (0.5, False)]:
        a = trajectory(Momentum(0.02, 0.9, dampening=d), grad, W0, 5)
        b = trajectory(Momentum(0.02, 0.9, dampening=d, torch_first_step=True), grad, W0, 5)
        assert np.allclose(a, b, rtol=0, atol=1e-15) == same


def test_adagrad_and_rmsprop_first_step_moves_each_coordinate_by_lr():
    # s_1 = g^2 (AdaGrad) and (1 - alpha) g^2 (RMSProp): the first step is lr g / |g| per coordinate
    g = np.array([1e-3, -5.0, 40.0])
    w0 = np.zeros(3)
    np.testing.assert_allclose(AdaGrad(0.1, eps=0).step(w0, g), -0.1 * np.sign(g), rtol=1e-15)
    np.testing.assert_allclose(RMSProp(0.1, alpha=0.9, eps=0).step(w0, g), -0.1 * np.sign(g) / np.sqrt(0.1), rtol=1e-14)


def test_adam_steps_by_lr_per_coordinate_under_a_constant_gradient():
    """m_hat = g and s_hat = g^2 exactly for constant g, so each step is lr g / (|g| + eps)."""
    g = np.array([1e-2, -3.0, 0.5])
    opt, w = Adam(0.1, eps=0.0), np.zeros(3)
    for _ in range(50):
        w_next = opt.step(w, g)
        np.testing.assert_allclose(w - w_next, 0.1 * np.sign(g), rtol=1e-12)
        w = w_next


def test_rmsprop_eps_placement_changes_the_rule():
    a = trajectory(RMSProp(0.01, eps=1e-2), grad, W0, 50)
    b = trajectory(RMSProp(0.01, eps=1e-2, eps_inside_sqrt=True), grad, W0, 50)
    assert np.abs(a - b).max() > 1e-4


def test_optimizers_do_not_modify_their_inputs():
    for make, _ in PAIRS.values():
        w, g = W0.copy(), grad(W0)
        make().step(w, g)
        np.testing.assert_array_equal(w, W0)
        np.testing.assert_array_equal(g, grad(W0))
