"""Small, fast classification experiments on the 8x8 digits that ship with scikit-learn
(book section ``lec-generalization``). No download: the images come with the pip package.

Images are float tensors of shape (N, 8, 8) with pixel values in [0, 1]; labels are int64 of
shape (N,). Networks are fully connected and trained full-batch with Adam, on the CPU, seeded.
"""

import numpy as np
import torch
from sklearn.datasets import load_digits


def digits_tensors():
    """All 1797 digits: images (1797, 8, 8) in [0, 1] (float64) and labels (1797,) (int64)."""
    data = load_digits()
    return torch.tensor(data.images / 16.0, dtype=torch.float64), torch.tensor(
        data.target, dtype=torch.int64
    )


def split_indices(n, sizes, seed=0):
    """A random permutation of range(n) cut into consecutive parts of the given sizes, plus the rest."""
    perm = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum(sizes)
    return np.split(perm, cuts)


def mlp(widths, dropout=0.0):
    """Flatten, then Linear-ReLU (with dropout after each ReLU when dropout > 0) for the hidden
    widths, and a final Linear; widths = [64, hidden..., classes]."""
    layers = [torch.nn.Flatten()]
    for n_in, n_out in zip(widths[:-2], widths[1:-1]):
        layers += [
            torch.nn.Linear(n_in, n_out, dtype=torch.float64),
            torch.nn.ReLU(),
        ]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
    layers.append(torch.nn.Linear(widths[-2], widths[-1], dtype=torch.float64))
    return torch.nn.Sequential(*layers)


def train_classifier(
    net,
    X,
    y,
    evaluate,
    epochs,
    lr=1e-2,
    l2=0.0,
    noise=0.0,
    seed=0,
    augment=None,
):
    """Full-batch Adam on the cross-entropy of (X, y), plus l2 * (sum of squared weights of every
    Linear layer, biases excluded) when l2 > 0. The data can be augmented afresh every epoch:
    ``augment(X, generator)`` (a label-preserving transform of the images, drawing its
    randomness from the given torch.Generator) is applied first when given, then, with
    noise > 0, Gaussian noise: the epoch trains on augment(X) + noise * N(0, 1). After every epoch,
    evaluates the network (in eval mode: no dropout; clean images) on (X, y) and on each named set of
    ``evaluate`` = {name: (X_set, y_set)}; parameters with requires_grad False stay fixed.

    Returns {"train" and each name: array (epochs, 2) of (mean cross-entropy, accuracy)}."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    opt = torch.optim.Adam(
        [p for p in net.parameters() if p.requires_grad], lr=lr
    )
    weights = [
        m.weight for m in net.modules() if isinstance(m, torch.nn.Linear)
    ]
    sets = {"train": (X, y), **evaluate}
    history = {name: np.empty((epochs, 2)) for name in sets}
    for epoch in range(epochs):
        net.train()
        inputs = augment(X, generator) if augment is not None else X
        if noise > 0:
            inputs = inputs + noise * torch.randn(
                X.shape, generator=generator, dtype=X.dtype
            )
        loss = torch.nn.functional.cross_entropy(net(inputs), y)
        if l2 > 0:
            loss = loss + l2 * sum((W**2).sum() for W in weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.eval()
        with torch.no_grad():
            for name, (X_set, y_set) in sets.items():
                logits = net(X_set)
                history[name][epoch] = (
                    torch.nn.functional.cross_entropy(logits, y_set).item(),
                    (logits.argmax(dim=1) == y_set).double().mean().item(),
                )
    return history
