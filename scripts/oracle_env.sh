#!/usr/bin/env bash
# Installs the pinned PyPI oracle environment (tests/oracles/requirements.txt: torch 2.x, transformers,
# open_clip, timm, PEFT, bert_score, tokenizers, pyarrow ...) into the git-ignored virtual environment
# .venv. Fixture generators and the tests that call a live oracle use it; the LibTorch 2.x build uses
# the LibTorch inside its torch wheel. Idempotent: skipped while .venv matches the requirements file.
#
#   bash scripts/oracle_env.sh               # create or update .venv
#   MVB_VENV=/path/venv bash scripts/oracle_env.sh
#   MVB_PYTHON=python3.11 bash scripts/oracle_env.sh   # interpreter the venv is made from
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MVB_VENV:-.venv}
REQ=tests/oracles/requirements.txt
# Packages whose own pins are stale (they would downgrade torch or transformers) are installed with
# --no-deps from a second pinned file; their real dependencies are already in the first.
REQ_NODEPS=tests/oracles/requirements-nodeps.txt
# The reference's own transformers (4.53.1) as the tokenizer oracle: transformers 5 dropped the slow
# tokenizer classes and use_fast=False. Installed --no-deps into a folder of its own that only
# tests/oracles/text/hf_tokenizers_oracle.py puts on sys.path, so the venv's transformers 5 is untouched.
REQ_REFTOK=tests/oracles/text/requirements-reference-tokenizers.txt
STAMP="$VENV/.mvb-requirements"

# The interpreter: python3 on PATH (pyenv's on the project machines; Debian's python3 + python3-venv
# on a user's Debian 12). Both are 3.11.
PY=${MVB_PYTHON:-python3}
if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
  echo "oracle_env: $PY is missing or older than 3.10; install python3 (and python3-venv) or set MVB_PYTHON" >&2
  exit 1
fi

want=$(cat "$REQ"; for f in "$REQ_NODEPS" "$REQ_REFTOK"; do if [ -f "$f" ]; then cat "$f"; fi; done)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$want" = "$(cat "$STAMP")" ]; then
  echo "==> Oracle environment $VENV is up to date ($REQ)"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> Creating the oracle environment $VENV"
  "$PY" -m venv "$VENV" || {
    echo "oracle_env: '$PY -m venv' failed; on Debian install python3-venv (apt-get install python3-venv)" >&2
    exit 1
  }
fi
echo "==> Installing $REQ into $VENV (torch's wheel and its CUDA libraries are a few GB the first time)"
start=$(date +%s)
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ"
if [ -f "$REQ_NODEPS" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps -r "$REQ_NODEPS"
fi
if [ -f "$REQ_REFTOK" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps --upgrade \
    --target "$VENV/reference-tokenizers" -r "$REQ_REFTOK"
fi
printf '%s' "$want" > "$STAMP"
echo "==> Oracle environment ready in $(( $(date +%s) - start )) s: $VENV/bin/python"
