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
        rng = " | ".join(str(c) for c in p["choices"])  # spaces: a long list wraps between choices
    elif p["type"] == "bool":
        rng = "true | false"
    elif p.get("search_range"):
        lo, hi = p["search_range"]
        rng = f"{lo:g}..{hi:g}" + (" log" if p.get("log") else "")
    else:
        rng = "fixed" if p["default"] is not None else "derived"
    star = "*" if p.get("searched") else ""
    return f"{p['name']}{star}={rng}"


def _shared_params(backends: list[dict]) -> set[str]:
    """Parameters every backend has with the same range (``preprocess``): listed once."""
    if not backends:
        return set()
    first = {p.get("name"): _param_summary(p) for p in backends[0].get("parameters", []) if isinstance(p, dict)}
    return {n for n, text in first.items()
            if all(any(_param_summary(p) == text for p in b.get("parameters", [])) for b in backends[1:])}


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
    # one parameter per line, folded rather than cut when a value is longer than the column:
    # piped at 80 columns every value stays whole
    t = RichTable(title="Clustering backends (* = searched by meta-training)")
    t.add_column("name", no_wrap=True)
    t.add_column("package", overflow="fold")
    t.add_column("cost", overflow="fold")
    t.add_column("parameters", overflow="fold")
    shared = _shared_params(data["backends"])
    for b in data["backends"]:
        own = [p for p in b.get("parameters", []) if not (isinstance(p, dict) and p.get("name") in shared)]
        t.add_row(shown(b["name"]), shown(b["package"]), shown(b.get("cost", "?")),
                  "\n".join(shown(_param_summary(p)) for p in own), end_section=True)
    console.print(t)
    for p in data["backends"][0].get("parameters", []) if shared else []:
        if isinstance(p, dict) and p.get("name") in shared:
            console.print(f"every backend also takes {shown(_param_summary(p))}", highlight=False)
    for kind, key in (("Selectors", "selectors"), ("Meta-feature groups", "metafeature_groups"),
                      ("Anomaly detectors", "detectors")):
        t = RichTable(title=kind)
        t.add_column("name", overflow="fold")
        t.add_column("package", overflow="fold")
        for item in data[key]:
            t.add_row(shown(item["name"]), shown(item["package"]))
        console.print(t)
    for message in data["failures"]:
        err_console.print(f"[yellow]warning:[/yellow] {shown(message)}", highlight=False, soft_wrap=True)
