"""DiffRec: a diffusion model over each user's interaction row.

Reference: W. Wang, Y. Xu, F. Feng, X. Lin, X. He, T.-S. Chua. "Diffusion Recommender Model",
SIGIR 2023. Reference code: github.com/YiyanXu/DiffRec @d35a6c6 (DiffRec/main.py,
models/gaussian_diffusion.py, models/DNN.py; facts in shared/reference/baselines.md).

One phase, `denoiser`, on user rows: each user's binary training row x0 is noised to a step t
drawn by importance sampling (a history of the last 10 losses per step, uniform until full, a
0.001 uniform floor, the loss divided by p_t T), and the MLP denoiser predicts x0 (or the noise,
`target: eps`) with dropout on its input; the loss is the mean over items of the squared error,
weighted by SNR(t-1) - SNR(t) (`reweight`, on in every official run). Ranking: the user's row is
noised T' steps (`sampling_steps`, 0 by default: the clean row) and denoised through all T
reverse steps without noise; the scores are the denoised row.

Deviations from the reference code: Adam instead of AdamW (the same update at its weight decay
of 0, which every official setting uses); our metrics average over users with held-out items
(DiffRec's count users without them as zero).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.diffusion import FastReverseChain, diffusion_loss, reverse_chain
from mmdiffbench.diffusion.inference import fast_chain_applies
from mmdiffbench.diffusion.timesteps import ImportanceSampler
from mmdiffbench.models.base import Recommender
from mmdiffbench.models.diffusion_parts import denoiser_from_config, schedule_from_config
from mmdiffbench.models.phase import Batch, Phase, UserRowBatch


class DiffRec(Recommender):
    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        if c["timestep_sampling"] not in ("importance", "uniform"):
            raise ValueError(f"timestep_sampling must be 'importance' or 'uniform', got {c['timestep_sampling']!r}")
        self.rows = sp.csr_matrix(dataset.train, dtype=np.float32)
        self.rows.data[:] = 1.0
        self.denoiser = denoiser_from_config(self.n_items, c)
        self.schedule = schedule_from_config(c)
        self.sampler = (
            ImportanceSampler(c["steps"], c["history"], c["uniform_floor"])
            if c["timestep_sampling"] == "importance"
            else None
        )
        self.weighting = "diffrec" if c["reweight"] else "uniform"
        self._chain: FastReverseChain | None = None

    def phases(self) -> list[Phase]:
        return [Phase("denoiser", list(self.parameters()), "user_rows", self.loss_parts)]

    def loss_parts(self, batch: Batch) -> list[dict[str, torch.Tensor]]:
        assert isinstance(batch, UserRowBatch)
        result = diffusion_loss(
            self.denoiser, self.schedule, batch.dense(), self.weighting, self.config["target"], self.sampler
        )
        return [{"diffusion": result.loss}]

    @contextmanager
    def scoring(self) -> Iterator[None]:
        """One precomputed reverse chain for all batches of an evaluation, when it applies."""
        c = self.config
        if fast_chain_applies(self.denoiser, c["sampling_noise"], c["target"]):
            self._chain = FastReverseChain(self.denoiser, self.schedule, c["sampling_steps"])
        try:
            yield
        finally:
            self._chain = None

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """The denoised rows of `users` (all items): T' forward steps, then the T reverse steps."""
        c = self.config
        x0 = torch.from_numpy(self.rows[users.cpu().numpy()].toarray()).to(users.device)
        if self._chain is not None:
            return self._chain(x0)
        return reverse_chain(self.denoiser, self.schedule, x0, c["sampling_steps"], c["sampling_noise"], c["target"])
