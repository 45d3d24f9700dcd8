"""Recurrent units and their Jacobians (book chapter "RNN gradients").

The unit of IFT6135 W2021 Assignment 2, Q1, in its "h-form":
    h_t = W sigma(h_{t-1}) + U x_t + b,   h_t of shape (n,), x_t of shape (m,).
"""

import torch


def rnn_unroll(h0, W, U, b, xs, sigma):
    """h_1..h_T of the h-form unit for inputs xs of shape (T, m); returns shape (T, n)."""
    hs, h = [], h0
    for x in xs:
        h = W @ sigma(h) + U @ x + b
        hs.append(h)
    return torch.stack(hs)


def hidden_jacobian(h0, W, U, b, xs, sigma):
    """The Jacobian dh_T/dh_0, shape (n, n), by reverse-mode autograd
    through the unrolled net."""
    return torch.autograd.functional.jacobian(
        lambda h: rnn_unroll(h, W, U, b, xs, sigma)[-1], h0
    )


def spectral_norm(A):
    """The L2 operator norm ||A|| = sqrt(lambda_1(A^T A)) = the largest singular value."""
    return torch.linalg.matrix_norm(A, ord=2)
