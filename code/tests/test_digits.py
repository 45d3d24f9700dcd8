"""Tests of worked.digits: the bundled data, the splits, the network builder and the training loop."""

import numpy as np
import torch

from worked.digits import digits_tensors, mlp, split_indices, train_classifier


def test_digits_are_the_bundled_scikit_learn_images():
    X, y = digits_tensors()
    assert X.shape == (1797, 8, 8) and y.shape == (1797,)
    assert X.dtype == torch.float64 and y.dtype == torch.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert set(y.tolist()) == set(range(10))


def test_split_indices_is_a_seeded_partition():
    parts = split_indices(50, [10, 15], seed=3)
    assert [len(p) for p in parts] == [10, 15, 25]
    assert sorted(np.concatenate(parts).tolist()) == list(range(50))
    again = split_indices(50, [10, 15], seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_mlp_layers_and_dropout_placement():
    net = mlp([64, 32, 16, 10], dropout=0.5)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert net(torch.zeros(3, 8, 8, dtype=torch.float64)).shape == (3, 10)


def test_training_fits_a_small_set_and_reports_every_epoch():
    X, y = digits_tensors()
    idx = np.arange(40)
    torch.manual_seed(0)
    net = mlp([64, 32, 10])
    history = train_classifier(net, X[idx], y[idx], {"other": (X[40:80], y[40:80])}, epochs=60, seed=0)
    assert set(history) == {"train", "other"}
    assert history["train"].shape == (60, 2)
    assert history["train"][-1, 0] < 0.1 * history["train"][0, 0]      # the loss fell
    assert history["train"][-1, 1] == 1.0                                # 40 images memorised
    # the reported numbers are the network's: recompute the last epoch
    with torch.no_grad():
        logits = net.eval()(X[40:80])
    assert abs(torch.nn.functional.cross_entropy(logits, y[40:80]).item() - history["other"][-1, 0]) < 1e-12


def test_l2_penalty_and_noise_change_training_and_frozen_layers_stay_fixed():
    X, y = digits_tensors()
    idx = np.arange(30)
    results = {}
    for name, options in {"plain": {}, "l2": dict(l2=0.1), "noise": dict(noise=0.3)}.items():
        torch.manual_seed(0)
        net = mlp([64, 16, 10])
        net[1].requires_grad_(False)
        first = net[1].weight.clone()
        results[name] = train_classifier(net, X[idx], y[idx], {}, epochs=20, seed=0, **options)
        assert torch.equal(net[1].weight, first)                        # frozen layer untouched
    assert not np.allclose(results["plain"]["train"], results["l2"]["train"])
    assert not np.allclose(results["plain"]["train"], results["noise"]["train"])


def test_l2_penalty_is_the_sum_of_squared_weights_biases_excluded():
    """The documented objective, cross-entropy + l2 * (sum of squared weights of every Linear
    layer, biases excluded), minimised by hand with the same Adam, reaches the same parameters."""
    X, y = digits_tensors()
    idx, l2 = np.arange(30), 0.05
    torch.manual_seed(0)
    net = mlp([64, 16, 10])
    torch.manual_seed(0)
    by_hand = mlp([64, 16, 10])
    train_classifier(net, X[idx], y[idx], {}, epochs=3, seed=0, l2=l2)
    opt = torch.optim.Adam(by_hand.parameters(), lr=1e-2)
    for _ in range(3):
        penalty = by_hand[1].weight.square().sum() + by_hand[3].weight.square().sum()
        loss = torch.nn.functional.cross_entropy(by_hand(X[idx]), y[idx]) + l2 * penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
    for trained, expected in zip(net.parameters(), by_hand.parameters()):
        torch.testing.assert_close(trained, expected, rtol=1e-10, atol=1e-12)


def test_augment_is_drawn_afresh_every_epoch_and_never_reaches_evaluation():
    X, y = digits_tensors()
    idx = np.arange(30)
    draws = []

    def identity(images, generator):
        draws.append(torch.rand(1, generator=generator).item())
        return images

    histories = []
    for options in ({}, dict(augment=identity)):
        torch.manual_seed(0)
        histories.append(train_classifier(mlp([64, 16, 10]), X[idx], y[idx], {}, epochs=5, seed=0,
                                          **options))
    assert len(draws) == 5 and len(set(draws)) == 5          # called once per epoch, fresh draws
    np.testing.assert_array_equal(histories[0]["train"], histories[1]["train"])
    # trained on blank images, with dropout: the reported losses are those of the network in
    # eval mode (no dropout) on the clean images
    torch.manual_seed(0)
    net = mlp([64, 16, 10], dropout=0.5)
    history = train_classifier(net, X[idx], y[idx], {}, epochs=5, seed=0,
                               augment=lambda images, generator: torch.zeros_like(images))
    with torch.no_grad():
        clean = torch.nn.functional.cross_entropy(net.eval()(X[idx]), y[idx]).item()
    assert abs(clean - history["train"][-1, 0]) < 1e-12
