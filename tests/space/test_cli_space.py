"""``imagenet3d space``: a model that does not load and a bad port are one line and exit 2, before serving."""

from __future__ import annotations

import pytest

from modeling.cli import main


@pytest.mark.parametrize("args, expected", [
    (["--port", "70000"], "--port: expected 1..65535"),
    (["--model", "no/such/folder"], "no/such/folder: model folder not found"),
    (["--model", "nobody/nothing"], "not loadable as a Hub model id"),
])
def test_bad_options_are_one_line_and_exit_2(args, expected, capsys):
    pytest.importorskip("gradio")
    assert main(["space", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imagenet3d space: error: ") and expected in err and "\n" not in err
