"""``ftplug export-model``: a local-lora variant's model as an OpenAI-compatible server loads it.

By default the adapter is merged into the base model and written as a plain Hugging Face folder
(``config.json``, safetensors weights, tokenizer with its chat template), which vLLM serves as it is
(``vllm serve OUT``), Ollama imports (``FROM OUT`` in a Modelfile) and llama.cpp converts
(``convert_hf_to_gguf.py OUT``). ``--adapter-only`` copies the adapter alone, for servers that load LoRA
adapters beside their base model (``vllm serve BASE --enable-lora --lora-modules NAME=OUT``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from ftplug.cli.options import db_option


def find_adapter(source: str, db: str, experiment: str | None) -> tuple[Path, dict[str, Any]]:
    """The adapter folder and its metadata, from an adapter folder or a local-lora variant's latest run."""
    from ftplug.errors import FtplugError
    from ftplug.plugins.trainers.local_lora.trainer import META_FILE

    folder = Path(source).expanduser()
    if not (folder / META_FILE).is_file():
        from ftplug.store import open_existing_store

        store = open_existing_store(db)
        try:
            rows = {row["variant"]: row for row in store.variant_rows(experiment)}
        finally:
            store.close()
        row = rows.get(source)
        if row is None:
            raise FtplugError(f"{source!r} is neither an adapter folder nor a variant of the latest experiment in "
                              f"{db} (variants: {', '.join(rows) or 'none'})")
        adapter = row["details"].get("adapter")
        if not adapter:
            raise FtplugError(f"variant {source!r} was not trained by local-lora (trainer {row['trainer']!r})")
        folder = Path(adapter)
        if not (folder / META_FILE).is_file():
            raise FtplugError(f"the adapter of {source!r} is no longer at {folder}")
    return folder, json.loads((folder / META_FILE).read_text(encoding="utf-8"))


def export_merged(adapter: Path, meta: dict[str, Any], out: Path) -> None:
    """Merge the adapter into its base model and save both model and tokenizer to ``out``."""
    from peft import PeftModel

    from ftplug.plugins.local.runtime import load_network, load_tokenizer, pick_dtype, quiet_libraries

    revision = meta.get("revision", "")
    with quiet_libraries():
        network = load_network(meta["base_model"], "cpu", pick_dtype("cpu"), revision)
        tokenizer = load_tokenizer(meta["base_model"], revision)
        merged = PeftModel.from_pretrained(network, str(adapter)).merge_and_unload()
        merged.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))


@click.command("export-model")
@click.argument("source")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@db_option()
@click.option("--experiment", default=None, help="Experiment name (default: the most recently run).")
@click.option("--adapter-only", is_flag=True, help="Copy the LoRA adapter alone instead of a merged model.")
def export_model(source: str, out: Path, db: str, experiment: str | None, adapter_only: bool) -> None:
    """Write a local-lora model for an OpenAI-compatible server. SOURCE is a local-lora variant (its latest
    run) or an adapter folder; OUT must not exist yet."""
    from ftplug.errors import FtplugError

    if out.exists():
        raise FtplugError(f"{out} already exists: choose a new folder")
    adapter, meta = find_adapter(source, db, experiment)
    try:
        if adapter_only:
            shutil.copytree(adapter, out)
        else:
            export_merged(adapter, meta, out)
    except ImportError as error:
        from ftplug.plugins.local.runtime import INSTALL_HINT

        raise FtplugError(f"{INSTALL_HINT} ({error.name} is missing)") from None
    (out / "ftplug-export.json").write_text(json.dumps({
        "base_model": meta["base_model"], "adapter_key": meta["key"], "merged": not adapter_only,
        "settings": meta["settings"]}, indent=2), encoding="utf-8")
    name = f"ftplug-{meta['key'][:12]}"
    if adapter_only:
        click.echo(f"wrote the adapter to {out}; serve it beside its base model, e.g.\n"
                   f"  vllm serve {meta['base_model']} --enable-lora --lora-modules {name}={out}\n"
                   f"then point a variant at it: model = \"{name}\", endpoint = {{ base_url = "
                   "\"http://127.0.0.1:8000/v1\" }")
    else:
        click.echo(f"wrote the merged model to {out}; serve it, e.g.\n  vllm serve {out} --served-model-name {name}\n"
                   f"then point a variant at it: model = \"{name}\", endpoint = {{ base_url = "
                   "\"http://127.0.0.1:8000/v1\" }")

