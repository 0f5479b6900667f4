"""Drift detection settings (shared by the feature, test and report modules)."""

from __future__ import annotations

from dataclasses import dataclass

CORRECTIONS = ("holm", "bonferroni", "bh", "none")


@dataclass(frozen=True)
class DriftConfig:
    min_samples: int = 100  # below -> severity "insufficient_data", never drift
    # Family-wise error of one verdict. The tests are calibrated, so a no-drift window drifts in
    # about alpha of cases; 0.03 keeps the false-alarm rate under 0.05 with room for sampling
    # error, at no measured cost in power at 5% contamination (bench_detection).
    alpha: float = 0.03
    # Evidently-style: both windows above this -> normed Wasserstein / Jensen-Shannon at 0.1.
    large_sample_size: int = 1000
    wasserstein_threshold: float = 0.1
    jensenshannon_threshold: float = 0.1
    # Family-wise correction across every test that forms the verdict (see drift.py): "holm"
    # (weighted Holm, the default) | "bonferroni" (weighted) | "bh" (FDR) | "none".
    correction: str = "holm"
    # Share of alpha for the text tests (embedding MMD, novelty share), split evenly between
    # them; the per-feature tests split the rest. The text tests see every event's content and
    # carry small topic shifts; the per-feature tests are many, narrow and partly redundant.
    text_share: float = 0.5
    psi_bins: int = 10
    categorical_metadata_fields: tuple[str, ...] = ()
    # 1/(P+1) must stay well below the text tests' share of alpha for the MMD test to reject.
    embedding_permutations: int = 2000
    embedding_max_samples: int = 2000  # subsample for MMD
    seed: int = 0

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction: must be one of {CORRECTIONS}, got {self.correction!r}")
        if not 0.0 < self.text_share < 1.0:
            raise ValueError(f"text_share: must be in (0, 1), got {self.text_share}")
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
