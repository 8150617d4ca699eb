"""The built-in commands, each by name, one-line help and import path, and how to declare them on a group:
lazily on ftplug's (listing imports none of them), imported on any other click group."""

from __future__ import annotations

from typing import Any

from ftplug.cli.lazy_commands import import_command

# (name, "module:command", the first sentence of the command's help; a test holds the two equal)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("data", "ftplug.plugins.commands.data:data", "Check and inspect data files."),
    ("export-model", "ftplug.plugins.commands.export_model:export_model",
     "Write a local-lora model for an OpenAI-compatible server."),
    ("finetune", "ftplug.plugins.commands.finetune:finetune",
     "Fine-tuning jobs started by `ftplug run`: list, inspect, follow, cancel."),
    ("merge", "ftplug.plugins.commands.merge:merge",
     "Merge the result files INPUTS into OUT (created if missing; what it holds is kept)."),
    ("models", "ftplug.plugins.commands.catalogue:models",
     "List the models ftplug knows: the shipped catalogue plus any --models / FTPLUG_MODELS files."),
    ("simulator", "ftplug.plugins.commands.simulator:simulator", "The offline OpenAI API simulator."),
    ("tokens", "ftplug.plugins.commands.token:tokens",
     "Count the tokens of SOURCE (a text or chat JSONL file, or - for standard input): whether it fits the "
     "model's context window as one prompt (or per conversation, for JSONL) and what sending it would cost."),
    ("train", "ftplug.plugins.commands.train:train",
     "Fine-tune the local trainers' models of EXPERIMENT (local-lora adapters) without predicting anything; "
     "`ftplug run EXPERIMENT` then reuses them."),
)



def declare_commands(cli: Any) -> None:
    """Declare the built-in commands on ``cli``: lazily on ftplug's group, imported on a plain click group."""
    for name, target, summary in COMMANDS:
        if hasattr(cli, "add_lazy_command"):
            cli.add_lazy_command(name, target, summary)
        else:
            cli.add_command(import_command(name, target), name)
