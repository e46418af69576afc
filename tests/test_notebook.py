"""notebooks/quickstart.ipynb: stored without outputs, and every cell runs (nbclient, the venv's kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
CELL_TIMEOUT = 300


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the quickstart has code cells"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"stored with outputs: {cell.source[:60]!r}"


def test_the_notebook_runs_from_start_to_end(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's WORK folder lands in the test's tmp folder
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Any cell that raises fails the test with nbclient's CellExecutionError (the cell and its traceback).
    NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.data]
    # two pose drawings (the annotated objects, the pipeline's objects beside them) and the three plots
    assert len(images) >= 5, f"{len(images)} images displayed"
    last = notebook.cells[-1]
    assert sum("image/png" in o.get("data", {}) for o in last.outputs) == 3


@pytest.mark.parametrize("needle", ["generate_release", "build(", "load_dataset", "draw_poses", "pipeline(",
                                    "evaluate(", "PLOT_FILES"])
def test_the_notebook_walks_the_whole_path(needle):
    source = "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells)
    assert needle in source
