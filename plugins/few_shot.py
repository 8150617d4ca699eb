"""The ``few-shot`` prompt builder: an optional system message, k solved examples, then the query."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ftplug import hookimpl
from ftplug.components import Option
from ftplug.dataset import Example
from ftplug.errors import ConfigError

Message = dict[str, Any]


class FewShotBuilder:
    """k examples from the training split as user/assistant turns before the query (k = 0 allowed)."""

    def __init__(self, shots: int = 0, system: str = "", template: str = "{input}", select: str = "random") -> None:
        if shots < 0:
            raise ConfigError(f"shots must be 0 or more, got {shots}")
        if "{input}" not in template:
            raise ConfigError(f"template must contain {{input}}, got {template!r}")
        self.shots, self.system, self.template, self.select = shots, system, template, select
        self.examples: tuple[Example, ...] = ()

    def prepare(self, pool: Sequence[Example], model: str, seed: int) -> None:
        """Choose the shots from ``pool`` (the training split), once, fixed by ``seed``."""
        if self.shots > len(pool):
            raise ConfigError(f"shots = {self.shots} but the training split has only {len(pool)} examples")
        if self.select == "first":
            self.examples = tuple(pool[: self.shots])
        else:
            self.examples = tuple(random.Random(seed).sample(list(pool), self.shots))

    def build(self, example: Example) -> list[Message]:
        """System message, the shots as user/assistant pairs, then the example's query."""
        messages = self._system(example)
        for shot in self.examples:
            messages += self._turns(shot)
            messages.append({"role": "assistant", "content": shot.expected})
        return messages + self._turns(example)

    def training_messages(self, example: Example) -> list[Message]:
        """The example as a fine-tuning conversation: system, query, expected answer."""
        return [*self._system(example), *self._turns(example), {"role": "assistant", "content": example.expected}]

    def _system(self, example: Example) -> list[Message]:
        if self.system:
            return [{"role": "system", "content": self.system}]
        if isinstance(example.input, tuple):
            return [dict(m) for m in example.input if m.get("role") == "system"][:1]
        return []

    def _turns(self, example: Example) -> list[Message]:
        if isinstance(example.input, str):
            return [{"role": "user", "content": self.template.replace("{input}", example.input)}]
        return [dict(m) for m in example.input if m.get("role") != "system"]


@hookimpl
def ftplug_register_prompt_builders(register: Any) -> None:
    """Contribute ``few-shot``."""
    register("few-shot", FewShotBuilder, description="system message + k solved examples + the query", options=[
        Option("shots", int, 0, "how many training examples to show before the query"),
        Option("system", str, "", "system message (default: the example's own, if any)"),
        Option("template", str, "{input}", "how an input becomes a user message; must contain {input}"),
        Option("select", str, "random", "how shots are chosen from the training split",
               choices=("random", "first")),
    ])
