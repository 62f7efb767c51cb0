#!/usr/bin/env bash
# One call on the GPU host (no Java, no Maven there): the cuda module's GPU tests, the scan benchmark and the
# transformers peer, logs under $OUT. Pack first, here:  ../shared/tools/device-bundle.sh
# Then, through the device tool, from the project root:  bash ssm-runtime/cuda/src/bench/device-run.sh
# (TESTS=0 skips the GPU tests, PEER=0 the transformers peer; SWEEP=1 adds the benchmark of every compiled layout,
# PROFILE=1 the benchmark at 4x the batch (is it parallelism-bound?) and Nsight Compute's warp-state statistics of
# one forward and one backward launch (--clock-control none: the clocks are left as they are), SANITIZE=1
# compute-sanitizer's memcheck and racecheck over the small scan cases, or the test classes in SANITIZE_CLASSES;
# SCAN=0 skips the scan benchmark; TRAIN=1 adds the training-step benchmark (TrainStepBench on cuda, Mamba-130M
# shape, batch 4, L 1024, state-offset / lora / lora-out, fp32 and bf16) and its transformers + PEFT peer
# (train_peer.py), about 6 minutes: run it as TESTS=0 PEER=0 SCAN=0 TRAIN=1; DECODE=1 adds the decode benchmark
# (DecodeBench on cuda, Mamba-130M shape, 16-token prompt + 128 new tokens, greedy, batch 1 and 16, fp32 and bf16)
# for the base model and with a state offset (h) acting, and its transformers generate peer (decode_peer.py), about 5
# minutes: TESTS=0 PEER=0 SCAN=0 DECODE=1); CLASSES="full.Name ..." runs test classes outside the cuda package without
# the tag filter (the trainer's GPU test, every method's numeric contract: they run on every available backend);
# APP=1 runs the bundled default's `peft compare` on cuda (APP_ARGS to change it; no --out: the JRE has no
# java.desktop for the chart); SSD=1 adds Mamba-2's chunked SSD benchmark (SsdBench: B 4, L 1024, H 24, P 64, G 1,
# N 128, chunk 256, D and z gate, fp32 and bf16, forward and forward + backward; SSD_ARGS="B L H P G N Q reps" for
# another shape) and its transformers peer (ssd_peer.py, the Mamba-2 PyTorch path's chunk scan; SSD_PEER_ARGS, e.g.
# "--len 2048 --reps 10", SSD_PEER=0 skips it): run it as TESTS=0 PEER=0 SCAN=0 SSD=1; the SSD GPU test alone:
# TEST_CLASSES="SsdKernelTest" PEER=0 SCAN=0 (SANITIZE_CLASSES="SsdKernelTest" under compute-sanitizer).
# Trim the bundle first: ssm-runtime/cuda/src/bench/trim-bundle.sh. A JVM's first
# kernel use compiles every kernel module through NVRTC (~110 s on a fresh machine, then cached on its disk): give
# the first test stage of a call at least 200 s.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
tar -xJf .device/jre.tar.xz -C /tmp
JAVA="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx16g"
CP=$(ls .device/lib/*.jar | tr '\n' ':')  # the JUnit console does not expand dir/*
export SSMPEFT_CUDA_LIBRARY_PATH=${SSMPEFT_CUDA_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,utilization.gpu,memory.used --format=csv | tee "$OUT/gpu.txt"

if [ "${TESTS:-1}" = "1" ]; then
echo "== GPU tests"
# DEFINES: kernel tuning switches for the tests too (as VARIANTS below, one comma-separated set)
# TEST_CLASSES: only these test classes of org.ssmpeft.runtime.cuda (space-separated simple names), else every one
if [ -n "${TEST_CLASSES:-}" ]; then SELECT=$(for c in $TEST_CLASSES; do echo --select-class org.ssmpeft.runtime.cuda.$c; done)
else SELECT="--select-package org.ssmpeft.runtime.cuda"; fi
timeout ${TEST_TIMEOUT:-330} $JAVA -Dssmpeft.scan.defines="${DEFINES:-}" -Dssmpeft.ssd.defines="${SSD_DEFINES:-}" -jar .device/junit.jar execute -cp "$CP" $SELECT \
  --include-tag gpu --details=tree --disable-banner --disable-ansi-colors 2>&1 | tee "$OUT/gpu-tests.log" | grep -E "GPU:|✘|tests (successful|failed|skipped)|Exception|expected" | head -60

fi
if [ -n "${CLASSES:-}" ]; then
  # CLASSES: test classes by full name (space-separated), run without the tag filter: e.g. the trainer's GPU test and
  # every built-in method's numeric contract, which run on every available backend (cuda here)
  echo "== test classes: $CLASSES"
  SELECT=$(for c in $CLASSES; do echo --select-class $c; done)
  timeout ${CLASSES_TIMEOUT:-300} $JAVA -jar .device/junit.jar execute -cp "$CP" $SELECT --details=tree \
    --disable-banner --disable-ansi-colors 2>&1 | tee "$OUT/classes.log" \
    | grep -E "GPU:|numeric contract on|✘|tests (successful|failed|skipped|aborted)|Exception|expected" | head -60
fi
if [ "${APP:-}" = "1" ]; then
  # the bundled default's compare on cuda (as BundledDefaultTest runs it on cpu), its wall time and table
  echo "== peft compare on cuda"
  APP_ARGS=${APP_ARGS:-"compare --backend cuda --task triples --steps 30 --lr-grid 1,3 --seeds 1,2 --out /tmp/compare-cuda"}
  start=$(date +%s)
  timeout ${APP_TIMEOUT:-420} $JAVA --add-modules jdk.incubator.vector -cp "$CP" org.ssmpeft.examples.cli.PeftCommand \
    $APP_ARGS > "$OUT/compare-cuda.log" 2>&1
  echo "exit $? after $(( $(date +%s) - start )) s" | tee -a "$OUT/compare-cuda.log"
  tail -25 "$OUT/compare-cuda.log"; cp /tmp/compare-cuda/compare.json "$OUT/" 2>/dev/null || true
fi
if [ "${SWEEP:-}" = "1" ]; then
  echo "== scan benchmark, every compiled layout"
  for n in 16 ${SWEEP_STATES:-}; do
    timeout 200 $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench sweep 4 1536 1024 $n 60 2>&1 \
      | tee "$OUT/scan-sweep-n$n.log" | grep -v "^BENCH" | grep -E "^(forward|backward)"
  done
fi
if [ -n "${VARIANTS:-}" ]; then
  # kernel tuning switches (space-separated sets, each comma-separated -D defines; see the kernel file)
  echo "== scan benchmark variants"
  i=0
  for v in $VARIANTS; do
    i=$((i + 1))
    timeout 120 $JAVA -Dssmpeft.scan.defines="$v" -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench 2>&1 \
      | tee "$OUT/variant-$i.log" | grep -E "^(forward|backward)" | sed "s/^/[$v] /"
  done
fi
if [ "${SCAN:-1}" = "1" ]; then
echo "== scan benchmark"
timeout 120 $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench 2>&1 | tee "$OUT/scan-bench.log" | grep -v "^BENCH"
fi

if [ "${SSD:-}" = "1" ]; then
  # its first run compiles ssd.cu through NVRTC (cached on the machine's disk afterwards)
  echo "== SSD benchmark"
  timeout ${SSD_TIMEOUT:-240} $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.SsdBench ${SSD_ARGS:-} 2>&1 \
    | tee "$OUT/ssd-bench.log" | grep -v "^BENCH"
  if [ "${SSD_PEER:-1}" = "1" ]; then
    echo "== transformers Mamba-2 SSD peer"
    PYTHONUNBUFFERED=1 timeout ${SSD_PEER_TIMEOUT:-150} python3 ssm-runtime/cuda/src/bench/python/ssd_peer.py \
      ${SSD_PEER_ARGS:-} --out "$OUT/ssd-peer.json" > "$OUT/ssd-peer.log" 2>&1
    grep -v "^PEER {" "$OUT/ssd-peer.log" | grep -v "^\[transformers\]" | grep -v "^PEER_COPY" | tail -14
  fi
fi

if [ -n "${SSD_MUTATIONS:-}" ]; then
  # the mutation check: SsdKernelTest's small cases with one backward term dropped (ssd.cu's SSD_MUTATION) must fail
  echo "== SSD mutation check"
  for m in $SSD_MUTATIONS; do
    timeout 150 $JAVA -Dssmpeft.ssd.defines="SSD_MUTATION=$m" -Dssmpeft.gpu.small=true -jar .device/junit.jar execute \
      -cp "$CP" --select-class org.ssmpeft.runtime.cuda.SsdKernelTest --include-tag gpu --details=tree --disable-banner \
      --disable-ansi-colors > "$OUT/ssd-mutation-$m.log" 2>&1
    echo "SSD_MUTATION=$m: $(grep -E "tests (successful|failed)" "$OUT/ssd-mutation-$m.log" | tr -s ' ' | tr '\n' ' ')"
    echo "  tensors failing (count): $(grep -oE "Error: \[[^]]*\]" "$OUT/ssd-mutation-$m.log" | awk '{print $NF}' \
      | tr -d ']' | sort | uniq -c | sort -rn | head -8 | tr -s ' ' | tr '\n' ';')"
  done
fi
if [ -n "${SSD_VARIANTS:-}" ]; then
  # ssd.cu's benchmark switches (space-separated sets, each comma-separated -D defines; see the kernel file)
  echo "== SSD benchmark variants"
  for v in $SSD_VARIANTS; do
    timeout 150 $JAVA -Dssmpeft.ssd.defines="$v" -cp "$CP" org.ssmpeft.runtime.cuda.bench.SsdBench 2>&1 \
      | grep -E "^(forward|backward)" | sed "s/^/[$v] /"
  done
fi
if [ "${SSD_NCU:-}" = "1" ]; then
  # Nsight Compute's duration of each SSD kernel (median over its launches after the first of each name) and the SM clock it ran at,
  # at the benchmark's shape, and the full sections of the kernels named in SSD_NCU_KERNELS
  echo "== ncu: SSD kernel durations"
  timeout 240 ncu --clock-control none --metrics gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second \
    -k regex:ssd_ --launch-count ${SSD_NCU_LAUNCHES:-700} \
    $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.SsdBench 4 1024 24 64 1 128 256 10 > "$OUT/ncu-ssd.log" 2>&1
  python3 - "$OUT/ncu-ssd.log" <<'PY'
import re, sys, collections, statistics
rows, clocks, name = collections.defaultdict(list), collections.defaultdict(list), None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\s\s(\S[^(]*?)\s*\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)", line)
    if m:
        name = m.group(1)
    m = re.search(r"gpu__time_duration.sum\s+(\S+)\s+([\d.,]+)", line)
    if m and name:
        v = float(m.group(2).replace(",", ""))
        rows[name].append(v * {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3}.get(m.group(1), 1.0))
    m = re.search(r"sm__cycles_elapsed.avg.per_second\s+(\S+)\s+([\d.,]+)", line)
    if m and name:
        clocks[name].append(float(m.group(2).replace(",", "")) * (1e3 if "ghz" in m.group(1).lower() or "nsecond" in m.group(1) else 1.0))
for n, v in rows.items():
    c = clocks.get(n) or [0]
    print("  %9.2f us median of %3d at %5.0f MHz  %s" % (statistics.median(v[1:] or v), len(v),
                                                        statistics.median(c), n))
PY
  for k in ${SSD_NCU_KERNELS:-}; do
    echo "== ncu $k"
    timeout 150 ncu --clock-control none -k regex:${k} --launch-skip 2 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
      --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.SsdBench 4 1024 24 64 1 128 256 10 > "$OUT/ncu-$k.log" 2>&1
    grep -iE "Duration|stall|Warp Cycles|Issued Warp|No Eligible|Eligible Warps|Throughput|Achieved Occupancy|Registers|Block Limit|One or More|Pipe|Executed Ipc|Local" "$OUT/ncu-$k.log" | head -40
  done
fi

if [ "${PEER:-1}" = "1" ]; then
  echo "== transformers peer"
  PYTHONUNBUFFERED=1 timeout 100 python3 ssm-runtime/cuda/src/bench/python/scan_peer.py --out "$OUT/scan-peer.json" \
    > "$OUT/scan-peer.log" 2>&1; tail -12 "$OUT/scan-peer.log"
fi
if [ "${TRAIN:-}" = "1" ]; then
  # one step = loss and gradients + AdamW; the Java side through the backend SPI (a backend that is not available
  # prints why and exits 3), the peer through transformers' pure-PyTorch path, ~22 s a step at this shape
  # (anchors.md), so 1 warm-up + TRAIN_PEER_STEPS timed steps per row (4 rows run; lora-out is refused by PEFT)
  echo "== training-step benchmark (Mamba-130M shape, batch 4, L 1024)"
  # TRAIN_METHODS, TRAIN_OPTIMIZER (device|host|both), TRAIN_JAVA_OPTS (e.g. -Dssmpeft.cuda.headChunkFloats=...)
  timeout ${TRAIN_TIMEOUT:-120} $JAVA ${TRAIN_JAVA_OPTS:-} -cp "$CP" org.ssmpeft.runtime.cuda.bench.TrainStepBench \
    --backend cuda --shape 130m --batch 4 --length 1024 --methods ${TRAIN_METHODS:-state-offset,lora,lora-out} \
    --precision ${TRAIN_PRECISIONS:-fp32,bf16} --optimizer ${TRAIN_OPTIMIZER:-device} --warmup ${TRAIN_WARMUP:-2} \
    --steps ${TRAIN_STEPS:-5} 2>&1 | tee "$OUT/train-bench${TRAIN_TAG:-}.log" | grep -v "^BENCH"
  if [ "${TRAIN_PEER:-1}" = "1" ]; then
  echo "== transformers + PEFT training peer"
  PYTHONUNBUFFERED=1 timeout ${TRAIN_PEER_TIMEOUT:-230} python3 ssm-runtime/cuda/src/bench/python/train_peer.py \
    --shape 130m --batch 4 --length 1024 --methods lora,state-offset,lora-out --precision fp32,bf16 \
    --warmup 1 --steps ${TRAIN_PEER_STEPS:-1} --out "$OUT/train-peer.json" > "$OUT/train-peer.log" 2>&1
  grep -v "^PEER {" "$OUT/train-peer.log" | grep -v "^\[transformers\]" | tail -14
  fi
fi
if [ "${DECODE:-}" = "1" ]; then
  # greedy decoding through the backend SPI, two loops: the model's decoder (a replayed graph, argmax on the device)
  # and prefill forward + one step per new token with the argmax on the host; the
  # weight-read floor from the copy bandwidth of the same run; a row-0 mismatch with batch 1 exits 4. The peer:
  # transformers' generate, pure-PyTorch path, ~1.8-3.5 s per call at this shape (anchors.md), 1 + DECODE_PEER_REPS
  # calls per row, 4 rows. DECODE_METHODS: the base model and the model with a state offset (h) acting; DECODE_ARGS:
  # more DecodeBench options (e.g. "--mixed true": the mixed-adapter serving figure at batch 16)
  for m in ${DECODE_METHODS:-none state-offset}; do
    echo "== decode benchmark, method $m (Mamba-130M shape, prompt 16 + 128 new tokens, greedy, batch 1 and 16)"
    timeout ${DECODE_TIMEOUT:-120} $JAVA ${DECODE_JAVA_OPTS:-} -cp "$CP" org.ssmpeft.runtime.cuda.bench.DecodeBench \
      --backend cuda --shape 130m --batch ${DECODE_BATCH:-1,16} --prompt 16 --new 128 --method $m \
      --precision ${DECODE_PRECISION:-fp32,bf16} \
      --warmup ${DECODE_WARMUP:-2} --reps ${DECODE_REPS:-5} ${DECODE_ARGS:-} 2>&1 | tee "$OUT/decode-bench-$m.log" \
      | grep -v "^BENCH"
  done
  if [ "${DECODE_PEER:-1}" = "1" ]; then  # DECODE_PEER=0: DecodeBench alone
  echo "== transformers generate peer"
  PYTHONUNBUFFERED=1 timeout ${DECODE_PEER_TIMEOUT:-150} python3 ssm-runtime/cuda/src/bench/python/decode_peer.py \
    --shape 130m --batch 1,16 --prompt 16 --new 128 --precision fp32,bf16 --warmup 1 --reps ${DECODE_PEER_REPS:-3} \
    --out "$OUT/decode-peer.json" > "$OUT/decode-peer.log" 2>&1
  grep -v "^PEER {" "$OUT/decode-peer.log" | grep -v "^\[transformers\]" | grep -v "^transformers:" | tail -12
  fi
fi
if [ "${DECODE_NCU:-}" = "1" ]; then
  # Nsight Compute's duration of every kernel of a few decode steps (step loop, fp32, batch DECODE_NCU_BATCH): the
  # last step's kernels in order and the sum per kernel name over the steps after the first generation's prefill
  echo "== ncu: kernel durations of decode steps (batch ${DECODE_NCU_BATCH:-1}, fp32, step loop)"
  timeout ${DECODE_NCU_TIMEOUT:-240} ncu --clock-control none --metrics gpu__time_duration.sum \
    $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.DecodeBench --backend cuda --shape 130m \
    --batch ${DECODE_NCU_BATCH:-1} --prompt 16 --new 4 --method none --precision fp32 --loop step --warmup 0 \
    --reps 1 > "$OUT/ncu-decode.log" 2>&1
  python3 - "$OUT/ncu-decode.log" <<'PY'
import re, sys, collections
rows, name = [], None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\s\s(\S[^(]*?)\s*\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)", line)
    if m:
        name = m.group(1)
    m = re.search(r"gpu__time_duration.sum\s+(\S+)\s+([\d.,]+)", line)
    if m and name:
        v = float(m.group(2).replace(",", ""))
        rows.append((name, v * {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3}.get(m.group(1), 1.0)))
        name = None
print(len(rows), "kernels profiled")
tail = rows[-120:]
for n, v in tail:
    print("  %8.2f us  %s" % (v, n[:90]))
print("  %8.2f us  the last %d kernels" % (sum(v for _, v in tail), len(tail)))
PY
fi
if [ "${PROFILE:-}" = "1" ]; then
  echo "== batch 16"
  timeout 90 $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench 16 1536 1024 16 30 2>&1 | tee "$OUT/bench-b16.log" \
    | grep -E "^(forward|backward)"
  # PROFILE_KERNELS: the kernels profiled (name prefixes, e.g. "scan_fwd_bf16 scan_bwd_f32")
  for k in ${PROFILE_KERNELS:-scan_fwd_f32 scan_bwd_f32}; do
    echo "== ncu $k"
    timeout 150 ncu --clock-control none --target-processes all -k regex:${k}_ --launch-skip 3 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
      --section ComputeWorkloadAnalysis --section InstructionStats --section SourceCounters \
      $JAVA -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench 4 1536 1024 16 3 > "$OUT/ncu-$k.log" 2>&1
    grep -iE "Duration|stall|Warp Cycles|Issued Warp|No Eligible|Active Warps|Eligible Warps|Throughput|Achieved Occupancy|Registers|Block Limit|One or More|Pipe|Executed Ipc" "$OUT/ncu-$k.log" | head -60
  done
fi
if [ "${SANITIZE:-}" = "1" ]; then
  for tool in memcheck racecheck; do
    echo "== compute-sanitizer $tool (small cases)"
    timeout 200 compute-sanitizer --tool $tool --print-limit 20 /tmp/jre/bin/java --enable-native-access=ALL-UNNAMED \
      -Dssmpeft.gpu.small=true -jar .device/junit.jar execute -cp "$CP" \
      $(for c in ${SANITIZE_CLASSES:-SelectiveScanKernelTest}; do echo --select-class org.ssmpeft.runtime.cuda.$c; done) --include-tag gpu --disable-banner --disable-ansi-colors \
      > "$OUT/sanitizer-$tool.log" 2>&1; grep -E "ERROR SUMMARY|tests (successful|failed)|Hazard|Invalid" "$OUT/sanitizer-$tool.log" | head -20
  done
fi
echo "== done"
