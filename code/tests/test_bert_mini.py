"""Tests of worked.bert_mini: the task's labels against Python arithmetic, the corpora, the
tokenizer, BERT's masking rule (rates 15 % and 80/10/10), shapes and parameter counts, padding,
frozen fine-tuning leaving the encoder untouched, and small overfitting runs."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from worked.bert_mini import (CLS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIALS, MaskedLanguageModel,
                              MiniBert, SentenceClassifier, WordTokenizer, all_expressions,
                              arithmetic_corpus, encoder_parameter_count, english_corpus,
                              expression_text, fine_tune, make_task_split, mask_tokens,
                              number_words, pretrain_mlm, training_step_flops)
from worked.transformer import count_params

WORD_VALUE = {number_words(n): n for n in range(50)}


def parse_number(words):
    """Inverse of number_words, written independently: 'negative' flips the sign, the rest add up."""
    sign = -1 if words[0] == "negative" else 1
    words = words[1:] if sign < 0 else words
    return sign * sum(WORD_VALUE[w] for w in words)


@given(st.integers(-49, 49))
def test_number_words_round_trip(n):
    assert parse_number(number_words(n).split()) == n


def python_label(text):
    a, op, b = text.split()
    value = eval(f"{WORD_VALUE[a]} {'+' if op == 'plus' else '-'} {WORD_VALUE[b]}")
    return 0 if value < 0 else 1 if value == 0 else 2


def test_task_split_labels_sizes_and_reproducibility():
    (tr_x, tr_y), (va_x, va_y) = make_task_split(640, 160, seed=0)
    assert len(tr_x) == len(tr_y) == 640 and len(va_x) == len(va_y) == 160
    assert all(len(t.split()) == 3 for t in tr_x + va_x)
    assert len(set(tr_x + va_x)) == 800  # distinct, so no expression is in both sets
    assert [python_label(t) for t in tr_x + va_x] == tr_y + va_y
    assert make_task_split(640, 160, seed=0) == ((tr_x, tr_y), (va_x, va_y))
    assert make_task_split(640, 160, seed=1)[0][0] != tr_x
    assert len(all_expressions(20)) == 2 * 21 * 21
    with pytest.raises(ValueError):
        make_task_split(800, 100)


def test_arithmetic_corpus_states_true_equations():
    for sentence in arithmetic_corpus(500, seed=3):
        words = sentence.split()
        a, op, b, is_ = words[:4]
        assert op in ("plus", "minus") and is_ == "is"
        result = parse_number(words[4:])
        assert result == (WORD_VALUE[a] + WORD_VALUE[b] if op == "plus" else WORD_VALUE[a] - WORD_VALUE[b])


def test_arithmetic_corpus_excludes_the_evaluation_expressions():
    val_texts = make_task_split(640, 160, seed=0)[1][0]
    stated = lambda corpus: {" ".join(s.split()[:3]) for s in corpus}  # noqa: E731
    assert len(stated(arithmetic_corpus(4000, seed=1)) & set(val_texts)) > 150  # without: a leak
    clean = arithmetic_corpus(4000, seed=1, exclude=val_texts)
    assert not stated(clean) & set(val_texts)
    assert not any(f" {t} " in f" {s} " for s in clean for t in val_texts)
    assert len(clean) == 4000


def test_arithmetic_corpus_excludes_the_swapped_evaluation_expressions():
    # 'b plus a' states the value of 'a plus b', 'b minus a' gives the sign of 'a minus b'
    swap = lambda text: " ".join(text.split()[::-1])  # noqa: E731
    stated = lambda corpus: {" ".join(s.split()[:3]) for s in corpus}  # noqa: E731
    every = {expression_text(*e) for e in all_expressions(20)}
    val_texts = make_task_split(640, 160, seed=0)[1][0]
    forms = set(val_texts) | {swap(t) for t in val_texts}
    assert sum(swap(t) in stated(arithmetic_corpus(4000, seed=1)) for t in val_texts) > 150
    # 20000 draws reach every allowed expression: nothing else is excluded
    assert stated(arithmetic_corpus(20000, seed=1, exclude=val_texts)) == every - forms
    assert stated(arithmetic_corpus(20000, seed=2, exclude=["three minus nine"])) == every - {
        "three minus nine", "nine minus three"}


def test_english_corpus_covers_task_words_without_equations():
    english = english_corpus(3000, seed=0)
    words = {w for s in english for w in s.split()}
    task_words = {w for t in make_task_split()[0][0] for w in t.split()}
    assert task_words <= words
    for s in english:
        w = s.split()
        for i in range(1, len(w) - 1):  # no 'number plus/minus number' anywhere
            assert not (w[i] in ("plus", "minus") and w[i - 1] in WORD_VALUE and w[i + 1] in WORD_VALUE)


def test_tokenizer_layout():
    tok = WordTokenizer(["one plus two", "the cat"])
    ids = tok.encode(["one plus two", "the cat"])
    assert ids.shape == (2, 5)
    assert ids[:, 0].tolist() == [CLS_ID, CLS_ID]
    assert ids[0, 4] == SEP_ID and ids[1, 3] == SEP_ID and ids[1, 4] == PAD_ID
    assert tok.decode(ids[1].tolist()) == "[CLS] the cat [SEP]"
    assert tok.words[:4] == SPECIALS


def test_masking_rule_rates():
    vocab_size = 50
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(len(SPECIALS), vocab_size, (4000, 12), generator=gen)
    ids[:, 0], ids[:, -1], ids[:, -3:-1] = CLS_ID, SEP_ID, PAD_ID
    inputs, targets = mask_tokens(ids, vocab_size, gen)
    ordinary = ids >= len(SPECIALS)
    selected = targets != -100
    assert not (selected & ~ordinary).any()                 # specials are never selected
    assert torch.equal(targets[selected], ids[selected])    # targets are the original words
    assert torch.equal(inputs[~selected], ids[~selected])   # unselected positions are untouched
    n = ordinary.sum().item()
    k = selected.sum().item()
    assert abs(k / n - 0.15) < 4 * math.sqrt(0.15 * 0.85 / n)
    to_mask = (inputs[selected] == MASK_ID).double().mean().item()
    unchanged = (inputs[selected] == ids[selected]).double().mean().item()
    # a random replacement equals the original word with probability 1 / (number of ordinary words)
    p_same = 1 / (vocab_size - len(SPECIALS))
    for got, want in [(to_mask, 0.8), (unchanged, 0.1 + 0.1 * p_same)]:
        assert abs(got - want) < 4 * math.sqrt(want * (1 - want) / k)
    randomised = inputs[selected & (inputs != MASK_ID) & (inputs != ids)]
    assert (randomised >= len(SPECIALS)).all()  # random replacements are ordinary words


@pytest.mark.parametrize("d, layers, ff", [(64, 2, 128), (32, 1, 48)])
def test_shapes_and_parameter_count(d, layers, ff):
    torch.manual_seed(0)
    encoder = MiniBert(30, d_model=d, n_layers=layers, d_ff=ff, n_heads=4, max_len=10)
    ids = torch.randint(4, 30, (7, 6))
    assert encoder(ids).shape == (7, 6, d)
    assert MaskedLanguageModel(encoder, 30)(ids).shape == (7, 6, 30)
    clf = SentenceClassifier(encoder)
    assert clf(ids).shape == (7, 3)
    assert sum(p.numel() for p in encoder.parameters()) == encoder_parameter_count(30, d, layers, ff, 10)
    assert count_params(clf) == encoder_parameter_count(30, d, layers, ff, 10) + 3 * d + 3


def test_padding_does_not_change_the_cls_state():
    torch.manual_seed(0)
    encoder = MiniBert(20).eval()
    ids = torch.tensor([[CLS_ID, 5, 6, 7, SEP_ID]])
    padded = torch.cat([ids, torch.full((1, 3), PAD_ID)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(encoder(ids)[:, 0], encoder(padded)[:, 0], atol=1e-5, rtol=1e-5)


def small_task():
    (tr_x, tr_y), (va_x, va_y) = make_task_split(64, 32, seed=0)
    tok = WordTokenizer(tr_x + va_x)
    return tok, tok.encode(tr_x), torch.tensor(tr_y), tok.encode(va_x), torch.tensor(va_y)


def test_frozen_fine_tuning_changes_only_the_head():
    tok, xtr, ytr, xva, yva = small_task()
    torch.manual_seed(0)
    clf = SentenceClassifier(MiniBert(len(tok)))
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    log = fine_tune(clf, xtr, ytr, xva, yva, epochs=3, freeze=True, seed=0)
    assert log["trainable"] == sum(p.numel() for p in clf.head.parameters()) == 3 * 64 + 3
    after = clf.state_dict()
    for name, value in before.items():
        same = torch.equal(value, after[name])
        assert same != name.startswith("head."), name
    assert len(log["val_acc"]) == len(log["seconds"]) == 3


def test_frozen_step_needs_fewer_flops():
    tok, xtr, ytr, _, _ = small_task()
    torch.manual_seed(0)
    clf = SentenceClassifier(MiniBert(len(tok)))
    full = training_step_flops(clf, xtr[:32], ytr[:32])
    clf.encoder.requires_grad_(False)
    frozen = training_step_flops(clf, xtr[:32], ytr[:32])
    assert 2.5 < full / frozen < 3.5  # backward costs about two forward passes


def test_full_fine_tuning_overfits_a_small_set():
    tok, xtr, ytr, _, _ = small_task()
    torch.manual_seed(0)
    clf = SentenceClassifier(MiniBert(len(tok), dropout=0.0))
    log = fine_tune(clf, xtr, ytr, xtr, ytr, epochs=60, batch=16, lr=2e-3, seed=0)
    assert log["val_acc"][-1] == 1.0  # evaluated on the training set itself
    assert log["train_loss"][-1] < 0.1


def test_mlm_pretraining_memorises_a_tiny_corpus():
    corpus = ["one plus two is three", "four minus six is negative two"]
    tok = WordTokenizer(corpus)
    ids = tok.encode(corpus)
    torch.manual_seed(0)
    mlm = MaskedLanguageModel(MiniBert(len(tok), dropout=0.0), len(tok))
    losses = pretrain_mlm(mlm, ids, steps=300, batch=32, lr=3e-3, seed=0)
    assert abs(losses[0] - math.log(len(tok))) < 1.0
    assert np.mean(losses[-30:]) < 0.3
