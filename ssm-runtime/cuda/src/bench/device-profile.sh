#!/usr/bin/env bash
# Where the scan kernels' time goes, on the GPU host: the benchmark at 4x the batch (is it parallelism-bound?) and
# Nsight Compute's warp-state and scheduler statistics for one forward and one backward launch (--clock-control none:
# the card's clocks are left as they are). Logs under $OUT. Pack first: ../shared/tools/device-bundle.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
tar -xJf .device/jre.tar.xz -C /tmp
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED -Xmx16g"
CP=$(ls .device/lib/*.jar | tr '\n' ':')
echo "== batch 16"
timeout 90 $J -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench 16 1536 1024 16 30 2>&1 | tee "$OUT/bench-b16.log" | grep -E "^forward"
for k in fwd bwd; do
  echo "== ncu scan_${k}_f32_k4"
  timeout 120 ncu --clock-control none --target-processes all -k regex:scan_${k}_f32_k4 --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
    $J -cp "$CP" org.ssmpeft.runtime.cuda.bench.ScanBench 4 1536 1024 16 3 > "$OUT/ncu-$k.log" 2>&1
  grep -iE "Duration|stall|Warp Cycles|Issued Warp|No Eligible|Active Warps|Eligible Warps|Throughput|Achieved Occupancy|Registers|One or More" "$OUT/ncu-$k.log" | head -40
done
