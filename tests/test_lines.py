"""Line numbers in messages are lines of the file (header = 1), even after blank lines
and quoted fields that span lines, which pandas does not count as rows."""

import io

import pandas as pd
import pytest

from nncli.io.reading import line_of_row
from tests.predict_helpers import invoke, train_model

# Line 3 is blank and skipped by pandas; the quoted field on lines 4-5 is one row.
BEFORE = 'x1,x2,y\n1,2,3\n\n"4\n",5,6\n7,8,9\n'
AFTER = "13,14,15\n"
BAD_LINE = 7
CONFIG = """
data: {path: data.csv, target: y, validation: 0}
model: {layers: [{units: 1, activation: linear}]}
loss: mse
training: {learning_rate: 0.1, epochs: 2, batch_size: full}
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lines")
    data = folder / "good.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{i},{i % 3},{i % 5}\n" for i in range(20)))
    return train_model(folder, "m", data, "y", [{"units": 1, "activation": "linear"}], "mse", epochs=2,
                       validation=0)


def test_line_of_row_agrees_with_pandas_rows(tmp_path):
    text = 'a,b\n1,x\n\n   \n"2\n\nmore",y\n" ",z\n\t\n3,"w\nv"\n4,u\n'
    path = tmp_path / "t.csv"
    path.write_text(text)
    # pandas skips lines 3, 4 and 9 (empty or spaces), not '" "' on line 8; lines 5-7 are one field.
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert df["b"].tolist() == ["x", "y", "z", "w\nv", "u"]
    assert [line_of_row(path, row) for row in range(5)] == [2, 5, 8, 10, 12]
    assert line_of_row(path, 5) is None


CASES = [
    ("not a number", "10,abc,12\n", "line 7 holds 'abc'", "value 'abc' on line 7"),
    ("missing value", "10,,12\n", "missing value on line 7", "missing value on line 7"),
    ("infinite value", "10,inf,12\n", "line 7 holds 'inf'", "must hold finite numbers, but line 7 holds 'inf'"),
    ("ragged row", "10,11,12,13\n", "Expected 3 fields in line 7, saw 4", "Expected 3 fields in line 7, saw 4"),
    ("open quote", '10,"11\n', "EOF inside string starting at line 7", "EOF inside string starting at line 7"),
]


@pytest.mark.parametrize("name, bad, predict_message, train_message", CASES, ids=[c[0] for c in CASES])
def test_lines_count_blank_lines_and_quoted_line_breaks(model, tmp_path, name, bad, predict_message,
                                                        train_message):
    data = tmp_path / "data.csv"
    data.write_text(BEFORE + bad + AFTER)
    (tmp_path / "c.yaml").write_text(CONFIG)
    for command in (["predict", model, data], ["evaluate", model, data],
                    ["train", tmp_path / "c.yaml", "-o", tmp_path / "m.npz"]):
        result = invoke(*command)
        assert result.exit_code == 2, result.stderr
        expected = train_message if command[0] == "train" else predict_message
        assert expected in result.stderr, (command[0], result.stderr)
    assert not (tmp_path / "m.npz").exists()


def test_first_row_with_a_field_too_many_is_an_error_not_an_index(model, tmp_path):
    """pandas would take the extra field as an index column, or drop it with a warning."""
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,y\n\n1,2,3,4\n5,6,7,8\n")
    (tmp_path / "c.yaml").write_text(CONFIG)
    for command in (["predict", model, data], ["train", tmp_path / "c.yaml", "-o", tmp_path / "m.npz"]):
        result = invoke(*command)
        assert result.exit_code == 2
        assert "line 3 has more fields than the header's 3; check the delimiter" in result.stderr
        assert "Warning" not in result.stderr


def test_stdin_lines_when_every_line_is_a_row(model):
    result = invoke("predict", model, "-", input="x1,x2,y\n1,2,3\n4,5,6\n7,x,9\n")
    assert result.exit_code == 2 and "line 4 holds 'x'" in result.stderr


def test_stdin_cannot_be_read_again_so_irregular_input_names_the_data_row(model):
    """Blank lines or quotes on stdin: the line is unknown, so the message counts data rows."""
    result = invoke("predict", model, "-", input=BEFORE + "10,abc,12\n")
    assert result.exit_code == 2 and "data row 4 holds 'abc'" in result.stderr
    result = invoke("predict", model, "-", input="x1,x2,y\n1,2,3\n  \n10,abc,12\n")
    assert result.exit_code == 2 and "data row 2 holds 'abc'" in result.stderr
