"""`imagenet3d publish`: the dry run lists every file with its size and the checked card, offline; folders missing a
required file are refused naming it; offline, no token, a rejected token, no write access, a repo of the wrong type
are one line each with exit status 2 (HfApi replaced at the boundary by a fake raising huggingface_hub's errors);
the card is uploaded last; a Space carries the project's packages (modeling/, dataset_card/) beside app.py. A network
test checks the cards with the Hub's own validator when a token is at hand."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx2
import huggingface_hub
import pytest
from huggingface_hub import CommitOperationAdd, DatasetCard, ModelCard, SpaceCard, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

import dataset_card
import modeling
from modeling import cli
from modeling.hub import folders
from modeling.hub.folders import plan_dataset, plan_model, plan_space
from modeling.hub.publish import upload_batches
from modeling.utils.errors import ImageNet3DError
from tests.helpers.llava_pose import tiny_model_dir
from tests.helpers.network import hub_reachable

LLAVA_FILES = {"model.safetensors", "config.json", "configuration_llava_pose.py", "modeling_llava_pose.py",
               "processing_llava_pose.py", "geometry.py", "category_names.py", "processor_config.json",
               "tokenizer.json", "tokenizer_config.json", "README.md"}
"""What a LLaVA-pose upload must hold, at least (save_pretrained may add more: generation config, bundle files)."""


def fresh_copy(source, folder):
    """A copy of a shared model folder without the card files that an earlier test's evaluate may have added."""
    shutil.copytree(source, folder)
    for name in ("README.md", "model_card_data.json"):
        (folder / name).unlink(missing_ok=True)
    return folder


@pytest.fixture
def llava_folder(tmp_path):
    folder = fresh_copy(tiny_model_dir(), tmp_path / "llava")
    (folder / "training_args.bin").write_bytes(b"a pickle")  # what the Trainer leaves: never uploaded
    (folder / "checkpoint-5").mkdir()
    (folder / "checkpoint-5" / "model.safetensors").write_bytes(b"x")
    return folder


@pytest.fixture
def space_folder(tmp_path):
    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text("import gradio as gr\n")
    (folder / "requirements.txt").write_text("imagenet3d\n")
    return folder


def dry_run(capsys, *args):
    status = cli.main(["publish", *map(str, args), "--repo-id", "someone/thing", "--dry-run"])
    out = capsys.readouterr()
    return status, out.out, out.err


def listed(out: str) -> set[str]:
    """The file paths of a dry run's listing (lines `  SIZE UNIT  PATH`)."""
    return {line.split()[-1] for line in out.split("\n\n")[0].splitlines()[1:] if line.startswith("  ")}


def test_dry_run_of_a_dataset_lists_the_shards_and_the_card(small_dataset, capsys):
    status, out, _ = dry_run(capsys, "dataset", small_dataset)
    assert status == 0
    files = listed(out)
    shards = {p.relative_to(small_dataset).as_posix() for p in small_dataset.rglob("*.parquet")}
    assert files == shards | {"README.md", "build_report.json"}
    assert "KiB  data/pose/train/" in out and "DatasetCard" in out
    card = out.split("--- README.md", 1)[1].split("\n", 1)[1]
    local = (small_dataset / "README.md").read_text()
    assert card.strip() == local.replace('load_dataset("imagenet3d", ', 'load_dataset("someone/thing", ').strip()


def test_the_published_dataset_cards_snippets_load_the_repo(small_dataset, monkeypatch):
    """On the Hub the card's load_dataset calls name the repo id (the local folder's name would not load there);
    run with that id pointing at the folder, every snippet loads."""
    card = plan_dataset(small_dataset, repo_id="someone/thing").card
    code = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert code.count('load_dataset("someone/thing", ') >= 3 and 'load_dataset("imagenet3d"' not in code
    namespace: dict = {}
    exec(compile(code.replace("someone/thing", str(small_dataset)), "dataset card snippet", "exec"), namespace)
    assert len(namespace["ds"]["train"]) > 0 and len(namespace["open_vocab"]) > 0
    assert next(iter(namespace["stream"]))["object_id"]


def test_dry_run_of_a_model_lists_weights_config_code_processor_and_card(llava_folder, capsys):
    status, out, _ = dry_run(capsys, "model", llava_folder)
    assert status == 0
    saved = {p.name for p in llava_folder.iterdir() if p.is_file()} - {"training_args.bin"}
    assert listed(out) == saved | {"README.md"} and LLAVA_FILES <= listed(out)  # checkpoint-5/ and the pickle: out
    card = ModelCard(out.split("(checked by huggingface_hub's ModelCard) ---\n", 1)[1])
    assert card.data.pipeline_tag == "image-text-to-text" and 'model_id = "someone/thing"' in card.text
    code = next(line for line in out.splitlines() if line.startswith("note: custom code: "))
    assert {"category_names.py", "configuration_llava_pose.py", "geometry.py", "modeling_llava_pose.py",
            "processing_llava_pose.py"} <= set(code.removeprefix("note: custom code: ").split(", "))


def test_dry_run_of_the_baseline_says_it_needs_the_package(tiny_baseline, tmp_path, capsys):
    status, out, _ = dry_run(capsys, "model", fresh_copy(tiny_baseline, tmp_path / "baseline"))
    assert status == 0 and listed(out) == {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"}
    assert "needs the imagenet3d package" in out


def test_dry_run_of_a_space_writes_the_spaces_yaml(space_folder, capsys):
    status, out, _ = dry_run(capsys, "space", space_folder, "--model", "someone/llava-pose", "--emoji", "🧭")
    assert status == 0
    assert {p for p in listed(out) if p.split("/")[0] not in ("modeling", "dataset_card")} == {
        "app.py", "requirements.txt", "README.md"}
    card = SpaceCard(out.split("SpaceCard) ---\n", 1)[1])
    assert (card.data.sdk, card.data.app_file, card.data.license) == ("gradio", "app.py", "apache-2.0")
    assert card.data.models == ["someone/llava-pose"] and card.data.emoji == "🧭"
    assert not (space_folder / "README.md").exists()  # a dry run writes nothing


PACKAGE_FILES = {"modeling/__init__.py", "modeling/demo/space.py", "modeling/demo/__init__.py",
                 "modeling/utils/errors.py", "modeling/hub/publish.py", "dataset_card/__init__.py",
                 "dataset_card/categories.txt", "dataset_card/known_categories.txt", "dataset_card/meta_classes.json",
                 "dataset_card/README.template.md", "dataset_card/configs/pose.md"}
"""Files of the project's packages that a Space needs (app.py imports modeling.demo.space; the taxonomy's data)."""


def test_dry_run_of_a_space_lists_the_project_packages_with_their_sizes(space_folder, capsys):
    status, out, _ = dry_run(capsys, "space", space_folder)
    assert status == 0
    files = listed(out)
    assert PACKAGE_FILES <= files
    assert not any("__pycache__" in p or p.endswith(".pyc") or "/tests/" in p for p in files)
    packaged = {p for p in files if p.split("/")[0] in ("modeling", "dataset_card")}
    on_disk = {f"modeling/{p.relative_to(Path(modeling.__file__).parent).as_posix()}"
               for p in Path(modeling.__file__).parent.rglob("*.py") if "__pycache__" not in p.parts}
    assert {p for p in packaged if p.startswith("modeling/")} == on_disk
    assert f"note: the project's packages: {len(packaged)} file(s)," in out
    assert out.split("file(s)", 1)[0].endswith(f": {len(files)} ")  # the header counts them too
    size = (Path(dataset_card.__file__).parent / "meta_classes.json").stat().st_size
    line = next(line for line in out.splitlines() if line.endswith("  dataset_card/meta_classes.json"))
    assert line.split()[:2] == ([str(size), "B"] if size < 1024 else [f"{size / 1024:.1f}", "KiB"])


def test_package_files_leave_out_caches_tests_and_other_files(tmp_path, monkeypatch):
    root = tmp_path / "fakepkg"
    for name in ("__init__.py", "sub/a.py", "names.txt", "__pycache__/__init__.cpython-311.pyc", "tests/test_a.py",
                 "sub/__pycache__/a.cpython-311.pyc", "weights.bin", ".hidden.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(folders, "PROJECT_PACKAGES", {"fakepkg": ("*.py", "*.txt"), "modeling": ("*.py",)})
    found = folders.project_package_files(skip=("modeling",))
    assert found == {f"fakepkg/{name}": root / name for name in ("__init__.py", "names.txt", "sub/a.py")}
    monkeypatch.setattr(folders, "PROJECT_PACKAGES", {"no_such_package_here": ("*.py",)})
    with pytest.raises(ImageNet3DError, match="no_such_package_here: the package is not importable"):
        folders.project_package_files()


def test_a_space_folder_holding_a_package_keeps_its_own(space_folder):
    (space_folder / "modeling").mkdir()
    (space_folder / "modeling" / "__init__.py").write_text("")
    plan = plan_space(space_folder)
    assert {p for p, _ in plan.files if p.startswith("modeling/")} == {"modeling/__init__.py"}
    assert not any(p.startswith("modeling/") for p in plan.sources) and "dataset_card/__init__.py" in plan.sources


@pytest.mark.parametrize("missing", ["tokenizer.json", "modeling_llava_pose.py", "geometry.py", "model.safetensors",
                                     "processor_config.json"])
def test_a_model_folder_missing_a_file_is_refused_naming_it(llava_folder, missing, capsys):
    (llava_folder / missing).unlink()
    status, _, err = dry_run(capsys, "model", llava_folder)
    assert status == 2 and missing in err and len(err.strip().splitlines()) == 1


def test_each_kind_refuses_the_others_folders(small_dataset, llava_folder, space_folder, capsys):
    assert dry_run(capsys, "model", small_dataset)[0] == 2
    status, _, err = dry_run(capsys, "dataset", llava_folder)
    assert status == 2 and "use `publish model`" in err
    (space_folder / "requirements.txt").unlink()
    status, _, err = dry_run(capsys, "space", space_folder)
    assert status == 2 and "no requirements.txt" in err


class FakeApi:
    """HfApi at the boundary: records the calls; `fail` maps a method name to the error it raises."""

    calls: list[str] = []
    fail: dict[str, Exception] = {}
    existing: dict[str, bool] = {}

    def __init__(self, token=None):
        self.token = token

    def _call(self, name, *args, **kwargs):
        FakeApi.calls.append(name)
        if name in FakeApi.fail:
            raise FakeApi.fail[name]
        return kwargs

    def whoami(self):
        self._call("whoami")
        return {"name": "someone"}

    def repo_exists(self, repo_id, repo_type=None):
        self._call("repo_exists")
        return FakeApi.existing.get(repo_type, False)

    def create_repo(self, repo_id, **kwargs):
        self._call("create_repo", **kwargs)
        return f"https://huggingface.co/{repo_id}"

    def create_branch(self, *args, **kwargs):
        return self._call("create_branch")

    def upload_folder(self, **kwargs):
        FakeApi.uploaded = kwargs["allow_patterns"]
        return self._call("upload_folder")

    def create_commit(self, **kwargs):
        assert all(isinstance(op, CommitOperationAdd) for op in kwargs["operations"])
        FakeApi.committed += [(op.path_in_repo, op.path_or_fileobj) for op in kwargs["operations"]]
        return self._call("create_commit")

    def upload_file(self, **kwargs):
        FakeApi.card_path = kwargs["path_in_repo"]
        return self._call("upload_file")

    def add_space_variable(self, *args):
        return self._call("add_space_variable")


def http_error(status: int, cls=HfHubHTTPError):
    response = httpx2.Response(status, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create"))
    return cls(f"{status} Client Error", response=response)


@pytest.fixture
def online(monkeypatch):
    """Online with a token, HfApi replaced by FakeApi, the card validator accepting (it needs the network)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    for card_class in (DatasetCard, ModelCard, SpaceCard):
        monkeypatch.setattr(card_class, "validate", lambda self, repo_type=None: None)
    FakeApi.calls, FakeApi.fail, FakeApi.existing, FakeApi.committed = [], {}, {}, []
    return FakeApi


def publish(capsys, *args):
    status = cli.main(["publish", *map(str, args), "--repo-id", "someone/thing"])
    return status, capsys.readouterr().err


def test_offline_is_one_line(small_dataset, capsys):
    status, err = publish(capsys, "dataset", small_dataset)  # conftest sets HF_HUB_OFFLINE=1
    assert status == 2 and err.strip() == ("imagenet3d publish: error: offline (HF_HUB_OFFLINE is set): publishing "
                                           "needs the network; --dry-run works offline")


def test_a_full_upload_sends_the_files_then_the_card(small_dataset, online, capsys):
    online.existing = {"dataset": True}  # a rerun: the repo exists
    assert publish(capsys, "dataset", small_dataset, "--revision", "v1")[0] == 0
    assert online.calls == ["whoami", "repo_exists", "create_repo", "create_branch", "upload_folder", "upload_file"]
    assert "README.md" not in online.uploaded and any(p.endswith(".parquet") for p in online.uploaded)
    assert online.card_path == "README.md"


@pytest.mark.parametrize(("failure", "words"), [
    ({"whoami": OfflineModeIsEnabled("offline")}, "offline (HF_HUB_OFFLINE is set)"),
    ({"whoami": http_error(401)}, "the Hub rejected the token (401)"),
    ({"create_repo": http_error(403)}, "no write access to dataset repo someone/thing (403)"),
    ({"upload_folder": http_error(403)}, "no write access to dataset repo someone/thing (403)"),
    ({"create_repo": http_error(404, RepositoryNotFoundError)}, "dataset repo someone/thing: not found"),
    ({"whoami": httpx2.ConnectError("name resolution failed")}, "cannot reach the Hub"),
])
def test_hub_failures_are_one_line_and_the_card_is_never_half_sent(small_dataset, online, capsys, failure, words):
    online.fail = failure
    status, err = publish(capsys, "dataset", small_dataset)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert "upload_file" not in online.calls  # the card goes last: a rerun finishes the upload


def test_without_hf_xet_each_folder_is_its_own_commit():
    paths = [f"data/pose/train/c{i:03d}.parquet" for i in range(450)] + ["data/pose/validation/a.parquet",
                                                                           "build_report.json"]
    assert upload_batches(paths, streamed=True) == [paths]
    batches = upload_batches(paths, streamed=False)
    assert [len(b) for b in batches] == [1, 200, 200, 50, 1]
    assert sorted(p for b in batches for p in b) == sorted(paths)
    assert all(len({p.rpartition("/")[0] for p in b}) == 1 for b in batches)


def test_no_token_is_one_line(small_dataset, online, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    status, err = publish(capsys, "dataset", small_dataset)
    assert status == 2 and "no Hugging Face token: set HF_TOKEN or run `hf auth login`" in err
    assert online.calls == []


def test_an_id_that_is_a_model_repo_is_refused_for_a_dataset(small_dataset, online, capsys):
    online.existing = {"model": True}
    status, err = publish(capsys, "dataset", small_dataset)
    assert status == 2 and "someone/thing is a model repo, not a dataset repo" in err
    assert "create_repo" not in online.calls


def test_a_space_upload_sets_the_model_variable_and_keeps_its_card(space_folder, online, capsys):
    assert publish(capsys, "space", space_folder, "--model", "someone/llava-pose")[0] == 0
    assert online.calls[-1] == "add_space_variable"
    assert SpaceCard.load(space_folder / "README.md").data.models == ["someone/llava-pose"]


def test_a_space_upload_commits_the_project_packages_before_the_card(space_folder, online, capsys):
    online.existing = {"space": True}
    assert publish(capsys, "space", space_folder)[0] == 0
    calls = online.calls
    assert calls[:4] == ["whoami", "repo_exists", "create_repo", "upload_folder"] and calls[-1] == "upload_file"
    assert set(calls[4:-1]) == {"create_commit"}  # the packages: after the folder, before the card
    assert sorted(online.uploaded) == ["app.py", "requirements.txt"]
    sent = dict(online.committed)
    assert PACKAGE_FILES <= set(sent) and not any("__pycache__" in p or p.endswith(".pyc") for p in sent)
    assert Path(sent["modeling/demo/space.py"]) == Path(modeling.__file__).parent / "demo" / "space.py"
    assert online.card_path == "README.md" and "README.md" not in sent


@pytest.mark.skipif(not hub_reachable() or not get_token(),
                    reason="needs huggingface.co and a token (HF_TOKEN or `hf auth login`); tests run offline")
def test_the_hub_accepts_the_cards(small_dataset, llava_folder, space_folder):  # pragma: no cover - network
    os.environ.pop("HF_HUB_OFFLINE", None)
    for plan in (plan_dataset(small_dataset), plan_model(llava_folder, "someone/thing"), plan_space(space_folder)):
        {"dataset": DatasetCard, "model": ModelCard, "space": SpaceCard}[plan.repo_type](plan.card).validate()
