"""``imagenet3d publish``: upload a planned folder (:mod:`modeling.hub.folders`) to a Hub repo with ``HfApi``.

Order, so that nothing is left half-uploaded that a rerun cannot finish:

1. offline (``HF_HUB_OFFLINE``), no token, a token the Hub rejects, a repo id that exists as another repo type: one
   clear error each (:class:`ImageNet3DError`, the CLI's exit status 2), before anything is created;
2. ``create_repo(exist_ok=True)`` (and ``create_branch`` for ``--revision``); the card is checked by the Hub's own
   validator (``RepoCard.validate``) before any file is sent;
3. every file but the card with ``upload_folder``: with ``hf_xet`` (installed with huggingface_hub 2.4) it is a
   streamed upload committed in several batches, and rerunning the same command resumes it: committed files are
   dropped as unchanged and uploaded chunks are deduplicated (huggingface_hub's ``upload_folder`` documents this).
   Without ``hf_xet``, ``upload_folder`` makes one commit, so :func:`upload_batches` splits the files into one commit
   per folder (at most :data:`MAX_FILES_PER_COMMIT` files): a rerun skips what earlier commits hold (``create_commit``
   drops unchanged files);
   the files that come from outside the folder (a Space's ``modeling/`` and ``dataset_card/``, ``plan.sources``) go
   as ``CommitOperationAdd`` operations of ``create_commit``, batched the same way: a rerun skips them too;
4. the card (README.md) last, in its own commit: until it lands, the repo has no card, so a dataset's ``configs:``
   never point at shards that are not there yet.

The token comes from where huggingface_hub looks (``HF_TOKEN``, then ``hf auth login``'s stored token).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from modeling.hub.folders import REPO_TYPES, PublishPlan
from modeling.utils.errors import ImageNet3DError

CARD_FILE = "README.md"
MAX_FILES_PER_COMMIT = 200
"""Files per commit when huggingface_hub cannot stream the upload (no ``hf_xet``)."""
NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "requests", "urllib3")
"""Packages whose exceptions mean that the Hub could not be reached (connection, timeout, TLS)."""
IMAGENET3D_MODEL_VARIABLE = "IMAGENET3D_MODEL"
"""The Space's variable naming the model it loads (set by ``publish space --model``)."""


def check_repo_id(repo_id: str) -> None:
    """A Hub repo id with its namespace, ``NS/NAME``; anything else raises ImageNet3DError naming it."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ImageNet3DError(f"--repo-id {repo_id!r}: {str(err).splitlines()[0]}") from None
    if repo_id.count("/") != 1:
        raise ImageNet3DError(f"--repo-id {repo_id!r}: give the namespace too, as NS/NAME (your user or organisation)")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@contextmanager
def hub_errors(repo_id: str, repo_type: str) -> Iterator[None]:
    """Turn huggingface_hub's errors into one ImageNet3DError line each: offline, rejected token, no write access,
    repo not found, other HTTP errors and connection errors."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        yield
    except OfflineModeIsEnabled:
        raise ImageNet3DError("offline (HF_HUB_OFFLINE is set): publishing needs the network; --dry-run works "
                              "offline") from None
    except RepositoryNotFoundError as err:
        raise ImageNet3DError(f"{repo_type} repo {repo_id}: not found, or this token cannot see it "
                              f"({_first_line(err)})") from None
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        if status == 401:
            raise ImageNet3DError("the Hub rejected the token (401): log in again with `hf auth login` or set a "
                                  "valid HF_TOKEN") from None
        if status == 403:
            raise ImageNet3DError(f"no write access to {repo_type} repo {repo_id} (403): use a token with write "
                                  "permission for its namespace") from None
        raise ImageNet3DError(f"the Hub answered {status} for {repo_type} repo {repo_id}: {_first_line(err)}") from None
    except Exception as err:  # the HTTP client's transport errors (httpx2 in huggingface_hub 2.4) are not OSErrors
        if isinstance(err, (ConnectionError, TimeoutError)) or type(err).__module__.split(".")[0] in NETWORK_MODULES:
            raise ImageNet3DError(f"cannot reach the Hub ({_first_line(err)}): check the network") from None
        raise


def _token() -> str:
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise ImageNet3DError("offline (HF_HUB_OFFLINE is set): publishing needs the network; --dry-run works "
                              "offline")
    token = get_token()
    if not token:
        raise ImageNet3DError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write "
                              "permission)")
    return token


def _check_repo_type(api: Any, repo_id: str, repo_type: str) -> None:
    """Refuse an id that exists as another kind of repo only (a model id given to ``publish dataset``)."""
    if api.repo_exists(repo_id, repo_type=repo_type):
        return
    for other in REPO_TYPES:
        if other != repo_type and api.repo_exists(repo_id, repo_type=other):
            raise ImageNet3DError(f"{repo_id} is a {other} repo, not a {repo_type} repo: give the id of a {repo_type} "
                                  f"repo (a new id creates one)")


def _validate_card(plan: PublishPlan) -> None:
    from huggingface_hub import DatasetCard, ModelCard, SpaceCard

    card_class = {"dataset": DatasetCard, "model": ModelCard, "space": SpaceCard}[plan.repo_type]
    try:
        card_class(plan.card).validate(plan.repo_type)
    except ValueError as err:  # the Hub's validator refused the YAML (400)
        raise ImageNet3DError(f"{plan.folder}/README.md: the Hub refuses the card: {_first_line(err)}") from None


def upload_batches(paths: list[str], streamed: bool) -> list[list[str]]:
    """The ``allow_patterns`` of each ``upload_folder`` call: all paths at once when the upload is ``streamed``
    (``hf_xet``: it commits in batches itself), else one batch per folder of at most MAX_FILES_PER_COMMIT paths, in
    path order."""
    if streamed:
        return [list(paths)] if paths else []
    by_folder: dict[str, list[str]] = {}
    for path in sorted(paths):
        by_folder.setdefault(path.rpartition("/")[0], []).append(path)
    return [files[i:i + MAX_FILES_PER_COMMIT] for files in by_folder.values()
            for i in range(0, len(files), MAX_FILES_PER_COMMIT)]


def _part(message: str, number: int, batches: list[list[str]]) -> str:
    return message if len(batches) == 1 else f"{message} (part {number}/{len(batches)})"


def _commit_sources(api: Any, plan: PublishPlan, repo_id: str, revision: str | None, message: str,
                    streamed: bool) -> None:
    """Send ``plan.sources`` (files from outside the folder) as ``CommitOperationAdd`` operations, one commit per
    batch of :func:`upload_batches`."""
    from huggingface_hub import CommitOperationAdd

    batches = upload_batches(list(plan.sources), streamed=streamed)
    for number, batch in enumerate(batches, 1):
        operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(plan.sources[path])) for path in batch]
        api.create_commit(repo_id=repo_id, repo_type=plan.repo_type, operations=operations, revision=revision,
                          commit_message=_part(message, number, batches))


def publish(plan: PublishPlan, repo_id: str, *, private: bool = False, revision: str | None = None,
            commit_message: str | None = None, space_variables: dict[str, str] | None = None,
            api_factory: Callable[..., Any] | None = None, log: Callable[[str], None] = print) -> str:
    """Upload ``plan`` to ``repo_id`` (files first, the card last; see the module docstring); returns the repo's URL.

    ``private`` applies when the repo is created; ``revision`` is a branch (created from main when missing);
    ``space_variables`` are set on a Space (e.g. ``IMAGENET3D_MODEL``). ``api_factory`` builds the ``HfApi``
    (tests pass a fake). Raises ImageNet3DError with one line for every failure the module docstring lists.
    """
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    token = _token()
    api = (api_factory or HfApi)(token=token)
    message = commit_message or f"Upload the {plan.repo_type} with imagenet3d publish"
    with hub_errors(repo_id, plan.repo_type):
        user = api.whoami()
        log(f"logged in as {user.get('name', '?')}")
        _check_repo_type(api, repo_id, plan.repo_type)
        url = api.create_repo(repo_id, repo_type=plan.repo_type, private=private, exist_ok=True,
                              space_sdk="gradio" if plan.repo_type == "space" else None)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type=plan.repo_type, exist_ok=True)
        _validate_card(plan)
        others = [path for path, _ in plan.files if path != CARD_FILE and path not in plan.sources]
        log(f"uploading {len(others) + len(plan.sources)} file(s) to {repo_id} (rerun the same command to resume an "
            f"interrupted upload)")
        streamed = importlib.util.find_spec("hf_xet") is not None
        batches = upload_batches(others, streamed=streamed)
        for number, batch in enumerate(batches, 1):
            api.upload_folder(repo_id=repo_id, repo_type=plan.repo_type, folder_path=str(plan.folder),
                              allow_patterns=batch, revision=revision, commit_message=_part(message, number, batches))
        _commit_sources(api, plan, repo_id, revision, f"{message} (the project's packages)", streamed)
        api.upload_file(path_or_fileobj=plan.card.encode("utf-8"), path_in_repo=CARD_FILE, repo_id=repo_id,
                        repo_type=plan.repo_type, revision=revision, commit_message=f"{message} (card)")
        for key, value in (space_variables or {}).items():
            api.add_space_variable(repo_id, key, value)
    return str(url)


__all__ = ["IMAGENET3D_MODEL_VARIABLE", "MAX_FILES_PER_COMMIT", "check_repo_id", "hub_errors", "publish",
           "upload_batches"]
