"""Tests of worked.pig_latin: the three rules (against the assignment's examples and for all
words), the vocabulary round trip, the word list and the reproducible split."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worked.pig_latin import (CLUSTERS, EOP, EOS, LETTERS, PAD, SOS, VOCAB, VOCAB_SIZE, VOWELS, decode,
                              encode, english_words, pairs, pig_latin, split_words)

words = st.text(alphabet=LETTERS, min_size=1, max_size=20)


@pytest.mark.parametrize("english, expected", [
    ("team", "eamtay"), ("impress", "impressway"), ("shopping", "oppingshay"),  # the three rules
    ("i", "iway"), ("went", "entway"), ("the", "ethay"), ("family", "amilyfay"), ("of", "ofway"),
    ("three", "reethay"), ("child", "ildchay"), ("phone", "onephay"), ("what", "atwhay"),
    ("yes", "esyay"), ("by", "ybay"), ("s", "say"), ("street", "treetsay"),
])
def test_rules_on_examples(english, expected):
    assert pig_latin(english) == expected


@given(words)
def test_rules_for_all_words(word):
    out = pig_latin(word)
    if word[0] in VOWELS:
        assert out == word + "way"
    elif word[:2] in CLUSTERS:  # the pair moves as one block
        assert out == word[2:] + word[:2] + "ay"
    else:
        assert out == word[1:] + word[0] + "ay"
    # the translation is a rotation of the word's letters plus a suffix, so it can be undone
    assert sorted(out[:len(word)]) == sorted(word) and out[len(word):] in ("ay", "way")


@pytest.mark.parametrize("bad", ["", "Team", "don't", "a1"])
def test_rejects_non_words(bad):
    with pytest.raises(ValueError):
        pig_latin(bad)


def test_clusters_are_consonant_pairs():
    assert all(len(c) == 2 and not set(c) & VOWELS for c in CLUSTERS)


@given(words)
def test_vocabulary_round_trip(word):
    tokens = encode(word)
    assert all(4 <= t < VOCAB_SIZE for t in tokens)
    assert decode(tokens) == word
    assert decode([SOS] + tokens + [EOS, 5, 6]) == word  # stops at EOS, skips specials
    assert decode(tokens + [EOP, PAD]) == word


def test_vocabulary():
    assert VOCAB_SIZE == 30 == len(set(VOCAB))
    assert (PAD, SOS, EOS, EOP) == (0, 1, 2, 3)


def test_english_words_and_split():
    words = english_words(20000)
    assert 15000 < len(words) <= 20000 and len(set(words)) == len(words)
    assert words[:3] == ["the", "to", "and"]  # most frequent first
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    split = split_words(words)
    assert split == split_words(list(reversed(words)))  # reproducible, independent of input order
    assert len(split["test"]) == len(split["val"]) == 1000 and len(split["small"]) == 3200
    assert split["small"] == split["large"][:3200]
    test, val, large = map(set, (split["test"], split["val"], split["large"]))
    assert not test & val and not test & large and not val & large
    assert test | val | large == set(words)
    assert split_words(words, seed=1)["test"] != split["test"]
    p = pairs(["team", "of"])
    assert p == [(encode("team"), encode("eamtay")), (encode("of"), encode("ofway"))]
