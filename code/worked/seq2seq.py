"""A tiny GRU encoder-decoder on digit strings (book chapter "Sequence-to-sequence models",
sections ``hw7-mt-a`` to ``hw7-mt-c``): the standard design, in which the encoder's final state
initialises the decoder, and the "vertically stacked" one, in which decoder step t receives
the encoder's state h_t as an extra input; teacher-forced training and greedy decoding.

Tokens: the digits 0..9 are tokens 0..9, and SOS = 10 is the start token that the decoder
reads at its first step. Sources and targets have shape (N, L), int64; logits (N, T, 10).
"""

import torch

DIGITS = 10
SOS = DIGITS  # the decoder's input vocabulary is the 10 digits and <sos>


def decoder_inputs_and_targets(tokens, sos="<sos>", eos="<eos>"):
    """Teacher forcing: the decoder reads the reference shifted right by one,
    starting with <sos>, and is trained to emit the reference followed by
    <eos>. Returns (inputs, targets), two lists of len(tokens) + 1 tokens with
    inputs[t + 1] == targets[t]."""
    tokens = list(tokens)
    return [sos] + tokens, tokens + [eos]


def make_task(n, length, task, generator):
    """n random digit strings of the given length (uniform, independent digits) and their
    targets: the string reversed (task "reverse") or the string itself ("copy"). Shapes (n, L)."""
    src = torch.randint(DIGITS, (n, length), generator=generator)
    if task == "reverse":
        return src, src.flip(1)
    if task == "copy":
        return src, src.clone()
    raise ValueError(f"unknown task {task!r}")


def teacher_inputs(tgt):
    """The teacher-forced decoder inputs for a batch of targets (N, T): SOS, then tgt[:, :-1]."""
    return torch.cat([torch.full_like(tgt[:, :1], SOS), tgt[:, :-1]], dim=1)


class Seq2Seq(torch.nn.Module):
    """GRU encoder and GRU decoder over digit strings.

    stacked=False: the standard design; the decoder starts from the encoder's final state and
    reads only the previous target token.
    stacked=True: the decoder starts from zero and, at step t, reads the previous target token
    together with the encoder's state h_t; it has no input for steps beyond the source length.
    """

    def __init__(self, hidden=64, embed=16, stacked=False):
        super().__init__()
        self.stacked = stacked
        self.hidden = hidden
        self.src_embed = torch.nn.Embedding(DIGITS, embed)
        self.tgt_embed = torch.nn.Embedding(DIGITS + 1, embed)
        self.encoder = torch.nn.GRU(embed, hidden, batch_first=True)
        self.decoder = torch.nn.GRU(
            embed + (hidden if stacked else 0), hidden, batch_first=True
        )
        self.out = torch.nn.Linear(hidden, DIGITS)

    def start(self, src):
        """Encode src (N, L): returns the decoder's initial state and the encoder states (N, L, H)."""
        states, final = self.encoder(self.src_embed(src))
        h0 = torch.zeros_like(final) if self.stacked else final
        return h0, states

    def _decoder_input(self, tokens, states, t0):
        x = self.tgt_embed(tokens)  # (N, T, E)
        if self.stacked:
            T, L = tokens.shape[1], states.shape[1]
            if t0 + T > L:
                raise ValueError(
                    f"the stacked decoder has no encoder state for step {L + 1} "
                    f"(the source has {L} tokens)"
                )
            x = torch.cat([x, states[:, t0 : t0 + T]], dim=2)
        return x

    def forward(self, src, dec_inputs):
        """Teacher-forced logits (N, T, 10) for decoder inputs (N, T), all steps at once."""
        h0, states = self.start(src)
        out, _ = self.decoder(self._decoder_input(dec_inputs, states, 0), h0)
        return self.out(out)

    def step(self, tokens, h, states, t):
        """One decoder step t (0-based) on the previous tokens (N,): (logits (N, 10), new state)."""
        out, h = self.decoder(
            self._decoder_input(tokens[:, None], states, t), h
        )
        return self.out(out[:, 0]), h


def greedy_decode(model, src, steps):
    """Free-running decoding: the decoder reads SOS, then at every step its own previous argmax.
    Returns (inputs, outputs), both (N, steps), with inputs[:, t + 1] == outputs[:, t]."""
    with torch.no_grad():
        h, states = model.start(src)
        token = torch.full((len(src),), SOS, dtype=torch.int64)
        inputs, outputs = [], []
        for t in range(steps):
            inputs.append(token)
            logits, h = model.step(token, h, states, t)
            token = logits.argmax(dim=1)
            outputs.append(token)
    return torch.stack(inputs, 1), torch.stack(outputs, 1)


def teacher_forced_predictions(model, src, tgt):
    """Argmax predictions (N, T) when the decoder reads the reference prefix (teacher forcing)."""
    with torch.no_grad():
        return model(src, teacher_inputs(tgt)).argmax(dim=2)


def train_seq2seq(
    model,
    task,
    length,
    steps,
    generator,
    batch=128,
    lr=1e-2,
    shift=True,
    callback=None,
    every=50,
):
    """Adam on the teacher-forced cross-entropy, a fresh random batch at every step; the decoder
    reads teacher_inputs(tgt), or with shift=False the target itself (a deliberate mistake).
    callback(step) is called after every `every` steps. Returns the list of training losses."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        src, tgt = make_task(batch, length, task, generator)
        logits = model(src, teacher_inputs(tgt) if shift else tgt)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, DIGITS), tgt.reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if callback is not None and len(losses) % every == 0:
            callback(len(losses))
    return losses


def stacked_accuracy_ceiling(length, task="reverse"):
    """Per-position token accuracy (list of L floats) that no stacked decoder can exceed in
    expectation on uniform random digits: output t (1-based) of the reversal is source token
    L + 1 - t, visible at step t only when L + 1 - t <= t; otherwise it is independent of all
    the decoder sees, and the best guess is right with probability 1/10. The copy task needs
    token t at step t, always visible."""
    if task == "copy":
        return [1.0] * length
    return [
        1.0 if length + 1 - t <= t else 1.0 / DIGITS
        for t in range(1, length + 1)
    ]
