"""Decoding a language model: exact search and Viterbi (book chapter "Decoding").

Every decoder takes a language model as a function ``next_log_probs(prefix)`` that maps a
prefix ``(w_0, ..., w_{t-1})`` (a tuple of word indices starting with the BOS index) to the
vector of ``log p(w_t = j | prefix)`` over the N words, shape (N,). A Markov (bigram) model
with transition matrix P, ``P[i, j] = p(w_t = j | w_{t-1} = i)``, is ``markov_lm(log P)``.

Decoders return a ``Decoded`` record with the words ``w_1..w_T``, their total log-probability,
``ops``: the number of candidate scores the decoder computed (one addition of a
log-probability to a partial score each), and ``stored``: the numbers it keeps at once.
The complexity claims of the book are asserted on these counts, never on timings.
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
    """The most likely w_1..w_T by scoring all N**T sequences (ties: first in lexicographic order).

    Each sequence is scored by the chain rule with T additions, so ops = T * N**T; only the
    current and the best sequence with their scores are kept, so stored = 2 * (T + 1).
    """
    best_words, best_score, ops = None, -np.inf, 0
    for words in product(range(N), repeat=T):
        score = sequence_log_prob(next_log_probs, words, bos)
        ops += len(words)
        if best_words is None or score > best_score:
            best_words, best_score = words, score
    return Decoded(best_words, best_score, ops, 2 * (T + 1))


def viterbi(log_P, T, bos):
    """The most likely w_1..w_T of a Markov model by dynamic programming (section ift6135-a2-q2-2-a).

    log_P: (N, N) log transition matrix, log_P[i, j] = log p(w_t = j | w_{t-1} = i).
    Recurrence, in log space: log delta_t(j) = max_i [log delta_{t-1}(i) + log P[i, j]],
    with backpointers a_t(j) = argmax_i of the same; delta_0 is one-hot at bos.
    Time O(T N^2) (ops = T * N**2 candidate scores); space O(T N): the T x N backpointers,
    plus the N x N scores of one step and the N entries of delta.
    """
    log_P = np.asarray(log_P, dtype=float)
    N = log_P.shape[0]
    log_delta = np.full(N, -np.inf)
    log_delta[bos] = 0.0
    backpointers = np.empty((T, N), dtype=int)  # row t-1 holds a_t
    ops = 0
    for t in range(T):
        scores = log_delta[:, None] + log_P  # (N, N): scores[i, j] = log delta_{t-1}(i) + log P[i, j]
        ops += scores.size
        backpointers[t] = scores.argmax(axis=0)
        log_delta = scores.max(axis=0)
    words = [int(log_delta.argmax())]  # w*_T = argmax_j delta_T(j)
    for t in range(T - 1, 0, -1):  # w*_t = a_{t+1}(w*_{t+1})
        words.append(int(backpointers[t, words[-1]]))
    stored = backpointers.size + log_P.size + log_delta.size
    return Decoded(tuple(reversed(words)), float(log_delta.max()), ops, stored)
