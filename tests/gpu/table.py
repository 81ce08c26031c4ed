"""Prints the device check's results (the JSON Lines of tests/gpu/device.sh) as one Markdown table beside PyTorch nanoVLM's
figures from issue 11 (H200, 222M model, random weights, seq 128, eager; bf16 = autocast)."""
import json
import os
import sys

results, device = sys.argv[1], sys.argv[2]
PYTORCH = {} if device != "cuda" else {
    ("train", "fp32", 8): "0.115 s", ("train", "fp32", 32): "0.210 s",
    ("train", "bf16", 8): "0.110 s", ("train", "bf16", 32): "0.133 s", ("train", "bf16", 128): "0.199 s",
    ("decode", "fp32", 1): "54.5 tokens/s", ("decode", "bf16", 1): "27 tokens/s",
}


def rows(name):
    path = os.path.join(results, name + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


table = []
for dtype in ("fp32", "bf16"):
    checks = [r for r in rows("check") if r["dtype"] == dtype]
    if checks:
        failed = [r["check"] for r in checks if not r["passed"]]
        worst = ", ".join(f'{r["check"].split(": ")[1]} {r["error"]:.2g}' for r in checks if not r["check"].startswith("generate"))
        result = f'{len(checks) - len(failed)}/{len(checks)} within tolerance ({worst})' + (f'; FAILED: {", ".join(failed)}' if failed else "")
        table.append((f"golden case on {device}, {dtype}: forward, backward, greedy ids", result, "(reference values)"))
for r in rows("train"):
    key = ("train", r["dtype"], r["batch_size"])
    table.append((f'train step, {r["dtype"]}, batch {r["batch_size"]}, seq {r["seq_len"]}',
                  f'{r["step_s"]:.3f} s ({r["samples_per_s"]:.0f} samples/s, MFU {100 * r["mfu"]:.0f}%)', PYTORCH.get(key, "")))
for r in rows("generate"):
    key = ("decode", r["dtype"], r["batch_size"])
    table.append((f'greedy decode, {r["dtype"]} weights, batch {r["batch_size"]}, KV cache {"on" if r["kv_cache"] else "off"}',
                  f'{r["decode_tokens_per_s"]:.1f} tokens/s (first token {1000 * r["time_to_first_token_s"]:.0f} ms, '
                  f'{100 * r["decode_tokens_per_s"] / r["bandwidth_bound_tokens_per_s"]:.2f}% of the bandwidth bound)', PYTORCH.get(key, "")))
for r in rows("memory"):
    value = "out of memory" if r["oom"] else f'{r["peak_bytes"] / 2**20:,.0f} MiB (model {r["model_bytes"] / 2**20:,.0f} MiB)'
    table.append((f'peak memory of training, {r["dtype"]}, batch {r["batch_size"]} ({"GPU, NVML" if device == "cuda" else "RSS"})', value, ""))

print(f"| {device}: measurement | NanoVLM.NET | PyTorch nanoVLM (issue 11, H200) |")
print("| --- | --- | --- |")
for name, ours, theirs in table:
    print(f"| {name} | {ours} | {theirs} |")
