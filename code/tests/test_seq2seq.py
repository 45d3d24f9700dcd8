"""Tests of worked.seq2seq: data, teacher-forcing inputs, shapes, step-by-step decoding against
the all-at-once forward pass, greedy decoding feeding back its outputs, the stacked decoder's
causality, the accuracy ceiling, and a tiny overfit run."""

import pytest
import torch

from worked.seq2seq import (DIGITS, SOS, Seq2Seq, decoder_inputs_and_targets, greedy_decode,
                            make_task, stacked_accuracy_ceiling, teacher_forced_predictions,
                            teacher_inputs, train_seq2seq)


def test_decoder_inputs_and_targets_for_the_homework_sentence():
    inputs, targets = decoder_inputs_and_targets("I see a dog".split())
    assert inputs == ["<sos>", "I", "see", "a", "dog"]
    assert targets == ["I", "see", "a", "dog", "<eos>"]
    assert inputs[1:] == targets[:-1]


def test_make_task_and_teacher_inputs():
    g = torch.Generator().manual_seed(0)
    src, tgt = make_task(5, 7, "reverse", g)
    assert src.shape == tgt.shape == (5, 7) and src.dtype == torch.int64
    assert torch.equal(tgt, src.flip(1)) and 0 <= src.min() and src.max() < DIGITS
    src, tgt = make_task(5, 7, "copy", g)
    assert torch.equal(src, tgt)
    with pytest.raises(ValueError):
        make_task(5, 7, "sort", g)
    tgt = torch.tensor([[3, 1, 4], [1, 5, 9]])
    assert torch.equal(teacher_inputs(tgt), torch.tensor([[SOS, 3, 1], [SOS, 1, 5]]))


@pytest.mark.parametrize("stacked", [False, True])
def test_shapes_and_steps_match_forward(stacked):
    torch.manual_seed(0)
    model = Seq2Seq(hidden=12, embed=5, stacked=stacked)
    src, tgt = make_task(4, 6, "reverse", torch.Generator().manual_seed(1))
    logits = model(src, teacher_inputs(tgt))
    assert logits.shape == (4, 6, DIGITS)
    h, states = model.start(src)
    assert states.shape == (4, 6, 12) and h.shape == (1, 4, 12)
    assert torch.count_nonzero(h) == 0 if stacked else torch.equal(h[0], states[:, -1])
    inputs = teacher_inputs(tgt)
    for t in range(6):
        step_logits, h = model.step(inputs[:, t], h, states, t)
        torch.testing.assert_close(step_logits, logits[:, t])


def test_stacked_decoder_has_no_input_beyond_the_source():
    model = Seq2Seq(hidden=8, embed=4, stacked=True)
    src = torch.zeros(2, 3, dtype=torch.int64)
    with pytest.raises(ValueError, match="no encoder state for step 4"):
        model(src, torch.zeros(2, 4, dtype=torch.int64))
    with pytest.raises(ValueError):
        greedy_decode(model, src, 4)
    assert greedy_decode(Seq2Seq(hidden=8, embed=4), src, 4)[1].shape == (2, 4)


@pytest.mark.parametrize("stacked", [False, True])
def test_greedy_decoding_feeds_back_its_argmax(stacked):
    torch.manual_seed(2)
    model = Seq2Seq(hidden=10, embed=4, stacked=stacked)
    src, _ = make_task(8, 5, "reverse", torch.Generator().manual_seed(3))
    inputs, outputs = greedy_decode(model, src, 5)
    assert torch.all(inputs[:, 0] == SOS)
    assert torch.equal(inputs[:, 1:], outputs[:, :-1])
    # the outputs are the argmax of the teacher-forced pass on the model's own inputs
    assert torch.equal(model(src, inputs).argmax(dim=2), outputs)


def test_stacked_output_t_ignores_later_source_tokens():
    torch.manual_seed(4)
    model = Seq2Seq(hidden=10, embed=4, stacked=True)
    src, _ = make_task(16, 6, "reverse", torch.Generator().manual_seed(5))
    for t in range(1, 6):
        changed = src.clone()
        changed[:, t:] = (changed[:, t:] + 1 + torch.arange(6 - t)) % DIGITS
        with torch.no_grad():
            a = model(src, teacher_inputs(src))[:, :t]
            b = model(changed, teacher_inputs(src))[:, :t]
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_ceiling():
    assert stacked_accuracy_ceiling(4) == [0.1, 0.1, 1.0, 1.0]
    assert stacked_accuracy_ceiling(5) == [0.1, 0.1, 1.0, 1.0, 1.0]
    assert stacked_accuracy_ceiling(3, "copy") == [1.0, 1.0, 1.0]


def test_tiny_model_overfits_reversal_of_short_strings():
    torch.manual_seed(0)
    model = Seq2Seq(hidden=32, embed=8)
    losses = train_seq2seq(model, "reverse", 3, 300, torch.Generator().manual_seed(0), batch=64)
    assert losses[-1] < 0.1 * losses[0]
    src, tgt = make_task(200, 3, "reverse", torch.Generator().manual_seed(1))
    assert (greedy_decode(model, src, 3)[1] == tgt).float().mean() > 0.95
    assert (teacher_forced_predictions(model, src, tgt) == tgt).float().mean() > 0.95
