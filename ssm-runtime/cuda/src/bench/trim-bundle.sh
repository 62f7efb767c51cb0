#!/usr/bin/env bash
# Trims ../shared/tools/device-bundle.sh's .device/ to fit the device tool's 64 MiB carry (the tree is ~11 MiB) and
# to run on the GPU host's jlinked JRE. Run from the project root after the bundle, with JDK 25's bin first on PATH
# (the bundle's `jar` calls take the first `jar` on PATH; an older one fails silently on the peft-* modules'
# module-info, and those jars are then missing):
#   export PATH=/usr/lib/jvm/temurin-25-jdk-amd64/bin:$PATH && ../shared/tools/device-bundle.sh && \
#     bash ssm-runtime/cuda/src/bench/trim-bundle.sh
# Leaves out: the stale copies of the project's own jars, djl and its engine (no PyTorch native there), the DJL
# tokenizers (the bundled model is byte-level), byte-buddy, jfreechart and the trainer's curve plotter (the JRE has no
# java.desktop: run `peft compare` there without --out, which draws no chart), and sqlite's natives for other systems.
# TESTS=0 also leaves out the test jars (for a run of benchmarks and the CLI only).
set -euo pipefail
lib=.device/lib
[ -d "$lib" ] || { echo "no $lib: run ../shared/tools/device-bundle.sh first" >&2; exit 1; }
for m in peft-api peft-lora peft-prefix peft-state-offset; do
  [ -f "$lib/$m-main.jar" ] || { echo "$lib/$m-main.jar is missing: bundle again with JDK 25's jar first on PATH" >&2; exit 1; }
done
rm -f "$lib"/ssm-*-0.1.0-SNAPSHOT*.jar "$lib"/state-offset-lowrank-* "$lib"/api-0.36.0.jar "$lib"/pytorch-engine-*.jar \
  "$lib"/djl-main.jar "$lib"/djl-tests.jar "$lib"/jna-*.jar "$lib"/gson-*.jar "$lib"/tokenizers-*.jar \
  "$lib"/byte-buddy-*.jar "$lib"/jfreechart-*.jar "$lib"/openblas-*.jar "$lib"/javacpp-*.jar
zip -q -d "$lib"/tasks-main.jar META-INF/services/org.ssmpeft.runtime.train.CurvePlotter >/dev/null 2>&1 || true
for j in "$lib"/sqlite-jdbc-*.jar; do
  others=$(unzip -Z1 "$j" | grep "org/sqlite/native/" | grep -v "Linux/x86_64/" | grep -v "/$" || true)
  [ -z "$others" ] || zip -q -d "$j" $others >/dev/null
done
if [ "${TESTS:-1}" = "0" ]; then rm -f "$lib"/*-tests.jar "$lib"/assertj-core-*.jar; fi
du -sm .device | awk '{print "trimmed: " $1 " MiB in .device"}'
