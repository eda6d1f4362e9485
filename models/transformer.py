"""A small causal transformer language model over the world's word vocabulary, in torch.

Core object: `TransformerModel` (registered as "transformer"). It fits, samples and scores
`models.documents.Documents` like the n-gram models, with the same sampling controls
(`models.sampling.controlled_cumulative`). Words are the tokens: no bytes, no sub-words.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from models.base import (
    check_bias,
    check_fitted,
    check_generator,
    check_sample_size,
    state_entries,
)
from models.devices import Device, resolve_device
from models.documents import Documents
from models.ngram import as_documents
from models.params import ModelParams, parameter
from models.registry import register
from models.sampling import controlled_cumulative

__all__ = ["TransformerModel"]

_SCORE_BLOCKS = 256
"""Blocks scored per forward pass by `TransformerModel.log_prob`."""


class _Block(nn.Module):
    """One pre-norm transformer layer: causal self-attention, then a GELU MLP."""

    def __init__(self, heads: int, head_width: int) -> None:
        super().__init__()
        width = heads * head_width
        self.heads, self.head_width = heads, head_width
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def _split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows, length, _ = h.shape
        qkv = self.qkv(self.attention_norm(h)).view(rows, length, 3, self.heads, self.head_width)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [rows, heads, length, head_width]
        return q, k, v

    def _finish(self, h: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        rows, _, length, _ = attended.shape
        h = h + self.out(attended.transpose(1, 2).reshape(rows, length, -1))
        return h + self.down(functional.gelu(self.up(self.mlp_norm(h))))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(h)
        return self._finish(h, functional.scaled_dot_product_attention(q, k, v, is_causal=True))

    def step(self, h: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, position: int):
        """One new position ``h`` [rows, 1, width], attending to the cached keys and values
        [rows, heads, context, head_width] of the positions before it (filled in place)."""
        q, k, v = self._split(h)
        keys[:, :, position] = k[:, :, 0]
        values[:, :, position] = v[:, :, 0]
        attended = functional.scaled_dot_product_attention(
            q, keys[:, :, : position + 1], values[:, :, : position + 1]
        )
        return self._finish(h, attended)


class _Network(nn.Module):
    """Word and position embeddings, the layers, and the output tied to the word embedding."""

    def __init__(self, vocab: int, context: int, layers: int, heads: int, head_width: int):
        super().__init__()
        width = heads * head_width
        self.vocab = vocab
        self.words = nn.Embedding(vocab + 1, width)  # id ``vocab`` starts every block
        self.positions = nn.Embedding(context, width)
        self.layers = nn.ModuleList(_Block(heads, head_width) for _ in range(layers))
        self.norm = nn.LayerNorm(width)

    @property
    def blocks(self) -> list[_Block]:
        """The layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, _Block)]

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Next-word logits of hidden states ``h`` [..., width]: the output is the word
        embedding, transposed."""
        return self.norm(h) @ self.words.weight[: self.vocab].T

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Next-word logits [rows, length, vocab] of input blocks [rows, length]."""
        positions = torch.arange(inputs.shape[1], device=inputs.device)
        h = self.words(inputs) + self.positions(positions)
        for layer in self.layers:
            h = layer(h)
        return self.logits(h)


@register("transformer")
class TransformerModel:
    """A causal transformer over words, trained from scratch at every fit.

    A document is cut into blocks of ``context`` words; the model predicts each word from
    the words before it in its block (a start symbol opens every block), so fitting,
    `log_prob` and `sample` see exactly the same contexts. A document's length is drawn from
    the training lengths (their empirical distribution), and `log_prob` scores the words of a
    document given its length, under the untruncated model at temperature 1.

    Fitting: ``steps`` steps of Adam of ``batch_size`` blocks each, going through the
    blocks in shuffled passes (learning rate ``learning_rate`` decaying linearly to a tenth,
    gradients clipped at norm 1), weights drawn from the fit's generator, no dropout. The
    training compute of a fit is the same whatever the size of the training set. It runs on
    ``device`` ("auto": CUDA when present, else the CPU), deterministically on the CPU for a
    given number of threads.

    Sampling controls, applied to each next-word distribution in this order: temperature
    (``bias`` of `sample`, lambda in (0, 1]: probabilities raised to 1 / lambda and
    renormalised), then top-k (only the ``top_k`` most likely words, 0 = all), then top-p
    (the smallest set of most likely words whose probability reaches ``top_p``, 1 = all),
    renormalised; ties by word id.
    """

    content: ClassVar[str] = "documents"
    """What it fits: documents (`models.documents.Documents`), not vectors."""

    class Params(ModelParams):
        """The constructor's parameters, declared."""

        vocab: int = parameter(2000, "Number of words (ids 0 .. vocab - 1)", ge=2, le=1_000_000)
        context: int = parameter(64, "Words per block the model reads at once", ge=1, le=4096)
        layers: int = parameter(2, "Transformer layers", ge=1, le=64)
        heads: int = parameter(4, "Attention heads per layer", ge=1, le=64)
        head_width: int = parameter(16, "Width of each head (model width = heads x this)", ge=1)
        steps: int = parameter(
            300, "Optimisation steps per fit, through shuffled passes over the blocks", ge=1
        )
        batch_size: int = parameter(32, "Blocks per optimisation step", ge=1, le=1_000_000)
        learning_rate: float = parameter(3e-3, "Adam's initial learning rate", gt=0.0, le=1.0)
        top_k: int = parameter(0, "Sample only the k most likely next words (0: all)", ge=0)
        top_p: float = parameter(
            1.0, "Sample only from the most likely words holding this mass", gt=0.0, le=1.0
        )
        device: Device = parameter(
            "auto", "Where it trains and samples: auto = CUDA when present, else the CPU"
        )

    def __init__(
        self,
        vocab: int = 2000,
        context: int = 64,
        layers: int = 2,
        heads: int = 4,
        head_width: int = 16,
        steps: int = 300,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        top_k: int = 0,
        top_p: float = 1.0,
        device: str = "auto",
    ) -> None:
        self.vocab = vocab
        self.context = context
        self.layers = layers
        self.heads = heads
        self.head_width = head_width
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.top_k = top_k
        self.top_p = top_p
        self.device = device

    def _validate_params(self) -> None:
        self.Params(
            vocab=self.vocab,
            context=self.context,
            layers=self.layers,
            heads=self.heads,
            head_width=self.head_width,
            steps=self.steps,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            top_k=self.top_k,
            top_p=float(self.top_p),
            device=self.device,  # type: ignore[arg-type]
        )

    @property
    def _torch_device(self) -> torch.device:
        return resolve_device(self.device)

    def _new_network(self) -> _Network:
        with torch.device("meta"):  # no weights drawn from the global random state
            network = _Network(self.vocab, self.context, self.layers, self.heads, self.head_width)
        return network.to_empty(device="cpu")

    # --- fitting ------------------------------------------------------------------------

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Train a new network on documents ``x`` (at least one word in all); return self."""
        self._validate_params()
        check_generator(generator)
        documents = as_documents(x, self.vocab)
        if len(documents.tokens) == 0:
            raise ValueError("x must hold at least one word")
        device = self._torch_device
        network = self._new_network()
        for name, weight in network.named_parameters():
            with torch.no_grad():
                if "norm" in name:
                    weight.fill_(1.0 if name.endswith("weight") else 0.0)
                elif name.endswith("bias"):
                    weight.zero_()
                else:
                    weight.normal_(0.0, 0.02, generator=generator)
        network.to(device)
        inputs, targets = _blocks(documents, self.context, self.vocab)
        optimiser = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: 1.0 - 0.9 * step / self.steps
        )
        lengths = (targets >= 0).sum(dim=1)
        network.train()
        for rows in _batches(len(inputs), self.batch_size, self.steps, generator):
            width = int(lengths[rows].max())
            batch_inputs = inputs[rows, :width].to(device)
            batch_targets = targets[rows, :width].to(device)
            logits = network(batch_inputs)
            loss = functional.cross_entropy(
                logits.reshape(-1, self.vocab), batch_targets.reshape(-1), ignore_index=-1
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            schedule.step()
        network.eval()
        self.network_ = network
        lengths_of_documents = documents.lengths
        self.lengths_ = np.sort(lengths_of_documents[lengths_of_documents > 0])
        return self

    # --- probabilities ------------------------------------------------------------------

    def log_prob(self, x: Any) -> torch.Tensor:
        """Log-probability of each document's words given its length, float64 ``[n]``.

        Blocks are scored in a canonical order (sorted, duplicates once), so a document's
        score does not depend on the other documents of the batch."""
        check_fitted(self, "network_")
        documents = as_documents(x, self.vocab)
        inputs, targets = _blocks(documents, self.context, self.vocab)
        out = torch.zeros(len(documents), dtype=torch.float64)
        if len(inputs) == 0:
            return out
        unique, inverse = np.unique(
            torch.cat([inputs, targets], dim=1).numpy(), axis=0, return_inverse=True
        )
        unique_t = torch.from_numpy(unique)
        scores = torch.empty(len(unique), dtype=torch.float64)
        device = next(self.network_.parameters()).device
        with torch.no_grad():
            for start in range(0, len(unique), _SCORE_BLOCKS):
                chunk = unique_t[start : start + _SCORE_BLOCKS]
                block_inputs = chunk[:, : self.context].to(device)
                block_targets = chunk[:, self.context :].to(device)
                logits = self.network_(block_inputs).double().log_softmax(dim=-1)
                picked = logits.gather(2, block_targets.clamp_min(0)[..., None])[..., 0]
                scores[start : start + len(chunk)] = (
                    torch.where(block_targets >= 0, picked, 0.0).sum(dim=1).cpu()
                )
        owner = torch.from_numpy(_block_documents(documents, self.context))
        out.index_add_(0, owner, scores[torch.from_numpy(inverse.reshape(-1))])
        return out

    # --- sampling -----------------------------------------------------------------------

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> Documents:
        """``n`` documents at temperature ``bias`` with the model's top-k and top-p, one word
        position at a time for all documents at once (keys and values cached per block)."""
        check_fitted(self, "network_")
        n, bias = check_sample_size(n), check_bias(bias)
        check_generator(generator)
        picks = torch.randint(len(self.lengths_), (n,), generator=generator).numpy()
        lengths = self.lengths_[picks] if n else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = np.empty(offsets[-1], dtype=np.int64)
        longest = int(lengths.max()) if n else 0
        if longest == 0:
            return Documents(tokens.astype(np.int32), offsets)
        network = self.network_
        device = next(network.parameters()).device
        # longest first, so the documents still being written are always the first rows
        by_length = np.argsort(-lengths, kind="stable")
        writing = np.count_nonzero(lengths[:, None] > np.arange(longest), axis=0)
        starts = offsets[by_length]
        shape = (n, self.heads, self.context, self.head_width)
        cache = [
            (torch.empty(shape, device=device), torch.empty(shape, device=device))
            for _ in network.layers
        ]
        previous = torch.full((n,), self.vocab, dtype=torch.long, device=device)
        with torch.no_grad():
            for position in range(longest):
                m = int(writing[position])
                slot = position % self.context
                if slot == 0:
                    previous.fill_(self.vocab)  # a new block starts with the start symbol
                h = network.words(previous[:m])[:, None] + network.positions.weight[slot]
                for layer, (keys, values) in zip(network.blocks, cache, strict=True):
                    h = layer.step(h, keys[:m], values[:m], slot)
                probabilities = torch.softmax(network.logits(h[:, 0]).double(), dim=-1)
                cumulative = controlled_cumulative(probabilities, bias, self.top_k, self.top_p)
                uniforms = torch.rand(m, 1, generator=generator, dtype=torch.float64)
                words = torch.searchsorted(cumulative, uniforms.to(device), right=True)[:, 0]
                words = words.clamp_(max=self.vocab - 1)
                previous[:m] = words
                tokens[starts[:m] + position] = words.cpu().numpy()
        return Documents(tokens.astype(np.int32), offsets)

    # --- state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The network's weights (CPU copies) and the training lengths."""
        check_fitted(self, "network_")
        weights = {k: v.detach().cpu().clone() for k, v in self.network_.state_dict().items()}
        return {"network_": weights, "lengths_": self.lengths_.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a fitted model from `state_dict` output (onto this model's device)."""
        weights, lengths = state_entries(state, ["network_", "lengths_"])
        network = self._new_network()
        try:
            network.load_state_dict(weights)
        except (RuntimeError, TypeError, AttributeError) as error:
            raise ValueError(f"state does not fit this model's network: {error}") from None
        self.network_ = network.to(self._torch_device).eval()
        self.lengths_ = np.asarray(lengths, dtype=np.int64).copy()
        return self

    def __getstate__(self) -> dict[str, Any]:
        # pickled (checkpoints) with the weights on the CPU, so a checkpoint loads anywhere
        state = dict(self.__dict__)
        if "network_" in state:
            state["network_"] = self.state_dict()["network_"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("network_", None)
        self.__dict__.update(state)
        if weights is not None:
            network = self._new_network()
            network.load_state_dict(weights)
            self.network_ = network.to(self._torch_device).eval()


def _batches(blocks: int, size: int, steps: int, generator: torch.Generator):
    """``steps`` batches of at most ``size`` block indices, from shuffled passes over the
    ``blocks`` (a pass's last batch may be smaller)."""
    done = 0
    while True:
        order = torch.randperm(blocks, generator=generator)
        for start in range(0, blocks, size):
            if done == steps:
                return
            yield order[start : start + size]
            done += 1


def _block_documents(documents: Documents, context: int) -> np.ndarray:
    """The document of every block, ``int64`` [blocks]."""
    blocks_per_document = -(-documents.lengths // context)
    return np.repeat(np.arange(len(documents), dtype=np.int64), blocks_per_document)


def _blocks(documents: Documents, context: int, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every document cut into blocks of ``context`` words: inputs [blocks, context] (the
    start symbol ``vocab``, then the block's words but the last) and targets [blocks,
    context] (the block's words, -1 past its end)."""
    lengths = documents.lengths
    blocks_per_document = -(-lengths // context)
    first_block = np.concatenate([[0], np.cumsum(blocks_per_document)[:-1]]).astype(np.int64)
    rank = np.arange(len(documents.tokens)) - np.repeat(documents.offsets[:-1], lengths)
    document = np.repeat(np.arange(len(documents)), lengths)
    block = first_block[document] + rank // context
    column = rank % context
    count = int(blocks_per_document.sum())
    targets = np.full((count, context), -1, dtype=np.int64)
    targets[block, column] = documents.tokens
    inputs = np.full((count, context), vocab, dtype=np.int64)
    following = column + 1 < context
    inputs[block[following], column[following] + 1] = documents.tokens[following]
    return torch.from_numpy(inputs), torch.from_numpy(targets)
