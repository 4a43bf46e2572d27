"""Nearest-neighbour search over L2-normalised patch features (exact).

Cosine distance = 1 - inner product of unit vectors. An exact flat index is
the right tool at few-shot scale (a few hundred thousand patches at most):
approximate indexes would add error and tuning for no gain. On the CPU faiss
does the search; when the backbone runs on a GPU the bank stays there and a
chunked matrix product does it, which avoids a device round trip and is an
order of magnitude faster than CPU faiss at these sizes.
"""

from __future__ import annotations

import faiss
import numpy as np
import torch

from ..errors import ConfigError


def normalise(features: np.ndarray) -> np.ndarray:
    features = np.ascontiguousarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-8)


class CosineIndex:
    def __init__(self, bank: np.ndarray, device: str | torch.device = "cpu", backend: str = "auto"):
        """``backend``: "faiss", "torch", or "auto" (faiss on the CPU, torch elsewhere)."""
        if bank.ndim != 2 or len(bank) == 0:
            raise ConfigError(f"memory bank must be a non-empty (N, D) array, got shape {bank.shape}")
        self.bank = normalise(bank)
        self.device = torch.device(device)
        if backend not in ("auto", "faiss", "torch"):
            raise ConfigError(f"backend must be 'auto', 'faiss' or 'torch', got {backend!r}")
        self.use_faiss = backend == "faiss" or (backend == "auto" and self.device.type == "cpu")
        if self.use_faiss:
            self.index = faiss.IndexFlatIP(self.bank.shape[1])
            self.index.add(self.bank)
        else:
            self.gpu_bank = torch.from_numpy(self.bank).to(self.device)

    def __len__(self) -> int:
        return len(self.bank)

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices), each (M, k); distances are cosine distances in [0, 2]."""
        if self.use_faiss:
            sims, idx = self.index.search(normalise(queries), k)
            return 1.0 - sims, idx
        q = torch.from_numpy(normalise(queries)).to(self.device)
        parts = [torch.topk(chunk @ self.gpu_bank.T, k, dim=1) for chunk in q.split(4096)]
        sims = torch.cat([p.values for p in parts]).cpu().numpy()
        idx = torch.cat([p.indices for p in parts]).cpu().numpy()
        return 1.0 - sims, idx

    def distance(self, queries: np.ndarray) -> np.ndarray:
        """Cosine distance of every query to its nearest bank entry, (M,)."""
        return self.search(queries, 1)[0][:, 0]
