"""``nncli export``: a model as an ONNX graph, or as a standalone Python file (NumPy only)."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.commands.common import ModelArgument, QuietOption


class Format(str, Enum):
    onnx = "onnx"
    python = "python"


def export(
    model: ModelArgument,
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE", help="Where to write the exported model.",
                                         readable=False, show_default=False)],
    format_: Annotated[Format, typer.Option("--format", "-f", metavar="FORMAT", help="onnx: an ONNX graph; python: one "
                                            "self-contained Python file (NumPy only).")] = Format.onnx,
    opset: Annotated[Optional[int], typer.Option(
        "--opset", metavar="N", min=1, help="ONNX opset of the graph (default 17; ai.onnx.ml opset 3).")] = None,
    quiet: QuietOption = False,
):
    """Export a model: an ONNX graph, or one Python file that predicts without nncli.

    The ONNX graph takes the original columns as inputs (shape [N, 1]: numbers as float, text as string) and holds the preprocessing, the network and predict's columns as outputs; nncli inspect lists them. ONNX needs pip install 'nncli[onnx]'. The Python file needs only NumPy: python predict_model.py new.csv > predictions.csv.

    Example: nncli export iris.npz -o iris.onnx
    """
    from nncli.errors import UsageError
    from nncli.export.plan import DEFAULT_OPSET
    from nncli.io.atomic import check_writable
    from nncli.io.modelfile import load_model

    if opset is not None and format_ is Format.python:
        raise UsageError("--opset is for --format onnx only")
    check_writable(output, "output file")
    trained = load_model(model)
    if format_ is Format.onnx:
        from nncli.export.onnx_graph import check_opset, export_onnx

        check_opset(opset or DEFAULT_OPSET)
        proto = export_onnx(trained, output, opset or DEFAULT_OPSET)
        what = (f"ONNX opset {opset or DEFAULT_OPSET}, {len(proto.graph.input)} input(s), "
                f"{len(proto.graph.output)} output(s)")
    else:
        from nncli.export.python_file import export_python

        export_python(trained, output, model)
        what = f"Python; run: python {output} DATA.csv > predictions.csv"
    if not quiet:
        typer.echo(f"wrote {output} ({what})", err=True)
