#!/usr/bin/env python3
"""Reference expectations for vitcl's JSON and .npy readers on inputs where a C reader could
diverge from Python: repeated keys, data after the top-level value, escaped NULs, repeated .npy
header keys. Each case is read by the reference (Python's json module, which transformers uses
for config.json and preprocessor_config.json; numpy.load for .npy) and what it made of the input
is recorded; tests/hardening/test_reference_parsers.c then requires vitcl to read the same
values or to refuse the input, never to accept it and read something else.

Writes tests/hardening/data/parsers/{json_cases.json, npy/*.npy, npy_cases.json, VERSIONS.txt}.
Run with the pinned tool venv:  /opt/vitcl-tools/bin/python tools/make_parser_expectations.py
"""
import json
import os
import platform
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "hardening",
                    "data", "parsers")

CONFIG_BASE = ('"model_type": "vit_msn", "hidden_size": 48, "num_attention_heads": 3, '
               '"num_hidden_layers": 2, "intermediate_size": 192, "image_size": 64, '
               '"patch_size": 16')

# (name, kind, text). kind: "config" (vitcl_config_parse) or "preprocessor"
# (vitcl_preprocessor_parse_config).
JSON_CASES = [
    ("config_plain", "config", "{" + CONFIG_BASE + "}"),
    ("config_dup_hidden_size", "config", "{" + CONFIG_BASE + ', "hidden_size": 96}'),
    ("config_dup_three_times", "config",
     '{"hidden_size": 12, ' + CONFIG_BASE + ', "hidden_size": 24, "hidden_size": 96}'),
    ("config_dup_model_type", "config", "{" + CONFIG_BASE + ', "model_type": "vit"}'),
    ("config_dup_eps_and_heads", "config",
     "{" + CONFIG_BASE + ', "layer_norm_eps": 0.5, "num_attention_heads": 6, '
     '"layer_norm_eps": 1e-3}'),
    ("config_dup_unsupported_last", "config",
     "{" + CONFIG_BASE + ', "hidden_act": "gelu", "hidden_act": "relu"}'),
    ("config_dup_nested_id2label", "config",
     "{" + CONFIG_BASE + ', "id2label": {"0": "a", "1": "b", "0": "c"}}'),
    ("config_trailing_object", "config", "{" + CONFIG_BASE + "} {}"),
    ("config_trailing_garbage", "config", "{" + CONFIG_BASE + "}x"),
    ("config_trailing_whitespace", "config", "{" + CONFIG_BASE + "} \n\t\r "),
    ("config_two_documents", "config", "{" + CONFIG_BASE + "}\n{" + CONFIG_BASE + "}"),
    ("config_escaped_nul_model_type", "config",
     '{"model_type": "vit\\u0000x", "hidden_size": 48, "num_attention_heads": 3}'),
    ("config_escaped_nul_key", "config", "{" + CONFIG_BASE + ', "hidden_size\\u0000": 96}'),
    ("preprocessor_plain", "preprocessor",
     '{"do_resize": true, "size": {"height": 64, "width": 64}, "image_mean": [0.5, 0.5, 0.5]}'),
    ("preprocessor_dup_size", "preprocessor",
     '{"size": {"height": 64, "width": 64}, "size": {"shortest_edge": 32}}'),
    ("preprocessor_dup_inner_height", "preprocessor",
     '{"size": {"height": 64, "width": 48, "height": 80}}'),
    ("preprocessor_dup_mean_std", "preprocessor",
     '{"image_mean": [0.1, 0.2, 0.3], "image_std": [1, 1, 1], "image_mean": [0.4, 0.5, 0.6], '
     '"image_std": [0.5, 0.25, 2]}'),
    ("preprocessor_dup_do_resize", "preprocessor",
     '{"do_resize": true, "size": {"height": 20, "width": 20}, "do_resize": false}'),
    ("preprocessor_dup_resample_rescale", "preprocessor",
     '{"resample": 2, "rescale_factor": 0.5, "resample": 3, "rescale_factor": 0.25}'),
    ("preprocessor_trailing", "preprocessor", '{"do_resize": false}]'),
]

CONFIG_KEYS = ["model_type", "hidden_size", "num_attention_heads", "num_hidden_layers",
               "intermediate_size", "image_size", "patch_size", "layer_norm_eps", "hidden_act"]
PRE_KEYS = ["do_resize", "size", "image_mean", "image_std", "resample", "rescale_factor"]


def json_expectations():
    out = []
    for name, kind, text in JSON_CASES:
        case = {"name": name, "kind": kind, "text": text}
        try:
            d = json.loads(text)
            keys = CONFIG_KEYS if kind == "config" else PRE_KEYS
            case["python_ok"] = True
            case["values"] = {k: d[k] for k in keys if k in d}
            if kind == "config" and isinstance(d.get("id2label"), dict):
                case["values"]["num_labels"] = len(d["id2label"])
        except json.JSONDecodeError as e:
            case["python_ok"] = False
            case["python_error"] = str(e)
        out.append(case)
    return out


def npy_bytes(header_dict_text, data):
    """A version 1.0 .npy with this exact header text (padded as numpy pads) and raw data."""
    h = header_dict_text.encode("latin1")
    total = 10 + len(h) + 1
    pad = (64 - total % 64) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def npy_cases():
    vals = np.arange(6, dtype=np.float32) * 0.5 - 1.25
    le, be = vals.astype("<f4").tobytes(), vals.astype(">f4").tobytes()
    return [
        ("plain", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le),
        ("dup_descr_be_last", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
         "'descr': '>f4'}", be),
        ("dup_descr_le_last", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), "
         "'descr': '<f4'}", le),
        ("dup_fortran_true_last", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
         "'fortran_order': True}", le),
        ("dup_fortran_false_last", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), "
         "'fortran_order': False}", le),
        ("dup_shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
         "'shape': (3, 2)}", le),
        ("dup_shape_1d", "{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False, "
         "'shape': (6,)}", le),
        ("extra_key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", le),
        ("shape_not_tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", le),
        ("double_quotes", '{"descr": "<f4", "fortran_order": False, "shape": (6,)}', le),
        ("key_order", "{'fortran_order': False, 'shape': (2, 3), 'descr': '<f4'}", le),
        ("fortran_int", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", le),
    ]


def main():
    os.makedirs(os.path.join(ROOT, "npy"), exist_ok=True)
    with open(os.path.join(ROOT, "json_cases.json"), "w") as f:
        json.dump(json_expectations(), f, indent=1)
        f.write("\n")
    cases = []
    for name, header, data in npy_cases():
        path = os.path.join(ROOT, "npy", name + ".npy")
        with open(path, "wb") as f:
            f.write(npy_bytes(header, data))
        case = {"name": name, "file": "npy/" + name + ".npy", "header": header}
        try:
            a = np.load(path, allow_pickle=False)
            case.update(numpy_ok=True, dtype=a.dtype.str, fortran=bool(
                a.flags.f_contiguous and not a.flags.c_contiguous), shape=list(a.shape),
                values_c_order=[float(v) for v in np.ascontiguousarray(a).ravel()])
        except Exception as e:  # numpy refuses: ValueError and friends
            case.update(numpy_ok=False, numpy_error=type(e).__name__ + ": " + str(e))
        cases.append(case)
    with open(os.path.join(ROOT, "npy_cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    with open(os.path.join(ROOT, "VERSIONS.txt"), "w") as f:
        f.write("python: %s\nnumpy: %s\njson: the standard library's, Python %s\n"
                "command: tools/make_parser_expectations.py\n"
                % (platform.python_version(), np.__version__, platform.python_version()))


if __name__ == "__main__":
    sys.exit(main())
