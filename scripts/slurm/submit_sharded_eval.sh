#!/usr/bin/env bash
# Submits one sharded evaluation: an array of N eval tasks (eval.sbatch, one shard each) and a merge
# job (merge.sbatch) that starts when every task has succeeded. Both write under $EXP_PATH (default
# ./log, exported to the jobs). If a task fails or hits its time limit the merge is cancelled by
# Slurm; submit the same command again: finished rows are kept (--resume) and the merge follows.
#
#   EXP_PATH=./log bash scripts/slurm/submit_sharded_eval.sh 4 configs/demo.yaml [extra eval flags]
set -euo pipefail
N=${1:?usage: submit_sharded_eval.sh NUM_SHARDS CONFIG [extra eval flags]}
CONFIG=${2:?usage: submit_sharded_eval.sh NUM_SHARDS CONFIG [extra eval flags]}
shift 2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export EXP_PATH=${EXP_PATH:-./log}
mkdir -p logs
ARRAY=$(sbatch --parsable --export=ALL --array=0-$((N - 1)) "$HERE/eval.sbatch" "$CONFIG" "$@")
MERGE=$(sbatch --parsable --export=ALL --dependency=afterok:"${ARRAY%%;*}" --kill-on-invalid-dep=yes \
  "$HERE/merge.sbatch" "$N")
echo "eval array ${ARRAY%%;*} (${N} shards) -> merge job ${MERGE%%;*}; outputs under $EXP_PATH"
