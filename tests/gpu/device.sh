#!/usr/bin/env bash
# The device check, run ON the lent GPU machine (no .NET, no internet; python3 with a CUDA PyTorch) from the
# repository root, with the bundle that tests/gpu/run built here carried along:
#   bash tests/gpu/device.sh [--cpu] [BUNDLE]        (BUNDLE default: .cache/gpu-bundle)
# It unpacks the .NET runtime and the app, loads PyTorch's libtorch through LD_LIBRARY_PATH, then runs the golden case
# on the GPU in fp32 and bf16 (bench check), bench train at batch 8/32/128, bench generate and bench memory, and prints
# one table beside the PyTorch figures of issue 11. Results (JSON Lines, the table) go to $OUT when set.
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

python3 "$root/tests/gpu/table.py" "$results" "$device" | tee "$results/table.md"
if [ ${#failed[@]} -gt 0 ]; then die "failed: ${failed[*]}"; fi
say "all steps passed"
