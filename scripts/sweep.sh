#!/usr/bin/env bash
# Runs a list of presets (configs/paper/lists/*.txt: one job per line, each line one or more
# "COMMAND PRESET" pairs joined by " && ") and then writes the report of everything under the log folder.
#
#   scripts/sweep.sh configs/paper/lists/readme.txt                      # locally, one job after another
#   scripts/sweep.sh configs/paper/lists/diagnosis-zs.txt -- --device cuda --limit 100
#   scripts/sweep.sh --slurm configs/paper/lists/vqa.txt -- --device cuda # a Slurm array, one task per line,
#                                                                        # then a report job after it
#   scripts/sweep.sh --slurm --dry-run configs/paper/lists/all.txt       # print the sbatch commands only
#
# Flags after "--" are added to every command (they override the presets' values). Environment: MVB (the
# medvlmbench binary, default build/medvlmbench), LOG_DIR (the folder reported on, default ./log: the
# presets' --exp_path/--output_dir), SBATCH_ARGS (extra sbatch options, e.g. "--partition=gpu --gres=gpu:1").
# Local runs carry on past a failed job and list the failures at the end (exit 1 when any failed).
# One array task runs one whole preset line; to split one large evaluation over GPUs use
# scripts/slurm/submit_sharded_eval.sh (array shards + a dependent `medvlmbench merge`).
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

SLURM=0 DRY=0 TASK_LINE=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --slurm) SLURM=1; shift ;;
    --dry-run) DRY=1; shift ;;
    --task-line) TASK_LINE="$2"; shift 2 ;;  # internal: the array task runs line N of the list
    -h|--help) usage 0 ;;
    --) break ;;
    -*) echo "error: unknown option $1" >&2; usage ;;
    *) [[ -z "${LIST:-}" ]] || { echo "error: one preset list at a time" >&2; exit 2; }; LIST="$1"; shift ;;
  esac
done
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
[[ -n "${LIST:-}" ]] || { echo "error: give a preset list, e.g. configs/paper/lists/readme.txt" >&2; usage; }
[[ -f "$LIST" ]] || { echo "error: preset list $LIST does not exist; see configs/paper/lists/" >&2; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MVB=${MVB:-$HERE/build/medvlmbench}
LOG_DIR=${LOG_DIR:-./log}
[[ -x "$MVB" ]] || { echo "error: $MVB is not built; run scripts/setup.sh or set MVB=/path/to/medvlmbench" >&2; exit 2; }

# The job lines of the list: no comments, no blank lines.
mapfile -t JOBS < <(grep -v '^[[:space:]]*\(#\|$\)' "$LIST")
[[ ${#JOBS[@]} -gt 0 ]] || { echo "error: $LIST lists no preset" >&2; exit 2; }

# Runs one list line: each "COMMAND PRESET" pair in order, stopping at the first failure.
run_line() {
  local line="$1" part cmd preset
  IFS=$'\n' read -r -d '' -a parts < <(sed 's/ && /\n/g' <<<"$line" && printf '\0')
  for part in "${parts[@]}"; do
    read -r cmd preset <<<"$part"
    [[ "$cmd" == eval || "$cmd" == train ]] || { echo "error: $LIST: '$part' must start with eval or train" >&2; return 2; }
    [[ -f "$preset" ]] || { echo "error: $LIST: preset $preset does not exist" >&2; return 2; }
    echo "+ $MVB $cmd --config $preset ${EXTRA[*]:-}" >&2
    "$MVB" "$cmd" --config "$preset" "${EXTRA[@]}" || return $?
  done
}

if [[ -n "$TASK_LINE" ]]; then  # inside a Slurm array task
  # The array's tasks are different presets, not shards of one evaluation: medvlmbench would otherwise
  # take its --shard from SLURM_ARRAY_TASK_ID/COUNT (docs/scale-out.md).
  export MVB_SLURM_SHARD=0
  run_line "${JOBS[$TASK_LINE]}"
  exit $?
fi

if [[ $SLURM == 1 ]]; then
  n=${#JOBS[@]}
  array_cmd=(sbatch --parsable --job-name=mvb-sweep --array="0-$((n - 1))" --output="logs/%x-%A_%a.out"
             ${SBATCH_ARGS:-} --wrap "MVB=$(printf '%q' "$MVB") $(printf '%q' "$HERE/scripts/sweep.sh") --task-line \"\$SLURM_ARRAY_TASK_ID\" $(printf '%q ' "$LIST" -- "${EXTRA[@]}")")
  report_cmd=(sbatch --parsable --job-name=mvb-report --output="logs/%x-%j.out" ${SBATCH_ARGS:-}
              --wrap "$(printf '%q ' "$MVB" report "$LOG_DIR")")
  if [[ $DRY == 1 ]]; then
    printf '%q ' "${array_cmd[@]}"; echo
    printf '%q ' "${report_cmd[@]:0:2}" --dependency=afterany:JOBID "${report_cmd[@]:2}"; echo
    exit 0
  fi
  command -v sbatch >/dev/null || { echo "error: sbatch not found; run without --slurm to sweep locally" >&2; exit 2; }
  mkdir -p logs
  job=$("${array_cmd[@]}")
  report_job=$("${report_cmd[@]:0:2}" --dependency="afterany:${job%%;*}" "${report_cmd[@]:2}")
  echo "submitted array $job ($n tasks) and report job $report_job (after it): $LOG_DIR/report.html"
  exit 0
fi

failed=()
for i in "${!JOBS[@]}"; do
  echo "[$((i + 1))/${#JOBS[@]}] ${JOBS[$i]}" >&2
  run_line "${JOBS[$i]}" || failed+=("${JOBS[$i]}")
done
if [[ -d "$LOG_DIR" ]]; then
  "$MVB" report "$LOG_DIR"
else
  echo "no $LOG_DIR folder: no run finished, so no report" >&2
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "${#failed[@]} of ${#JOBS[@]} jobs failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
