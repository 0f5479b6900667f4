"""Drift detection settings (shared by the feature, test and report modules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DriftConfig:
    min_samples: int = 100  # below -> severity "insufficient_data", never drift
    alpha: float = 0.05
    # Evidently-style: both windows above this -> normed Wasserstein / Jensen-Shannon at 0.1.
    large_sample_size: int = 1000
    wasserstein_threshold: float = 0.1
    jensenshannon_threshold: float = 0.1
    correction: str = "bh"  # "bh" | "bonferroni" | "none"
    psi_bins: int = 10
    categorical_metadata_fields: tuple[str, ...] = ()
    # 1/(P+1) must stay well below alpha / #tests for embedding drift to survive BH alone.
    embedding_permutations: int = 2000
    embedding_max_samples: int = 2000  # subsample for MMD
    seed: int = 0

    def __post_init__(self) -> None:
        if self.correction not in ("bh", "bonferroni", "none"):
            raise ValueError(
                f"correction: must be 'bh', 'bonferroni' or 'none', got {self.correction!r}"
            )
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha: must be in (0, 1), got {self.alpha}")
        if self.min_samples < 2:
            raise ValueError(f"min_samples: must be >= 2, got {self.min_samples}")
        if self.embedding_permutations < 1:
            raise ValueError(
                f"embedding_permutations: must be >= 1, got {self.embedding_permutations}"
            )
        if self.psi_bins < 2:
            raise ValueError(f"psi_bins: must be >= 2, got {self.psi_bins}")
