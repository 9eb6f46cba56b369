# tests/fuzz/targets.sh: the fuzz targets and how each is run, shared by
# run.sh (make fuzz) and smoke.sh (make test). Sourced, not run.
#   FUZZ_TARGETS       the targets, in the order they run
#   fuzz_max_len T     the longest input worth trying (a little more than the
#                      protocol's longest line, so too-long lines are tried)
#   fuzz_seed_dirs FB T  the read-only corpus folders of T: the committed seeds
#                      and, for cert, the ones make-cert-seeds.sh made in FB
#   fuzz_exe FB T      the target's program
#   fuzz_findings DIR  the crash, leak, timeout and out-of-memory files in DIR

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FUZZ_TARGETS=(smtp pop3 imap http sasl cert csr settings)

fuzz_max_len() {
  case $1 in
    smtp) echo 4096 ;;      # lines up to 1000 bytes
    pop3) echo 4096 ;;      # lines up to 2560 bytes
    imap) echo 12288 ;;     # lines and commands up to 8192 bytes
    http) echo 12288 ;;     # lines up to 8192 bytes
    sasl) echo 2048 ;;      # a PLAIN response of the longest user and password
    cert) echo 8192 ;;      # a PEM chain with its key, a PKCS#12 file
    csr) echo 2048 ;;       # fields are at most 1024 bytes
    settings) echo 1100 ;;  # paths and cipher lists up to 1023 bytes
    *) echo 4096 ;;
  esac
}

fuzz_seed_dirs() {
  echo "$FUZZ_DIR/corpus/$2"
  [ "$2" = cert ] && echo "$1/seeds/cert"
  return 0
}

fuzz_exe() { echo "$1/tests/fuzz/fuzz-$2"; }

fuzz_findings() {
  [ -d "$1" ] || return 0
  find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) "${@:2}" | sort
}

# The sanitizers' settings for a fuzz run: every report stops the target.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
