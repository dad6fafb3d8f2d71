"""``metaclust plugins``: what is registered, and from which package."""
from __future__ import annotations

import json

from rich.table import Table as RichTable

from .app import JsonOpt, app, console, err_console, shown


def _param_summary(p: dict) -> str:
    try:
        return _describe_param(p)
    except (KeyError, TypeError, ValueError):  # a plugin's odd description
        return f"{p.get('name', '?') if isinstance(p, dict) else '?'}=?"


def _describe_param(p: dict) -> str:
    if p["type"] == "categorical":
        rng = "|".join(str(c) for c in p["choices"])
    elif p["type"] == "bool":
        rng = "true|false"
    elif p.get("search_range"):
        lo, hi = p["search_range"]
        rng = f"{lo:g}..{hi:g}" + (" log" if p.get("log") else "")
    else:
        rng = "fixed" if p["default"] is not None else "derived"
    star = "*" if p.get("searched") else ""
    return f"{p['name']}{star}={rng}"


@app.command("plugins")
def plugins(as_json: JsonOpt = False) -> None:
    """List registered backends, selectors, meta-feature groups and detectors."""
    from ..plugins import get_registry

    reg = get_registry()
    data = {
        "backends": [dict(b.describe(), package=reg.source("backend", n)) for n, b in sorted(reg.backends.items())],
        "selectors": [{"name": n, "package": reg.source("selector", n)} for n in sorted(reg.selectors)],
        "metafeature_groups": [
            {"name": n, "package": reg.source("metafeatures", n),
             "features": list(getattr(g, "feature_names", lambda: [])())}
            for n, g in sorted(reg.metafeature_groups.items())],
        "detectors": [{"name": n, "package": reg.source("detector", n)} for n in sorted(reg.detectors)],
        "failures": reg.failures,
    }
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    t = RichTable(title="Clustering backends (* = searched by meta-training)")
    for col in ("name", "package", "cost", "parameters"):
        t.add_column(col)
    for b in data["backends"]:
        t.add_row(shown(b["name"]), shown(b["package"]), shown(b.get("cost", "?")),
                  shown(", ".join(_param_summary(p) for p in b.get("parameters", []))))
    console.print(t)
    for kind, key in (("Selectors", "selectors"), ("Meta-feature groups", "metafeature_groups"),
                      ("Anomaly detectors", "detectors")):
        t = RichTable(title=kind)
        t.add_column("name")
        t.add_column("package")
        for item in data[key]:
            t.add_row(shown(item["name"]), shown(item["package"]))
        console.print(t)
    for message in data["failures"]:
        err_console.print(f"[yellow]warning:[/yellow] {shown(message)}", highlight=False, soft_wrap=True)
