package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.cuda.driver.CudaModule;

/** The kernel sources as NVRTC gets them: local includes expanded once, between #line directives (no GPU needed). */
class KernelSourceTest {

    @Test
    void theSharedBf16RoundingIsDefinedOnceAndExpandedIntoEveryModuleThatIncludesIt() {
        for (String module : new String[] {"layers.cu", "selective_scan.cu"}) {
            String source = CudaModule.source(module);
            assertThat(Pattern.compile("unsigned short to_bf16\\(float x\\)").matcher(source).results().count())
                    .as("to_bf16 definitions in %s as compiled", module).isEqualTo(1);
            assertThat(source).doesNotContain("#include \"bf16.cuh\"").contains("#line 1 \"bf16.cuh\"");
            // after the header, the lines count on in the including file: the next line is its own line number
            String[] lines = source.split("\n", -1);
            String[] original = rawLines(module);
            int back = -1;
            for (int i = 0; i < lines.length; i++) {
                if (lines[i].matches("#line \\d+ \"" + Pattern.quote(module) + "\"")) {
                    back = i;
                }
            }
            assertThat(back).as("a #line back into %s", module).isPositive();
            int resumed = Integer.parseInt(lines[back].split(" ")[1]);
            assertThat(lines[back + 1]).as("%s line %d after the header", module, resumed)
                    .isEqualTo(original[resumed - 1]);
        }
        String header = CudaModule.source("bf16.cuh");
        assertThat(header).contains("#ifndef SSMPEFT_BF16_CUH");
    }

    @Test
    void theActivationsAreDefinedOnceForEveryModuleThatAppliesThem() {
        for (String module : new String[] {"layers.cu", "decode.cu", "selective_scan.cu"}) {
            String source = CudaModule.source(module);
            for (String f : new String[] {"float silu\\(float x\\)", "float softplus\\(float v\\)"}) {
                assertThat(Pattern.compile(f).matcher(source).results().count())
                        .as("%s definitions in %s as compiled", f, module).isEqualTo(1);
            }
            assertThat(source).doesNotContain("#include \"activations.cuh\"").contains("#line 1 \"activations.cuh\"");
        }
    }

    @Test
    void aSourceWithoutIncludesIsReturnedAsItIsAndAMissingOneIsNamed() {
        assertThat(CudaModule.source("optimizer.cu")).isEqualTo(raw("optimizer.cu"));
        assertThatThrownBy(() -> CudaModule.source("no-such.cu")).hasMessageContaining("no-such.cu");
    }

    private static String raw(String name) {
        try (var in = CudaModule.class.getResourceAsStream("/org/ssmpeft/runtime/cuda/kernels/" + name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String[] rawLines(String name) {
        return raw(name).split("\n", -1);
    }
}
