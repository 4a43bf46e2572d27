"""Nearest-neighbour search over L2-normalised patch features (faiss, exact).

Cosine distance = 1 - inner product of unit vectors. An exact flat index is
the right tool at few-shot scale (a few hundred thousand patches at most):
approximate indexes would add error and tuning for no gain.
"""

from __future__ import annotations

import faiss
import numpy as np


def normalise(features: np.ndarray) -> np.ndarray:
    features = np.ascontiguousarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-8)


class CosineIndex:
    def __init__(self, bank: np.ndarray):
        if bank.ndim != 2 or len(bank) == 0:
            raise ValueError(f"memory bank must be a non-empty (N, D) array, got shape {bank.shape}")
        self.bank = normalise(bank)
        self.index = faiss.IndexFlatIP(self.bank.shape[1])
        self.index.add(self.bank)

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices), each (M, k); distances are cosine distances in [0, 2]."""
        sims, idx = self.index.search(normalise(queries), k)
        return 1.0 - sims, idx

    def distance(self, queries: np.ndarray) -> np.ndarray:
        """Cosine distance of every query to its nearest bank entry, (M,)."""
        return self.search(queries, 1)[0][:, 0]
