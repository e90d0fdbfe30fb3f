#!/bin/sh
# Build (once per flag set) and install llama-cpp-python, the LLM judge's in-process backend.
#
# Why this exists: llama-cpp-python ships only an sdist, so pip compiles llama.cpp on the machine
# that installs it, by default with GGML_NATIVE (-march=native). A wheel built on a machine with
# AVX-512/AMX then lands, through pip's wheel cache, on machines whose CPU differs. Worse, on a CPU
# with AMX the native build enables ggml's AMX kernels, whose tile configuration GCC (12 here)
# compiles away: `_tile_loadconfig` declares an 8-byte input, so the stores of the tile shapes are
# dead to the optimiser and LDTILECFG loads an all-zero shape; the first prompt of more than one
# token (the AMX path; one token takes the AVX512-VNNI path) crashes. See docs/llm-judge.md.
#
# So: a portable x86-64-v3 build (AVX2, FMA, F16C, BMI2; no AVX-512, no AMX), built with pip's cache
# off, kept in our own cache under a key made of the version, the CMake flags, the compiler and the
# Python tag. Changing a flag changes the key and forces a rebuild; pip's cache is never consulted.
set -eu

PY=${1:?usage: llama-wheel.sh PYTHON}
VERSION=${LLAMA_CPP_VERSION:-0.3.36}
CACHE=${WARDEN_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warden/wheels}
if [ "$(uname -m)" = x86_64 ]; then
  FLAGS=${LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"}
else
  # Other architectures: no native tuning either; ggml's defaults for the target.
  FLAGS=${LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"}
fi
TAG=$("$PY" -c 'import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())')
COMPILER=$( (${CXX:-c++} --version 2>/dev/null || echo none) | head -n 1)
KEY=$(printf '%s\n' "$VERSION" "$FLAGS" "$COMPILER" "$TAG" | sha256sum | cut -c1-16)
DIR="$CACHE/llama-cpp-python-$VERSION-$KEY"

if ! ls "$DIR"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION (portable: $FLAGS); about 6 min on 2 cores, once per flag set"
  mkdir -p "$DIR.tmp"
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$PY" -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
    -w "$DIR.tmp" "llama-cpp-python==$VERSION"
  printf '%s\n' "$FLAGS" >"$DIR.tmp/CMAKE_ARGS"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
fi
# --force-reinstall --no-deps: replace whatever build the venv had (a native one from pip's cache);
# the extra's dependencies come with `pip install -e .[llm]` afterwards.
"$PY" -m pip install --quiet --no-deps --force-reinstall "$DIR"/llama_cpp_python-*.whl
