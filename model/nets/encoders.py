"""EHR encoders (GRU, transformer) and CXR encoders (small CNN, MONAI DenseNet121, embedding)."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from model import ModelError


class GRUEncoder(nn.Module):
    """GRU over ``(B, T, F)``; the last hidden state is ``h_ehr``."""

    def __init__(self, n_inputs: int, hidden: int, layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.inp = nn.Linear(n_inputs, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, dropout=dropout)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(torch.relu(self.inp(x)))
        return h[-1]  # type: ignore[no-any-return]


class TransformerEncoder(nn.Module):
    """Small transformer over ``(B, T, F)`` with a learned position embedding; last-step output."""

    def __init__(
        self, n_inputs: int, hidden: int, max_len: int, layers: int = 2, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.inp = nn.Linear(n_inputs, hidden)
        self.pos = nn.Parameter(torch.zeros(1, max_len, hidden))
        layer = nn.TransformerEncoderLayer(
            hidden, nhead=4, dim_feedforward=2 * hidden, dropout=dropout, batch_first=True
        )
        self.enc = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x) + self.pos[:, : x.shape[1]]
        return self.enc(h)[:, -1]  # type: ignore[no-any-return]


class SmallCNN(nn.Module):
    """Four strided conv blocks + global average pooling: fast enough to train on a CPU."""

    def __init__(self, out_dim: int = 64, width: int = 16) -> None:
        super().__init__()
        chans = [1, width, 2 * width, 4 * width, 4 * width]
        blocks: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            blocks += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                nn.GroupNorm(4, cout),
                nn.ReLU(),
            ]
        self.features = nn.Sequential(*blocks)
        self.fc = nn.Linear(chans[-1], out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=(2, 3))
        return torch.relu(self.fc(h))


class DenseNetEncoder(nn.Module):
    """MONAI DenseNet121 (random init; no weights are downloaded) producing ``out_dim`` features."""

    def __init__(self, out_dim: int = 128) -> None:
        super().__init__()
        from monai.networks.nets.densenet import DenseNet121

        self.net = DenseNet121(spatial_dims=2, in_channels=1, out_channels=out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(x))


class EmbeddingEncoder(nn.Module):
    """Identity for precomputed foundation-model vectors (e.g. 1024-d or 2048-d)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim <= 0:
            raise ModelError("the embedding CXR encoder needs embedding_dim > 0")
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.out_dim:
            raise ModelError(f"expected embeddings (B, {self.out_dim}), got {tuple(x.shape)}")
        return x
