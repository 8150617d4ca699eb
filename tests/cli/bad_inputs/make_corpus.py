"""Writes this folder's bad inputs (one file each) and cases.toml, naming the command that reads each and what its
one-line error must say. Run it after changing a case: python3 tests/cli/bad_inputs/make_corpus.py"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent
BASE = """[experiment]
name = "bad-inputs"
seed = 1

[data]
loader = "csv"
path = "quotes.csv"
input = "text"
expected = "topic"
id = "id"

[split]
test = 4
validation = 2

[model]
base = "gpt-4o-mini-2024-07-18"

[[variants]]
name = "zero-shot"
prompt = { builder = "few-shot", shots = 0, system = "Topic?" }
"""
# a small dataset of real quotations (the first rows of data/examples/fortunes.csv)
rows = (OUT.parents[2] / "data" / "examples" / "fortunes.csv").read_text(encoding="utf-8").splitlines()[:21]
(OUT / "quotes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
header, first, second = rows[0], rows[1], rows[2]

cases = []


def experiment(name, text, expect, args=None):
    (OUT / f"{name}.toml").write_bytes(text.encode() if isinstance(text, str) else text)
    cases.append({"name": name, "args": args or ["run", f"{name}.toml"], "expect": expect})


def sub(old, new, text=BASE):
    assert old in text, old
    return text.replace(old, new, 1)


def dataset(name, content, expect, loader="csv", extra=""):
    (OUT / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    text = sub('path = "quotes.csv"', f'path = "{name}"')
    if loader == "jsonl":
        text = sub('loader = "csv"', 'loader = "jsonl"', text).replace(
            'input = "text"\nexpected = "topic"\nid = "id"\n', ""
        )
    if extra:
        text = sub("[split]", extra + "\n[split]", text)
    experiment(f"data_{name.replace('.', '_')}", text, [name, *expect])


# ---- experiment files ----
experiment("toml_syntax", sub("seed = 1", "seed = "), ["toml_syntax.toml:3:", "invalid TOML"])
experiment(
    "toml_unclosed_string",
    sub('name = "bad-inputs"', 'name = "bad-inputs'),
    ["toml_unclosed_string.toml:2:", "invalid TOML"],
)
experiment("toml_duplicate_key", sub("seed = 1", "seed = 1\nseed = 2"), ["toml_duplicate_key.toml:4:", "invalid TOML"])
experiment("unknown_table", BASE + "\n[modle]\nbase = 'x'\n", ["unknown_table.toml", "[modle]", "unknown table"])
experiment(
    "unknown_key", sub("seed = 1", "seed = 1\nseeds = 2"), ["unknown_key.toml", "[experiment] seeds", "unknown key"]
)
experiment("wrong_type", sub("seed = 1", 'seed = "one"'), ["wrong_type.toml", "[experiment] seed", "must be int"])
experiment(
    "missing_table",
    sub('[model]\nbase = "gpt-4o-mini-2024-07-18"\n', ""),
    ["missing_table.toml", "[model]", "missing table"],
)
experiment("missing_name", sub('name = "bad-inputs"\n', ""), ["missing_name.toml", "[experiment] name", "missing key"])
experiment(
    "empty_name",
    sub('name = "bad-inputs"', 'name = " "'),
    ["empty_name.toml", "[experiment] name", "must not be empty"],
)
experiment(
    "unknown_loader",
    sub('loader = "csv"', 'loader = "excel"'),
    ["unknown_loader.toml", "[data]", "unknown loader 'excel'", "known:"],
)
experiment(
    "unknown_loader_option",
    sub('id = "id"', 'id = "id"\nsheet = 2'),
    ["unknown_loader_option.toml", "[data] sheet", "unknown option"],
)
experiment(
    "missing_loader_option",
    sub('path = "quotes.csv"\n', ""),
    ["missing_loader_option.toml", "[data] path", "missing option"],
)
experiment(
    "missing_data_file",
    sub('path = "quotes.csv"', 'path = "no-such-file.csv"'),
    ["no-such-file.csv", "no such data file"],
)
experiment(
    "unknown_trainer",
    BASE + '\n[[variants]]\nname = "t"\ntrainer = "gpt-trainer"\n',
    ["unknown_trainer.toml", "'t' trainer", "unknown trainer 'gpt-trainer'"],
)
experiment(
    "unknown_prompt_builder",
    sub('builder = "few-shot"', 'builder = "many-shot"'),
    ["unknown_prompt_builder.toml", "prompt", "unknown prompt-builder 'many-shot'"],
)
experiment(
    "unknown_scorer",
    BASE + '\n[scoring]\nscorers = ["exactly"]\n',
    ["unknown_scorer.toml", "[scoring] scorers", "unknown scorer 'exactly'"],
)
experiment("no_variants", BASE.split("[[variants]]")[0], ["no_variants.toml", "[[variants]]", "at least one variant"])
experiment(
    "duplicate_variant",
    BASE + '\n[[variants]]\nname = "zero-shot"\n',
    ["duplicate_variant.toml", "'zero-shot' name", "duplicate variant name"],
)
experiment(
    "shots_larger_than_pool",
    sub("shots = 0", "shots = 500"),
    ["shots_larger_than_pool.toml", "prompt", "shots = 500", "training split has only"],
)
experiment("shots_not_a_number", sub("shots = 0", 'shots = "many"'), ["shots_not_a_number.toml", "prompt", "shots"])
experiment("empty_test_split", sub("test = 4", "test = 0"), ["empty_test_split.toml", "[split] test", "empty"])
experiment(
    "no_training_left",
    sub("test = 4", "test = 15").replace("validation = 2", "validation = 5"),
    ["no_training_left.toml", "[split]", "leave no training examples"],
)
experiment(
    "negative_split",
    sub("test = 4", "test = -3"),
    ["negative_split.toml", "[split] test", "cannot be negative"],
)
experiment(
    "split_fraction_all",
    sub("test = 4\nvalidation = 2", "test = 1.0\nvalidation = 0"),
    ["split_fraction_all.toml", "[split]", "test (1.0 of the dataset = 20)", "leave no training examples"],
)
experiment(
    "split_float_count",
    sub("test = 4\nvalidation = 2", "test = 15.0\nvalidation = 5"),
    ["split_float_count.toml", "[split] test", "from 0 to 1", "write the integer 15"],
)
experiment(
    "unknown_reference",
    BASE + '\n[report]\nreference = "few-shot"\n',
    ["unknown_reference.toml", "[report] reference", "no variant 'few-shot'"],
)
experiment(
    "unknown_primary",
    BASE + '\n[report]\nprimary = "f1"\n',
    ["unknown_primary.toml", "[report] primary", "no scorer 'f1'"],
)
experiment(
    "consistency_without_samples",
    BASE + '\n[scoring]\nscorers = ["exact", "consistency"]\n',
    ["consistency_without_samples.toml", "[scoring] samples", "samples ≥ 2"],
)
experiment(
    "cluster_field_missing",
    BASE + '\n[report]\ncluster = "chapter"\n',
    ["cluster_field_missing.toml", "[report] cluster", "no field 'chapter'", "quotes.csv line"],
)
experiment(
    "samples_out_of_range",
    BASE + "\n[scoring]\nsamples = 500\n",
    ["samples_out_of_range.toml", "[scoring] samples", "between 1 and 128"],
)
experiment(
    "temperature_out_of_range",
    BASE + "\n[scoring]\ntemperature = 3.5\n",
    ["temperature_out_of_range.toml", "[scoring] temperature", "between 0 and 2"],
)
experiment(
    "zero_concurrency",
    BASE + "\n[run]\nconcurrency = 0\n",
    ["zero_concurrency.toml", "[run] concurrency", "between 1 and 1,024"],
)
experiment(
    "huge_concurrency",
    BASE + "\n[run]\nconcurrency = 9223372036854775807\n",
    ["huge_concurrency.toml", "[run] concurrency", "between 1 and 1,024"],
)
experiment(
    "nan_rpm",
    BASE + "\n[run]\nrpm = nan\n",
    ["nan_rpm.toml", "[run] rpm", "must be a finite number, got nan"],
)
experiment(
    "inf_backoff",
    BASE + "\n[run]\nbackoff = inf\n",
    ["inf_backoff.toml", "[run] backoff", "must be a finite number, got inf"],
)
experiment(
    "huge_max_attempts",
    BASE + "\n[run]\nmax_attempts = 1000000\n",
    ["huge_max_attempts.toml", "[run] max_attempts", "between 1 and 100"],
)
experiment(
    "huge_volume",
    BASE + "\n[report]\nvolume = 9223372036854775807\n",
    ["huge_volume.toml", "[report] volume", "between 0 and 1,000,000,000,000,000"],
)
experiment(
    "nan_split",
    sub("test = 4", "test = nan"),
    ["nan_split.toml", "[split] test", "must be a finite number"],
)
experiment(
    "huge_shots",
    sub("shots = 0", "shots = 9223372036854775807"),
    ["huge_shots.toml", "[[variants]] 'zero-shot' prompt shots", "between 0 and 100,000"],
)
experiment(
    "negative_reserve_output",
    sub("shots = 0", "shots = 0, reserve_output = -3"),
    ["negative_reserve_output.toml", "prompt reserve_output", "between 1 and 1,000,000"],
)
experiment(
    "nan_trainer_option",
    BASE + '\n[[variants]]\nname = "lora"\ntrainer = { name = "local-lora", dropout = nan }\n',
    ["nan_trainer_option.toml", "trainer dropout", "must be a finite number, got nan"],
)
experiment(
    "huge_window",
    sub('loader = "csv"\npath = "quotes.csv"\ninput = "text"\nexpected = "topic"\nid = "id"',
        'loader = "timeseries"\npath = "quotes.csv"\nvalue = "id"\nwindow = 9223372036854775807'),
    ["huge_window.toml", "[data] window", "between 2 and 100,000"],
)
experiment(
    "labels_not_strings",
    BASE + '\n[scoring]\nscorers = [{ name = "accuracy", labels = ["love", 3] }]\n',
    ["labels_not_strings.toml", "labels", "must be a list of str, got 3 in it"],
)
experiment(
    "empty_delimiter",
    sub('id = "id"', 'id = "id"\ndelimiter = ""'),
    ["empty_delimiter.toml", "[data] delimiter", "must be one character"],
)
experiment(
    "two_character_delimiter",
    sub('id = "id"', 'id = "id"\ndelimiter = ";;"'),
    ["two_character_delimiter.toml", "[data] delimiter", "must be one character", "';;'"],
)
for flag, value, says in (("--rpm", "nan", "not a finite number"), ("--max-cost", "inf", "not in the range"),
                          ("--concurrency", "9223372036854775807", "not in the range 1<=x<=1024"),
                          ("--tpm", "0", "not in the range"), ("--max-attempts", "0", "not in the range")):
    name = f"flag_{flag.strip('-').replace('-', '_')}_{value}"
    experiment(name, BASE, [flag, says, "ftplug run --help"], args=["run", f"{name}.toml", flag, value])
experiment("flag_shard_huge", BASE, ["--shard", "N ≤ 10,000"],
           args=["run", "flag_shard_huge.toml", "--shard", "9223372036854775807/9223372036854775808"])

experiment(
    "sweep_bad_key",
    BASE + '\n[[variants]]\nname = "s"\nsweep = { "data.path" = ["a.csv"] }\n',
    ["sweep_bad_key.toml", "sweep data.path", "keys are"],
)
experiment(
    "sweep_empty_list",
    BASE + '\n[[variants]]\nname = "s"\nsweep = { shots = [] }\n',
    ["sweep_empty_list.toml", "sweep shots", "non-empty list"],
)
experiment(
    "bad_train_size",
    BASE + '\n[[variants]]\nname = "t"\ntrainer = "majority"\ntrain_size = -5\n',
    ["bad_train_size.toml", "train_size", "count of rows"],
)
experiment(
    "bad_endpoint_url",
    BASE + '\n[[variants]]\nname = "e"\nendpoint = { base_url = "localhost:8000" }\n',
    ["bad_endpoint_url.toml", "endpoint base_url", "http(s) URL"],
)
experiment(
    "template_without_input",
    sub('system = "Topic?"', 'system = "Topic?", template = "Classify this."'),
    ["template_without_input.toml", "prompt", "must contain {input}"],
)
experiment(
    "bad_reduce_step",
    sub('system = "Topic?"', 'system = "Topic?", reduce = "shrink:3"'),
    ["bad_reduce_step.toml", "prompt", "reduce step 'shrink:3'"],
)
experiment(
    "unknown_catalogue",
    sub('base = "gpt-4o-mini-2024-07-18"', 'base = "gpt-4o-mini-2024-07-18"\ncatalogue = "prices.toml"'),
    ["prices.toml", "no such catalogue file"],
)
experiment(
    "not_utf8_experiment",
    BASE.replace("Topic?", "Topic\xe9?").encode("latin-1"),
    ["not_utf8_experiment.toml:21:", "not UTF-8"],
)
cases.append(
    {
        "name": "missing_experiment_file",
        "args": ["run", "no-such-experiment.toml"],
        "expect": ["no-such-experiment.toml", "no such file"],
    }
)
ts = sub(
    'loader = "csv"\npath = "quotes.csv"\ninput = "text"\nexpected = "topic"\nid = "id"',
    'loader = "timeseries"\npath = "rates.csv"\ndate = "date"\nwindow = 5',
)
rates = "date,dm\n" + "\n".join(f"1980-01-{d:02d},0.58{d:02d}" for d in range(1, 29)) + "\n"
(OUT / "rates.csv").write_text(rates, encoding="utf-8")
experiment(
    "random_split_for_time_series",
    sub("[split]\n", '[split]\nmethod = "random"\n', ts),
    ["random_split_for_time_series.toml", "[split] method", "random split would let test data leak"],
)
experiment(
    "window_too_small",
    sub("window = 5", "window = 1", ts),
    ["window_too_small.toml", "[data]", "window: must be between 2 and 100,000"],
)
experiment(
    "unknown_split_method",
    sub("[split]\n", '[split]\nmethod = "shuffled"\n'),
    ["unknown_split_method.toml", "[split] method", "must be one of random, chronological"],
)

# ---- datasets ----
dataset("empty.csv", "", [":1:", "empty file: a header row is required"])
dataset("header_only.csv", header + "\n", ["the dataset has no examples"])
dataset(
    "ragged.csv", header + "\n" + first + "\nq-ragged,only two fields\n", [":3:", "row has 2 fields, the header has 3"]
)
dataset(
    "semicolons.csv",
    "\n".join(r.replace(",", ";", 2) for r in rows[:6]) + "\n",
    [":1:", "no column 'text'", "delimiter"],
)
dataset(
    "latin1.csv", (header + "\n" + first + "\nq-latin,Caf\xe9 au lait,food\n").encode("latin-1"), [":3:", "not UTF-8"]
)
dataset("long_line.csv", header + "\n" + first + '\nq-long,"' + "x" * 300_000 + '",food\n', [":3:", "longer than"])
dataset("duplicate_ids.csv", header + "\n" + first + "\n" + first + "\n", [":3:", "duplicate example id"])
dataset(
    "missing_expected.csv",
    header + "\n" + first + "\nq-none,a quotation without its topic,\n",
    [":3:", "empty 'topic' value"],
)
dataset(
    "quoted_newline.csv",
    header + "\n" + first + '\nq-open,"an unclosed quotation,food\n',
    ["quoted_newline.csv", "unclosed quote"],
)
good = [{"id": f"j{i}", "input": f"quotation {i}", "expected": "law"} for i in range(12)]
lines = [json.dumps(g) for g in good]
dataset(
    "bad_line_middle.jsonl",
    "\n".join([*lines[:5], '{"id": "j-bad", "input": "unfinished', *lines[5:]]) + "\n",
    [":6:", "invalid JSON"],
    loader="jsonl",
)
dataset(
    "duplicate_ids.jsonl", "\n".join([*lines, lines[0]]) + "\n", [":13:", "duplicate example id 'j0'"], loader="jsonl"
)
dataset(
    "missing_expected.jsonl",
    "\n".join([*lines[:3], '{"id": "j-x", "input": "no answer"}', *lines[3:]]) + "\n",
    [":4:", "expected"],
    loader="jsonl",
)
dataset(
    "not_an_object.jsonl",
    "\n".join([*lines[:2], '["a", "list"]', *lines[2:]]) + "\n",
    [":3:", "JSON object"],
    loader="jsonl",
)
dataset("empty.jsonl", "", ["the dataset has no examples"], loader="jsonl")
dataset(
    "latin1.jsonl",
    ("\n".join(lines[:2]) + '\n{"id": "j-l", "input": "Caf\xe9", "expected": "food"}\n').encode("latin-1"),
    [":3:", "not UTF-8"],
    loader="jsonl",
)
(OUT / "rates_text.csv").write_text(rates.replace("1980-01-07,0.5807", "1980-01-07,n/a"), encoding="utf-8")
experiment(
    "data_rates_text",
    sub('path = "rates.csv"', 'path = "rates_text.csv"', ts),
    ["rates_text.csv:8:", "'n/a' is not a number"],
)
experiment("data_rates_missing_column", sub('date = "date"', 'date = "day"', ts), ["rates.csv", "no column 'day'"])
(OUT / "not_parquet.parquet").write_text("this is not a parquet file\n", encoding="utf-8")
experiment(
    "data_not_parquet",
    sub('path = "rates.csv"', 'path = "not_parquet.parquet"', ts),
    ["not_parquet.parquet", "cannot read as Parquet"],
)


# ---- fine-tuning files ----
def finetune(name, content, expect):
    (OUT / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    cases.append({"name": f"finetune_{Path(name).stem}", "args": ["data", "validate", name], "expect": [name, *expect]})


def convo(q: str, a: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})


ok = [convo(f"quotation {i}", "law") for i in range(12)]
finetune("ft_not_json.jsonl", "\n".join([*ok[:4], "{not json", *ok[4:]]) + "\n", ["line 5", "not valid JSON"])
finetune(
    "ft_no_assistant.jsonl",
    "\n".join([*ok[:2], json.dumps({"messages": [{"role": "user", "content": "hi"}]}), *ok[2:]]) + "\n",
    ["line 3", "no assistant message"],
)
finetune("ft_empty.jsonl", "", ["at least 10"])
finetune(
    "ft_bad_role.jsonl",
    "\n".join(
        [json.dumps({"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "x"}]}), *ok]
    )
    + "\n",
    ["line 1", "role"],
)
finetune(
    "ft_latin1.jsonl",
    (
        "\n".join(ok)
        + '\n{"messages": [{"role": "user", "content": "Caf\xe9"}, {"role": "assistant", "content": "food"}]}\n'
    ).encode("latin-1"),
    ["line 13", "UTF-8"],
)
cases.append(
    {
        "name": "finetune_missing_file",
        "args": ["data", "validate", "no-such-training.jsonl"],
        "expect": ["no-such-training.jsonl", "no such file"],
    }
)

manifest = [
    "# Every bad input of this folder: the command that reads it and what its one-line error must say.",
    "# Generated together with the files; tests/cli/test_bad_inputs.py runs them all.",
    "",
]
for case in cases:
    manifest += [
        "[[case]]",
        f"name = {json.dumps(case['name'])}",
        f"args = {json.dumps(case['args'])}",
        f"expect = {json.dumps(case['expect'], ensure_ascii=False)}",
        "",
    ]
(OUT / "cases.toml").write_text("\n".join(manifest), encoding="utf-8")
print(len(cases), "cases")
