"""The gate's decision from per-prompt wins, ties and losses: the sign test.

Ties carry no information about which model is better, so the sign test drops them (the
standard treatment). Each direction is a one-sided test at alpha (worse, better); the reported
`p_value` is the two-sided one. A candidate is rejected when it loses significantly more often than it
wins; it is promoted when it wins significantly more often; in between the configured rule
decides. Too few prompts cannot show "not worse", so they reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scipy.stats import binomtest

InconclusiveRule = Literal["promote_if_not_behind", "promote", "reject"]
INCONCLUSIVE_RULES: tuple[str, ...] = ("promote_if_not_behind", "promote", "reject")


@dataclass(frozen=True)
class GateConfig:
    alpha: float = 0.05
    tie_margin: float = 0.02  # score differences within this are ties
    min_prompts: int = 20  # fewer eval prompts than this: no promotion
    on_inconclusive: InconclusiveRule = "promote_if_not_behind"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    verdict: Literal["better", "worse", "inconclusive", "too_few_prompts"]
    wins: int
    ties: int
    losses: int
    p_better: float  # one-sided: the candidate wins more often than it loses
    p_worse: float  # one-sided: the candidate loses more often than it wins
    reasons: list[str] = field(default_factory=list)

    @property
    def p_value(self) -> float:
        """Two-sided sign-test p-value."""
        return min(1.0, 2 * min(self.p_better, self.p_worse))


def _one_sided(k: int, n: int) -> float:
    return float(binomtest(k, n, 0.5, alternative="greater").pvalue) if n else 1.0


def decide(wins: int, ties: int, losses: int, config: GateConfig) -> GateDecision:
    n = wins + ties + losses
    decided = wins + losses
    p_better, p_worse = _one_sided(wins, decided), _one_sided(losses, decided)
    counts = f"{wins} wins, {ties} ties, {losses} losses on {n} eval prompts"

    def verdict(promote: bool, kind: str, why: str) -> GateDecision:
        return GateDecision(promote, kind, wins, ties, losses, p_better, p_worse, [why])  # type: ignore[arg-type]

    if n < config.min_prompts:
        return verdict(
            False,
            "too_few_prompts",
            f"only {n} eval prompts (minimum {config.min_prompts}): cannot show the candidate "
            "is not worse",
        )
    if p_worse < config.alpha:
        return verdict(False, "worse", f"significantly worse: {counts}, sign test p={p_worse:.3g}")
    if p_better < config.alpha:
        return verdict(
            True, "better", f"significantly better: {counts}, sign test p={p_better:.3g}"
        )
    rule = config.on_inconclusive
    promote = rule == "promote" or (rule == "promote_if_not_behind" and wins >= losses)
    return verdict(
        promote,
        "inconclusive",
        f"no significant difference ({counts}, p={min(p_better, p_worse):.3g}); "
        f"rule {rule!r}: {'promote' if promote else 'keep the current model'}",
    )
