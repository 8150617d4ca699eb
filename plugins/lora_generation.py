"""Answers from a base model with a LoRA adapter, in this process: batched, greedy by default."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ftplug.components import Generated
from ftplug.dataset import Example
from ftplug.plugins.lora_data import chat_prompt


class AdapterGenerator:
    """Loads the base model and the adapter on first use and answers chat prompts in batches.

    :param build: the variant's prompt builder's ``build`` (example → chat messages).
    :param max_new_tokens: the longest answer; generation also stops at the end-of-sequence token.
    :param max_length: prompts longer than this many tokens keep their end.
    """

    def __init__(self, base: str, adapter: Path, device: str, build: Callable[[Example], list[dict[str, Any]]],
                 max_new_tokens: int = 32, max_length: int = 512, revision: str = "") -> None:
        self.base, self.adapter, self.device, self.build = base, adapter, device, build
        self.max_new_tokens, self.max_length, self.revision = max_new_tokens, max_length, revision
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        from peft import PeftModel

        from ftplug.plugins.lora_training import load_base

        network, tokenizer = load_base(self.base, self.device, self.revision)
        self._model = PeftModel.from_pretrained(network, str(self.adapter)).to(self.device).eval()
        tokenizer.padding_side, tokenizer.truncation_side = "left", "left"
        self._tokenizer = tokenizer

    def answer(self, conversations: Sequence[Sequence[Mapping[str, Any]]]) -> list[Generated]:
        """Greedy answers to ``conversations`` (each a list of chat messages), in one batch."""
        import torch

        if self._model is None:
            self._load()
        tokenizer = self._tokenizer
        texts = [chat_prompt(tokenizer, messages) for messages in conversations]
        batch = tokenizer(texts, add_special_tokens=False, padding=True, truncation=True, max_length=self.max_length,
                          return_tensors="pt").to(self.device)
        with torch.no_grad():
            output = self._model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                          pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        new = output[:, batch["input_ids"].shape[1]:]
        answers = []
        for row, mask in zip(new.tolist(), batch["attention_mask"].tolist(), strict=True):
            length = next((i + 1 for i, token in enumerate(row) if token == tokenizer.eos_token_id), len(row))
            answers.append(Generated(output=tokenizer.decode(row[:length], skip_special_tokens=True).strip(),
                                     prompt_tokens=int(sum(mask)), completion_tokens=length))
        return answers

    def predict_many(self, examples: Sequence[Example]) -> list[Generated]:
        """The answers to ``examples``' prompts (as the variant's prompt builder writes them)."""
        return self.answer([self.build(example) for example in examples])
