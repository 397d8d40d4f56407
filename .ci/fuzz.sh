#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a short, bounded time, starting
# from the checked-in seed corpus. Works on the stable toolchain: no
# sanitizer (`-s none`), libFuzzer only. Debug assertions are on (`-a`) so
# that arithmetic overflow in the core is caught too.
#
# Usage: .ci/fuzz.sh [seconds per target]   (default 30; env FUZZ_SECONDS)
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-30}}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=(decode state_machine custom_header)
summary=()
for target in "${targets[@]}"; do
    # New inputs go to a scratch folder (first corpus argument), so the
    # checked-in seeds (read-only second argument) stay as they are.
    scratch="fuzz/target/corpus/${target}"
    mkdir -p "$scratch"
    log="fuzz/target/fuzz-${target}.log"
    echo "== fuzzing ${target} for ${seconds}s"
    if ! cargo fuzz run -s none -a "$target" "$scratch" "fuzz/corpus/${target}" \
        -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target ${target} failed; the crashing input is in fuzz/artifacts/${target}/" >&2
        echo "reproduce: cargo fuzz run -s none -a ${target} fuzz/artifacts/${target}/<file>" >&2
        exit 1
    fi
    done_line="$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)"
    echo "${target}: ${done_line}"
    summary+=("${target}: ${done_line}")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
