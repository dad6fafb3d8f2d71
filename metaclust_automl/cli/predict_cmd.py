"""``metaclust predict``: label new rows with a model saved by ``cluster --save-model``."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.markup import escape

from .app import JsonOpt, app, console, err_console


@app.command("predict")
def predict(
    model_dir: Annotated[str, typer.Argument(help="Model directory written by `metaclust cluster --save-model`.")],
    data: Annotated[str, typer.Argument(help="New rows, with the columns the model was fitted on.")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write labels here (CSV, header 'label'); '-' for stdout.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Label new rows with a saved model (noise = -1); see the README for each backend's rule."""
    from ..atomic import check_output_path
    from ..loading import read_frame, write_labels_csv
    from ..saved_model import SavedModel

    if output and output != "-":
        check_output_path(output)
    model = SavedModel.load(model_dir)
    frame, _ = read_frame(data)
    labels = model.predict_frame(frame, source=data)
    for note in model.notes:
        err_console.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    if output == "-":
        import sys

        sys.stdout.write("label\n" + "\n".join(map(str, labels.tolist())) + "\n")
        return
    if output:
        write_labels_csv(output, {"label": labels})
    from .cluster_cmd import cluster_sizes

    sizes = cluster_sizes(labels)
    if as_json:
        print(json.dumps({"algorithm": model.algorithm, "rule": model.rule, "n_rows": int(labels.size),
                          "cluster_sizes": sizes, "notes": model.notes}))
    else:
        shown = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        console.print(f"{model.algorithm} ({model.rule} rule): {labels.size} rows labelled; {shown}",
                      highlight=False)
