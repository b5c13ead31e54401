"""LD4MRec's C-Net (section 3): the network that predicts x0 from a noisy row in one call.

    b_u = W_in x_t + b_in                                   (the first fully connected layer)
    BD:  b'_u = act(W_1 b_u + b_1),  c'_u = act(W_2 c_u + b_2)                     (eq. 16-17)
         g = sigmoid(W_3 t_f + b_3),  b_ud = b'_u * (1 - g) + c'_u * g             (eq. 18-19)
    BG:  W_m = MLP_1(e_um), b_m = MLP_2(e_um),  b' = W_m (.) b_ud + b_m            (eq. 21-22)
    x_hat = W_out h + b_out                                 (the last fully connected layer)

Blocks are chained with LeakyReLU(0.2) between consecutive blocks (the activations the paper
leaves out of Fig. 2; LeakyReLU is the one it names, 0.2 is DF-GAN's slope). The BG block is
DF-GAN's affine block (Tao et al., CVPR 2022, cited as the text2image source; tobran/DF-GAN
`code/models/GAN.py`, class `Affine`): each MLP is Linear(d_m, d) -> ReLU -> Linear(d, .), the
scale's last layer starts at weight 0 and bias 1 and the shift's at 0, so every BG block starts
as the identity. `bg_transform`: `channel` (DF-GAN's channel-wise scale, default) or `matrix`
(MLP_1 outputs a full d x d matrix W_t, started at the identity). `time_in_behaviour` feeds
[b_u; t_f] to W_1 (the concatenation the text mentions before eq. 16, which eq. 16 omits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "leaky_relu": lambda h: F.leaky_relu(h, 0.2)}
BG_TRANSFORMS = ("channel", "matrix")
LEAKY_SLOPE = 0.2


def xavier_linear(n_in: int, n_out: int) -> nn.Linear:
    """A Linear layer with Xavier-normal weights and zero bias (DiffRec's MLP initialisation)."""
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_normal_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def constant_linear(n_in: int, bias: torch.Tensor) -> nn.Linear:
    """A Linear layer that starts as the constant `bias` (zero weights): DF-GAN's affine start."""
    layer = nn.Linear(n_in, len(bias))
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(bias)
    return layer


class BDBlock(nn.Module):
    """Behaviour denoising: the behaviour and collaborative branches mixed by a time gate."""

    def __init__(self, dim: int, collab_dim: int, activation: str, time_in_behaviour: bool = False) -> None:
        super().__init__()
        self.time_in_behaviour = time_in_behaviour
        self.behaviour = xavier_linear(2 * dim if time_in_behaviour else dim, dim)  # W_1, b_1
        self.collab = xavier_linear(collab_dim, dim)  # W_2, b_2
        self.gate_layer = xavier_linear(dim, dim)  # W_3, b_3
        self.act = ACTIVATIONS[activation]

    def gate(self, time: torch.Tensor) -> torch.Tensor:
        """g(t_f) of eq. 19."""
        return torch.sigmoid(self.gate_layer(time))

    def forward(self, b: torch.Tensor, collab: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        g = self.gate(time)
        if self.time_in_behaviour:
            b = torch.cat([b, time], dim=-1)
        return self.act(self.behaviour(b)) * (1.0 - g) + self.act(self.collab(collab)) * g


class BGBlock(nn.Module):
    """Behaviour generation under one modality preference: a predicted transform and shift."""

    def __init__(self, dim: int, preference_dim: int, transform: str) -> None:
        super().__init__()
        if transform not in BG_TRANSFORMS:
            raise ValueError(f"bg_transform must be one of {BG_TRANSFORMS}, got {transform!r}")
        self.dim, self.transform = dim, transform
        identity = torch.ones(dim) if transform == "channel" else torch.eye(dim).flatten()
        self.scale = nn.Sequential(
            xavier_linear(preference_dim, dim), nn.ReLU(), constant_linear(dim, identity)
        )  # MLP_1
        self.shift = nn.Sequential(
            xavier_linear(preference_dim, dim), nn.ReLU(), constant_linear(dim, torch.zeros(dim))
        )  # MLP_2

    def forward(self, b: torch.Tensor, preference: torch.Tensor) -> torch.Tensor:
        shift = self.shift(preference)
        if self.transform == "channel":
            return self.scale(preference) * b + shift
        matrix = self.scale(preference).view(-1, self.dim, self.dim)
        return torch.bmm(matrix, b.unsqueeze(-1)).squeeze(-1) + shift


class ConcatTimeMLP(nn.Module):
    """The `w/o BD` replacement: act(W [b_u; t_f] + b), DiffRec's way of adding the time."""

    def __init__(self, dim: int, activation: str) -> None:
        super().__init__()
        self.layer = xavier_linear(2 * dim, dim)
        self.act = ACTIVATIONS[activation]

    def forward(self, b: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        return self.act(self.layer(torch.cat([b, time], dim=-1)))


class CNet(nn.Module):
    """x_t (B x items) -> x_hat (B x items), given t_f, c_u and the ordered modality preferences.

    Full: BD -> BG(text role) -> BG(the other modalities). `bd_block=False` (w/o BD) puts
    ConcatTimeMLP in BD's place; `bg_block=False` (w/o BG) puts a second BD block in place of
    the BG blocks ("two BD blocks linked in sequence").
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        collab_dim: int,
        preference_dims: list[int],
        activation: str = "tanh",
        bg_transform: str = "channel",
        bd_block: bool = True,
        bg_block: bool = True,
        time_in_behaviour: bool = False,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not (bd_block or bg_block):
            raise ValueError("the C-Net needs a BD or a BG block (w/o BD and w/o BG are separate variants)")
        self.input = xavier_linear(n_items, dim)
        self.first: BDBlock | ConcatTimeMLP = (
            BDBlock(dim, collab_dim, activation, time_in_behaviour) if bd_block else ConcatTimeMLP(dim, activation)
        )
        self.second = None if bg_block else BDBlock(dim, collab_dim, activation, time_in_behaviour)
        self.generators = nn.ModuleList(
            BGBlock(dim, d_m, bg_transform) for d_m in (preference_dims if bg_block else [])
        )
        self.output = xavier_linear(dim, n_items)

    def hidden(
        self, x: torch.Tensor, time: torch.Tensor, collab: torch.Tensor | None, preferences: list[torch.Tensor]
    ) -> torch.Tensor:
        """The representation before the output layer."""
        h = self.input(x)
        if isinstance(self.first, BDBlock):
            assert collab is not None
            h = self.first(h, collab, time)
        else:
            h = self.first(h, time)
        if self.second is not None:
            assert collab is not None
            return self.second(F.leaky_relu(h, LEAKY_SLOPE), collab, time)
        for block, preference in zip(self.generators, preferences, strict=True):
            h = block(F.leaky_relu(h, LEAKY_SLOPE), preference)
        return h

    def forward(
        self, x: torch.Tensor, time: torch.Tensor, collab: torch.Tensor | None, preferences: list[torch.Tensor]
    ) -> torch.Tensor:
        return self.output(self.hidden(x, time, collab, preferences))
