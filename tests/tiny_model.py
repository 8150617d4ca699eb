"""A tiny chat model for the local-lora tests: a Llama-architecture network with random weights and a
byte-level BPE tokenizer trained on the fly on the texts it will see — small enough to fine-tune in
seconds on two CPU cores, and nothing downloaded."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from ftplug.dataset import Example
from tests.helpers import EXAMPLE

SYSTEM = "Name the topic: science, politics, computers, law or food."

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
SPECIAL = ["<unk>", "<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]


def quotations() -> list[Example]:
    """The 300 real quotations of data/examples/fortunes.csv as examples (topic as the expected answer)."""
    with EXAMPLE.with_name("fortunes.csv").open(encoding="utf-8") as handle:
        return [Example(id=row["id"], input=row["text"], expected=row["topic"]) for row in csv.DictReader(handle)]


def lora_variant(batch_size: int) -> str:
    """A ``lora`` variant for experiment files on the tiny model: 32 training rows, two epochs, short answers."""
    return f'''[[variants]]
name = "lora"
train_size = 32
trainer = {{ name = "local-lora", epochs = 2, learning_rate = 0.01, batch_size = {batch_size}, max_length = 160, \
max_new_tokens = 4 }}
prompt = {{ builder = "few-shot", shots = 0, system = "{SYSTEM}" }}
'''


def build_tiny_chat_model(folder: Path, texts: Iterable[str], vocab_size: int = 400, seed: int = 0) -> Path:
    """Save the model and its tokenizer (with a chat template) to ``folder``; return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging

    logging.disable_progress_bar()
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(list(texts), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                        eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         initializer_range=0.3)  # logits wide enough for a small adapter to move them
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def write_gguf(folder: Path, path: Path) -> Path:
    """Write the model in ``folder`` (a Llama network with a byte-level BPE tokenizer, as built above) as a GGUF
    file the way llama.cpp's converter lays one out: float32 tensors under GGUF names, query and key weights
    permuted for llama.cpp's rotary layout, and the tokenizer, its merges and chat template as metadata."""
    import json

    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    config = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_vocab_size(config.vocab_size)
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = sorted(state["model"]["vocab"].items(), key=lambda item: item[1])
    specials = set(SPECIAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([3 if token in specials else 1 for token, _ in vocab])  # 3: control, 1: normal
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        data = tensor.float().numpy()
        if name.endswith("q_proj.weight"):
            data = _permute(data, heads)
        elif name.endswith("k_proj.weight"):
            data = _permute(data, kv_heads)
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert target is not None, name
        writer.add_tensor(target, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _permute(weights, heads: int):  # type: ignore[no-untyped-def]
    """llama.cpp's order of the rotary halves in a query or key projection."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))
