"""Tests of worked.transformer: attention against torch's scaled_dot_product_attention (plain,
causal, masked), causality of the models, positional encodings, shapes, the decoder-only tensors,
parameter counts, greedy decoding against the forward pass, and a tiny overfit run."""

import math

import pytest
import torch
import torch.nn.functional as F

from worked.pig_latin import EOP, EOS, PAD, SOS, VOCAB_SIZE, encode, pairs, pig_latin
from worked.transformer import (DecoderOnlyTransformer, EncoderDecoderTransformer, MultiHeadAttention,
                                count_params, decoder_only_sequences, exact_match, non_embedding_params,
                                scaled_dot_product_attention, sinusoidal_positions, target_loss,
                                token_loss, train, train_seeds, translate)


@pytest.mark.parametrize("t_q", [1, 5])  # a single query (one decoding step) and several
def test_attention_matches_torch(t_q):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, t, 8, generator=g) for t in (t_q, 5, 5))
    out, w = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert w.shape == (3, 2, t_q, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, t_q))
    mask = torch.rand(3, 1, 1, 5, generator=g) > 0.4
    mask[..., 0] = True  # at least one key per row
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.all(w.masked_select(~mask.expand_as(w)) == 0)


def test_causal_attention_matches_torch_and_ignores_the_future():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 6, 4, generator=g) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal=True)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.all(torch.triu(w, diagonal=1) == 0)
    torch.testing.assert_close(out[..., 0, :], v[..., 0, :])  # the first query sees only key 0
    for t in range(5):
        k2, v2 = k.clone(), v.clone()
        k2[..., t + 1:, :] += 1.0
        v2[..., t + 1:, :] -= 2.0
        out2, _ = scaled_dot_product_attention(q, k2, v2, causal=True)
        assert torch.equal(out[..., :t + 1, :], out2[..., :t + 1, :])
        assert not torch.allclose(out[..., t + 1:, :], out2[..., t + 1:, :])


def test_multi_head_attention_against_torch_module():
    torch.manual_seed(2)
    d, heads = 16, 4
    ours = MultiHeadAttention(d, heads)
    ref = torch.nn.MultiheadAttention(d, heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(2, 7, d)
    causal = torch.triu(torch.ones(7, 7, dtype=torch.bool), 1)  # torch: True = not allowed
    expected, _ = ref(x, x, x, attn_mask=causal)
    torch.testing.assert_close(ours(x, causal=True), expected)
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 4)


def test_sinusoidal_positions():
    pe = sinusoidal_positions(50, 8)
    assert pe.shape == (50, 8)
    assert math.isclose(pe[3, 2].item(), math.sin(3 / 10000 ** (2 / 8)), rel_tol=1e-6)
    assert math.isclose(pe[3, 3].item(), math.cos(3 / 10000 ** (2 / 8)), rel_tol=1e-6)
    torch.testing.assert_close(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, torch.ones(50, 4))
    assert len({tuple(row.round(decimals=4).tolist()) for row in pe}) == 50  # all positions distinct


def test_encoder_decoder_shapes_padding_and_causality():
    torch.manual_seed(3)
    model = EncoderDecoderTransformer(d_model=16, layers=2, heads=2).eval()
    batch = pairs(["team", "of", "shopping"])
    (src, dec_in), target = model.collate(batch)
    assert src.shape == (3, 8) and dec_in.shape == target.shape == (3, 11)
    assert dec_in[0, :7].tolist() == [SOS] + encode("eamtay") and target[0, :7].tolist() == encode("eamtay") + [EOS]
    assert target[0, 7:].eq(PAD).all() and src[1, 2:].eq(PAD).all()
    logits = model(src, dec_in)
    assert logits.shape == (3, 11, VOCAB_SIZE)
    # padding does not change a word's logits: "of" alone equals "of" in the padded batch
    (s1, d1), _ = model.collate(batch[1:2])
    torch.testing.assert_close(model(s1, d1)[0], logits[1, :d1.shape[1]], atol=1e-5, rtol=1e-5)
    # the decoder is causal: changing target token t+1.. leaves logits 0..t unchanged
    changed = dec_in.clone()
    changed[:, 4:] = 7
    assert torch.equal(model(src, changed)[:, :4], logits[:, :4])


def test_decoder_only_sequences_and_collate():
    src, tgt = encode("team"), encode("eamtay")
    x, y = decoder_only_sequences(src, tgt)
    assert x == [SOS] + src + [EOP] + tgt
    assert y == src + [EOP] + tgt + [EOS]
    assert x[1:] == y[:-1]
    model = DecoderOnlyTransformer(d_model=16, layers=1, heads=2)
    (inp,), target = model.collate([(src, tgt)])
    assert inp[0].tolist() == x
    assert target[0].tolist() == [PAD] * 5 + tgt + [EOS]  # loss on the target part only
    (inp,), target = DecoderOnlyTransformer(d_model=16, layers=1, heads=2, loss_on="both").collate([(src, tgt)])
    assert target[0].tolist() == y
    with pytest.raises(ValueError):
        DecoderOnlyTransformer(loss_on="source")


def test_decoder_only_is_causal():
    torch.manual_seed(4)
    model = DecoderOnlyTransformer(d_model=16, layers=2, heads=4).eval()
    (inp,), _ = model.collate(pairs(["shopping", "team"]))
    logits = model(inp)
    assert logits.shape == (2, inp.shape[1], VOCAB_SIZE)
    changed = inp.clone()
    changed[:, 6:] = 9
    assert torch.equal(model(changed)[:, :6], logits[:, :6])


@pytest.mark.parametrize("layers, d", [(1, 16), (2, 32), (3, 48)])
def test_non_embedding_params(layers, d):
    model = DecoderOnlyTransformer(d_model=d, layers=layers, heads=4)
    assert non_embedding_params(model) == layers * (12 * d * d + 13 * d) + 2 * d
    assert count_params(model) == non_embedding_params(model) + VOCAB_SIZE * d + (d + 1) * VOCAB_SIZE


@pytest.mark.parametrize("kind", [EncoderDecoderTransformer, DecoderOnlyTransformer])
def test_greedy_generation_reads_back_its_argmax(kind):
    torch.manual_seed(5)
    model = kind(d_model=16, layers=1, heads=2).eval()
    words = ["team", "of", "shopping", "cat"]
    outs = model.generate([encode(w) for w in words], max_new=6)
    for w, out in zip(words, outs):
        out = out[:out.index(EOS) + 1] if EOS in out else out
        # feeding the generated prefix back, the argmax at each step is the next generated token
        pair = [(encode(w), out[:-1] if out and out[-1] == EOS else out)]
        inputs, _ = model.collate(pair)
        logits = model(*inputs)[0]
        start = 0 if kind is EncoderDecoderTransformer else len(w) + 1
        assert logits[start:start + len(out)].argmax(-1).tolist() == out
    assert len(translate(model, words)) == 4


@pytest.mark.parametrize("kind", [EncoderDecoderTransformer, DecoderOnlyTransformer])
def test_tiny_model_overfits_a_few_words(kind):
    torch.manual_seed(0)
    words = ["team", "impress", "shopping", "went", "of", "the", "cat", "apple"]
    data = pairs(words)
    model = kind(d_model=32, layers=1, heads=2)
    before = target_loss(model, data)
    history = train(model, data, data, steps=150, batch_size=8, lr=3e-3, eval_every=50)
    assert history["step"] == [50, 100, 150] and len(history["val"]) == 3
    assert history["tokens"][-1] == 150 * sum(len(pig_latin(w)) + 1 for w in words)
    assert history["val"][-1] < 0.05 * before
    assert exact_match(model, words) == 1.0
    assert translate(model, ["shopping"]) == ["oppingshay"]
    assert token_loss(model, data).item() == pytest.approx(history["val"][-1], rel=1e-4)


def test_constant_rate_checkpoint_equals_shorter_run():
    # With schedule=False the model after k of 2k steps is the k-step model (the scaling-laws
    # chapter reads several budgets off one run); with the schedule it is not, because the cosine
    # decay depends on the total number of steps.
    data = pairs(["team", "shopping", "impress", "apple", "string", "the", "which", "glove"] * 4)
    results = {}
    for schedule in (False, True):
        for steps in (3, 6):
            torch.manual_seed(0)
            model = DecoderOnlyTransformer(d_model=16, layers=1, heads=2)
            history = train(model, data, data[:8], steps=steps, batch_size=8, lr=1e-2, eval_every=3,
                            schedule=schedule)
            results[schedule, steps] = history["val"]
    assert results[False, 6][0] == pytest.approx(results[False, 3][0], rel=1e-6)
    assert results[True, 6][0] != pytest.approx(results[True, 3][0], rel=1e-6)


@pytest.mark.parametrize("schedule", [True, False])  # the scaling-laws chapter uses False
def test_train_seeds_is_train_run_once_per_seed(schedule):
    # the batched run of each seed must be that seed's own run of train (init and batch order)
    data = pairs(["hello", "world", "string", "apple", "quiet", "stack", "trees", "banana"] * 5)
    make = lambda: DecoderOnlyTransformer(d_model=8, layers=2, heads=2)
    together = train_seeds(make, [0, 3], data, data[:10], steps=7, batch_size=16, lr=1e-2,
                           eval_every=3, schedule=schedule)
    for column, seed in enumerate([0, 3]):
        torch.manual_seed(seed)
        alone = train(make(), data, data[:10], steps=7, batch_size=16, lr=1e-2, eval_every=3,
                      seed=seed, schedule=schedule)
        assert together["step"] == alone["step"]
        torch.testing.assert_close(torch.tensor(together["val"][:, column]),
                                   torch.tensor(alone["val"], dtype=torch.float64),
                                   rtol=1e-5, atol=1e-5)
    assert abs(together["val"][-1, 0] - together["val"][-1, 1]) > 1e-4  # the seeds differ
