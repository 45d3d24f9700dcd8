"""The l2-regularised linear autoencoder of HW7 (book chapter "Linear autoencoders").

Data X has shape (m, n): n examples as columns. Encoder W1: (k, m), decoder W2: (m, k).
Objective, with the homework's normalisation:
    L(W1, W2) = (1/n) ||X - W2 W1 X||_F^2 + lam ||W1||_F^2 + lam ||W2||_F^2.
"""

import numpy as np
import torch


def ae_objective(W1, W2, X, lam):
    """L(W1, W2) for torch tensors."""
    n = X.shape[1]
    return (
        ((X - W2 @ W1 @ X) ** 2).sum() / n
        + lam * (W1**2).sum()
        + lam * (W2**2).sum()
    )


def optimal_singular_values(X, k, lam):
    """Singular values of the decoder at the global minimum (section hw7-ae-orth), shape (k,).

    With s_1 >= ... >= s_k the top eigenvalues of the covariance X X^T / n, they are
    sqrt(max(0, 1 - lam / s_i)); the encoder has the same ones. Directions with s_i <= lam
    (including those of zero variance when k exceeds the rank of X) get 0.
    """
    s = np.linalg.eigvalsh(X @ X.T / X.shape[1])[::-1][:k]
    kept = s > lam
    return np.sqrt(np.where(kept, 1 - lam / np.where(kept, s, 1.0), 0.0))


def train_full_batch(W1, W2, X, lam, lr, steps):
    """Gradient descent on ae_objective from (W1, W2); returns the trained copies and the
    decoder's singular values after every step, shape (steps, k)."""
    W1 = W1.clone().requires_grad_(True)
    W2 = W2.clone().requires_grad_(True)
    opt = torch.optim.SGD([W1, W2], lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        ae_objective(W1, W2, X, lam).backward()
        opt.step()
        history.append(torch.linalg.svdvals(W2.detach()))
    return W1.detach(), W2.detach(), torch.stack(history)
