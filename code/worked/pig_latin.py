"""English to Pig Latin, the toy translation task of the book chapter "Attention and
transformers" (sections ``csc413-a3-q3-1`` and ``csc413-a3-q3-2``): the three rules, a word
list from the ``wordfreq`` package (shipped with it, no download), a reproducible split, and
the character vocabulary shared by source and target.

Tokens: PAD = 0, SOS = 1, EOS = 2, EOP = 3 (end of prompt, used by the decoder-only model), and
the letters a..z are 4..29, so VOCAB_SIZE = 30. A word is a list of letter tokens, without SOS or
EOS; the models add those.
"""

import random
import string

VOWELS = frozenset("aeiou")
# Rule 3: consonant pairs that move to the end as one block ("shopping" -> "oppingshay").
CLUSTERS = frozenset({"ch", "gh", "ph", "sh", "th", "wh"})

PAD, SOS, EOS, EOP = 0, 1, 2, 3
SPECIALS = ["<pad>", "<sos>", "<eos>", "<eop>"]
LETTERS = string.ascii_lowercase
VOCAB = SPECIALS + list(LETTERS)
VOCAB_SIZE = len(VOCAB)  # 30
_INDEX = {ch: i for i, ch in enumerate(VOCAB)}


def pig_latin(word):
    """The Pig Latin of one lowercase word: a leading consonant cluster from CLUSTERS moves to the
    end as a block; otherwise a leading consonant moves to the end; "ay" is appended after a moved
    consonant, "way" after a word that starts with a vowel (a, e, i, o, u; y counts as a consonant)."""
    if not word or not word.isalpha() or not word.islower():
        raise ValueError(
            f"expected a non-empty lowercase alphabetic word, got {word!r}"
        )
    if word[0] in VOWELS:
        return word + "way"
    head = word[:2] if word[:2] in CLUSTERS else word[0]
    return word[len(head) :] + head + "ay"


def encode(word):
    """Letter tokens (list of ints in 4..29) of a lowercase word."""
    return [_INDEX[ch] for ch in word]


def decode(tokens):
    """The word spelled by letter tokens; stops at the first EOS, skips PAD/SOS/EOP."""
    letters = []
    for t in tokens:
        t = int(t)
        if t == EOS:
            break
        if t >= len(SPECIALS):
            letters.append(VOCAB[t])
    return "".join(letters)


def english_words(n=20000):
    """The alphabetic, lowercase ASCII words among the n most frequent English words of the
    ``wordfreq`` package (in order of frequency, duplicates removed)."""
    from wordfreq import (
        top_n_list,
    )  # imported here so that the rules work without the package

    seen, words = set(), []
    for w in top_n_list("en", n):
        if w.isascii() and w.isalpha() and w.islower() and w not in seen:
            seen.add(w)
            words.append(w)
    return words


def split_words(words, n_val=1000, n_test=1000, n_small=3200, seed=0):
    """A reproducible random split of a word list into disjoint test, validation and training
    words; the small training set is the first n_small words of the (shuffled) large one.
    Returns a dict with keys "test", "val", "small", "large" (lists of words)."""
    shuffled = sorted(set(words))
    random.Random(seed).shuffle(shuffled)
    test, val, train = (
        shuffled[:n_test],
        shuffled[n_test : n_test + n_val],
        shuffled[n_test + n_val :],
    )
    return {"test": test, "val": val, "small": train[:n_small], "large": train}


def pairs(words):
    """(source tokens, target tokens) for each word: the English word and its Pig Latin."""
    return [(encode(w), encode(pig_latin(w))) for w in words]
