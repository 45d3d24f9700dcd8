"""Tests of worked.scaling: the fits recover known curves, and 6 N D matches torch's FLOP counter."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from worked.scaling import (chinchilla_loss, isoflop_analysis, isoflop_vertex, power_law_fit,
                            training_flops)
from worked.transformer import DecoderOnlyTransformer, non_embedding_params


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 5), st.floats(3, 15), st.floats(-2, 2), st.floats(0.3, 2.0))
def test_isoflop_vertex_recovers_the_minimum_of_a_parabola(curvature, log_n_star, offset, spread):
    log_n = log_n_star + spread * np.linspace(-1.5, 1.0, 6)  # asymmetric samples around the minimum
    losses = curvature * (log_n - log_n_star) ** 2 + offset
    (a, b, c), n_star = isoflop_vertex(np.exp(log_n), losses)
    assert math.isclose(a, curvature, rel_tol=1e-6)
    assert math.isclose(math.log(n_star), log_n_star, rel_tol=0, abs_tol=1e-6)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.1, 1.5), st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_power_law_fit_recovers_exponent_and_prefactor(exponent, prefactor, seed):
    x = np.exp(np.random.default_rng(seed).uniform(0, 20, size=7))
    a, k = power_law_fit(x, prefactor * x**exponent)
    assert math.isclose(a, exponent, rel_tol=1e-8, abs_tol=1e-10)
    assert math.isclose(k, prefactor, rel_tol=1e-6)


def test_training_flops_matches_chinchilla_budget():
    # Hoffmann et al. (2022) give Chinchilla (70e9 parameters, 1.4e12 tokens) the budget of
    # Gopher, 5.76e23 FLOPs; 6 N D must agree within a few percent (2 N D would be 3 x off)
    assert training_flops(70e9, 1.4e12) == pytest.approx(5.76e23, rel=0.05)


def test_isoflop_analysis_recovers_chinchilla_optimum():
    # a loss with a known answer: N* = G (C / 6)^(b / (a + b)), G = (a A / (b B))^(1 / (a + b))
    a, b, A, B = 0.34, 0.28, 406.4, 410.7
    budgets = np.array([2.0, 4.0, 6.0, 8.0]) * 1e19
    n_params = np.logspace(8.3, 10.05, 7)
    losses = chinchilla_loss(n_params[:, None], budgets / (6 * n_params[:, None]))
    fit = isoflop_analysis(n_params, losses, budgets)
    n_true = (a * A / (b * B)) ** (1 / (a + b)) * (budgets / 6) ** (b / (a + b))
    assert fit["alpha"] == pytest.approx(b / (a + b), abs=0.04)  # the quadratic's small bias
    np.testing.assert_allclose(fit["optima"], n_true, rtol=0.15)
    np.testing.assert_allclose(fit["tokens"], budgets / (6 * n_true), rtol=0.15)
    assert np.all(fit["r2"] > 0.99) and np.all(fit["curvature"] > 0)


@pytest.mark.parametrize("d_model,layers", [(16, 1), (32, 2), (64, 2)])
def test_six_n_d_against_torch_flop_counter(d_model, layers):
    # An independent count: torch's FLOP counter adds up every matrix product of one forward and
    # backward pass. It must be 6 N D for the weights in N, plus the output layer and the
    # attention products that 6 N D leaves out, which we add here from their shapes.
    torch.manual_seed(0)
    model = DecoderOnlyTransformer(d_model=d_model, layers=layers, heads=4)
    batch, length, vocab = 8, 12, model.head.out_features
    x = torch.randint(1, vocab, (batch, length))
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    tokens = batch * length
    weights_in_n = sum(p.numel() for name, p in model.named_parameters()
                       if name.startswith("blocks.") and p.dim() == 2)  # the matrices of N
    head = model.head.weight.numel()
    attention = 2 * 2 * batch * length * length * d_model * layers  # Q K^T and A V, forward
    expected = 6 * (weights_in_n + head) * tokens + 3 * attention
    assert counter.get_total_flops() == pytest.approx(expected, rel=1e-9)
    # and the scaling-law count 6 N D with N = non_embedding_params is within a few percent of
    # the weight products alone (biases and LayerNorms are in N but make no matrix products)
    assert training_flops(non_embedding_params(model), tokens) == pytest.approx(
        6 * weights_in_n * tokens, rel=0.1)
