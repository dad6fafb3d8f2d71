"""What a ranking returns for each configuration: a plain dataclass."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..backends.resolve import jsonable


@dataclass
class Recommendation:
    """One ranked configuration for a table."""

    rank: int
    algorithm: str
    #: scale-free parameters, as stored in the knowledge base (they transfer across tables)
    params: dict[str, Any]
    #: the same parameters made concrete for this table (eps in data units, sizes in rows)
    resolved: dict[str, Any]
    #: the selector's predicted quality on the ARI scale, clipped to [-1, 1] (higher is better;
    #: the ranking itself uses the unclipped scores)
    predicted_score: float
    reason: str = ""
    config_id: str = ""
    selector: str = ""
    #: internal indices observed when the selector ran this configuration (None if it did not)
    probed: dict[str, float] | None = None

    def to_estimator(self, random_state: int = 0) -> Any:
        """A scikit-learn clusterer that runs this configuration (scale-free parameters, so
        it resolves them again on whatever table it is fitted on)."""
        from ..backend_estimator import BackendClusterer

        return BackendClusterer(algorithm=self.algorithm, params=dict(self.params), random_state=random_state)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))
