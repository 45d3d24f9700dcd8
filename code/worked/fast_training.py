"""A CPU miniature of "How to Train Your ResNet" (HW7 Q4): a small convnet on scikit-learn's
8x8 digits, with two input pipelines and a choice of learning-rate schedule.

- ``PerSampleDigits`` prepares every image when it is fetched (normalise, pad, random crop with one
  random-number call per image), as a PyTorch ``Dataset`` behind a ``DataLoader``;
- ``bulk_batches`` normalises and pads the whole data set once, draws an epoch's crops in one call,
  and cuts batches out of one tensor.
Both produce the same kind of batches (random one-pixel shifts of normalised images).
"""

import numpy as np
import torch


def convnet(seed=0):
    """A small convolutional network for 1x8x8 images, 10 classes."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(32),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(64),
        torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 10),
    )


class PerSampleDigits(torch.utils.data.Dataset):
    """Images (N, 8, 8) in [0, 1], prepared one at a time on every access."""

    def __init__(self, images, labels, mean, std, seed=0):
        self.images, self.labels, self.mean, self.std = (
            images,
            labels,
            mean,
            std,
        )
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = (self.images[i] - self.mean) / self.std
        x = torch.nn.functional.pad(x, (1, 1, 1, 1))
        r, c = self.rng.integers(0, 3, size=2)  # one random call per image
        return x[r : r + 8, c : c + 8].unsqueeze(0), self.labels[i]


def bulk_batches(padded, labels, batch_size, generator):
    """One epoch of shuffled, randomly shifted batches from images normalised and padded once
    (``padded``: (N, 10, 10)); all random numbers of the epoch are drawn in two calls."""
    n = len(labels)
    order = torch.randperm(n, generator=generator)
    shifts = torch.randint(0, 3, (n, 2), generator=generator)
    rows = shifts[:, 0, None] + torch.arange(8)  # (n, 8)
    cols = shifts[:, 1, None] + torch.arange(8)
    crops = padded[
        torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]
    ]  # (n, 8, 8)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield crops[idx].unsqueeze(1), labels[idx]


def piecewise_linear(step, total, peak, warmup=0.25):
    """The post's kind of schedule: linear from 0 up to ``peak`` over the first ``warmup``
    fraction of training, then linearly down to 0."""
    up = warmup * total
    return (
        peak * step / up
        if step < up
        else peak * max(0.0, (total - step) / (total - up))
    )


def accuracy(net, images, labels, mean, std):
    net.eval()
    with torch.no_grad():
        out = net(((images - mean) / std).unsqueeze(1))
    net.train()
    return (out.argmax(1) == labels).double().mean().item()
