"""The MLP denoiser with a sinusoidal step embedding (DiffMM 2.2.2, DiffRec).

As in the official code (HKUDS/DiffMM @fae20e6, `Model.Denoise`): the step embedding is
[cos(t f_k), sin(t f_k)] with f_k = exp(-ln(10000) k / (d_t/2)), then Linear(d_t, d_t) with no
activation; the input row is optionally L2-normalised and, in training only, passed
through inverted dropout; then concat[x, emb] -> Linear -> tanh -> ... -> Linear (no final
activation). Weights are Xavier-normal, biases N(0, 0.001).

The rows are `width` wide: interaction rows (n_items) or embeddings (d); the output has the
same width and is x0_hat or eps_hat, whichever target the loss trains. An optional condition
(`condition_dim` wide: LD4MRec's and DiffCL's signals) joins the first layer's input as
concat[x, condition, emb]; it is neither normalised nor dropped, since DiffRec's dropout and
normalisation are of the noisy row only and neither paper says more.

`bf16` runs the large matmuls under bfloat16 autocast: "never", "always", or "cpu" (only when the
rows live on a CPU, where a bfloat16 matmul of these shapes runs 2-3x faster than float32 here).
`forward` returns float32; the training loss takes `forward_low`'s rows in the compute dtype.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.precision import check_mode, compute_dtype


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (cosine half first, a zero column for odd `dim`)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float().unsqueeze(-1) * freqs
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class Denoiser(nn.Module):
    layers: nn.ModuleList  # of nn.Linear: [x; condition; emb] -> hidden ... -> width

    def __init__(
        self,
        width: int,
        hidden: list[int],
        step_dim: int = 10,
        dropout: float = 0.5,
        normalize_input: bool = False,
        bf16: str = "never",
        condition_dim: int = 0,
    ) -> None:
        super().__init__()
        self.width = width
        self.condition_dim = condition_dim
        self.step_dim = step_dim
        self.normalize_input = normalize_input
        self.bf16 = check_mode("bf16", bf16)
        self.step_layer = nn.Linear(step_dim, step_dim)
        self.dropout = dropout
        sizes = [width + condition_dim + step_dim, *hidden, width]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.reset_parameters()

    def linear_layers(self) -> list[nn.Linear]:
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    def reset_parameters(self) -> None:
        for layer in [self.step_layer, *self.layers]:
            fan_out, fan_in = layer.weight.shape
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / (fan_in + fan_out)))
            nn.init.normal_(layer.bias, 0.0, 0.001)

    def compute_dtype(self, device: torch.device) -> torch.dtype:
        return compute_dtype(self.bf16, device)

    def autocast(self, device: torch.device) -> torch.autocast:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.compute_dtype(device) == torch.bfloat16)

    def step_embedding(self, t: torch.Tensor) -> torch.Tensor:
        return self.step_layer(timestep_embedding(t, self.step_dim))

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        input_dropout: bool = False,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The prediction (B x width, float32) from noisy rows x (B x width)."""
        return self.forward_low(x, t, input_dropout, condition).float()

    def forward_low(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        input_dropout: bool = False,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`forward` left in the compute dtype, for losses that take bfloat16 rows directly.

        The first layer is applied as W_x x + W_c c + (W_t emb(t) + b) rather than
        W [x; c; emb(t)]: the same product without copying every (B x width) row into a
        concatenated buffer.
        """
        if (condition is None) != (self.condition_dim == 0):
            raise ValueError(f"this denoiser takes a condition of width {self.condition_dim} (0: none)")
        if self.normalize_input:
            x = F.normalize(x, dim=-1)
        if input_dropout:
            x = inverted_dropout(x, self.dropout)  # official: controlled by the call, not .train()
        first, *rest = self.linear_layers()
        n, c = self.width, self.condition_dim
        emb = self.step_embedding(t)
        with self.autocast(x.device):
            step_part = F.linear(emb, first.weight[:, n + c :], first.bias)
            h = F.linear(x, first.weight[:, :n]) + step_part
            if condition is not None:
                h = h + F.linear(condition, first.weight[:, n : n + c])
            for layer in rest:
                h = layer(torch.tanh(h))
        return h


def inverted_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """F.dropout(x, p, training=True) in distribution: zero with probability p, scale by 1/(1-p).

    A uniform draw compared with 1-p is about 4x faster on CPU than the Bernoulli kernel behind
    F.dropout (1024 x 6710 rows: 23 ms against 109 ms, one thread), and dropout runs on every
    denoiser step.
    """
    if p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    return x * keep_mask(x, p) * (1.0 / (1.0 - p))


def keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """The entries inverted dropout keeps: one uniform draw per entry, below 1 - p."""
    return torch.rand_like(x, dtype=torch.float32) < (1.0 - p)
