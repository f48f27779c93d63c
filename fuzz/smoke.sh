#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints the executions of each.
#
#   fuzz/smoke.sh [SECONDS]        # SECONDS per target; default $FUZZ_SECONDS or 60
#
# Environment:
#   FUZZ_SECONDS    seconds per target when no argument is given (default 60)
#   FUZZ_TARGETS    targets to run (default: "json ops rest")
#   FUZZ_TOOLCHAIN  "nightly" or "stable"; default: nightly when rustup has it, else stable with
#                   RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly flags; stable accepts them so)
#   FUZZ_SANITIZER  cargo-fuzz sanitizer (default "none": the crate's unsafe code is a prefetch
#                   hint, a zeroed table allocation, the field-by-field writes of an owned Ip
#                   (timestamps as words, dates as bits) and the record slab's shortening past
#                   its released slots, all small, and without AddressSanitizer a target runs
#                   several times faster)
#
# New inputs go to a temporary corpus: the checked-in one (fuzz/corpus/<target>/) is only read.
# A failing input is saved under fuzz/artifacts/<target>/; the script then tells how to replay
# it, runs the remaining targets, and exits with status 1.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-${FUZZ_SECONDS:-60}}"
targets="${FUZZ_TARGETS:-json ops rest}"
sanitizer="${FUZZ_SANITIZER:-none}"

if ! command -v cargo >/dev/null 2>&1; then
  # shellcheck disable=SC1091
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi

toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly'; then
    toolchain=nightly
  else
    toolchain=stable
  fi
fi
case "$toolchain" in
  nightly) fuzz=(cargo +nightly fuzz) ;;
  stable)
    export RUSTC_BOOTSTRAP=1
    if command -v rustup >/dev/null 2>&1; then fuzz=(cargo +stable fuzz); else fuzz=(cargo fuzz); fi
    ;;
  *) echo "FUZZ_TOOLCHAIN must be nightly or stable, not $toolchain" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== building the targets ($toolchain toolchain, sanitizer $sanitizer)"
"${fuzz[@]}" build --sanitizer "$sanitizer"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
summary=()
for target in $targets; do
  echo "== fuzzing $target for ${seconds}s"
  mkdir -p "$work/$target"
  log="$work/$target.log"
  status=ok
  # The first corpus directory receives new inputs; the checked-in one is only read.
  if ! "${fuzz[@]}" run --sanitizer "$sanitizer" "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=20 -print_final_stats=1 >"$log" 2>&1; then
    status=FAILED
    failed+=("$target")
    # The panic message (the backtrace after it is left out), then libFuzzer's verdict.
    sed -n '/panicked at/,/^stack backtrace:/p' "$log" | head -n 40
    grep -E '==[0-9]+== ERROR|Test unit written' "$log" || tail -n 30 "$log"
    mkdir -p "artifacts/$target"
    cp "$log" "artifacts/$target/smoke.log"
    echo "-- full log: fuzz/artifacts/$target/smoke.log"
    artifact="$(grep -o 'artifacts/[^ ]*' "$log" | tail -n 1 || true)"
    if [ -n "$artifact" ]; then
      echo "-- replay it (FUZZ_TRACE=1 prints every step):"
      echo "   (cd fuzz && ${fuzz[*]} run --sanitizer $sanitizer $target $artifact)"
    fi
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  if [ -z "$execs" ]; then
    execs="$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')"
  fi
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  summary+=("$(printf '%-6s %-7s %10s executions %8s exec/s' "$target" "$status" "${execs:-0}" "${rate:-?}")")
done

echo "== fuzz smoke: ${seconds}s per target, $toolchain toolchain"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failing targets: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
