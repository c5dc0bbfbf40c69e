"""``nncli predict``: one CSV row of predictions per input row, in input order.

Numbers are written as the shortest decimal that reads back as exactly the value
computed, in the precision it was computed in (NumPy's repr): float32 for the
probabilities of a float32 model, float64 for float64 models and for regression
predictions (un-standardised in float64).
"""

import sys
from typing import Annotated, Optional

import typer

from nncli.commands.common import (ChunkSizeOption, DataArgument, Missing, MissingOption, ModelArgument,
                                   UnknownOption, warn)


def predict(
    model: ModelArgument,
    data: DataArgument,
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", metavar="FILE", help="Write the predictions here (atomically) instead of stdout; - is stdout; "
                                "a name ending in .parquet writes Parquet.")] = None,
    with_input: Annotated[bool, typer.Option("--with-input", help="Put the input columns first.")] = False,
    id_column: Annotated[Optional[str], typer.Option(
        "--id-column", metavar="NAME", help="Copy this input column to the output, first "
        "(not with --with-input, which copies every column).")] = None,
    missing: MissingOption = Missing.error,
    unknown: UnknownOption = None,
    chunk_size: ChunkSizeOption = 50_000,
):
    """Predict the target of each row of a CSV or Parquet file; writes CSV (or Parquet) with a header, in input order.

    Columns are matched by name; extra columns (the target too) are ignored. The output holds the prediction in a column named after the target and, for classifiers, prob_<label> per class.

    Example: cat new.csv | nncli predict iris.npz - --id-column id > predictions.csv
    """
    from nncli.commands.scoring import Policy, count_warnings, output_names, predict_csv, predict_parquet
    from nncli.errors import UsageError
    from nncli.io.atomic import atomic_write, check_writable
    from nncli.io.modelfile import load_model
    from nncli.io.reading import is_parquet, open_table

    if with_input and id_column is not None:
        raise UsageError("--with-input already copies every column; drop --id-column")
    to_stdout = output in (None, "-")
    if not to_stdout:
        check_writable(output, "output file")
    trained = load_model(model)
    policy = Policy(missing.value, unknown and unknown.value, chunk_size)
    with open_table(data) as table:
        if id_column is not None:
            table.require([id_column], "--id-column")
        passthrough = list(table.header) if with_input else [id_column] if id_column else []
        if to_stdout:
            counts, names = predict_csv(trained, table, sys.stdout, policy, passthrough)
        elif is_parquet(output):
            with atomic_write(output, "wb") as out:
                counts, names = predict_parquet(trained, table, out, policy, passthrough)
        else:
            with atomic_write(output, "w") as out:
                counts, names = predict_csv(trained, table, out, policy, passthrough)
    for plain, written in zip(output_names(trained), names):
        if plain != written:
            warn(f"the input already has a column {plain!r}; the prediction column is named {written!r}")
    for message in count_warnings(counts, table.where, table.place):
        warn(message)
