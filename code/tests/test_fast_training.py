"""worked.fast_training: both input pipelines give normalised images shifted by at most one
pixel, the bulk one in far fewer random-number calls; the schedule's shape; the network's
shapes; accuracy against a hand count."""

import numpy as np
import torch

from worked.fast_training import PerSampleDigits, accuracy, bulk_batches, convnet, piecewise_linear


def data(n=50):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def shifted_copies(x):
    """The 9 one-pixel shifts (with zero padding) of one normalised image."""
    p = torch.nn.functional.pad(x, (1, 1, 1, 1))
    return [p[r:r + 8, c:c + 8] for r in range(3) for c in range(3)]


def test_both_pipelines_produce_shifted_normalised_images():
    images, labels = data()
    mean, std = images.mean(), images.std()
    normalised = (images - mean) / std
    per_sample = PerSampleDigits(images, labels, mean, std)
    for i in range(len(labels)):
        x, label = per_sample[i]
        assert x.shape == (1, 8, 8) and label == labels[i]
        assert any(torch.allclose(x[0], s) for s in shifted_copies(normalised[i]))
    padded = torch.nn.functional.pad(normalised, (1, 1, 1, 1))
    seen = []
    for xb, yb in bulk_batches(padded, labels, 16, torch.Generator().manual_seed(1)):
        assert xb.shape[1:] == (1, 8, 8) and len(xb) == len(yb) <= 16
        for x, label in zip(xb, yb):
            i = int(np.argmax([any(torch.allclose(x[0], s) for s in shifted_copies(n)) and labels[j] == label
                               for j, n in enumerate(normalised)]))
            seen.append(i)
    assert sorted(seen) == list(range(len(labels)))   # every image once per epoch


def test_piecewise_linear_schedule():
    total = 100
    values = [piecewise_linear(s, total, 0.4) for s in range(total + 1)]
    assert values[0] == 0 and max(values) == values[25] == 0.4 and values[-1] == 0
    assert np.all(np.diff(values[:26]) > 0) and np.all(np.diff(values[25:]) < 0)


def test_convnet_shapes():
    images, labels = data()
    net = convnet(seed=0)
    assert net(images.unsqueeze(1)).shape == (len(labels), 10)


class ReadPixel(torch.nn.Module):
    """Logits peaked at the class written in pixel (0, 0) of the (normalised) image."""

    def forward(self, x):                        # (N, 1, 8, 8) -> (N, 10)
        return -(x[:, 0, 0, 0, None] - torch.arange(10)) ** 2


def test_accuracy_counts_correct_predictions_on_normalised_images():
    mean, std = 0.5, 0.25
    predicted = torch.tensor([0, 3, 3, 7, 9, 1, 2, 2])
    labels = torch.tensor([0, 3, 4, 7, 1, 1, 2, 5])     # 5 of the 8 agree (by hand)
    images = torch.zeros(8, 8, 8)
    images[:, 0, 0] = mean + std * predicted            # normalised pixel = class
    net = ReadPixel().train()
    assert accuracy(net, images, labels, mean, std) == 5 / 8
    assert net.training                                 # evaluation mode is restored
