"""A miniature BERT (book section ``csc413-a3-q4``): the verbal-arithmetic task, two generated
pretraining corpora (arithmetic statements and plain English sentences), a word-level
tokenizer, BERT's masking rule, a small Transformer encoder pretrained by masked-language
modelling, and fine-tuning of a classifier on the [CLS] representation, with the encoder
trained or frozen. CPU, float32, seeded.

Shapes: token ids (N, T) int64, padded with PAD_ID on the right; hidden states (N, T, d);
MLM logits (N, T, V); classifier logits (N, 3); labels 0 = negative, 1 = zero, 2 = positive.
"""

import time

import numpy as np
import torch

from worked.transformer import count_params

PAD, CLS, SEP, MASK = "[PAD]", "[CLS]", "[SEP]", "[MASK]"
SPECIALS = [PAD, CLS, SEP, MASK]
PAD_ID, CLS_ID, SEP_ID, MASK_ID = range(4)
LABEL_NAMES = ["negative", "zero", "positive"]

SMALL = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = {2: "twenty", 3: "thirty", 4: "forty"}


def number_words(n):
    """English words of an integer in [-49, 49]: 7 -> 'seven', 23 -> 'twenty three',
    -5 -> 'negative five'."""
    if n < 0:
        return "negative " + number_words(-n)
    if n < 20:
        return SMALL[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + ("" if ones == 0 else " " + SMALL[ones])


# ---------------------------------------------------------------- the downstream task


def sign_label(value):
    """0 if value < 0, 1 if value == 0, 2 if value > 0."""
    return int(value > 0) - int(value < 0) + 1


def all_expressions(max_operand=20):
    """Every expression 'a plus b' and 'a minus b' with 0 <= a, b <= max_operand, as
    (a, op, b) triples in a fixed order."""
    return [
        (a, op, b)
        for op in ("plus", "minus")
        for a in range(max_operand + 1)
        for b in range(max_operand + 1)
    ]


def expression_text(a, op, b):
    return f"{number_words(a)} {op} {number_words(b)}"


def expression_value(a, op, b):
    return a + b if op == "plus" else a - b


def make_task_split(n_train=640, n_val=160, max_operand=20, seed=0):
    """A reproducible train/validation split of distinct three-word expressions drawn without
    replacement from all_expressions(max_operand). Returns two (texts, labels) pairs."""
    pool = all_expressions(max_operand)
    order = np.random.default_rng(seed).permutation(len(pool))
    if n_train + n_val > len(pool):
        raise ValueError(f"only {len(pool)} distinct expressions")
    picked = [pool[i] for i in order[: n_train + n_val]]
    texts = [expression_text(*e) for e in picked]
    labels = [sign_label(expression_value(*e)) for e in picked]
    return (texts[:n_train], labels[:n_train]), (
        texts[n_train:],
        labels[n_train:],
    )


# ---------------------------------------------------------------- the pretraining corpora


def arithmetic_corpus(n, seed=0, max_operand=20, exclude=()):
    """n statements of addition and subtraction with their results, the kind of text a
    mathematical corpus is full of: 'three plus four is seven', 'two minus nine is negative
    seven'. The expression is uniform over all_expressions(max_operand) minus the expression
    texts in `exclude` (the evaluation set, which pretraining must never see) and minus those
    expressions with their operands swapped: 'b plus a' states the value of 'a plus b', and
    'b minus a' its negative, which gives the sign of 'a minus b' at once. The results are
    always correct."""
    exclude = set(exclude)
    pool = [
        (a, op, b)
        for a, op, b in all_expressions(max_operand)
        if expression_text(a, op, b) not in exclude
        and expression_text(b, op, a) not in exclude
    ]
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(pool), size=n)
    return [
        f"{expression_text(*pool[i])} is {number_words(expression_value(*pool[i]))}"
        for i in picks
    ]


SUBJECTS = [
    "the cat",
    "my friend",
    "a teacher",
    "the children",
    "she",
    "he",
    "we",
    "they",
    "my sister",
    "the old man",
    "our neighbour",
    "a student",
]
VERBS = [
    "saw",
    "bought",
    "found",
    "painted",
    "counted",
    "carried",
    "liked",
    "sold",
    "wanted",
    "lost",
    "cleaned",
    "watched",
]
THINGS = [
    "apples",
    "books",
    "birds",
    "chairs",
    "cups",
    "letters",
    "flowers",
    "boxes",
    "shoes",
    "pictures",
    "songs",
    "games",
]
PLACES = [
    "in the park",
    "at school",
    "near the river",
    "at home",
    "in the city",
    "on the farm",
    "after lunch",
    "last week",
    "every day",
    "in the morning",
]
ADJECTIVES = [
    "good",
    "cheap",
    "quiet",
    "cold",
    "warm",
    "busy",
    "small",
    "new",
    "friendly",
    "slow",
]
NOUNS = [
    "food",
    "room",
    "weather",
    "street",
    "staff",
    "music",
    "bus",
    "shop",
    "coffee",
    "game",
]
ENGLISH_TEMPLATES = [
    "{subject} {verb} {count} {things} {place}",
    "{subject} {verb} the {noun} {place}",
    "there were {count} {things} {place}",
    "{subject} waited {count} minutes for the {noun}",
    "the {noun} was {adjective} plus the {noun2} was {adjective2}",
    "it was minus {count} degrees {place}",
    "{subject} walked {count} miles {place}",
    "the {noun} is {adjective} and {adjective2}",
]


def english_corpus(n, seed=0, max_count=20):
    """n sentences of plain English from a small grammar. Every word of the downstream task
    occurs (numbers as counts, 'plus' as 'and also', 'minus' in temperatures), but no sentence
    states a sum or a difference."""
    rng = np.random.default_rng(seed)
    pick = lambda words: words[int(rng.integers(len(words)))]  # noqa: E731
    sentences = []
    for _ in range(n):
        template = pick(ENGLISH_TEMPLATES)
        sentences.append(
            template.format(
                subject=pick(SUBJECTS),
                verb=pick(VERBS),
                count=number_words(int(rng.integers(max_count + 1))),
                things=pick(THINGS),
                place=pick(PLACES),
                noun=pick(NOUNS),
                noun2=pick(NOUNS),
                adjective=pick(ADJECTIVES),
                adjective2=pick(ADJECTIVES),
            )
        )
    return sentences


# ---------------------------------------------------------------- tokenizer and masking


class WordTokenizer:
    """Whitespace tokenizer over a fixed word list; ids 0..3 are [PAD], [CLS], [SEP], [MASK]."""

    def __init__(self, texts):
        words = sorted({w for t in texts for w in t.split()})
        self.words = SPECIALS + words
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def encode(self, texts, length=None):
        """[CLS] words [SEP], right-padded with [PAD] to `length` (default: the longest). (N, T)."""
        rows = [
            [CLS_ID] + [self.index[w] for w in t.split()] + [SEP_ID]
            for t in texts
        ]
        length = length or max(map(len, rows))
        if max(map(len, rows)) > length:
            raise ValueError("a text is longer than the given length")
        return torch.tensor(
            [r + [PAD_ID] * (length - len(r)) for r in rows], dtype=torch.int64
        )

    def decode(self, ids):
        return " ".join(self.words[i] for i in ids if i != PAD_ID)


def mask_tokens(ids, vocab_size, generator, p=0.15):
    """BERT's masking rule. Each non-special token is selected with
    probability p; a selected token becomes [MASK] with probability 0.8, a
    uniformly random word with probability 0.1, and stays unchanged with
    probability 0.1. Returns (inputs, targets); targets hold the original id
    at selected positions and -100 (ignored by cross_entropy) elsewhere."""
    ordinary = ids >= len(SPECIALS)
    selected = (torch.rand(ids.shape, generator=generator) < p) & ordinary
    action = torch.rand(ids.shape, generator=generator)
    random_words = torch.randint(
        len(SPECIALS), vocab_size, ids.shape, generator=generator
    )
    inputs = ids.clone()
    inputs[selected & (action < 0.8)] = MASK_ID
    to_random = selected & (action >= 0.8) & (action < 0.9)
    inputs[to_random] = random_words[to_random]
    targets = torch.where(selected, ids, torch.full_like(ids, -100))
    return inputs, targets


# ---------------------------------------------------------------- models


class MiniBert(torch.nn.Module):
    """BERT's encoder in miniature: token + learned position embeddings, LayerNorm, dropout, and
    n_layers post-norm Transformer encoder layers (GELU). forward(ids) -> hidden (N, T, d)."""

    def __init__(
        self,
        vocab_size,
        d_model=64,
        n_layers=2,
        n_heads=4,
        d_ff=128,
        max_len=16,
        dropout=0.1,
    ):
        super().__init__()
        self.token = torch.nn.Embedding(vocab_size, d_model)
        self.position = torch.nn.Embedding(max_len, d_model)
        self.embed_norm = torch.nn.LayerNorm(d_model)
        self.dropout = torch.nn.Dropout(dropout)
        layer = torch.nn.TransformerEncoderLayer(
            d_model,
            n_heads,
            d_ff,
            dropout,
            activation="gelu",
            batch_first=True,
        )
        self.layers = torch.nn.TransformerEncoder(
            layer, n_layers, enable_nested_tensor=False
        )

    def forward(self, ids):
        positions = torch.arange(ids.shape[1])
        x = self.dropout(
            self.embed_norm(self.token(ids) + self.position(positions))
        )
        return self.layers(x, src_key_padding_mask=ids == PAD_ID)


def encoder_parameter_count(
    vocab_size, d_model=64, n_layers=2, d_ff=128, max_len=16
):
    """Closed form of the number of parameters of MiniBert: embeddings (V + P) d, embedding
    LayerNorm 2d, and per layer 4d^2 + 4d (attention: Q, K, V and output projections with
    biases) + 2 d d_ff + d_ff + d (feed-forward) + 4d (two LayerNorms)."""
    d = d_model
    per_layer = 4 * d * d + 4 * d + 2 * d * d_ff + d_ff + d + 4 * d
    return (vocab_size + max_len) * d + 2 * d + n_layers * per_layer


class MaskedLanguageModel(torch.nn.Module):
    """Encoder + a linear layer from each hidden state to the vocabulary. forward -> (N, T, V)."""

    def __init__(self, encoder, vocab_size):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.token.embedding_dim, vocab_size)

    def forward(self, ids):
        return self.head(self.encoder(ids))


class SentenceClassifier(torch.nn.Module):
    """Encoder + a linear classifier on the last-layer [CLS] state
    (position 0). forward -> (N, K)."""

    def __init__(self, encoder, n_classes=3):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.token.embedding_dim, n_classes)

    def forward(self, ids):
        return self.head(self.encoder(ids)[:, 0])


# ---------------------------------------------------------------- training


def pretrain_mlm(model, corpus_ids, steps, batch=64, lr=1e-3, seed=0):
    """Adam on the masked-language-modelling loss (mean cross-entropy over the selected
    positions) of random mini-batches of corpus_ids (N, T), masked afresh at every step with
    mask_tokens. Returns the loss of every step (array)."""
    gen = torch.Generator().manual_seed(seed)
    vocab_size = model.head.out_features
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = np.empty(steps)
    for step in range(steps):
        rows = corpus_ids[
            torch.randint(len(corpus_ids), (batch,), generator=gen)
        ]
        inputs, targets = mask_tokens(rows, vocab_size, gen)
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vocab_size), targets.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[step] = loss.item()
    return losses


def freeze_encoder(model):
    """Keep the encoder's weights fixed: they get no gradients, so
    backpropagation stops at the head, and the optimizer only sees the head.
    (As in the assignment, the encoder stays in training mode, dropout
    included.)"""
    model.encoder.requires_grad_(False)


@torch.no_grad()
def accuracy(model, ids, labels):
    was_training = model.training
    model.eval()
    acc = (model(ids).argmax(dim=1) == labels).float().mean().item()
    model.train(was_training)
    return acc


def fine_tune(
    model,
    train_ids,
    train_labels,
    val_ids,
    val_labels,
    epochs,
    freeze=False,
    batch=32,
    lr=1e-3,
    seed=0,
):
    """Adam on the cross-entropy of the classifier, over shuffled mini-batches for `epochs`
    passes. freeze=True trains the head only. Returns a dict of per-epoch arrays: 'train_loss'
    (mean over the epoch), 'val_acc' (after the epoch), 'seconds' (wall clock of the epoch's
    training steps), and 'trainable' (the number of trained parameters)."""
    gen = torch.Generator().manual_seed(seed)
    model.train()
    if freeze:
        freeze_encoder(model)
    opt = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=lr
    )
    log = {
        "train_loss": [],
        "val_acc": [],
        "seconds": [],
        "trainable": count_params(model),
    }
    for _ in range(epochs):
        order = torch.randperm(len(train_ids), generator=gen)
        start, total = time.perf_counter(), 0.0
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            loss = torch.nn.functional.cross_entropy(
                model(train_ids[idx]), train_labels[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        log["seconds"].append(time.perf_counter() - start)
        log["train_loss"].append(total / len(order))
        log["val_acc"].append(accuracy(model, val_ids, val_labels))
    return {
        k: (np.array(v) if isinstance(v, list) else v) for k, v in log.items()
    }


def training_step_flops(model, ids, labels):
    """Floating-point operations of one training step (forward and backward) on a batch, as
    counted by torch.utils.flop_counter (matrix products and attention only)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.zero_grad()
    with FlopCounterMode(display=False) as counter:
        loss = torch.nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
    model.zero_grad()
    return counter.get_total_flops()
