"""Tests of worked.clip: the symmetric contrastive loss against a direct double loop, its
limits, caption generation, the text encoding and a short training run."""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from worked.clip import (DIGIT_NAMES, TinyCLIP, Vocabulary, batch_losses, clip_loss, make_captions,
                         train_clip, zero_shot_predict)
from worked.digits import digits_tensors


def loop_loss(U, V, scale):
    """Direct computation: average over i of -log softmax_j(scale u_i.v_j)[i] and of the same for columns."""
    n = len(U)
    S = [[scale * float(np.dot(U[i], V[j])) for j in range(n)] for i in range(n)]
    rows = sum(-S[i][i] + math.log(sum(math.exp(S[i][j]) for j in range(n))) for i in range(n)) / n
    cols = sum(-S[j][j] + math.log(sum(math.exp(S[i][j]) for i in range(n))) for j in range(n)) / n
    return 0.5 * (rows + cols)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.floats(-1.0, 3.0), st.integers(0, 10**6))
def test_clip_loss_matches_double_loop(n, d, log_scale, seed):
    rng = np.random.default_rng(seed)
    U = torch.nn.functional.normalize(torch.tensor(rng.normal(size=(n, d))), dim=1)
    V = torch.nn.functional.normalize(torch.tensor(rng.normal(size=(n, d))), dim=1)
    got = clip_loss(U, V, torch.tensor(log_scale, dtype=torch.float64)).item()
    assert math.isclose(got, loop_loss(U.numpy(), V.numpy(), math.exp(log_scale)), rel_tol=1e-10, abs_tol=1e-12)
    # symmetric in the two modalities
    assert math.isclose(got, clip_loss(V, U, torch.tensor(log_scale, dtype=torch.float64)).item(), rel_tol=1e-10)


def test_clip_loss_limits():
    n = 5
    same = torch.nn.functional.normalize(torch.ones(n, 3, dtype=torch.float64), dim=1)
    assert math.isclose(clip_loss(same, same, torch.tensor(2.0)).item(), math.log(n), rel_tol=1e-12)
    eye = torch.eye(n, dtype=torch.float64)
    # matched pairs at cosine 1, others at 0: each softmax is e^s / (e^s + n - 1)
    s = 4.0
    assert math.isclose(clip_loss(eye, eye, torch.tensor(math.log(s))).item(), math.log1p((n - 1) * math.exp(-s)), rel_tol=1e-12)


def test_captions_and_vocabulary():
    labels = [3, 0, 9, 3]
    caps = make_captions(labels, seed=1)
    assert all(DIGIT_NAMES[y] in c.split() for y, c in zip(labels, caps))
    vocab = Vocabulary(caps)
    ids, offsets = vocab.encode(caps + ["unseen words"])
    assert offsets.tolist()[0] == 0 and len(offsets) == 5
    assert ids[offsets[-1]:].tolist() == [0, 0]


def test_short_training_lowers_loss_and_beats_chance():
    X, y = digits_tensors()
    caps = make_captions(y.tolist(), seed=0)
    model = TinyCLIP(Vocabulary(caps), seed=0)
    losses = train_clip(model, X[:1200], caps[:1200], steps=150, seed=0)
    assert losses[-20:].mean() < 0.7 * losses[:5].mean()
    acc = (zero_shot_predict(model, X[1200:], "the digit {name}") == y[1200:]).double().mean().item()
    assert acc > 0.5


def test_batch_losses_are_clip_losses_of_consecutive_batches():
    X, y = digits_tensors()
    caps = make_captions(y.tolist(), seed=0)
    model = TinyCLIP(Vocabulary(caps), seed=0)
    got = batch_losses(model, X[:70], caps[:70], batch=32)
    assert got.shape == (2,)  # the last 6 pairs do not fill a batch and are dropped
    with torch.no_grad():
        for k in range(2):
            part = slice(32 * k, 32 * k + 32)
            want = clip_loss(model.encode_images(X[part]), model.encode_texts(caps[part]), model.log_scale)
            assert math.isclose(got[k], want.item(), rel_tol=1e-12)
