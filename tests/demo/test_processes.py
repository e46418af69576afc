"""The demo's stages in several local processes (modeling.demo.processes): the group accelerate sees, the main
process's result, and a failure in one process reported, not hung on."""

import pytest

from modeling.demo.processes import run_in_processes, training_processes
from modeling.utils.errors import ImageNet3DError
from tests.helpers.process_functions import fails_on_rank_one, rank_and_group


def test_one_process_calls_the_function_here():
    result = run_in_processes(rank_and_group, 1, "here")
    assert result["tag"] == "here" and result["processes"] == 1


def test_two_processes_form_one_group_and_the_main_process_answers():
    result = run_in_processes(rank_and_group, 2, tag="two")
    assert result == {"tag": "two", "rank": 0, "processes": 2, "sum": 3.0, "threads": result["threads"],
                      "use_cpu": "1"}
    assert result["threads"] >= 1


@pytest.mark.parametrize("kind", ["ours", "other"])
def test_a_failing_process_ends_the_launch_with_its_own_error(kind):
    with pytest.raises(ImageNet3DError) as raised:
        run_in_processes(fails_on_rank_one, 2, kind)
    message = str(raised.value)
    if kind == "ours":
        assert message == "data/train.txt: line 3: no such image"
    else:
        assert message.startswith("process 1 failed:") and "ValueError: something broke" in message


def test_training_processes_on_cpu_is_what_was_asked():
    assert training_processes(2) == 2 and training_processes(0) == 1


def test_the_baseline_trained_in_two_processes_is_the_one_process_run_with_twice_the_batch(small_dataset, tmp_path):
    """The demo's launcher sets the group up as `accelerate launch` does: the Trainer splits the same examples.
    (A new ResNet: its BatchNorm normalises each process's half batch on its own, so the losses agree to ~1 %.)"""
    from modeling.baseline.training import SUMMARY_FILE, train_baseline

    options = {"size": "tiny", "max_steps": 4, "logging_steps": 1, "seed": 0, "progress": False}
    two = run_in_processes(train_baseline, 2, small_dataset, None, tmp_path / "two", batch_size=8, **options)
    one = train_baseline(small_dataset, None, tmp_path / "one", batch_size=16, **options)
    assert two["processes"] == 2 and one["processes"] == 1
    assert (tmp_path / "two" / SUMMARY_FILE).is_file() and (tmp_path / "two" / "model.safetensors").is_file()
    assert two["logged_losses"] == pytest.approx(one["logged_losses"], rel=0.02)
