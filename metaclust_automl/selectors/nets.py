"""The two networks of the learned selectors, written twice: in torch for training and
in numpy for ranking.

Ranking with shipped weights must not pay for importing torch (a second or more at every
``metaclust cluster``), so the forward passes are mirrored in numpy and checked against
torch in the tests. Parameters are plain ``{name: array}`` dicts, stored as safetensors.

Both start from a base estimate b_c of configuration c's ARI on the table: the kNN estimate
(the average over the most similar knowledge-base tables, see ``knn.knn_base``). The networks
learn a correction to it, so that on a small or unfamiliar knowledge base they fall back to
the kNN ranking instead of something worse, and they see b_c as an input, so that they can
learn where the neighbours are to be trusted.

QualityNet (MAML selector): predicted ARI of configuration c on a table::

    t = relu(Wt z + bt)                      table encoding from standardised meta-features z
    e = relu(We [d_c, emb_c] + be)           configuration encoding (descriptor + learned embedding)
    h = relu(W1 [t, e, o_c, m_c, b_c] + b1)  o_c: observed internal indices when c was run, m_c: 1 if so
    h = relu(W2 h + b2)
    q = b_c + w3 h + b3 + cb_c               cb_c: per-configuration bias (starts at 0)

SearchPolicy (RL2 selector): a GRU over the probes made so far; at every step it scores
every configuration twice, once as "worth running next" and once as "predicted ARI"::

    x_s = [z, d_a, emb_a, o_a, has_prev, steps_left]   (a = the configuration probed at step s-1)
    h_s = GRU(x_s, h_{s-1}),  h_0 = tanh(W0 z + b0)
    q_c = b_c + v . relu(Qh h + Qc [d_c, emb_c] + bq) + cq_c  predicted ARI (cq_c starts at 0)
    p_c = u . relu(Ph h + Pc [d_c, emb_c] + bp) + beta * q_c   probe logit
"""
from __future__ import annotations

from typing import Any

import numpy as np

QUALITY_KEYS = ("emb", "cb", "t.w", "t.b", "e.w", "e.b", "l1.w", "l1.b", "l2.w", "l2.b", "l3.w", "l3.b")
QUALITY_INNER = ("l2.w", "l2.b", "l3.w", "l3.b")  # adapted in MAML's inner loop
POLICY_KEYS = ("emb", "h0.w", "h0.b", "gru.wi", "gru.wh", "gru.bi", "gru.bh",
               "qh.w", "qc.w", "q.b", "q.v", "q.c", "ph.w", "pc.w", "p.b", "p.u", "beta")


# -- initialisation (torch) -------------------------------------------------------------

def _lin(torch: Any, g: Any, n_out: int, n_in: int) -> tuple[Any, Any]:
    bound = 1.0 / np.sqrt(n_in)
    w = (torch.rand(n_out, n_in, generator=g) * 2 - 1) * bound
    b = (torch.rand(n_out, generator=g) * 2 - 1) * bound
    return w, b


def init_quality(n_meta: int, n_desc: int, n_configs: int, n_index: int, *, emb: int = 8,
                 hidden: int = 64, seed: int = 0) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(seed)
    p: dict[str, Any] = {"emb": torch.randn(n_configs, emb, generator=g) * 0.1,
                         "cb": torch.zeros(n_configs)}
    p["t.w"], p["t.b"] = _lin(torch, g, hidden, n_meta)
    p["e.w"], p["e.b"] = _lin(torch, g, hidden, n_desc + emb)
    p["l1.w"], p["l1.b"] = _lin(torch, g, 2 * hidden, 2 * hidden + n_index + 2)
    p["l2.w"], p["l2.b"] = _lin(torch, g, hidden, 2 * hidden)
    p["l3.w"], p["l3.b"] = _lin(torch, g, 1, hidden)
    p["l3.w"] = p["l3.w"] * 0.1
    p["l3.b"] = torch.zeros(1)
    p["inner_lr"] = torch.full((len(QUALITY_INNER),), float(np.log(0.05)))
    return {k: v.clone().requires_grad_(True) for k, v in p.items()}


def init_policy(n_meta: int, n_desc: int, n_configs: int, n_index: int, *, emb: int = 8,
                hidden: int = 96, seed: int = 0) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(seed)
    n_in = n_meta + n_desc + emb + n_index + 2
    p: dict[str, Any] = {"emb": torch.randn(n_configs, emb, generator=g) * 0.1}
    p["h0.w"], p["h0.b"] = _lin(torch, g, hidden, n_meta)
    p["gru.wi"], p["gru.bi"] = _lin(torch, g, 3 * hidden, n_in)
    p["gru.wh"], p["gru.bh"] = _lin(torch, g, 3 * hidden, hidden)
    p["qh.w"], p["q.b"] = _lin(torch, g, hidden, hidden)
    p["qc.w"], _ = _lin(torch, g, hidden, n_desc + emb)
    p["q.v"], p["q.c"] = _lin(torch, g, 1, hidden)
    p["q.v"] = p["q.v"].reshape(-1) * 0.1
    p["q.c"] = torch.zeros(n_configs)
    p["ph.w"], p["p.b"] = _lin(torch, g, hidden, hidden)
    p["pc.w"], _ = _lin(torch, g, hidden, n_desc + emb)
    p["p.u"] = p["q.v"].clone() * 0.1
    p["beta"] = torch.full((1,), 5.0)
    return {k: v.clone().requires_grad_(True) for k, v in p.items()}


# -- QualityNet ---------------------------------------------------------------------------

def quality_trunk_torch(p: dict[str, Any], z: Any, desc: Any, obs: Any, mask: Any, base: Any,
                        cols: Any = None) -> Any:
    """First layer [B, K', 2H] for B tables (z: [B, F]) and the configurations ``cols``
    (``cols[b]`` per table, or all K when None; desc: [K, D]); obs [B, K', I] and mask
    [B, K'] say which of them were run and what their internal indices were; base [B, K']
    is the kNN estimate."""
    import torch

    t = torch.relu(z @ p["t.w"].T + p["t.b"])                                   # [B, H]
    e = torch.relu(torch.cat([desc, p["emb"]], 1) @ p["e.w"].T + p["e.b"])     # [K, H]
    B = z.shape[0]
    e = e[None].expand(B, -1, -1) if cols is None else e[cols]                  # [B, K', H]
    K = e.shape[1]
    x = torch.cat([t[:, None, :].expand(B, K, -1), e, obs * mask[..., None], mask[..., None],
                   base[..., None]], 2)
    return torch.relu(x @ p["l1.w"].T + p["l1.b"])


def quality_head_torch(p: dict[str, Any], h: Any, base: Any, cols: Any = None) -> Any:
    """Last layers; their weights may carry a leading batch dimension (one copy per table,
    as MAML's inner loop adapts them per table)."""
    import torch

    w2, b2, w3, b3 = p["l2.w"], p["l2.b"], p["l3.w"], p["l3.b"]
    cb = p["cb"] if cols is None else p["cb"][cols]
    if w2.dim() == 3:
        h = torch.relu(torch.einsum("bkj,bij->bki", h, w2) + b2[:, None, :])
        return torch.einsum("bkj,bij->bki", h, w3)[..., 0] + b3 + cb + base
    h = torch.relu(h @ w2.T + b2)
    return (h @ w3.T + b3)[..., 0] + cb + base


def quality_torch(p: dict[str, Any], z: Any, desc: Any, obs: Any, mask: Any, base: Any, cols: Any = None) -> Any:
    """Predicted ARI [B, K'] (see :func:`quality_trunk_torch` for the arguments)."""
    return quality_head_torch(p, quality_trunk_torch(p, z, desc, obs, mask, base, cols), base, cols)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def quality_numpy(p: dict[str, np.ndarray], z: np.ndarray, desc: np.ndarray, obs: np.ndarray,
                  mask: np.ndarray, base: np.ndarray) -> np.ndarray:
    """numpy mirror of :func:`quality_torch` for one table: z [F], obs [K, I], mask [K], base [K] -> [K]."""
    t = _relu(p["t.w"] @ z + p["t.b"])
    e = _relu(np.concatenate([desc, p["emb"]], 1) @ p["e.w"].T + p["e.b"])
    K = desc.shape[0]
    x = np.concatenate([np.broadcast_to(t, (K, t.size)), e, obs * mask[:, None], mask[:, None],
                        base[:, None]], 1)
    h = _relu(x @ p["l1.w"].T + p["l1.b"])
    h = _relu(h @ p["l2.w"].T + p["l2.b"])
    return (h @ p["l3.w"].T + p["l3.b"])[:, 0] + p["cb"] + base


# -- SearchPolicy -------------------------------------------------------------------------

def policy_config_torch(p: dict[str, Any], desc: Any) -> tuple[Any, Any]:
    """The configuration-side terms of both heads (computed once per batch)."""
    import torch

    cf = torch.cat([desc, p["emb"]], 1)
    return cf @ p["qc.w"].T, cf @ p["pc.w"].T


def policy_h0_torch(p: dict[str, Any], z: Any) -> Any:
    import torch

    return torch.tanh(z @ p["h0.w"].T + p["h0.b"])


def policy_step_torch(p: dict[str, Any], h: Any, x: Any) -> Any:
    """One GRU step (torch.nn.GRUCell's equations)."""
    import torch

    gi = x @ p["gru.wi"].T + p["gru.bi"]
    gh = h @ p["gru.wh"].T + p["gru.bh"]
    ir, iz, inn = gi.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r = torch.sigmoid(ir + hr)
    u = torch.sigmoid(iz + hz)
    n = torch.tanh(inn + r * hn)
    return (1 - u) * n + u * h


def policy_heads_torch(p: dict[str, Any], h: Any, qcf: Any, pcf: Any, base: Any) -> tuple[Any, Any]:
    """(predicted ARI [B, K], probe logits [B, K]) from the hidden state h [B, H] and the
    kNN estimate base [B, K]."""
    import torch

    qa = torch.relu((h @ p["qh.w"].T + p["q.b"])[:, None, :] + qcf[None])
    q = qa @ p["q.v"] + p["q.c"] + base
    pa = torch.relu((h @ p["ph.w"].T + p["p.b"])[:, None, :] + pcf[None])
    return q, pa @ p["p.u"] + p["beta"] * q


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


class PolicyNumpy:
    """numpy mirror of the SearchPolicy, stepped one probe at a time at ranking time."""

    def __init__(self, p: dict[str, np.ndarray], desc: np.ndarray) -> None:
        self.p = p
        cf = np.concatenate([desc, p["emb"]], 1)
        self.cf = cf
        self.qcf, self.pcf = cf @ p["qc.w"].T, cf @ p["pc.w"].T

    def h0(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(self.p["h0.w"] @ z + self.p["h0.b"])

    def step(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        p = self.p
        gi = p["gru.wi"] @ x + p["gru.bi"]
        gh = p["gru.wh"] @ h + p["gru.bh"]
        H = h.size
        r = _sigmoid(gi[:H] + gh[:H])
        u = _sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
        return (1 - u) * n + u * h

    def heads(self, h: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        q = _relu(p["qh.w"] @ h + p["q.b"] + self.qcf) @ p["q.v"] + p["q.c"] + base
        logits = _relu(p["ph.w"] @ h + p["p.b"] + self.pcf) @ p["p.u"] + p["beta"][0] * q
        return q, logits


def to_numpy(params: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in params.items()}


def to_torch(params: dict[str, np.ndarray], device: Any = None, requires_grad: bool = False) -> dict[str, Any]:
    import torch

    return {k: torch.tensor(v, dtype=torch.float32, device=device, requires_grad=requires_grad)
            for k, v in params.items()}


def device() -> Any:
    """Where the selectors train (the package's one device choice: CUDA when present)."""
    from ..torch_device import resolve_device

    return resolve_device("auto")
