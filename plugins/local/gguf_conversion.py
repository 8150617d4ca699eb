"""A GGUF file as a Hugging Face model folder, converted once and kept in the model cache.

transformers reads GGUF files (``gguf_file=``, with the ``gguf`` package) by de-quantising every tensor to
float32, which takes tens of seconds, and refuses to save the result. The conversion here builds a plain
model of the same configuration, gives it the de-quantised weights and saves it with its tokenizer and chat
template: a folder that loads in under a second. The folder is named by the SHA-256 of the GGUF file, so a
changed file converts again and the same file never does; a conversion that is interrupted leaves only a
``.partial`` folder, which the next one replaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ftplug.catalogue.local_models import model_cache_dir
from ftplug.errors import FtplugError

RECORD = "ftplug-gguf.json"  # written last: its presence means the folder is complete
HASH_INDEX = "gguf-hashes.json"
_CHUNK = 1 << 22


def converted_folder(gguf: Path, log: Callable[[str], None] = print) -> Path:
    """The model folder converted from ``gguf``: made now (with progress lines) unless the cache has it."""
    digest = file_digest(gguf)
    folder = model_cache_dir() / f"gguf-{digest[:32]}"
    if (folder / RECORD).is_file():
        return folder
    size = gguf.stat().st_size
    log(f"converting {gguf.name} ({size / 1e6:,.0f} MB) into a transformers model folder, once: {folder}")
    started = time.perf_counter()
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        convert(gguf, partial, log)
        (partial / RECORD).write_text(json.dumps({
            "source": str(gguf), "sha256": digest, "bytes": size, "seconds": round(time.perf_counter() - started, 2),
            "converted_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
            "transformers": _version("transformers"), "gguf": _version("gguf")}, indent=1), encoding="utf-8")
        try:
            os.replace(partial, folder)
        except OSError:  # another process finished the same conversion first: its folder is as good
            if not (folder / RECORD).is_file():
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log(f"converted in {time.perf_counter() - started:.0f} s; later runs load {folder.name} directly")
    return folder


def convert(gguf: Path, output: Path, log: Callable[[str], None] = print) -> None:
    """Write ``gguf`` as a Hugging Face model folder (config, float32 safetensors, tokenizer) to ``output``."""
    try:
        import gguf as _gguf  # noqa: F401  (transformers needs it to read the file; say so plainly)
    except ImportError:
        raise FtplugError(f"{gguf}: reading a .gguf file needs the gguf package: pip install 'ftplug[local]'") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    folder, name = str(gguf.parent), gguf.name
    logging.set_verbosity_error()
    log(f"reading the tokenizer and de-quantising the tensors of {name}")
    bars = sys.stderr.isatty()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        with _progress_bars(bars):
            quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype="float32")
    except (ValueError, KeyError, OSError, RuntimeError) as error:
        raise FtplugError(f"{gguf}: transformers cannot read this GGUF file: {_first_line(error)}") from None
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(quantised)(config)  # a model transformers will save, given the de-quantised weights
    plain.load_state_dict(quantised.state_dict())
    del quantised
    log(f"writing {output}")
    output.mkdir(parents=True, exist_ok=True)
    with _progress_bars(bars):
        plain.save_pretrained(str(output))
    tokenizer.save_pretrained(str(output))


def file_digest(path: Path) -> str:
    """The SHA-256 of ``path``, remembered in the cache by path, size and modification time (hashing a model
    of several GB on every run would cost seconds)."""
    stat = path.stat()
    stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_path = model_cache_dir() / HASH_INDEX
    index: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        index = json.loads(index_path.read_text(encoding="utf-8"))
    if stamp in index:
        return index[stamp]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    index[stamp] = digest.hexdigest()
    with contextlib.suppress(OSError):
        index_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = index_path.with_name(f"{HASH_INDEX}.{os.getpid()}")
        temporary.write_text(json.dumps(index, indent=0), encoding="utf-8")
        os.replace(temporary, index_path)
    return index[stamp]


@contextlib.contextmanager
def _progress_bars(shown: bool) -> Iterator[None]:
    """transformers' progress bars on a terminal (the de-quantisation takes a while); none in a log file,
    where the lines logged by :func:`convert` say what is happening. (The GGUF reader's bar ignores
    transformers' switch, hence the redirection.)"""
    if shown:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
