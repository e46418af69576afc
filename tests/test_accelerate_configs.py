"""The shipped accelerate configs (configs/accelerate/*.yaml) read by accelerate's own code, as `accelerate launch
--config_file` reads them: the config parser, then the launcher's argument processing and the environment it hands
the processes, then the FSDP and DeepSpeed plugins an Accelerator builds from that environment. Only the process
start is replaced (no GPU here); DeepSpeed itself is not needed to build its plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.commands import launch as launch_module
from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
from accelerate.utils import DeepSpeedPlugin, DistributedType, FullyShardedDataParallelPlugin, patch_environment
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"
KINDS = {"ddp": DistributedType.MULTI_GPU, "fsdp": DistributedType.FSDP, "deepspeed_zero2": DistributedType.DEEPSPEED}


def launched(config: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, dict[str, str]]:
    """`accelerate launch --config_file CONFIG -m modeling.cli train`, stopped where the processes would start:
    the launcher's arguments and the environment variables it prepared for them."""
    seen: dict[str, object] = {}

    def multi_gpu(args):
        seen.update(args=args, env=prepare_multi_gpu_env(args))

    def deepspeed(args):
        seen.update(args=args, env=prepare_deepspeed_cmd_env(args)[1])

    monkeypatch.setattr(launch_module, "multi_gpu_launcher", multi_gpu)
    monkeypatch.setattr(launch_module, "deepspeed_launcher", deepspeed)
    args = launch_module.launch_command_parser().parse_args(
        ["--config_file", str(config), "--num_processes", "2", "-m", "modeling.cli", "train"])
    launch_module.launch_command(args)
    env = {k: v for k, v in seen["env"].items() if k.startswith(("ACCELERATE_", "FSDP_"))}
    return seen["args"], env


def test_every_config_is_tested():
    assert {p.stem for p in CONFIGS.glob("*.yaml")} == set(KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_accelerate_reads_the_config(name, monkeypatch):
    path = CONFIGS / f"{name}.yaml"
    config = load_config_from_file(str(path))  # unknown top-level keys or values are errors here
    assert isinstance(config, ClusterConfig) and config.distributed_type == KINDS[name]
    assert config.mixed_precision == "no"  # precision is the command's --bf16
    options = set(vars(launch_module.launch_command_parser().parse_args(["script.py"])))
    nested = {**config.fsdp_config, **config.deepspeed_config}  # launch options, by the same names
    assert set(nested) <= options, f"keys accelerate launch would ignore: {set(nested) - options}"

    args, env = launched(path, monkeypatch)
    assert args.num_processes == 2
    if name == "fsdp":
        assert env["ACCELERATE_USE_FSDP"] == "true"
        with patch_environment(**env):
            plugin = FullyShardedDataParallelPlugin()
        assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
        assert plugin.transformer_cls_names_to_wrap == ["LlamaDecoderLayer", "CLIPEncoderLayer"]
        assert plugin.state_dict_type.name == "FULL_STATE_DICT" and plugin.cpu_ram_efficient_loading
    elif name == "deepspeed_zero2":
        assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
        with patch_environment(**env):
            plugin = DeepSpeedPlugin()
        zero = plugin.deepspeed_config["zero_optimization"]
        assert zero["stage"] == 2 and zero["offload_optimizer"]["device"] == "none"
        assert plugin.deepspeed_config["gradient_accumulation_steps"] == "auto"  # the Trainer's
    else:
        assert args.multi_gpu and not args.use_fsdp and not args.use_deepspeed
        assert "ACCELERATE_USE_FSDP" not in env and "ACCELERATE_USE_DEEPSPEED" not in env
