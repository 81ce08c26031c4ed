#!/usr/bin/env bash
# The device check, run ON the lent GPU machine (no .NET, no internet; python3 with a CUDA PyTorch) from the
# repository root, with the bundle that tests/gpu/run built here carried along:
#   bash tests/gpu/device.sh [--cpu] [BUNDLE]        (BUNDLE default: .cache/gpu-bundle)
# It unpacks the .NET runtime and the app, loads PyTorch's libtorch through LD_LIBRARY_PATH, then runs the golden case
# on the GPU in fp32 and bf16 (bench check), bench train at batch 8/32/128, bench generate and bench memory, the NCCL path
# (a communicator of one trains as one process; bench train --distributed nccl), and prints one table beside the PyTorch
# figures of issue 11. Results (JSON Lines, the table) go to $OUT when set.
# --cpu: the same steps on the CPU with the tiny preset, a smoke run for a machine without a GPU (libtorch from
# $NANOVLM_LIBTORCH or a PyTorch install).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
say() { printf '[device] %s\n' "$*" >&2; }
die() { printf '[device] error: %s\n' "$*" >&2; exit 1; }

device=cuda
if [ "${1:-}" = --cpu ]; then device=cpu; shift; fi
bundle=$(realpath -m "${1:-$root/.cache/gpu-bundle}")
for f in app.tar.xz dotnet.tar.xz golden/case.json; do
  [ -f "$bundle/$f" ] || die "$bundle/$f is missing: build the bundle with tests/gpu/run and carry it"
done

if [ -n "${NANOVLM_LIBTORCH:-}" ]; then
  torch_lib="$NANOVLM_LIBTORCH"
else
  torch_dir=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null) || die "no PyTorch found by python3 (or set NANOVLM_LIBTORCH)"
  torch_lib="$torch_dir/lib"
fi
[ -f "$torch_lib/libtorch_cpu.so" ] || die "no libtorch_cpu.so in $torch_lib"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dotnet" "$work/app"
tar -C "$work/dotnet" -xJf "$bundle/dotnet.tar.xz" || die "cannot unpack the .NET runtime"
tar -C "$work/app" -xJf "$bundle/app.tar.xz" || die "cannot unpack the app"
results="${OUT:-$work/results}"
mkdir -p "$results"

export DOTNET_ROOT="$work/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nanovlm() { "$work/dotnet/dotnet" "$work/app/NanoVlm.Cli.dll" "$@"; }

if [ "$device" = cuda ]; then
  preset=222m train=(--batch-sizes 8,32,128 --steps 5) generate=(--new-tokens 100 --repeats 3 --bandwidth-mib 2048)
  memory=(--batch-sizes 8,32,128 --steps 2)
else
  preset=tiny train=(--batch-sizes 2 --steps 1 --peak-sizes 64) generate=(--new-tokens 4 --repeats 1 --bandwidth-mib 16)
  memory=(--batch-sizes 2 --steps 1)
fi

failed=()
step() {
  local name="$1"; shift
  say "$name"
  "$@" > "$results/$name.txt" 2>&1
  local code=$?
  cat "$results/$name.txt" >&2
  [ "$code" = 0 ] || failed+=("$name (exit $code)")
}
step info nanovlm info --device
step check nanovlm bench check --device "$device" --golden "$bundle/golden" --json "$results/check.jsonl"
step train nanovlm bench train --device "$device" --preset "$preset" --dtypes fp32,bf16 "${train[@]}" --json "$results/train.jsonl"
step generate nanovlm bench generate --device "$device" --preset "$preset" --dtypes fp32,bf16 --kv-cache on "${generate[@]}" \
  --json "$results/generate.jsonl"
step memory nanovlm bench memory --device "$device" --preset "$preset" --dtype bf16 "${memory[@]}" --json "$results/memory.jsonl"

# The NCCL path on this GPU: a communicator of one (no MPI here) must train exactly as one process without it, and its
# all-reduce is timed by bench train --distributed. With several GPUs and Open MPI: mpirun -np N ... --distributed nccl.
image=$(ls "$bundle/golden"/*.png 2>/dev/null | head -n 1)
if [ "$device" = cuda ] && [ -n "$image" ]; then
  mkdir -p "$work/data"
  cp "$image" "$work/data/image.png"
  for i in $(seq 1 32); do
    printf '{"images": ["image.png"], "conversations": [{"user": "What is this?", "assistant": "%s"}]}\n' "$([ $((i % 2)) = 0 ] && echo even || echo odd)"
  done > "$work/data/data.jsonl"
  nccl_train=(train --preset tiny --tokenizer wordlevel --data "jsonl:$work/data/data.jsonl" --device cuda --max-steps 4 --batch-size 4
    --grad-accum 1 --eval-samples 0 --val-ratio 0 --packing false --seed 1 --output "$work/runs")
  step train-local nanovlm "${nccl_train[@]}" --run-name local
  step train-nccl nanovlm "${nccl_train[@]}" --run-name nccl --distributed nccl
  step nccl-same python3 - "$work/runs/local/metrics.jsonl" "$work/runs/nccl/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p) if '"train_loss"' in l] for p in sys.argv[1:3])
assert len(a) == len(b) == 4, (len(a), len(b))
for x, y in zip(a, b):
    for k in ("train_loss", "grad_norm"):
        assert abs(x[k] - y[k]) <= 1e-5 * abs(x[k]), (x["step"], k, x[k], y[k])
print("NCCL (a communicator of one) trains as one process: 4 steps, losses and gradient norms within 1e-5")
PY
  step nccl-bench nanovlm bench train --distributed nccl --device cuda --preset "$preset" --batch-sizes 8 --steps 5 --dtypes bf16 \
    --json "$results/distributed.jsonl"
fi

python3 "$root/tests/gpu/table.py" "$results" "$device" | tee "$results/table.md"
if [ ${#failed[@]} -gt 0 ]; then die "failed: ${failed[*]}"; fi
say "all steps passed"
