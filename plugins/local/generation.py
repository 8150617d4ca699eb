"""Answers of a local model in this process: batched, the shared prefix of the prompts computed once.

A batch's prompts are rendered with the model's chat template and tokenised. What they share with each
other and with the previous prompt (system message, fixed shots) is read once into a key/value cache
(:class:`~ftplug.plugins.local.prefix_cache.SharedPrefix`); each batch then starts from a copy of it, and its
prompts' own ends are laid out after it with the padding in the middle::

    [ shared prefix … ][ pad pad ][ own end of prompt 1 ]
    [ shared prefix … ][ own end of prompt 2 ……………… ]

The attention mask hides the padding and transformers numbers positions from the mask, so every prompt
reads exactly what it would alone. Generation is greedy at temperature 0, sampled (seeded) above it, and
stops at the model's end-of-turn tokens or ``max_new_tokens``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftplug.components import Generated
from ftplug.dataset import Example
from ftplug.plugins.local.prefix_cache import SharedPrefix
from ftplug.plugins.local.tokens import chat_prompt


@dataclass
class GenerationStats:
    """What the generator did, for the run's details."""

    prompts: int = 0
    prompt_tokens: int = 0
    prefix_tokens_reused: int = 0  # prompt tokens answered from the shared cache instead of computed

    def as_dict(self, prefix: SharedPrefix | None) -> dict[str, Any]:
        """The counts, with the prefix tokens computed and the share of prompt tokens reused."""
        return {"prompts": self.prompts, "prompt_tokens": self.prompt_tokens,
                "prefix_tokens_reused": self.prefix_tokens_reused,
                "prefix_tokens_computed": prefix.tokens_computed if prefix is not None else 0,
                "reused_share": self.prefix_tokens_reused / self.prompt_tokens if self.prompt_tokens else 0.0}


@dataclass
class LocalGenerator:
    """Loads the model on first use and answers chat prompts in batches.

    :param folder: the model folder (or hub name) ``from_pretrained`` loads.
    :param build: the variant's prompt builder's ``build`` (example → chat messages).
    :param adapter: a LoRA adapter folder to apply (merged into a private copy of the weights), or ``None``
        to answer with the base model (whose weights the variants prompting it share).
    :param max_new_tokens: the longest answer.
    :param max_length: prompts longer than this many tokens keep their end (``None``: no limit).
    :param temperature: 0 for greedy answers; above it, sampled with ``seed``.
    :param prefix_cache: reuse the cache of the prompts' shared prefix.
    """

    folder: str
    build: Callable[[Example], list[dict[str, Any]]]
    device: str = "cpu"
    dtype: str = "auto"
    adapter: Path | None = None
    max_new_tokens: int = 256
    max_length: int | None = None
    temperature: float = 0.0
    seed: int = 0
    prefix_cache: bool = True
    revision: str = ""
    stats: GenerationStats = field(default_factory=GenerationStats)
    _network: Any = None
    _tokenizer: Any = None
    _prefix: SharedPrefix | None = None
    _stop: frozenset[int] = frozenset()

    def load(self) -> None:
        """Load the weights and the tokenizer now (otherwise the first batch does); once."""
        if self._network is not None:
            return
        from ftplug.plugins.local.runtime import quiet_libraries

        with quiet_libraries():
            self._load_quietly()

    def _load_quietly(self) -> None:
        from ftplug.plugins.local.runtime import load_network, load_tokenizer, pick_dtype, shared_network

        dtype = pick_dtype(self.device, self.dtype)
        if self.adapter is None:
            network = shared_network(self.folder, self.device, dtype, self.revision)
        else:
            from peft import PeftModel

            base = load_network(self.folder, self.device, dtype, self.revision)
            network = PeftModel.from_pretrained(base, str(self.adapter)).merge_and_unload().eval()
        self._tokenizer = load_tokenizer(self.folder, self.revision)
        stop = network.generation_config.eos_token_id
        stop = stop if isinstance(stop, list) else [stop]
        self._stop = frozenset(t for t in [*stop, self._tokenizer.eos_token_id] if t is not None)
        self._network = network
        if self.prefix_cache:
            self._prefix = SharedPrefix(network, cache_keyword(network))

    def answer(self, conversations: Sequence[Sequence[Mapping[str, Any]]]) -> list[Generated]:
        """The answers to ``conversations`` (each a list of chat messages), as one batch."""
        self.load()
        tokenizer = self._tokenizer
        encoded = tokenizer([chat_prompt(tokenizer, m) for m in conversations], add_special_tokens=False)["input_ids"]
        prompts = [ids[-self.max_length:] if self.max_length else ids for ids in encoded]
        shared = self._prefix.prepare(prompts) if self._prefix is not None else 0
        rows = self._generate(prompts, shared)
        self.stats.prompts += len(prompts)
        self.stats.prompt_tokens += sum(map(len, prompts))
        self.stats.prefix_tokens_reused += shared * len(prompts)
        answers = []
        for prompt, row in zip(prompts, rows, strict=True):
            length = next((i for i, token in enumerate(row) if token in self._stop), None)
            kept = row if length is None else row[:length]
            answers.append(Generated(output=tokenizer.decode(kept, skip_special_tokens=True).strip(),
                                     prompt_tokens=len(prompt),
                                     completion_tokens=len(kept) + (length is not None)))
        return answers

    def _generate(self, prompts: list[list[int]], shared: int) -> list[list[int]]:
        """The new tokens of each prompt, ``shared`` of its first tokens read from the prefix cache."""
        import torch

        pad = self._tokenizer.pad_token_id
        width = max(map(len, prompts))
        ids, mask = [], []
        for prompt in prompts:  # the padding between the shared prefix and each prompt's own end
            gap = width - len(prompt)
            ids.append(prompt[:shared] + [pad] * gap + prompt[shared:])
            mask.append([1] * shared + [0] * gap + [1] * (len(prompt) - shared))
        options: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "pad_token_id": pad,
                                   "eos_token_id": sorted(self._stop)}
        if self.temperature > 0:
            torch.manual_seed(self.seed)
            options.update(do_sample=True, temperature=self.temperature, top_p=1.0, top_k=0)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if shared:
            assert self._prefix is not None
            options[cache_keyword(self._network)] = self._prefix.copy_for(len(prompts))
        device = self.device
        with torch.no_grad():
            output = self._network.generate(input_ids=torch.tensor(ids, device=device),
                                            attention_mask=torch.tensor(mask, device=device), **options)
        return [row[width:] for row in output.tolist()]

    def predict_many(self, examples: Sequence[Example]) -> list[Generated]:
        """The answers to ``examples``' prompts (as the variant's prompt builder writes them)."""
        return self.answer([self.build(example) for example in examples])

    def report(self) -> dict[str, Any]:
        """What the generator did: prompts, prompt tokens, and the prefix tokens reused and computed."""
        return self.stats.as_dict(self._prefix)


def cache_keyword(network: Any) -> str:
    """The keyword this transformers version passes a key/value cache under: ``cache`` in recent releases
    (``past_key_values`` is deprecated there), ``past_key_values`` before."""
    parameters = inspect.signature(network.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
