"""Small character-level transformers for English to Pig Latin (book chapter "Attention and
transformers", sections ``csc413-a3-q3-1`` and ``csc413-a3-q3-2``; the scaling-laws chapter reuses
the decoder-only model, ``non_embedding_params`` and ``train``).

- ``scaled_dot_product_attention``: softmax(Q K^T / sqrt(d)) V, optionally causal or masked.
- ``sinusoidal_positions``: the fixed positional encodings of Vaswani et al. (2017).
- ``EncoderDecoderTransformer`` and ``DecoderOnlyTransformer`` (pre-LayerNorm blocks), each with
  a ``collate`` that turns (source, target) token lists into padded input and target tensors.
- ``train``: Adam for a given number of steps; returns train and validation loss curves.
- ``train_seeds``: ``train`` of the decoder-only model for several seeds at once, the models'
  weights stacked on a seed axis (one batched matrix product per layer for all seeds).
- ``translate`` and ``exact_match``: greedy decoding and the fraction of words translated exactly.

Token ids come from ``worked.pig_latin`` (PAD = 0 is never a target: the loss ignores it).
Shapes: tokens (N, T) int64; hidden states (N, T, d_model); logits (N, T, vocab).
"""

import math
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from worked.pig_latin import (
    EOP,
    EOS,
    PAD,
    SOS,
    VOCAB_SIZE,
    decode,
    encode,
    pig_latin,
)


def scaled_dot_product_attention(q, k, v, causal=False, mask=None):
    """Attention of queries q (..., T_q, d) over keys k (..., T_k, d) and
    values v (..., T_k, d_v).

    causal=True lets query i attend to keys j <= i only (the upper triangle
    above the diagonal is set to -inf before the softmax). mask: bool,
    broadcastable to (..., T_q, T_k), True where attention is allowed (e.g.
    not a padding key); the same convention as torch's boolean attn_mask.
    Returns (context (..., T_q, d_v), weights (..., T_q, T_k)); each row of
    weights sums to one."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        t_q, t_k = scores.shape[-2:]
        future = torch.triu(
            torch.ones(t_q, t_k, dtype=torch.bool, device=q.device), diagonal=1
        )
        scores = scores.masked_fill(future, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def sinusoidal_positions(n_positions, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); (n_positions, d)."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    rates = 10000.0 ** (
        -torch.arange(0, d_model, 2, dtype=torch.float64) / d_model
    )
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * rates)
    pe[:, 1::2] = torch.cos(pos * rates)
    return pe.float()


class MultiHeadAttention(torch.nn.Module):
    """heads parallel attentions of width d_model / heads, on learned projections of the inputs."""

    def __init__(self, d_model, heads):
        super().__init__()
        if d_model % heads:
            raise ValueError(
                f"d_model={d_model} is not a multiple of heads={heads}"
            )
        self.heads = heads
        self.q, self.k, self.v, self.out = (
            torch.nn.Linear(d_model, d_model) for _ in range(4)
        )

    def _split(self, x):  # (N, T, d) -> (N, heads, T, d / heads)
        n, t, d = x.shape
        return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, memory=None, causal=False, mask=None):
        """Self-attention on x (N, T, d), or attention from x to memory (N, S, d) when given."""
        memory = x if memory is None else memory
        context, _ = scaled_dot_product_attention(
            self._split(self.q(x)),
            self._split(self.k(memory)),
            self._split(self.v(memory)),
            causal,
            mask,
        )
        n, _, t, _ = context.shape
        return self.out(context.transpose(1, 2).reshape(n, t, -1))


class Block(torch.nn.Module):
    """A pre-LayerNorm transformer block: (causal) self-attention, optional cross-attention to an
    encoder's output, and a 4 x d_model MLP, each added to the residual stream."""

    def __init__(self, d_model, heads, cross=False):
        super().__init__()
        self.ln1, self.attn = (
            torch.nn.LayerNorm(d_model),
            MultiHeadAttention(d_model, heads),
        )
        if cross:
            self.ln_cross, self.cross = (
                torch.nn.LayerNorm(d_model),
                MultiHeadAttention(d_model, heads),
            )
        self.ln2 = torch.nn.LayerNorm(d_model)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(d_model, 4 * d_model),
            torch.nn.GELU(),
            torch.nn.Linear(4 * d_model, d_model),
        )

    def forward(
        self, x, causal=False, mask=None, memory=None, memory_mask=None
    ):
        x = x + self.attn(self.ln1(x), causal=causal, mask=mask)
        if memory is not None:
            x = x + self.cross(self.ln_cross(x), memory, mask=memory_mask)
        return x + self.mlp(self.ln2(x))


def _pad(seqs):
    """Right-pad lists of token ids with PAD into an (N, max length) int64 tensor."""
    width = max(len(s) for s in seqs)
    return torch.tensor(
        [list(s) + [PAD] * (width - len(s)) for s in seqs], dtype=torch.int64
    )


class EncoderDecoderTransformer(torch.nn.Module):
    """An encoder (bidirectional self-attention over the source) and a decoder (causal
    self-attention over the target prefix, cross-attention to the encoder's output).
    positional=False drops the positional encodings (to show what they are for)."""

    def __init__(
        self,
        vocab=VOCAB_SIZE,
        d_model=64,
        layers=1,
        heads=4,
        max_len=64,
        positional=True,
    ):
        super().__init__()
        self.src_embed = torch.nn.Embedding(vocab, d_model)
        self.tgt_embed = torch.nn.Embedding(vocab, d_model)
        pe = (
            sinusoidal_positions(max_len, d_model)
            if positional
            else torch.zeros(max_len, d_model)
        )
        self.register_buffer("pe", pe)
        self.encoder = torch.nn.ModuleList(
            Block(d_model, heads) for _ in range(layers)
        )
        self.decoder = torch.nn.ModuleList(
            Block(d_model, heads, cross=True) for _ in range(layers)
        )
        self.ln_enc, self.ln_dec = (
            torch.nn.LayerNorm(d_model),
            torch.nn.LayerNorm(d_model),
        )
        self.head = torch.nn.Linear(d_model, vocab)

    def encode(self, src):
        """Encoder output (N, S, d) and the attention mask (N, 1, 1, S) of non-padding source keys."""
        keys = (src != PAD)[:, None, None, :]
        x = self.src_embed(src) + self.pe[: src.shape[1]]
        for block in self.encoder:
            x = block(x, mask=keys)
        return self.ln_enc(x), keys

    def decode(self, dec_in, memory, keys):
        """Logits (N, T, vocab) of the next target token after each decoder input (N, T)."""
        x = self.tgt_embed(dec_in) + self.pe[: dec_in.shape[1]]
        for block in self.decoder:
            x = block(x, causal=True, memory=memory, memory_mask=keys)
        return self.head(self.ln_dec(x))

    def forward(self, src, dec_in):
        return self.decode(dec_in, *self.encode(src))

    @staticmethod
    def collate(pairs):
        """((src (N, S), decoder input <SOS> target (N, T + 1)), target <EOS> (N, T + 1)), padded."""
        src = _pad([s for s, _ in pairs])
        dec_in = _pad([[SOS] + t for _, t in pairs])
        target = _pad([t + [EOS] for _, t in pairs])
        return (src, dec_in), target

    @torch.no_grad()
    def generate(self, srcs, max_new):
        """Greedy decoding of a list of sources (token lists): up to max_new tokens each, EOS included."""
        memory, keys = self.encode(_pad(srcs))
        out = torch.full((len(srcs), 1), SOS, dtype=torch.int64)
        for _ in range(max_new):
            nxt = self.decode(out, memory, keys)[:, -1].argmax(dim=-1)
            out = torch.cat([out, nxt[:, None]], dim=1)
            if (out == EOS).any(dim=1).all():
                break
        return [row[1:].tolist() for row in out]


def decoder_only_sequences(src, tgt):
    """The decoder-only training pair for one (source, target) of token lists:
    input  <SOS> source <EOP> target   and   target  source <EOP> target <EOS>
    (the input shifted left by one, with EOS appended). Two lists of len(src) + len(tgt) + 2."""
    return [SOS] + list(src) + [EOP] + list(tgt), list(src) + [EOP] + list(
        tgt
    ) + [EOS]


class DecoderOnlyTransformer(torch.nn.Module):
    """A stack of causal self-attention blocks over <SOS> source <EOP> target: a language model of
    the concatenation. loss_on="target" (default) trains only on the predictions made from <EOP>
    onwards, i.e. the Pig Latin and its EOS; loss_on="both" also on predicting the English word."""

    def __init__(
        self,
        vocab=VOCAB_SIZE,
        d_model=64,
        layers=2,
        heads=4,
        max_len=64,
        loss_on="target",
    ):
        super().__init__()
        if loss_on not in ("target", "both"):
            raise ValueError(
                f"loss_on must be 'target' or 'both', not {loss_on!r}"
            )
        self.loss_on = loss_on
        self.embed = torch.nn.Embedding(vocab, d_model)
        self.register_buffer("pe", sinusoidal_positions(max_len, d_model))
        self.blocks = torch.nn.ModuleList(
            Block(d_model, heads) for _ in range(layers)
        )
        self.ln_f = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, vocab)

    def forward(self, x):
        """Next-token logits (N, T, vocab) at every position of x (N, T)."""
        h = self.embed(x) + self.pe[: x.shape[1]]
        for block in self.blocks:
            h = block(h, causal=True)
        return self.head(self.ln_f(h))

    def collate(self, pairs, loss_on=None):
        """((input (N, L),), target (N, L)), right-padded; with loss_on="target" (default: the
        model's own setting) the target is PAD (ignored by the loss) at the len(src) + 1 positions
        that predict the source and <EOP>."""
        loss_on = loss_on or self.loss_on
        inputs, targets = [], []
        for src, tgt in pairs:
            x, y = decoder_only_sequences(src, tgt)
            if loss_on == "target":
                y = [PAD] * (len(src) + 1) + y[len(src) + 1 :]
            inputs.append(x)
            targets.append(y)
        return (_pad(inputs),), _pad(targets)

    @torch.no_grad()
    def generate(self, srcs, max_new):
        """Greedy decoding: feed <SOS> source <EOP>, append the argmax, repeat (up to max_new
        tokens, EOS included). Sources of equal length are decoded together, without padding."""
        results = [None] * len(srcs)
        by_length = {}
        for i, s in enumerate(srcs):
            by_length.setdefault(len(s), []).append(i)
        for length, rows in by_length.items():
            out = torch.tensor(
                [[SOS] + list(srcs[i]) + [EOP] for i in rows],
                dtype=torch.int64,
            )
            for _ in range(max_new):
                nxt = self(out)[:, -1].argmax(dim=-1)
                out = torch.cat([out, nxt[:, None]], dim=1)
                if (out[:, length + 2 :] == EOS).any(dim=1).all():
                    break
            for i, row in zip(rows, out[:, length + 2 :]):
                results[i] = row.tolist()
        return results


def count_params(model):
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def non_embedding_params(model):
    """Parameters outside the token embedding and the output layer (the count N of scaling laws;
    the positional encodings are fixed, not parameters). For DecoderOnlyTransformer with L layers
    of width d it is L (12 d^2 + 13 d) + 2 d: per block 4 d^2 + 4 d (attention), 8 d^2 + 5 d (MLP)
    and 4 d (two LayerNorms), plus the final LayerNorm."""
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if not name.startswith(("embed.", "src_embed.", "tgt_embed.", "head."))
    )


def token_loss(model, pairs, reduction="mean"):
    """Cross-entropy of the model's next-token predictions on a list of (source, target) pairs,
    over the target positions that the model's collate keeps (PAD ignored)."""
    inputs, target = model.collate(pairs)
    logits = model(*inputs)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        target.reshape(-1),
        ignore_index=PAD,
        reduction=reduction,
    )


@torch.no_grad()
def target_loss(model, pairs, batch_size=250):
    """Mean cross-entropy (nats per token) of predicting each target token and EOS, given the
    source: the same quantity for both model kinds, whatever their training loss covers."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    # less padding; the sum is unchanged
    pairs = sorted(pairs, key=lambda p: (len(p[0]), len(p[1])))
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        if isinstance(model, DecoderOnlyTransformer):
            inputs, target = model.collate(chunk, loss_on="target")
        else:
            inputs, target = model.collate(chunk)
        logits = model(*inputs)
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            target.reshape(-1),
            ignore_index=PAD,
            reduction="sum",
        ).item()
        count += (target != PAD).sum().item()
    model.train(was_training)
    return total / count


def _length_bucketed_batches(pairs, batch_size, rng, pool=16):
    """One epoch of mini-batches (lists of indices into pairs) in random order. Pools of
    pool * batch_size random pairs are sorted by length before being cut into batches, so that a
    batch holds words of similar length and little padding (as the assignment's length grouping)."""
    order = rng.sample(range(len(pairs)), len(pairs))
    batches = []
    for start in range(0, len(order), pool * batch_size):
        chunk = sorted(
            order[start : start + pool * batch_size],
            key=lambda i: len(pairs[i][0]) + len(pairs[i][1]),
        )
        batches += [
            chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)
        ]
    rng.shuffle(batches)
    return batches


def learning_rate(step, steps, lr):
    """The schedule of ``train``: linear warm-up over the first steps // 20 steps, then a cosine
    decay from lr to lr / 10 at the last step (step counts from 1)."""
    warmup = max(1, steps // 20)
    decay = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps))
    return lr * min(1.0, step / warmup) * decay


def train(
    model,
    train_pairs,
    val_pairs,
    steps,
    batch_size=64,
    lr=3e-3,
    eval_every=100,
    seed=0,
    schedule=True,
):
    """Adam on the model's training loss for `steps` mini-batches with the learning_rate schedule
    (or at the constant rate lr if schedule is False: then the model after k steps is the model a
    k-step run would give, which the scaling-laws chapter relies on),
    drawn without replacement from train_pairs (reshuffled every epoch with the given seed).
    Every eval_every steps it records the
    mean training loss of the last eval_every batches and target_loss on val_pairs.
    Batches group words of similar length (see _length_bucketed_batches); an epoch's last batch
    may be smaller. Returns a dict of lists: step, train, val, tokens (target tokens seen so far), and seconds
    (the wall-clock training time, evaluation excluded)."""
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {
        "step": [],
        "train": [],
        "val": [],
        "tokens": [],
        "seconds": 0.0,
    }
    order, running, tokens, seconds = [], [], 0, 0.0
    model.train()
    for step in range(1, steps + 1):
        start = time.perf_counter()
        if not order:
            order = _length_bucketed_batches(train_pairs, batch_size, rng)
        batch = [train_pairs[i] for i in order.pop()]
        if schedule:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, steps, lr)
        loss = token_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds += time.perf_counter() - start
        running.append(loss.item())
        tokens += sum(len(t) + 1 for _, t in batch)
        if step % eval_every == 0 or step == steps:
            history["step"].append(step)
            history["train"].append(sum(running) / len(running))
            history["val"].append(target_loss(model, val_pairs))
            history["tokens"].append(tokens)
            running = []
    history["seconds"] = seconds
    model.eval()
    return history


def translate(model, words):
    """Greedy translations (strings) of a list of English words."""
    srcs = [encode(w) for w in words]
    # Pig Latin adds <= 3 letters
    outputs = model.generate(srcs, max_new=max(len(s) for s in srcs) + 4)
    return [decode(o) for o in outputs]


def exact_match(model, words):
    """Fraction of the words whose greedy translation equals their Pig Latin exactly."""
    return sum(
        p == pig_latin(w) for p, w in zip(translate(model, words), words)
    ) / len(words)


def _stacked_forward(p, pe, heads, layers, x):
    """DecoderOnlyTransformer.forward for S models at once: p maps each parameter name to the S
    models' tensors stacked on a leading axis; x (S, N, T) -> logits (S, N, T, vocab)."""
    s, n, t = x.shape

    # (S, N, T, in) -> (S, N, T, out), one matrix product per model
    def linear(h, name):
        w, b = p[name + ".weight"], p[name + ".bias"]  # (S, out, in), (S, out)
        return torch.baddbmm(
            b[:, None], h.reshape(s, n * t, -1), w.transpose(1, 2)
        ).view(s, n, t, -1)

    def norm(h, name):
        w, b = (
            p[name + ".weight"][:, None, None],
            p[name + ".bias"][:, None, None],
        )
        return F.layer_norm(h, h.shape[-1:]) * w + b

    def split(h):  # (S, N, T, d) -> (S, N, heads, T, d / heads)
        return h.view(s, n, t, heads, -1).transpose(2, 3)

    # (S, N, T, d)
    h = p["embed.weight"][torch.arange(s)[:, None, None], x] + pe[:t]
    for i in range(layers):
        block = f"blocks.{i}."
        a = norm(h, block + "ln1")
        q, k, v = (split(linear(a, block + "attn." + m)) for m in "qkv")
        context, _ = scaled_dot_product_attention(q, k, v, causal=True)
        h = h + linear(
            context.transpose(2, 3).reshape(s, n, t, -1), block + "attn.out"
        )
        a = F.gelu(linear(norm(h, block + "ln2"), block + "mlp.0"))
        h = h + linear(a, block + "mlp.2")
    return linear(norm(h, "ln_f"), "head")


def train_seeds(
    make_model,
    seeds,
    train_pairs,
    val_pairs,
    steps,
    batch_size=64,
    lr=3e-3,
    eval_every=100,
    schedule=True,
):
    """``train`` for several seeds at once, as one batched computation (for the scaling-laws
    chapter, which needs every point over several seeds within the build's time budget).

    make_model() must return a DecoderOnlyTransformer. For each seed s, the model is
    make_model() after torch.manual_seed(s) and its batches come in the order of
    train(..., seed=s): the run of seed s is the run of
    ``torch.manual_seed(s); train(make_model(), ..., seed=s)``. The models' weights are stacked
    along a leading seed axis and every layer is one batched matrix product over it; the loss is
    the sum of the per-seed mean losses, so each seed's slice of the gradient is its own model's
    gradient, and Adam, elementwise, updates each slice as its own Adam would. Batches of
    different seeds are right-padded to one shape with PAD (ignored by the loss; causal attention
    keeps padding from reaching earlier positions).
    Returns a dict: step (list), train and val (arrays (evaluations, seeds)), seconds (training
    time, evaluation excluded)."""
    seeds = list(seeds)
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(make_model())
    base = models[0]
    names = [name for name, _ in base.named_parameters()]
    params = {
        name: torch.stack(
            [dict(m.named_parameters())[name].detach() for m in models]
        ).requires_grad_()
        for name in names
    }
    heads, layers = base.blocks[0].attn.heads, len(base.blocks)

    def losses(x, y):  # x, y (S, N, T) -> (summed nll (S,), target count (S,))
        logits = _stacked_forward(params, base.pe, heads, layers, x)
        nll = -logits.log_softmax(-1).gather(-1, y[..., None])[..., 0]
        keep = (y != PAD).float()
        return (nll * keep).sum((1, 2)), keep.sum((1, 2))

    # every training pair, collated once: (N, L)
    (x_all,), y_all = base.collate(train_pairs)
    # the input <SOS> source <EOP> target holds no PAD
    lengths = (x_all != PAD).sum(1)
    val = sorted(val_pairs, key=lambda p: (len(p[0]), len(p[1])))
    val_chunks = []
    for i in range(0, len(val), 250):
        (x,), y = base.collate(val[i : i + 250], loss_on="target")
        val_chunks.append(
            (x.expand(len(seeds), -1, -1), y.expand(len(seeds), -1, -1))
        )

    rngs = [random.Random(s) for s in seeds]
    orders = [[] for _ in seeds]
    optimizer = torch.optim.Adam(params.values(), lr=lr, foreach=True)
    history = {"step": [], "train": [], "val": []}
    running, seconds = [], 0.0
    for step in range(1, steps + 1):
        start = time.perf_counter()
        rows = []
        for i, rng in enumerate(rngs):
            if not orders[i]:
                orders[i] = _length_bucketed_batches(
                    train_pairs, batch_size, rng
                )
            rows.append(orders[i].pop())
        width = max(len(r) for r in rows)
        # (seeds, width)
        index = torch.tensor([r + [r[0]] * (width - len(r)) for r in rows])
        valid = torch.tensor(
            [[j < len(r) for j in range(width)] for r in rows]
        )
        length = int(lengths[index].max())
        x = x_all[index, :length]
        # a short batch's filler rows: all PAD
        y = y_all[index, :length] * valid[..., None]
        if schedule:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, steps, lr)
        total, count = losses(x, y)
        loss = total / count  # (seeds,)
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()
        seconds += time.perf_counter() - start
        running.append(loss.detach())
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                sums = sum(torch.stack(losses(x, y)) for x, y in val_chunks)
            history["step"].append(step)
            history["train"].append(torch.stack(running).mean(0).tolist())
            history["val"].append((sums[0] / sums[1]).tolist())
            running = []
    history["train"], history["val"] = (
        np.array(history["train"]),
        np.array(history["val"]),
    )
    history["seconds"] = seconds
    return history
