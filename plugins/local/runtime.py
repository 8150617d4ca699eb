"""Opening local models with PyTorch and transformers: their folder, tokenizer, context window and weights.

Imported only when a local model is used (it imports transformers). A ``local:`` name is located by
:func:`ftplug.catalogue.local_models.locate_local_model`; a GGUF file is converted once
(:mod:`ftplug.plugins.local.gguf_conversion`). Tokenizers and configurations are read once per process; the
weights of a base model answered without an adapter are shared by the variants that prompt it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftplug.catalogue.local_models import locate_local_model
from ftplug.errors import FtplugError

if TYPE_CHECKING:
    from ftplug.plugins.local.tokens import LocalTokenCounter

INSTALL_HINT = ("local models and local-lora need PyTorch, transformers and peft: pip install torch==2.13.0 "
                "'ftplug[local]' (a CPU build; any torch ≥ 2.13 works)")

_lock = threading.Lock()
_shared: dict[tuple[str, str, str, str], Any] = {}  # (folder, revision, device, dtype) → loaded network


def _to_stderr(line: str) -> None:
    print(f"ftplug: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Keep the libraries' deprecation notices and progress bars out of ftplug's output: they are about code
    the user does not own and cannot act on."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*(gradient checkpointing|use_cache=True|torch\.utils\.checkpoint)")
        yield


def model_folder(model: str, log: Callable[[str], None] = _to_stderr) -> str:
    """What ``from_pretrained`` loads for ``model`` (``local:…``, a folder, a ``.gguf`` file, an installed
    package or a hub name): a folder, converting a GGUF file the first time, or the hub name."""
    source = locate_local_model(model)
    if source.kind == "gguf":
        from ftplug.plugins.local.gguf_conversion import converted_folder

        return str(converted_folder(Path(source.location), log))
    return source.location


def loading_options(folder: str, revision: str = "") -> dict[str, Any]:
    """``from_pretrained`` options: the revision, and for a hub name the local cache only (nothing is ever
    downloaded while an experiment runs)."""
    options: dict[str, Any] = {"revision": revision} if revision else {}
    if not Path(folder).is_dir():
        options["local_files_only"] = True
    return options


def is_main_process() -> bool:
    """Whether this is the main process of a distributed launch (``accelerate launch``, ``torchrun``: they
    set ``RANK`` and ``LOCAL_RANK``), or the only process: the one that writes and speaks."""
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") in ("0", "")


def require_local_stack() -> None:
    """Fail with the install command when PyTorch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        raise FtplugError(f"{INSTALL_HINT} ({error.name} is missing)") from None


@lru_cache(maxsize=8)
def load_tokenizer(folder: str, revision: str = "") -> Any:
    """The model's tokenizer (a pad token set: the end-of-sequence token when it has none)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    extra = loading_options(folder, revision)
    tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@lru_cache(maxsize=8)
def context_window(folder: str, revision: str = "") -> int:
    """The model's context window in tokens, from its configuration (``max_position_embeddings`` or the
    equivalent), else the tokenizer's ``model_max_length``."""
    from transformers import AutoConfig

    extra = loading_options(folder, revision)
    config = AutoConfig.from_pretrained(folder, **extra)
    text_config = getattr(config, "text_config", None) or config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(text_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(load_tokenizer(folder, revision), "model_max_length", 0)
    if isinstance(limit, int) and 0 < limit < 10_000_000:
        return limit
    raise FtplugError(f"{folder}: the configuration names no context window: set context_window in the prompt")


def local_token_counter(model: str) -> tuple[LocalTokenCounter, int]:
    """The token counter of the local model ``model`` and its context window."""
    from ftplug.plugins.local.tokens import LocalTokenCounter

    require_local_stack()
    folder = model_folder(model)
    return LocalTokenCounter(load_tokenizer(folder), model), context_window(folder)


def pick_device(choice: str) -> str:
    """``auto``: a CUDA GPU, else Apple's MPS, else the CPU, as PyTorch sees them."""
    import torch

    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def pick_dtype(device: str, choice: str = "auto") -> Any:
    """The weights' dtype: float32 on the CPU (exact, and what CPUs compute fastest), bfloat16 on GPUs that
    have it, float16 on the others; or the one asked for."""
    import torch

    if choice != "auto":
        return getattr(torch, choice)
    if device == "cpu":
        return torch.float32
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def load_network(folder: str, device: str, dtype: Any, revision: str = "") -> Any:
    """A fresh copy of the model's weights on ``device``, in training mode off (``eval``)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    extra = loading_options(folder, revision)
    # Any: transformers declares PreTrainedModel.to through functools.wraps(torch.nn.Module.to), which type
    # checkers read as an unbound function (the device taken for ``self``)
    network: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **extra)
    return network.to(device).eval()


def shared_network(folder: str, device: str, dtype: Any, revision: str = "") -> Any:
    """The model's weights for answering without an adapter, loaded once and shared by the variants that
    prompt it; only the most recent model is kept (one model's weights in memory, not one per variant)."""
    key = (folder, revision, device, str(dtype))
    with _lock:
        if key not in _shared:
            _shared.clear()
            _shared[key] = load_network(folder, device, dtype, revision)
        return _shared[key]
