"""The model contract the trainer relies on (DESIGN.md, "Contracts").

A model is an nn.Module built from (dataset, config). The trainer owns optimisation,
sampling, evaluation, selection and checkpoints; the model only
- declares its training phases (`phases`, models/phase.py); the default is one phase on BPR
  triples over all parameters with the loss terms of `losses` (the trainer sums them),
- scores all items for a batch of users (`score`), optionally caching work shared by all
  batches of one evaluation inside `scoring()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.graph.operator import SparseOperator
from mmdiffbench.models.phase import Batch, BPRBatch, Phase


class Recommender(nn.Module):
    """Base class of every registered model."""

    #: multimodal models set this; building one on a dataset without features fails early
    requires_features: bool = False

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__()
        if self.requires_features and not dataset.features:
            raise DataError(
                f"{type(self).__name__} needs item feature files (<modality>_feat.npy) but dataset "
                f"{dataset.name!r} has none; add them to the data folder (see README, 'Adding features')"
            )
        self.n_users = dataset.n_users
        self.n_items = dataset.n_items
        self.config = dict(config)

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        """The training phases of one epoch, in order; by default BPR steps on every parameter."""
        return [Phase("recommender", list(self.parameters()), "bpr", self._bpr_loss_parts)]

    def _bpr_loss_parts(self, batch: Batch) -> list[dict[str, torch.Tensor]]:
        assert isinstance(batch, BPRBatch)
        return [self.losses(batch)]

    def score(self, users: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @contextmanager
    def scoring(self) -> Iterator[None]:
        """Context in which `score` is called for every batch of one evaluation."""
        yield

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def kept_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What model.pt keeps of a selected state: all of it, unless a model leaves out parts
        that neither evaluation nor its analyses read (DiffMM's generators)."""
        return state

    def load_selected_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load model.pt (or a checkpoint's best state): every key, except that the ones
        `kept_state` leaves out may be absent."""
        missing, unexpected = self.load_state_dict(state, strict=False)
        full = self.state_dict()
        optional = set(full) - set(self.kept_state(full))
        problems = list(unexpected) + [key for key in missing if key not in optional]
        if problems:
            raise DataError(f"the saved state does not fit this {type(self).__name__}: {', '.join(problems[:5])}")


class EmbeddingRecommender(Recommender):
    """A model whose score is the inner product of final user and item embeddings."""

    _cache: tuple[torch.Tensor, torch.Tensor] | None = None
    _buffer: torch.Tensor | None = None

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(users x d, items x d) after any propagation; recomputed for each training batch."""
        raise NotImplementedError

    @contextmanager
    def scoring(self) -> Iterator[None]:
        """Propagate once per evaluation; score batches into one reused output buffer.

        Allocating a fresh batch x items matrix per batch costs page faults comparable to
        the matrix product itself (measured in benchmarks/eval_speed.py).
        """
        with torch.no_grad():
            user_emb, item_emb = self.final_embeddings()
            self._cache = (user_emb, item_emb.T.contiguous())
        try:
            yield
        finally:
            self._cache, self._buffer = None, None

    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of all items; inside `scoring()` the result is valid until the next call."""
        if self._cache is None:
            user_emb, item_emb = self.final_embeddings()
            return user_emb[users] @ item_emb.T
        user_emb, item_t = self._cache
        rows = len(users)
        if self._buffer is None or self._buffer.shape[0] < rows:
            self._buffer = torch.empty(rows, item_t.shape[1], dtype=item_t.dtype, device=item_t.device)
        return torch.mm(user_emb[users], item_t, out=self._buffer[:rows])


class GraphRecommender(EmbeddingRecommender):
    """An embedding model that propagates over its normalised training graph, the buffer `adj`."""

    adj: torch.Tensor
    _adj_op: SparseOperator | None = None

    @property
    def adj_op(self) -> SparseOperator:
        """`adj` as a symmetric CSR operator, built once and rebuilt after a device move."""
        if self._adj_op is None or self._adj_op.csr.device != self.adj.device:
            self._adj_op = SparseOperator(self.adj, symmetric=True)
        return self._adj_op
