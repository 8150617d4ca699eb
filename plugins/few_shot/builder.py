"""The ``few-shot`` prompt builder: a system message, solved examples packed to a token budget, the query.

For each query the builder offers pool examples in the order of its selection strategy and packs them
greedily — each one that still fits is taken — until ``shots`` are packed or the budget is spent. The
budget is the model's context window minus the tokens reserved for the answer minus a safety margin.
Every pool example is tokenised once. What it did is reported per variant (see :meth:`report`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any

from ftplug import hookimpl
from ftplug.catalogue.local_models import is_local_model
from ftplug.catalogue.token_rules import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_NAME
from ftplug.components import Help
from ftplug.dataset import Example
from ftplug.dataset.series import SeriesFormat, is_window, render
from ftplug.errors import ConfigError, FtplugError
from ftplug.plugins.few_shot.reduction import apply_reduction, parse_reduction
from ftplug.plugins.few_shot.selection import STRATEGIES, make_selector

if TYPE_CHECKING:
    from ftplug.catalogue.tokens import TokenCounter
    from ftplug.plugins.local.tokens import LocalTokenCounter

Message = dict[str, Any]
PLACEHOLDER = re.compile(r"\{(\w*)\}")


class PromptTooLong(FtplugError):
    """Even with no examples the query does not fit the budget."""


def _check_placeholders(text: str, allowed: set[str], option: str) -> None:
    for name in PLACEHOLDER.findall(text):
        if name not in allowed:
            raise ConfigError(f"{option} has an unknown placeholder {{{name}}} (allowed: "
                              f"{', '.join('{' + a + '}' for a in sorted(allowed))})")


class FewShotBuilder:
    """Shots from the training split, packed to the model's context window."""

    def __init__(
            self,
            shots: Annotated[int | str, Help('how many training examples to show before the query, or "max"',
                                             within=(0, 100_000))] = 0,
            system: Annotated[str, Help("system message (may use {format}); default: the example's own, if any")] = "",
            template: Annotated[str, Help("the user message; must contain {input}, may use {format}")] = "{input}",
            format: Annotated[str, Help("format instructions, inserted where {format} appears")] = "",
            select: Annotated[str, Help("how shots are chosen from the training split", choices=STRATEGIES)] = "random",
            reserve_output: Annotated[int, Help("tokens reserved for the answer (also sent as "
                                                "max_completion_tokens)", within=(1, 1_000_000))] = 256,
            safety_margin: Annotated[int, Help("tokens kept free beyond the reserve", within=(0, 1_000_000))] = 32,
            context_window: Annotated[int, Help("override the catalogue's context window (0 = the model's)",
                                                within=(0, 100_000_000))] = 0,
            reduce: Annotated[str, Help("shrink long inputs, e.g. 'last:60,round:2' (last, every, round, "
                                        "aggregate, truncate)")] = "",
            series: Annotated[Mapping[str, Any], Help("time-series windows: show them in this format, "
                                                          "e.g. { decimals = 2, dates = false, relative = "
                                                          'true, separator = "comma" }')] = MappingProxyType({}),
    ) -> None:
        if (isinstance(shots, str) and shots != "max") or (isinstance(shots, int) and shots < 0):
            raise ConfigError(f"shots must be a whole number ≥ 0 or \"max\", got {shots!r}")
        if select not in STRATEGIES:
            raise ConfigError(f"select must be one of {', '.join(STRATEGIES)}, got {select!r}")
        if "{input}" not in template:
            raise ConfigError(f"template must contain {{input}}, got {template!r}")
        _check_placeholders(template, {"input", "format"}, "template")
        _check_placeholders(system, {"format"}, "system")
        if reserve_output < 1 or safety_margin < 0 or context_window < 0:
            raise ConfigError("reserve_output must be ≥ 1, safety_margin and context_window ≥ 0")
        self.shots, self.select, self.format = shots, select, format
        self.system = system.replace("{format}", format)
        self.template = template.replace("{format}", format)
        self.max_output_tokens, self.safety_margin, self.context_window = reserve_output, safety_margin, context_window
        self.reduce_spec, self.steps = reduce, parse_reduction(reduce)
        self.series = dict(series)
        SeriesFormat.from_options(self.series)  # a bad key or value fails now, not at the first window
        self._styles: dict[tuple[tuple[str, Any], ...], SeriesFormat] = {}
        self.pool: Sequence[Example] = ()
        self._stats = {name: RunningStats() for name in ("packed", "prompt", "left", "bound")}
        self._counter: TokenCounter | LocalTokenCounter | None = None
        self.pool_tokens_unreduced: int | None = None
        self.pool_tokens_reduced: int | None = None

    # ---- preparation: once per variant ------------------------------------------------------------------------

    def prepare(self, pool: Sequence[Example], model: str, seed: int) -> None:
        """Tokenise the pool once, fix the budget for ``model``, and build the selection index."""
        import numpy as np

        from ftplug.catalogue.models import default_catalogue

        self.model, self._counter, self._bound = model, None, _token_bound
        window = self.context_window
        if is_local_model(model):  # the model's own tokenizer, chat template and window
            from ftplug.plugins.local.runtime import local_token_counter

            self._counter, local_window = local_token_counter(model)
            self._bound = self._counter.upper_bound
            window = window or local_window
        if not window:
            info = default_catalogue().find(model)
            if info is None:
                raise ConfigError(f"model {model!r} is not in the catalogue: set context_window or add the model "
                                  "with a catalogue file")
            window = info.context_window
        self.window, self.budget = window, window - self.max_output_tokens - self.safety_margin
        if self.budget <= 0:
            raise ConfigError(f"no room for a prompt: context window {window} − reserve_output "
                              f"{self.max_output_tokens} − safety_margin {self.safety_margin} ≤ 0")
        if isinstance(self.shots, int) and self.shots > len(pool):
            raise ConfigError(f"shots = {self.shots} but the training split has only {len(pool)} examples")
        self.pool = pool
        self.limit = len(pool) if self.shots == "max" else int(self.shots)
        self.system_tokens: int | None = None
        if not self.limit:  # no shots: nothing of the pool is needed, and the tokeniser perhaps never
            self.costs, self.cheapest, self._costs_array, self._shot_messages = [], 0, np.zeros(0, np.int64), []
            self._position, self.selector = {}, None
            return
        turn_costs = self._pool_turn_tokens(pool)
        answer_overhead = self.counter.overhead("assistant")
        self.costs = [turn + answer_overhead + answer
                      for turn, answer in zip(turn_costs, self.counter.texts([e.expected for e in pool]), strict=True)]
        self.cheapest = min(self.costs, default=0)
        self._costs_array = np.array(self.costs, dtype=np.int64)
        self._shot_messages = [(*self._turns(e), {"role": "assistant", "content": e.expected}) for e in pool]
        self._position = {example.id: index for index, example in enumerate(pool)}
        if self.steps:  # what the reduction saved, measured on the pool's plain-text inputs
            plain = [i for i, example in enumerate(pool) if isinstance(example.input, str)]
            self.pool_tokens_reduced = sum(turn_costs[i] for i in plain)
            self.pool_tokens_unreduced = sum(self.counter.message("user", self.template.replace(
                "{input}", pool[i].input_text)) for i in plain)
        self.selector = make_selector(self.select, pool, seed)

    @property
    def counter(self) -> TokenCounter | LocalTokenCounter:
        """The model's token counter, made on first use (loading an encoding takes a noticeable fraction of a
        second, and a zero-shot variant whose prompts are short enough never needs it)."""
        if self._counter is None:
            from ftplug.catalogue.tokens import TokenCounter

            self._counter = TokenCounter(self.model)
        return self._counter

    def _user_text(self, example: Example) -> str:
        text = example.input_text
        if self.series and is_window(example.metadata):  # the window shown in this variant's own format
            style = self._series_style(example.metadata["format"])
            text = render(example.metadata["series"], example.metadata["values"], example.metadata["dates"], style)
        if self.steps:
            text = apply_reduction(text, self.steps, self._keep_last_tokens)
        return self.template.replace("{input}", text)

    def _series_style(self, loader_format: dict[str, Any]) -> SeriesFormat:
        """The loader's format with this variant's ``series`` options over it, made once per loader format
        (every window of a dataset has the same one), not once per prompt."""
        key = tuple(sorted(loader_format.items()))
        if key not in self._styles:
            self._styles[key] = SeriesFormat.from_options({**loader_format, **self.series})
        return self._styles[key]

    def _keep_last_tokens(self, text: str, n: int) -> str:
        return self.counter.keep_last(text, n)

    def _turns(self, example: Example) -> list[Message]:
        if isinstance(example.input, str):
            return [{"role": "user", "content": self._user_text(example)}]
        return [dict(m) for m in example.input if m.get("role") != "system"]

    def _pool_turn_tokens(self, pool: Sequence[Example]) -> list[int]:
        """What each pool example's query turns cost; plain-text inputs are encoded as one batch."""
        plain = [i for i, example in enumerate(pool) if isinstance(example.input, str)]
        user_overhead = self.counter.overhead("user")
        counts = self.counter.texts([self._user_text(pool[i]) for i in plain])
        costs = [0] * len(pool)
        for i, count in zip(plain, counts, strict=True):
            costs[i] = user_overhead + count
        for i, example in enumerate(pool):
            if not isinstance(example.input, str):
                costs[i] = self._turn_tokens(example)
        return costs

    def _turn_tokens(self, example: Example) -> int:
        return sum(self.counter.message(m["role"], str(m.get("content") or ""), m.get("name"))
                   for m in self._turns(example))

    def _message_tokens(self, message: Message) -> int:
        if self.system and message["role"] == "system" and message.get("content") == self.system:
            if self.system_tokens is None:
                self.system_tokens = self.counter.message("system", self.system)
            return self.system_tokens
        return self.counter.message(message["role"], str(message.get("content") or ""), message.get("name"))

    def _system(self, example: Example) -> list[Message]:
        if self.system:
            return [{"role": "system", "content": self.system}]
        if isinstance(example.input, tuple):
            return [dict(m) for m in example.input if m.get("role") == "system"][:1]
        return []

    # ---- building: once per test example -----------------------------------------------------------------------

    def build(self, example: Example) -> list[Message]:
        """System message, the packed shots as user/assistant pairs, then the example's query.

        The returned list is new; the message dicts in it may be shared with other prompts: do not modify them.
        """
        return self.build_many([example])[0]

    def build_many(self, examples: Sequence[Example]) -> list[list[Message]]:
        """:meth:`build` for several examples; their queries are tokenised together first, which keeps the
        tokeniser's tables hot in the CPU cache (about twice as fast as interleaving with selection)."""
        queries = [self._turns(example) for example in examples]
        if not self.limit:
            prompts = [[*self._system(example), *query] for example, query in zip(examples, queries, strict=True)]
            bounds = [self._bound(prompt) for prompt in prompts]
            if max(bounds, default=0) <= self.budget:  # they surely fit: no need to count
                self._stats["packed"].extend([0] * len(prompts))
                self._stats["bound"].extend(bounds)
                return prompts
        plain = [i for i, query in enumerate(queries) if len(query) == 1 and query[0]["role"] == "user"]
        query_tokens = [0] * len(queries)
        user_overhead = self.counter.overhead("user")
        for i, count in zip(plain, self.counter.texts([queries[i][0]["content"] for i in plain]), strict=True):
            query_tokens[i] = user_overhead + count
        for i, query in enumerate(queries):
            if not query_tokens[i]:
                query_tokens[i] = sum(self._message_tokens(m) for m in query)
        return [self._assemble(example, query, tokens)
                for example, query, tokens in zip(examples, queries, query_tokens, strict=True)]

    def _assemble(self, example: Example, query: list[Message], query_tokens: int) -> list[Message]:
        system = self._system(example)
        base = self.counter.priming + sum(self._message_tokens(m) for m in system) + query_tokens
        if base > self.budget:
            raise PromptTooLong(
                f"example {example.id!r} needs {base} prompt tokens with no shots, over the budget of {self.budget} "
                f"(context window {self.window} − reserve_output {self.max_output_tokens} − safety_margin "
                f"{self.safety_margin}); shorten it with `reduce`, or use a model with a larger window")
        chosen, used = self._pack(example, base)
        shots = self._shot_messages
        # The shots' message dicts are built once and shared by every prompt (copying them all was a quarter
        # of the build time); like everything build returns, they are read-only.
        messages = [*system, *(message for index in chosen for message in shots[index])]
        self._stats["packed"].add(len(chosen))
        self._stats["prompt"].add(used)
        self._stats["left"].add(self.budget - used)
        return messages + query

    def _pack(self, example: Example, used: int) -> tuple[list[int], int]:
        """Greedy packing in selection order: every offered example that still fits is taken.

        Vectorised but exact: an example costlier than the tokens left now never fits later (the budget only
        shrinks), so each round takes the run of cheap-enough examples whose running total fits, skips the one
        that overflows, and continues after it with what is left.
        """
        if not self.limit or self.selector is None:
            return [], used
        import numpy as np

        own = self._position.get(example.id)
        chosen: list[int] = []
        for chunk in self.selector.chunks(example.input_text):
            order = np.asarray(chunk, dtype=np.int64)
            if own is not None:  # never show an example its own answer
                order = order[order != own]
            costs = self._costs_array[order]
            start = 0
            while len(chosen) < self.limit and self.budget - used >= self.cheapest:
                left = self.budget - used
                fitting = np.flatnonzero(costs[start:] <= left)
                if not fitting.size:
                    break
                running = np.cumsum(costs[start:][fitting])
                take = min(int(np.searchsorted(running, left, side="right")), self.limit - len(chosen))
                chosen.extend(order[start + fitting[:take]].tolist())
                used += int(running[take - 1])
                if take == fitting.size:
                    break
                start += int(fitting[take]) + 1
            if len(chosen) >= self.limit or self.budget - used < self.cheapest:
                break
        return chosen, used

    def training_messages(self, example: Example) -> list[Message]:
        """The example as a fine-tuning conversation: system, query, expected answer."""
        return [*self._system(example), *self._turns(example), {"role": "assistant", "content": example.expected}]

    def report(self) -> dict[str, Any]:
        """What packing did over the prompts built so far: offered, packed, tokens used and left, the largest
        example, and what the reduction saved."""
        packed, prompt, left = self._stats["packed"], self._stats["prompt"], self._stats["left"]
        largest = max(range(len(self.costs)), key=self.costs.__getitem__) if self.costs else None
        return {
            "shots": self.shots, "select": self.select, "pool": len(self.pool),
            "offered": min(self.limit, len(self.pool)) if self.pool else 0,
            "context_window": self.window, "reserve_output": self.max_output_tokens,
            "safety_margin": self.safety_margin, "budget": self.budget, "prompts": packed.count,
            "packed_mean": packed.mean, "packed_min": packed.min, "packed_max": packed.max,
            "prompt_tokens_mean": prompt.mean, "prompt_tokens_max": prompt.max, "tokens_left_min": left.min,
            "prompts_not_counted": self._stats["bound"].count, "prompt_bytes_max": self._stats["bound"].max,
            "largest_example": ({"id": self.pool[largest].id, "tokens": self.costs[largest]}
                                if largest is not None else None),
            "reduce": self.reduce_spec or None,
            "pool_input_tokens_before_reduce": self.pool_tokens_unreduced,
            "pool_input_tokens_after_reduce": self.pool_tokens_reduced,
        }

    def describe(self) -> str:
        """One line for the terminal."""
        r = self.report()
        if not r["prompts"]:
            return "no prompts built"
        if not r["prompt_tokens_mean"]:
            return (f"no shots; every prompt fits without counting: at most {r['prompt_bytes_max']} bytes, so at most "
                    f"as many tokens, of budget {r['budget']} (window {r['context_window']})")
        shots = f"shots packed {r['packed_min']}–{r['packed_max']} (mean {r['packed_mean']:.1f}) of {r['offered']}"
        line = (f"{shots} offered; prompt tokens mean {r['prompt_tokens_mean']:.0f}, max {r['prompt_tokens_max']} "
                f"of budget {r['budget']} (window {r['context_window']}); fewest left {r['tokens_left_min']}")
        before, after = r["pool_input_tokens_before_reduce"], r["pool_input_tokens_after_reduce"]
        if before:
            line += (f"; reduce {r['reduce']!r} took the pool's inputs from {before} to {after} tokens "
                     f"({100 * (after - before) / before:+.0f}%)")
        return line


class RunningStats:
    """Count, mean, least and greatest of what was added, in constant memory (one per prompt adds up)."""

    def __init__(self) -> None:
        self.count, self.total = 0, 0
        self.min: int | None = None
        self.max: int | None = None

    def add(self, value: int) -> None:
        """Take one value."""
        self.count += 1
        self.total += value
        self.min = value if self.min is None or value < self.min else self.min
        self.max = value if self.max is None or value > self.max else self.max

    def extend(self, values: Sequence[int]) -> None:
        """Take several values."""
        for value in values:
            self.add(value)

    @property
    def mean(self) -> float | None:
        """The mean, ``None`` before any value."""
        return self.total / self.count if self.count else None


def _token_bound(messages: Sequence[Message]) -> int:
    """An upper bound on a prompt's tokens, without a tokeniser: a token is at least one byte, so each value's UTF-8
    length bounds its tokens; the per-message and priming overheads are added as counted."""
    return REPLY_PRIMING_TOKENS + sum(
        TOKENS_PER_MESSAGE + sum(len(str(value).encode()) + (TOKENS_PER_NAME if key == "name" else 0)
                                 for key, value in message.items())
        for message in messages)


@hookimpl
def ftplug_register_prompt_builders(register: Any) -> None:
    """Contribute ``few-shot``."""
    register("few-shot", FewShotBuilder, description="system message + solved examples packed to a token budget")
