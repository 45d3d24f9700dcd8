"""Tests of worked.decoding: Viterbi against exhaustive search and a test-side brute force."""

import math
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worked.decoding import (
    Decoded,
    beam_search,
    exhaustive_decode,
    greedy_decode,
    markov_lm,
    sequence_log_prob,
    viterbi,
    viterbi_tables,
)

TOL = dict(rel_tol=1e-12, abs_tol=1e-12)


def safe_log(P):
    with np.errstate(divide="ignore"):
        return np.log(P)


def random_P(rng, N, dirichlet, with_zeros):
    """A random row-stochastic (N, N) matrix; with_zeros masks entries but keeps one per row."""
    P = rng.dirichlet(np.ones(N), size=N) if dirichlet else rng.uniform(0.05, 1.0, size=(N, N))
    if with_zeros:
        keep = rng.random((N, N)) < 0.5
        keep[np.arange(N), rng.integers(0, N, size=N)] = True
        P = P * keep
    return P / P.sum(axis=1, keepdims=True)


def direct_log_prob(P, words, bos):
    """log prod_t P[w_{t-1}, w_t], written out without the module."""
    prev, p = bos, 1.0
    for w in words:
        p *= P[prev, w]
        prev = w
    return math.log(p) if p > 0 else -math.inf


def brute_force_best(P, T, bos):
    N = P.shape[0]
    return max(direct_log_prob(P, w, bos) for w in product(range(N), repeat=T))


markov_models = st.tuples(
    st.integers(2, 4),  # N
    st.integers(1, 5),  # T
    st.integers(0, 2**32 - 1),  # seed
    st.booleans(),  # dirichlet or normalised uniform entries
)


@settings(max_examples=150, deadline=None)
@given(markov_models, st.data())
def test_viterbi_score_equals_exhaustive(model, data):
    N, T, seed, dirichlet = model
    bos = data.draw(st.integers(0, N - 1))
    P = random_P(np.random.default_rng(seed), N, dirichlet, with_zeros=False)
    log_P = np.log(P)

    v = viterbi(log_P, T, bos)
    e = exhaustive_decode(markov_lm(log_P), T, bos, N)

    assert isinstance(v, Decoded) and isinstance(e, Decoded)
    assert len(v.words) == T and all(0 <= w < N for w in v.words)
    # Scores, not paths: two paths may tie.
    assert math.isclose(v.log_prob, e.log_prob, **TOL)
    assert math.isclose(v.log_prob, brute_force_best(P, T, bos), **TOL)
    # The returned words really score what is reported (two independent recomputations).
    assert math.isclose(sequence_log_prob(markov_lm(log_P), v.words, bos), v.log_prob, **TOL)
    assert math.isclose(direct_log_prob(P, v.words, bos), v.log_prob, **TOL)
    assert math.isclose(direct_log_prob(P, e.words, bos), e.log_prob, **TOL)


@settings(max_examples=150, deadline=None)
@given(markov_models, st.data())
def test_viterbi_with_impossible_transitions(model, data):
    N, T, seed, dirichlet = model
    bos = data.draw(st.integers(0, N - 1))
    P = random_P(np.random.default_rng(seed), N, dirichlet, with_zeros=True)
    log_P = safe_log(P)

    v = viterbi(log_P, T, bos)
    e = exhaustive_decode(markov_lm(log_P), T, bos, N)
    best = brute_force_best(P, T, bos)

    assert math.isfinite(best)  # every row has a nonzero entry, so some sequence is possible
    assert math.isfinite(v.log_prob) and math.isfinite(e.log_prob)
    assert math.isclose(v.log_prob, best, **TOL)
    assert math.isclose(e.log_prob, best, **TOL)
    # The decoded path uses only possible transitions.
    prev = bos
    for w in v.words:
        assert P[prev, w] > 0
        prev = w
    assert math.isclose(sequence_log_prob(markov_lm(log_P), v.words, bos), v.log_prob, **TOL)


def test_zeros_hand_example():
    # Word 0 can never follow word 0 or 2; word 2 can only be followed by itself.
    P = np.array(
        [
            [0.0, 0.7, 0.3],
            [0.5, 0.5, 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    log_P = safe_log(P)
    # By hand, from bos = 0 with T = 3: w_1 in {1, 2}.  w_1 = 2 forces (2, 2, 2): 0.3 * 1 * 1 = 0.3.
    # w_1 = 1: (1,1,0) = (1,1,1) = 0.7*0.5*0.5 = 0.175, (1,0,1) = 0.7*0.5*0.7 = 0.245,
    # (1,0,2) = 0.7*0.5*0.3 = 0.105.  So the optimum is (2, 2, 2) with probability 0.3.
    v = viterbi(log_P, 3, 0)
    e = exhaustive_decode(markov_lm(log_P), 3, 0, 3)
    assert v.words == (2, 2, 2) and e.words == (2, 2, 2)
    assert math.isclose(v.log_prob, math.log(0.3), **TOL)
    assert math.isclose(e.log_prob, math.log(0.3), **TOL)
    # Impossible sequences score -inf.
    assert sequence_log_prob(markov_lm(log_P), (0, 1, 0), 0) == -math.inf
    assert sequence_log_prob(markov_lm(log_P), (2, 2, 1), 0) == -math.inf


def test_deterministic_cycle_has_one_possible_sequence():
    # P is the cyclic permutation 0 -> 1 -> 2 -> 0: exactly one sequence has probability 1.
    P = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    log_P = safe_log(P)
    v = viterbi(log_P, 5, 0)
    e = exhaustive_decode(markov_lm(log_P), 5, 0, 3)
    assert v.words == (1, 2, 0, 1, 2) and e.words == (1, 2, 0, 1, 2)
    assert v.log_prob == 0.0 and e.log_prob == 0.0


def test_greedy_first_step_is_not_on_the_optimal_path():
    # bos = 0, T = 2.  Greedy takes w_1 = 1 (the largest entry 0.5 of row 0), then the best
    # continuation from 1 is w_2 = 0 (0.4): total 0.5 * 0.4 = 0.20.
    # The optimum goes through the less likely first word 2, whose row is peaked:
    # (2, 2) has 0.4 * 0.9 = 0.36.  All other sequences: (0, j) <= 0.1 * 0.5 = 0.05,
    # (1, j) <= 0.5 * 0.4 = 0.20, (2, 0) = (2, 1) = 0.4 * 0.05 = 0.02.  So (2, 2) is optimal.
    P = np.array(
        [
            [0.10, 0.50, 0.40],
            [0.40, 0.30, 0.30],
            [0.05, 0.05, 0.90],
        ]
    )
    log_P = np.log(P)

    greedy, prev = [], 0
    for _ in range(2):
        prev = int(np.argmax(P[prev]))
        greedy.append(prev)
    assert tuple(greedy) == (1, 0)  # the premise of the example

    v = viterbi(log_P, 2, 0)
    assert v.words == (2, 2)
    assert math.isclose(v.log_prob, math.log(0.36), **TOL)
    assert v.log_prob > direct_log_prob(P, greedy, 0) + 0.5  # log(0.36 / 0.20) = 0.59
    e = exhaustive_decode(markov_lm(log_P), 2, 0, 3)
    assert e.words == (2, 2)


def test_sequence_log_prob_hand_example():
    P = np.array([[0.2, 0.8], [0.6, 0.4]])
    # bos = 1, words (0, 1, 1): P[1,0] * P[0,1] * P[1,1] = 0.6 * 0.8 * 0.4 = 0.192
    assert math.isclose(sequence_log_prob(markov_lm(np.log(P)), (0, 1, 1), 1), math.log(0.192), **TOL)
    assert sequence_log_prob(markov_lm(np.log(P)), (), 0) == 0.0


@pytest.mark.parametrize("N,T", [(2, 1), (2, 6), (3, 1), (3, 4), (4, 3), (5, 2), (5, 4)])
def test_operation_and_storage_counts(N, T):
    P = random_P(np.random.default_rng(100 * N + T), N, dirichlet=True, with_zeros=False)
    log_P = np.log(P)
    v = viterbi(log_P, T, 0)
    e = exhaustive_decode(markov_lm(log_P), T, 0, N)
    # viterbi counts the arrays it creates during the run; the derivation (book section
    # ift6135-a2-q2-2-e) says T steps of N x N candidate scores, and a peak of T x N
    # backpointers, N x N step scores and N entries of delta.
    assert v.ops == T * N**2
    assert v.stored == T * N + N * N + N
    # exhaustive counts its lookups during the run; derived: N**T sequences of T additions,
    # and the current and best sequence (T words plus a score each).
    assert e.ops == T * N**T
    assert e.stored == 2 * (T + 1)
    # greedy: T steps of N next-word scores; keeps the T words, a score and one step's N scores.
    g = greedy_decode(markov_lm(log_P), T, 0)
    assert (g.ops, g.stored) == (T * N, T + 1 + N)


def test_exhaustive_ties_break_to_first_in_lexicographic_order():
    N, T = 3, 3
    log_P = np.full((N, N), -math.log(N))  # uniform: every sequence ties
    e = exhaustive_decode(markov_lm(log_P), T, 1, N)
    assert e.words == (0, 0, 0)
    assert math.isclose(e.log_prob, -T * math.log(N), **TOL)
    v = viterbi(log_P, T, 1)
    assert math.isclose(v.log_prob, -T * math.log(N), **TOL)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 3), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_exhaustive_decode_on_a_non_markov_model(N, T, seed):
    # A model whose next-word distribution depends on the whole prefix (its length and sum),
    # so Viterbi does not apply but exhaustive search does.
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.ones(N), size=(T + 1, N * (T + 1)))

    def probs(prefix):
        return table[len(prefix), sum(prefix)]

    e = exhaustive_decode(lambda prefix: np.log(probs(prefix)), T, 0, N)
    best = -math.inf
    for words in product(range(N), repeat=T):
        p, prefix = 1.0, (0,)
        for w in words:
            p *= probs(prefix)[w]
            prefix += (w,)
        best = max(best, math.log(p))
    assert math.isclose(e.log_prob, best, **TOL)
    assert e.ops == T * N**T


def random_context_lm(N, T, seed):
    """A language model whose next-word distribution depends on the whole prefix (a random
    table indexed by the prefix), the general case that greedy and beam search handle."""
    rng = np.random.default_rng(seed)
    cache = {}

    def next_log_probs(prefix):
        if prefix not in cache:
            cache[prefix] = np.log(rng.dirichlet(np.full(N, 0.5)))
        return cache[prefix]

    return next_log_probs


def all_scores(lm, T, bos, N):
    """Every sequence with its log-probability, best first (ties: lexicographic order)."""
    scored = [(sequence_log_prob(lm, w, bos), w) for w in product(range(N), repeat=T)]
    return sorted(scored, key=lambda sw: (-sw[0], sw[1]))


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 4), st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_beam_search_hypotheses_are_distinct_sorted_and_scored(N, T, B, seed):
    lm = random_context_lm(N, T, seed)
    beams = beam_search(lm, T, 0, B)
    assert len(beams) == min(B, N**T)
    assert len({b.words for b in beams}) == len(beams)
    scores = [b.log_prob for b in beams]
    assert scores == sorted(scores, reverse=True)
    for b in beams:
        assert len(b.words) == T
        assert math.isclose(sequence_log_prob(lm, b.words, 0), b.log_prob, **TOL)
    # The best hypothesis can never beat the exact optimum.
    assert beams[0].log_prob <= exhaustive_decode(lm, T, 0, N).log_prob + 1e-12
    # Counted work: min(B, N**(t-1)) hypotheses extended by N words at step t.
    assert beams[0].ops == sum(min(B, N ** (t - 1)) * N for t in range(1, T + 1))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_beam_search_of_width_one_is_greedy(N, T, seed):
    lm = random_context_lm(N, T, seed)
    (beam,) = beam_search(lm, T, 0, 1)
    greedy = greedy_decode(lm, T, 0)
    assert beam.words == greedy.words
    assert math.isclose(beam.log_prob, greedy.log_prob, **TOL)
    assert greedy.ops == T * N


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 3), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_wide_enough_beam_is_exact_top_b(N, T, seed):
    # With B >= N**(T-1) nothing is ever pruned before the last step, so the beam holds the
    # B best of all N**T sequences.
    lm = random_context_lm(N, T, seed)
    B = N ** (T - 1)
    beams = beam_search(lm, T, 0, B)
    best = all_scores(lm, T, 0, N)[:B]
    for b, (score, _) in zip(beams, best):
        assert math.isclose(b.log_prob, score, **TOL)


def test_beam_search_hand_example_where_a_wider_beam_is_worse():
    # BOS = 0; words 1, 2 at t = 1; the best first word 1 leads to a flat continuation, the
    # second word 2 to a peaked one.  p(1) = 0.6, p(2) = 0.4; after 1: 0.5 / 0.5;
    # after 2: 0.9 / 0.1.  Greedy: (1, x) = 0.30; exact and B = 2: (2, 1) = 0.36.
    table = {(0,): [0.0, 0.6, 0.4], (0, 1): [0.0, 0.5, 0.5], (0, 2): [0.0, 0.9, 0.1]}

    def lm(prefix):
        with np.errstate(divide="ignore"):
            return np.log(np.array(table[prefix]))

    assert greedy_decode(lm, 2, 0).words == (1, 1)
    (b1,) = beam_search(lm, 2, 0, 1)
    assert b1.words == (1, 1) and math.isclose(b1.log_prob, math.log(0.30), **TOL)
    b2 = beam_search(lm, 2, 0, 2)
    assert [b.words for b in b2] == [(2, 1), (1, 1)]
    assert math.isclose(b2[0].log_prob, math.log(0.36), **TOL)
    # Impossible words (log 0) are never kept, even when the beam has room.
    assert len(beam_search(lm, 2, 0, 10)) == 4


@settings(max_examples=60, deadline=None)
@given(markov_models)
def test_viterbi_tables_match_the_definition(model):
    N, T, seed, dirichlet = model
    P = random_P(np.random.default_rng(seed), N, dirichlet, with_zeros=False)
    log_deltas, backpointers = viterbi_tables(np.log(P), T, 0)
    for t in range(1, T + 1):
        for j in range(N):
            best = max(direct_log_prob(P, prefix + (j,), 0) for prefix in product(range(N), repeat=t - 1))
            assert math.isclose(log_deltas[t - 1, j], best, **TOL)
            if t > 1:  # the backpointer is a previous word that attains the maximum
                i = backpointers[t - 1, j]
                assert math.isclose(log_deltas[t - 2, i] + math.log(P[i, j]), best, **TOL)
