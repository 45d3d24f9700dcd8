"""Decoding a language model: exact search, Viterbi, greedy and beam search (chapters "Decoding"
and "Beam search").

Every decoder takes a language model as a function ``next_log_probs(prefix)`` that maps a
prefix ``(w_0, ..., w_{t-1})`` (a tuple of word indices starting with the BOS index) to the
vector of ``log p(w_t = j | prefix)`` over the N words, shape (N,). A Markov (bigram) model
with transition matrix P, ``P[i, j] = p(w_t = j | w_{t-1} = i)``, is ``markov_lm(log P)``.

Decoders return a ``Decoded`` record with the words ``w_1..w_T``, their total log-probability,
``ops``: the number of candidate scores the decoder computed (one addition of a
log-probability to a partial score each), and ``stored``: the numbers it keeps at
once, both counted during the run. The complexity claims of the book are asserted on
these counts, never on timings.
"""

from dataclasses import dataclass
from itertools import product

import numpy as np


@dataclass(frozen=True)
class Decoded:
    words: tuple  # (w_1, ..., w_T), word indices
    log_prob: float  # log p(w_1..w_T | w_0 = BOS)
    ops: int  # candidate scores computed
    stored: int  # numbers held in memory at the peak, besides the model


def markov_lm(log_P):
    """The language model p(w_t | w_{0:t-1}) = P[w_{t-1}, w_t], given log P of shape (N, N)."""
    log_P = np.asarray(log_P, dtype=float)
    return lambda prefix: log_P[prefix[-1]]


def sequence_log_prob(next_log_probs, words, bos):
    """log p(w_1..w_T | w_0 = bos) by the chain rule."""
    prefix, total = (bos,), 0.0
    for w in words:
        total += float(next_log_probs(prefix)[w])
        prefix += (w,)
    return total


def exhaustive_decode(next_log_probs, T, bos, N):
    """The most likely w_1..w_T by scoring all N**T sequences (ties: first in
    lexicographic order).

    Both counts are measured during the run: ``ops`` is the number of log-probabilities
    looked up and added (T per sequence by the chain rule, so T * N**T); ``stored`` is
    the peak of the numbers held: the current and the best sequence, T words and a score
    each (2 * (T + 1)).
    """
    best_words, best_score, ops, stored = None, -np.inf, 0, 0

    def counted(
        prefix,
    ):  # one lookup, added to the running score by sequence_log_prob
        nonlocal ops
        ops += 1
        return next_log_probs(prefix)

    for words in product(range(N), repeat=T):
        score = sequence_log_prob(counted, words, bos)
        if best_words is None or score > best_score:
            best_words, best_score = words, score
        stored = max(stored, (len(words) + 1) + (len(best_words) + 1))
    return Decoded(best_words, best_score, ops, stored)


def viterbi_step(log_delta, log_P):
    """One step of the Viterbi recurrence in log space (section
    ift6135-a2-q2-2-a).

    log_delta: (N,) log delta_{t-1}; log_P: (N, N). Returns log delta_t (N,),
    the backpointers a_t (N,) (first maximiser on ties) and the candidate
    scores (N, N), scores[i, j] = log delta_{t-1}(i) + log P[i, j], so that
    callers can count them.
    """
    scores = log_delta[:, None] + log_P  # (N, N)
    return scores.max(axis=0), scores.argmax(axis=0), scores


def viterbi_tables(log_P, T, bos):
    """The Viterbi tables of a Markov model: log delta_1..log delta_T and
    a_1..a_T, each (T, N).

    log_P: (N, N) log transition matrix,
    log_P[i, j] = log p(w_t = j | w_{t-1} = i).
    Recurrence (viterbi_step):
    log delta_t(j) = max_i [log delta_{t-1}(i) + log P[i, j]],
    with backpointers a_t(j) = argmax_i of the same (first maximiser on
    ties); delta_0 is one-hot at bos.
    Row t - 1 of each table holds step t. Keeps every row, for the book's
    checks.
    """
    log_P = np.asarray(log_P, dtype=float)
    N = log_P.shape[0]
    log_delta = np.full(N, -np.inf)
    log_delta[bos] = 0.0
    log_deltas, backpointers = [], []
    for _ in range(T):
        log_delta, a_t, _ = viterbi_step(log_delta, log_P)
        log_deltas.append(log_delta)
        backpointers.append(a_t)
    log_deltas = np.array(log_deltas).reshape(T, N)
    return log_deltas, np.array(backpointers, dtype=int).reshape(T, N)


def viterbi(log_P, T, bos):
    """The most likely w_1..w_T of a Markov model by dynamic programming
    (section ift6135-a2-q2-2-d).

    Forward: T steps of viterbi_step, keeping only the current log delta and
    the backpointers. Backward: w*_T = argmax_j delta_T(j), then
    w*_t = a_{t+1}(w*_{t+1}) for t = T-1, ..., 1. Both counts are measured on
    the arrays the run creates, not written as formulas: ``ops`` sums the
    sizes of the candidate-score arrays computed (one addition each);
    ``stored`` is the peak, over the steps, of the numbers held once a step is
    done: the backpointer rows kept so far, that step's score array and the
    current delta (the previous delta is dropped). Section ift6135-a2-q2-2-e
    derives T N^2 and T N + N^2 + N for them.
    """
    log_P = np.asarray(log_P, dtype=float)
    log_delta = np.full(log_P.shape[0], -np.inf)
    log_delta[bos] = 0.0
    backpointers, ops, stored = [], 0, log_delta.size
    for _ in range(T):
        log_delta, a_t, scores = viterbi_step(log_delta, log_P)
        backpointers.append(a_t)
        ops += scores.size
        kept = sum(a.size for a in backpointers)  # backpointer rows so far
        stored = max(stored, kept + scores.size + log_delta.size)
    words = [int(log_delta.argmax())]  # w*_T = argmax_j delta_T(j)
    # w*_t = a_{t+1}(w*_{t+1}), t = T-1..1
    for a_next in reversed(backpointers[1:]):
        words.append(int(a_next[words[-1]]))
    return Decoded(tuple(reversed(words)), float(log_delta.max()), ops, stored)


def greedy_decode(next_log_probs, T, bos):
    """w_t = argmax_j log p(w_t = j | w_{0:t-1}), one word at a time (first maximiser on
    ties).

    Counted during the run: ops = the next-word scores examined (T * N); stored = the
    peak of the words chosen so far, their score and the N next-word scores (T + 1 + N).
    """
    prefix, total, ops, stored = (bos,), 0.0, 0, 0
    for _ in range(T):
        log_probs = np.asarray(next_log_probs(prefix), dtype=float)
        w = int(log_probs.argmax())
        total += float(log_probs[w])
        prefix += (w,)
        ops += log_probs.size
        stored = max(stored, (len(prefix) - 1) + 1 + log_probs.size)
    return Decoded(prefix[1:], total, ops, stored)


def beam_search(next_log_probs, T, bos, B):
    """The B best hypotheses w_1..w_T kept by beam search of width B, best
    first.

    Starts from the single hypothesis (bos,) (not B copies of it, which would
    fill the beam with duplicates). At each step every hypothesis b is
    extended by every word j with score l_b + log p(j | hypothesis b), and
    the B best of those candidates survive (ties: earlier hypothesis, then
    smaller word index), selected in O(B N) time. Candidates with score -inf
    (impossible) never survive.
    Each returned Decoded carries the run's totals: ops = the candidate scores
    computed, at most T * B * N; stored = the peak numbers held at once: the
    candidate scores of one step plus the kept hypotheses (t + 1 words and a
    score each).
    """
    beams, ops, stored = [((bos,), 0.0)], 0, 0
    for t in range(1, T + 1):
        # (beams, N)
        scores = np.stack(
            [
                score + np.asarray(next_log_probs(prefix), dtype=float)
                for prefix, score in beams
            ]
        )
        ops += scores.size
        flat = scores.ravel()
        # Select in O(B N): the B-th largest score by partition, then sort
        # only the candidates that reach it, by score descending and position
        # ascending (deterministic ties).
        cutoff = (
            np.partition(flat, flat.size - B)[flat.size - B]
            if flat.size > B
            else -np.inf
        )
        candidates = np.flatnonzero(flat >= cutoff)
        order = candidates[np.lexsort((candidates, -flat[candidates]))]
        keep = [k for k in order[:B] if flat[k] > -np.inf]
        N = scores.shape[1]
        beams = [
            (beams[k // N][0] + (int(k % N),), float(flat[k])) for k in keep
        ]
        stored = max(stored, scores.size + len(beams) * (t + 2))
    return [Decoded(prefix[1:], score, ops, stored) for prefix, score in beams]
