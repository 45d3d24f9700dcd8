"""A tiny CLIP on the 8x8 scikit-learn digits with generated captions (book section
``csc413-a3-q5``): the symmetric contrastive loss, a two-tower model, caption generation,
training and zero-shot scoring. CPU, float64, seeded.

Shapes: images (N, 8, 8) in [0, 1]; captions are lists of strings; embeddings (N, d), unit norm.
"""

import numpy as np
import torch

DIGIT_NAMES = [
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
]
CAPTION_TEMPLATES = [
    "a handwritten {name}",
    "the digit {name}",
    "a scan of the number {name}",
    "someone wrote a {name}",
    "{name}",
]


def clip_loss(image_emb, text_emb, log_scale):
    """Symmetric InfoNCE of CLIP: logits S_ij = exp(log_scale) * <u_i, v_j>
    for unit image embeddings u (N, d) and text embeddings v (N, d); the mean
    of the cross-entropy of each row (image -> its caption among N) and of
    each column (caption -> its image among N)."""
    logits = log_scale.exp() * image_emb @ text_emb.T
    targets = torch.arange(len(logits))
    return 0.5 * (
        torch.nn.functional.cross_entropy(logits, targets)
        + torch.nn.functional.cross_entropy(logits.T, targets)
    )


def make_captions(labels, seed=0):
    """One caption per label: a random template from CAPTION_TEMPLATES with the digit's name."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(CAPTION_TEMPLATES), size=len(labels))
    return [
        CAPTION_TEMPLATES[k].format(name=DIGIT_NAMES[int(y)])
        for k, y in zip(picks, labels)
    ]


class Vocabulary:
    """Word -> index over the given texts; index 0 is the unknown word."""

    def __init__(self, texts):
        words = sorted({w for t in texts for w in t.split()})
        self.index = {w: i + 1 for i, w in enumerate(words)}

    def __len__(self):
        return len(self.index) + 1

    def encode(self, texts):
        """Flat word indices and bag offsets for torch.nn.EmbeddingBag."""
        ids, offsets = [], []
        for t in texts:
            offsets.append(len(ids))
            ids.extend(self.index.get(w, 0) for w in t.split())
        return torch.tensor(ids, dtype=torch.int64), torch.tensor(
            offsets, dtype=torch.int64
        )


class TinyCLIP(torch.nn.Module):
    """Image tower: MLP 64 -> hidden -> dim. Text tower: mean of word
    embeddings -> ReLU -> Linear. Both outputs are L2-normalised; log_scale is
    the learned log inverse temperature."""

    def __init__(self, vocab, dim=32, hidden=128, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.vocab = vocab
        self.image_tower = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, dim),
        )
        self.word_embedding = torch.nn.EmbeddingBag(
            len(vocab), hidden, mode="mean"
        )
        self.text_head = torch.nn.Sequential(
            torch.nn.ReLU(), torch.nn.Linear(hidden, dim)
        )
        self.log_scale = torch.nn.Parameter(torch.tensor(np.log(1 / 0.07)))
        self.double()

    def encode_images(self, images):
        return torch.nn.functional.normalize(self.image_tower(images), dim=-1)

    def encode_texts(self, texts):
        ids, offsets = self.vocab.encode(texts)
        return torch.nn.functional.normalize(
            self.text_head(self.word_embedding(ids, offsets)), dim=-1
        )


def train_clip(model, images, captions, steps, batch=64, lr=3e-3, seed=0):
    """Adam on clip_loss over random mini-batches; returns the loss of every step (array)."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = np.empty(steps)
    for step in range(steps):
        idx = rng.choice(len(images), size=batch, replace=False)
        loss = clip_loss(
            model.encode_images(images[idx]),
            model.encode_texts([captions[i] for i in idx]),
            model.log_scale,
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[step] = loss.item()
    return losses


@torch.no_grad()
def batch_losses(model, images, captions, batch=64):
    """clip_loss on consecutive batches of `batch` pairs (a fixed evaluation, no training; a
    last incomplete batch is dropped). Returns an array with one loss per batch."""
    return np.array(
        [
            clip_loss(
                model.encode_images(images[i : i + batch]),
                model.encode_texts(captions[i : i + batch]),
                model.log_scale,
            ).item()
            for i in range(0, len(images) - batch + 1, batch)
        ]
    )


@torch.no_grad()
def zero_shot_predict(model, images, template):
    """Class k whose prompt template.format(name=DIGIT_NAMES[k]) has the largest cosine with each image."""
    prompts = model.encode_texts(
        [template.format(name=n) for n in DIGIT_NAMES]
    )
    return (model.encode_images(images) @ prompts.T).argmax(dim=1)


@torch.no_grad()
def retrieve(model, images, caption):
    """Index of the image with the largest cosine similarity to the caption, and all similarities."""
    sims = model.encode_images(images) @ model.encode_texts([caption])[0]
    return int(sims.argmax()), sims
