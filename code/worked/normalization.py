"""Normalization statistics and weight normalization (IFT6135 A2, Q4).

A batch of activations has shape (N, C, L): examples, channels, features. The three
normalizations standardize over different axes and keep one mean and one variance per
remaining index:

- batch norm: per channel, over examples and features, statistics of shape (C,);
- layer norm: per example, over channels and features, shape (N,);
- instance norm: per example and channel, over features, shape (N, C).

Variances are the biased ones (divided by the number of entries), as the normalizations use
them to standardize.
"""

import numpy as np

AXES = {"batch": (0, 2), "layer": (1, 2), "instance": (2,)}


def norm_stats(x, kind):
    """Mean and biased variance of ``x`` (shape (N, C, L)) over the axes ``kind`` normalizes."""
    axes = AXES[kind]
    return x.mean(axis=axes), x.var(axis=axes)


def normalize(x, kind, eps=0.0):
    """``x`` standardized with its ``kind`` statistics (no learned scale or shift)."""
    axes = AXES[kind]
    mean, var = (
        x.mean(axis=axes, keepdims=True),
        x.var(axis=axes, keepdims=True),
    )
    return (x - mean) / np.sqrt(var + eps)


def weight_norm(u, gamma):
    """The weight ``w = gamma * u / ||u||``: direction from ``u``, length |gamma|."""
    return gamma * u / np.linalg.norm(u)


def weight_norm_grad_u(u, gamma, grad_w):
    """The gradient of a loss with respect to ``u``, from its gradient ``grad_w`` with respect
    to ``w = weight_norm(u, gamma)``: ``(gamma / ||u||) (I - u u^T / ||u||^2) grad_w``."""
    norm = np.linalg.norm(u)
    return (gamma / norm) * (grad_w - u * (u @ grad_w) / norm**2)
