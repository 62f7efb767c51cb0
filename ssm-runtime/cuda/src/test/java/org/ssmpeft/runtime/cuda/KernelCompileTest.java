package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.cuda.driver.CudaModule;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.Nvrtc;
import org.ssmpeft.runtime.cuda.layers.DecodeKernels;
import org.ssmpeft.runtime.cuda.layers.LayerKernels;
import org.ssmpeft.runtime.cuda.layers.OptimizerKernels;
import org.ssmpeft.runtime.cuda.scan.ScanLayout;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.cuda.ssd.SsdKernels;

/**
 * Every kernel the project ships compiles for sm_90 (the H200) through the project's own NVRTC binding, with no
 * error and no warning, on a machine without a GPU: NVRTC needs no driver. {@code .ci/run} installs NVRTC from the
 * {@code nvidia-cuda-nvrtc} wheel and names its folder; where NVRTC cannot be loaded this skips with the reason.
 * The ptxas report (registers, shared memory, spills) is printed for each entry point.
 */
class KernelCompileTest {

    /** Every .cu resource with the options its launcher compiles it with. */
    static final Map<String, List<String>> KERNELS = Map.of(
            "selective_scan.cu", SelectiveScanKernels.options(),
            "layers.cu", LayerKernels.options(),
            "decode.cu", DecodeKernels.options(),
            "optimizer.cu", OptimizerKernels.options(),
            "ssd.cu", SsdKernels.options());

    /** Every entry point of each .cu resource. */
    static List<String> entryPoints(String kernel) {
        if (kernel.equals("layers.cu")) {
            return LayerKernels.ENTRY_POINTS;
        }
        if (kernel.equals("decode.cu")) {
            return DecodeKernels.ENTRY_POINTS;
        }
        if (kernel.equals("optimizer.cu")) {
            return OptimizerKernels.ENTRY_POINTS;
        }
        if (kernel.equals("ssd.cu")) {
            return SsdKernels.ENTRY_POINTS;
        }
        List<String> names = new ArrayList<>(List.of("scan_bwd_finish_f32", "scan_bwd_finish_bf16"));
        for (var layout : ScanLayout.COMPILED) {
            for (String op : layout.forwardOnly() ? List.of("fwd") : List.of("fwd", "bwd", "step")) {
                for (String t : List.of("f32", "bf16")) {
                    names.add("scan_" + op + "_" + t + "_" + layout.tag());
                }
            }
            if (!layout.forwardOnly()) {
                names.add("scan_step_dt_f32_" + layout.tag()); // the fused decode path's step
            }
        }
        return names;
    }

    private static Nvrtc nvrtcOrSkip() {
        try {
            return Nvrtc.load();
        } catch (CudaUnavailableException e) {
            Assumptions.assumeTrue(false, "NVRTC is not installed here: " + e.getMessage());
            throw new AssertionError(e);
        }
    }

    @Test
    void everyShippedKernelCompilesForSm90WithoutWarnings() {
        Nvrtc nvrtc = nvrtcOrSkip();
        for (var entry : new java.util.TreeMap<>(KERNELS).entrySet()) {
            String kernel = entry.getKey();
            List<String> options = new ArrayList<>(CudaModule.compileOptions("sm_90", entry.getValue()));
            options.add("--ptxas-options=-v");
            var compiled = nvrtc.compile(CudaModule.source(kernel), kernel, options);
            System.out.println("NVRTC " + nvrtc.version() + " " + kernel + " sm_90: " + compiled.cubin().length
                    + " bytes\n" + compiled.log());
            assertThat(compiled.cubin()).as(kernel + " CUBIN").isNotEmpty();
            for (String line : compiled.log().split("\n")) {
                assertThat(line.toLowerCase()).as(kernel + ": " + line).doesNotContain("warning").doesNotContain("error");
            }
            for (String name : entryPoints(kernel)) {
                assertThat(compiled.log()).as(kernel + " entry points").contains("'" + name + "'");
            }
        }
    }

    @Test
    void aCompileErrorNamesTheFileAndCarriesTheLog() {
        Nvrtc nvrtc = nvrtcOrSkip();
        var thrown = org.assertj.core.api.Assertions.catchThrowable(() -> nvrtc.compile(
                "extern \"C\" __global__ void k(float* p) { p[0] = undefined_name; }", "broken.cu",
                List.of("--gpu-architecture=sm_90")));
        assertThat(thrown).hasMessageContaining("nvrtcCompileProgram(broken.cu").hasMessageContaining(
                "NVRTC_ERROR_COMPILATION").hasMessageContaining("undefined_name");
    }
}
