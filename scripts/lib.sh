# Shared by scripts/*.sh: install what is missing, configure, build.
# Sourced, not run.

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages sluice builds and tests with. Why each one:
#   g++, cmake, ninja-build, pkg-config   the toolchain
#   librocksdb-dev, liblz4-dev, libzstd-dev   the commit log and its compression
#   libprotobuf-dev, protobuf-compiler    record and wire formats (protobuf-lite)
#   libuv1-dev                            the consumer and HA network servers
#   libgtest-dev, libgmock-dev            tests
#   libcli11-dev                          the command lines of sluice and sluiced
#   libtomlplusplus-dev                   the TOML config of sluiced
#   libspdlog-dev, libfmt-dev             logs
#   libmariadb-dev, zlib1g-dev            the replication client (Connector/C); binlog CRC32
#   mariadb-server, mariadb-client        the throwaway servers of tests and benchmarks;
#                                         mariadb-binlog, the decoder's oracle and peer
#   clang, libclang-rt-14-dev             libFuzzer builds of the decoders; the
#                                         thread-safety analysis (scripts/thread_safety.sh)
#   clang-format                          test.sh's format check (.clang-format)
#   clang-tidy                            test.sh's lint (.clang-tidy, scripts/clang_tidy.sh)
#   redis-server, libhiredis-dev          fetch_bench's peer: Redis Streams read by a hiredis client
#   jq                                    scripts/failover.sh reads `sluice status --json`
#   curl                                  quickstart.sh shows the admin pages
#   iperf3                                ha_bench's baseline: TCP bandwidth on 127.0.0.1
#   kcat, python3-confluent-kafka,        the Kafka port's real clients (kafka_clients_test);
#   python3-kafka, librdkafka-dev         librdkafka is kafka_fetch_bench's consumer too
#   nodejs, npm (only when no node/npm)   kafkajs (npm) in kafka_clients_test, zongji in ingest_bench
SLUICE_PACKAGES=(g++ cmake ninja-build pkg-config git
  librocksdb-dev liblz4-dev libzstd-dev libprotobuf-dev protobuf-compiler libuv1-dev
  libgtest-dev libgmock-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libmariadb-dev zlib1g-dev mariadb-server mariadb-client clang libclang-rt-14-dev clang-format
  clang-tidy
  redis-server libhiredis-dev jq curl iperf3
  kcat librdkafka-dev python3-confluent-kafka python3-kafka)

sluice_log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Installs the packages that are not installed yet; does nothing when all are.
sluice_install() {
  local missing=()
  # Node.js may come from elsewhere (NodeSource); Debian's only when absent.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
  for p in "${SLUICE_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    sluice_log "packages: all ${#SLUICE_PACKAGES[@]} present"
    return 0
  fi
  sluice_log "installing with apt-get: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# sluice_build DIR [cmake args...] [-- build args...]: configure once, then
# build incrementally (everything, or what the build args name).
sluice_build() {
  local dir="$1"; shift
  local conf=() build=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do conf+=("$1"); shift; done
  [ $# -gt 0 ] && shift && build=("$@")
  if [ ! -f "$dir/build.ninja" ]; then
    # Our CI treats warnings as errors; a user's build does not.
    [ -n "${CI:-}" ] && conf+=(-DSLUICE_WERROR=ON)
    sluice_log "configuring $dir ${conf[*]}"
    cmake -S "$SLUICE_ROOT" -B "$dir" -G Ninja "${conf[@]}" >/dev/null
  fi
  sluice_log "building $dir"
  cmake --build "$dir" -j2 "${build[@]}"
}
