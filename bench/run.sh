#!/usr/bin/env bash
# Runs the standard `sluice bench` set (issue 6) against a freshly started
# `sluice serve` and writes the medians into the "## sluice bench" section of
# bench/RESULTS.md. Every run compares with librdkafka's mock cluster in the
# same invocation (--compare-mock), so each figure has its ceiling beside it.
#
#   bench/run.sh [--build DIR] [--client PATH] [--runs N] [--mock-only] [--quick] [--no-write]
#                [--rounds N] [--warm-mib N] [--cold]
#
#   --build DIR   where the sluice binary is (default: build)
#   --client PATH the binary whose `bench` runs the set (default: the same
#                 sluice; lets one client measure several broker builds)
#   --runs N      repetitions of each workload; the table holds medians (default 3)
#   --rounds N    each invocation alternates broker and mock runs N times and
#                 reports its median round and the median of the rounds' own
#                 ratios (`sluice bench --rounds`; default 1)
#   --mock-only   no broker: the mock cluster's ceilings only
#   --quick       a tenth of the durations, fewer partitions and clients (a check of the script)
#   --no-write    print the table, leave bench/RESULTS.md alone
#   --warm-mib N  before each invocation, write and delete a scratch file of N
#                 MiB in the data dir's file system (default 1024), so the page
#                 cache and the client's heap reuse memory the machine has
#                 backed instead of memory a VM host has reclaimed (see
#                 machine_limits: on such a VM a new page costs a host fault)
#   --cold        no warm-up (--warm-mib 0)
#
# The machine's own ceilings (build/bench/machine_limits: loopback TCP, page
# cache with new and with recycled memory, fdatasync, first touch) are
# measured before the set and printed above its table.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=build
runs=3
mock_only=0
scale=1
write=1
client=""
warm_mib=1024
rounds=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --client) client=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --mock-only) mock_only=1; shift ;;
    --quick) scale=10; shift ;;
    --no-write) write=0; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --warm-mib) warm_mib=$2; shift 2 ;;
    --cold) warm_mib=0; shift ;;
    *) echo "usage: $0 [--build DIR] [--client PATH] [--runs N] [--mock-only] [--quick] [--no-write] [--rounds N] [--warm-mib N] [--cold]" >&2
       exit 2 ;;
  esac
done
[[ "$build" = /* ]] || build="$root/$build"
sluice="$build/sluice"
[[ -x "$sluice" ]] || { echo "no $sluice: build it first" >&2; exit 1; }
client=${client:-$sluice}

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
broker_pid=""
cleanup() {
  if [[ -n "$broker_pid" ]]; then
    kill "$broker_pid" 2>/dev/null || true
    # Not this shell's child (the poller launched it): wait for it by polling.
    for _ in $(seq 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the broker and waits until its port accepts; sets broker_pid and
# startup_ms (launch to the first accepted connection). The poller launches
# the broker itself, so its own start-up is not in the figure. Not run in a
# subshell: the trap needs broker_pid.
start_broker() {
  local port=$1
  mkdir -p "$work/data"
  local launched
  launched=$(python3 - "$port" "$sluice" "$work" <<'PY'
import socket, subprocess, sys, time
port, sluice, work = sys.argv[1:]
log = open(f"{work}/broker.log", "w")
started = time.monotonic()
broker = subprocess.Popen([sluice, "serve", "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}",
                           "--set", f"log.dirs={work}/data"], stdout=log, stderr=log)
while time.monotonic() < started + 20 and broker.poll() is None:
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=0.2).close()
        print(broker.pid, round((time.monotonic() - started) * 1000))
        sys.exit(0)
    except OSError:
        time.sleep(0.001)
print(broker.pid, -1)
sys.exit(1)
PY
  ) || { broker_pid=${launched%% *}; return 1; }
  broker_pid=${launched%% *}
  startup_ms=${launched##* }
}

declare -a names commands
add() {  # add <name> <bench args...>
  names+=("$1")
  shift
  commands+=("$*")
}
# Every run lasts at least 5 s (issue 13: 200,000 x 1 KiB took 0.24 s, too
# short for a steady state): produce and e2e runs by --duration, consume runs
# read back everything their run's produce wrote ({records:TOPIC} is that
# produce run's record count). --quick: a tenth of the time, and the
# many-partition and many-connection runs scaled down, so the smoke test
# (bench_set_smoke) stays short.
seconds=$(python3 -c "print(6 / $scale)")
e2e_seconds=$(python3 -c "print(5 / $scale)")
many_partitions=$((scale == 1 ? 9999 : 500))  # the most one CreateTopics may add (10,000 records)
many_connections=$((scale == 1 ? 1000 : 50))
few_clients=$((scale == 1 ? 100 : 10))
# {run} in a command is replaced by the run number: each run writes fresh
# topics, and the consume runs read the acks=1 topics of the same run.
add "produce 100 B, acks=1" "produce --topic p100-a1-{run} --duration $seconds --size 100 --acks 1"
add "produce 100 B, acks=all" "produce --topic p100-aall-{run} --duration $seconds --size 100 --acks all"
add "produce 1 KiB, acks=1" "produce --topic p1k-a1-{run} --duration $seconds --size 1024 --acks 1"
add "produce 1 KiB, acks=all" "produce --topic p1k-aall-{run} --duration $seconds --size 1024 --acks all"
add "consume 100 B from the beginning" "consume --topic p100-a1-{run} --count {records:p100-a1-{run}} --size 100"
add "consume 1 KiB from the beginning" "consume --topic p1k-a1-{run} --count {records:p1k-a1-{run}} --size 1024"
add "e2e 1 KiB at 20,000 msg/s, acks=1" "e2e --topic e2e-{run} --duration $e2e_seconds --size 1024 --rate 20000 --acks 1"
add "produce 100 B, 1,000 partitions, 4 producers" \
    "produce --topic p1000-{run} --partitions 1000 --producers 4 --duration $seconds --size 100 --acks 1"
# Issue 13: many partitions must not cost throughput (a 10,000-partition
# broker within 10% of a 10-partition one, both with $few_clients clients),
# nor must many connections.
add "produce 100 B, 10 partitions, $few_clients producers" \
    "produce --topic p10-c$few_clients-{run} --partitions 10 --producers $few_clients --duration $seconds --size 100 --acks 1"
add "produce 100 B, $(printf "%'d" $many_partitions) partitions, $few_clients producers" \
    "produce --topic p$many_partitions-c$few_clients-{run} --partitions $many_partitions --producers $few_clients --duration $seconds --size 100 --acks 1"
add "produce 100 B, $(printf "%'d" $many_connections) connections (producers), 100 partitions" \
    "produce --topic conn$many_connections-{run} --partitions 100 --producers $many_connections --duration $seconds --size 100 --acks 1"

startup_ms=""
idle_rss_kb=""
if [[ $mock_only -eq 0 ]]; then
  port=$(free_port)
  start_broker "$port" || { cat "$work/broker.log" >&2; exit 1; }
  sleep 1
  idle_rss_kb=$(ps -o rss= -p "$broker_pid" | tr -d ' ')
  # The broker's own figure (process start to listening), beside the
  # script's (launch to the first accepted connection, polling included).
  self_startup_ms=$(sed -n 's/.*started in \([0-9]*\) ms.*/\1/p' "$work/broker.log" | head -1)
  startup_ms="$startup_ms ms (broker's own log: ${self_startup_ms:-?} ms)"
  target=(-b "127.0.0.1:$port" --compare-mock --rounds "$rounds")
else
  target=(--against-mock --rounds "$rounds")
fi

# Writes and deletes a scratch file: the pages it frees are the next ones the
# page cache and the client take, so a run does not pay for memory the VM
# host reclaimed while the machine was idle.
warm_memory() {
  [[ $warm_mib -gt 0 ]] || return 0
  dd if=/dev/zero of="$work/warm" bs=1M count="$warm_mib" status=none
  rm -f "$work/warm"
}

limits_bin="$build/bench/machine_limits"
limits_mib=$((scale == 1 ? 1024 : 64))
# Prints one JSON line of the machine's ceilings (empty without the program).
machine_limits() {
  [[ -x "$limits_bin" ]] || return 0
  echo "machine limits: $limits_bin --dir $work --mib $limits_mib" >&2
  "$limits_bin" --dir "$work" --mib "$limits_mib" --json | tail -n 1
}
limits_json=$(machine_limits)
echo "  $limits_json" >&2

declare -A produced  # topic -> records its produce run wrote
results="$work/results.jsonl"
: >"$results"
for run in $(seq 1 "$runs"); do
  for i in "${!names[@]}"; do
    args=${commands[$i]//\{run\}/$run}
    # {records:TOPIC}: what this run's produce into TOPIC wrote.
    while [[ $args =~ \{records:([^}]*)\} ]]; do
      args=${args//"${BASH_REMATCH[0]}"/${produced[${BASH_REMATCH[1]}]:-0}}
    done
    echo "run $run/$runs: sluice bench $args" >&2
    warm_memory
    # shellcheck disable=SC2086
    if line=$("$client" bench $args "${target[@]}" --json --no-progress | tail -n 1); then
      :
    else
      echo "  (exit code $?: recorded, marked failed)" >&2
    fi
    python3 -c 'import json,sys; r=json.loads(sys.argv[3]) if sys.argv[3].startswith("{") else {"failed": True}; r["index"]=int(sys.argv[1]); r["run"]=int(sys.argv[2]); print(json.dumps(r))' \
      "$i" "$run" "$line" >>"$results"
    echo "  $line" >&2
    if [[ $args == produce* && $line == \{* ]]; then
      topic=$(sed -n 's/.*--topic \([^ ]*\).*/\1/p' <<<"$args")
      produced[$topic]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("records", 0))' "$line")
    fi
    # The many-partition topic goes after its row: the next run's would not
    # fit beside it under a 20,000-descriptor limit (one or more per log).
    if [[ -n "$broker_pid" && $args == *"--partitions $many_partitions "* ]]; then
      topic=$(sed -n 's/.*--topic \([^ ]*\).*/\1/p' <<<"$args")
      "$client" topic delete "$topic" -b "127.0.0.1:$port" >/dev/null 2>&1 ||
        echo "  (could not delete $topic)" >&2
    fi
  done
done

# Again after the set: on a shared VM the machine's speed drifts.
limits_after_json=$(machine_limits)
echo "  $limits_after_json" >&2

# Resident memory after the whole set: the broker then holds every topic
# written, the 1,000-partition ones included.
final_rss_kb=""
[[ -n "$broker_pid" ]] && final_rss_kb=$(ps -o rss= -p "$broker_pid" | tr -d ' ')

machine_cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
machine_cores=$(nproc)
machine_kernel=$(uname -r)
machine_disk=$(df -h --output=source,fstype,size,target "$work" | tail -1 | tr -s ' ')
machine_block=$(lsblk -d -o NAME,ROTA,SIZE,MODEL 2>/dev/null | tail -n +2 | tr -s ' ' | paste -sd ';' || true)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)

printf '%s\n' "${names[@]}" >"$work/names"
printf '%s\n' "${commands[@]}" >"$work/commands"
python3 - "$results" "$work/names" "$work/commands" "$root/bench/RESULTS.md" "$write" \
  "$mock_only" "$runs" "$machine_cpu" "$machine_cores" "$machine_kernel" "$machine_disk" \
  "$machine_block" "$commit" "$startup_ms" "$idle_rss_kb" "$scale" "$final_rss_kb" "$many_partitions" \
  "$warm_mib" "$limits_json" "$rounds" "$limits_after_json" "$limits_mib" <<'PY'
import datetime, json, statistics, sys, os

(results_path, names_path, commands_path, results_md, write, mock_only, runs, cpu, cores, kernel,
 disk, block, commit, startup_ms, idle_rss_kb, scale, final_rss_kb, many_partitions, warm_mib,
 limits_json, rounds, limits_after_json, limits_mib) = sys.argv[1:]
mock_only = mock_only == "1"
names = open(names_path).read().splitlines()
commands = open(commands_path).read().splitlines()
rows = [json.loads(line) for line in open(results_path)]


def median(index, key):
    values = [r[key] for r in rows if r["index"] == index and not r.get("failed")
              and r.get("errors", 0) == 0 and r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


target = "librdkafka mock cluster (--against-mock)" if mock_only else "fresh `sluice serve`"
lines = ["## sluice bench", ""]
lines.append(f"Standard set of issue 6, `bench/run.sh{' --mock-only' if mock_only else ''}`"
             f"{' --quick (durations / 10, fewer partitions and clients)' if scale != '1' else ''}, against {target}, "
             f"{datetime.date.today().isoformat()}, commit {commit}. Medians of {runs} runs"
             + (f" of {rounds} rounds each (an invocation alternates broker and mock runs "
                f"{rounds} times and reports its median round and the median of its rounds' ratios)"
                if rounds != "1" else "")
             + "; a run with errors is left out of its median (failed runs are counted below); "
             "'ratio to mock' is the median of each run's own ratio.")
lines.append("")
lines.append(f"- Machine: {cores} cores, {cpu}; kernel {kernel}")
lines.append(f"- Data dir file system: {disk}; block devices: {block or 'n/a'}")
if not mock_only:
    lines.append(f"- Broker start-up to accepting connections: {startup_ms}; "
                 f"idle resident memory: {int(idle_rss_kb) / 1024:.1f} MiB; after the set "
                 f"({int(runs) * 10} topics kept, {int(runs) * 1000} partitions in the "
                 f"1,000-partition ones; each run's {int(many_partitions):,}-partition topic is "
                 f"deleted after its row): "
                 f"{int(final_rss_kb or 0) / 1024:.1f} MiB")
lines.append(f"- Load average while the set ran: {os.getloadavg()[0]:.1f} at the end (the machine "
             "is shared; figures on a loaded machine are noisy)")
lines.append("- Memory warm-up before each invocation: " +
             (f"a {warm_mib} MiB scratch file written and deleted in the data dir's file system"
              if warm_mib != "0" else "none (--cold)"))
lines.append("- MB = 10^6 bytes of record values; latency in ms (produce: delivery report − "
             "intended send time; e2e: consume time − intended send time)")
lines.append("")
if limits_json:
    before = json.loads(limits_json)
    after = json.loads(limits_after_json) if limits_after_json else {}
    lines.append("Machine ceilings measured just before and just after the set (`build/bench/machine_limits "
                 f"--dir <data dir fs> --mib {limits_mib}`; no broker, no Kafka client; one pass each):")
    lines.append("")
    lines.append("| path | before | after |")
    lines.append("|---|---:|---:|")
    for key, figure in before.items():
        later = f"{after[key]['value']:,.0f}" if key in after else "—"
        lines.append(f"| {figure['label']}, {figure['unit']} | {figure['value']:,.0f} | {later} |")
    lines.append("")
if mock_only:
    lines.append("**Broker figures pending**: these are the client's ceilings on this machine, "
                 "librdkafka against its own in-process mock cluster (no broker work at all).")
    lines.append("")
    lines.append("| workload | records/s | MB/s | p50 | p99 | p99.9 | max | failed runs |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
else:
    lines.append("| workload | records/s | MB/s | p50 | p99 | p99.9 | max | mock records/s | "
                 "ratio to mock | failed runs |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for i, name in enumerate(names):
    failed = sum(1 for r in rows if r["index"] == i and (r.get("failed") or r.get("errors", 0)))
    cells = [name, fmt(median(i, "records_per_sec")), fmt(median(i, "mb_per_sec"), 1),
             fmt(median(i, "p50_ms"), 2), fmt(median(i, "p99_ms"), 2),
             fmt(median(i, "p999_ms"), 2), fmt(median(i, "max_ms"), 2)]
    if not mock_only:
        cells += [fmt(median(i, "mock_records_per_sec")), fmt(median(i, "ratio_to_mock"), 2)]
    cells.append(f"{failed}/{runs}")
    lines.append("| " + " | ".join(cells) + " |")
lines.append("")
lines.append("Commands (`{run}` is the run number; each run writes fresh topics"
             + ("" if mock_only else "; every command also gets `-b <broker> --compare-mock --json`")
             + "):")
lines.append("")
lines.append("```")
suffix = (" --against-mock" if mock_only else "") + (f" --rounds {rounds}" if rounds != "1" else "")
suffix += " --json" if mock_only else ""
for command in commands:
    lines.append(f"sluice bench {command}{suffix}")
lines.append("```")
lines.append("")
lines.append("Notes: the mock cluster keeps only ~5 MB per partition, so its consume runs spread "
             "the same records over more partitions (it prints how many); it answers an empty "
             "Fetch only after fetch.wait.max.ms, so its e2e runs use fetch.wait.max.ms=5, "
             "and linger.ms=1 (the tool's e2e default for both) even when asked for 0 (with 0 it falls behind and drops unread batches). "
             "Consume runs have no per-record latency.")
section = "\n".join(lines) + "\n"
print(section)

if write == "1":
    text = open(results_md).read() if os.path.exists(results_md) else "# Benchmark results\n"
    start = text.find("\n## sluice bench\n")
    if text.startswith("## sluice bench\n"):
        start = 0
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        begin = start if start == 0 else start + 1
        end = text.find("\n## ", begin + 1)
        rest = "" if end < 0 else text[end + 1:]
        text = text[:begin] + section + ("\n" + rest if rest else "")
    open(results_md, "w").write(text)
    print(f"wrote the '## sluice bench' section of {results_md}", file=sys.stderr)
PY
