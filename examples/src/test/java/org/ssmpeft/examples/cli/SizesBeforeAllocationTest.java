package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

/** Sizes are checked before they are allocated: validation never builds what it validates (issue #16). */
class SizesBeforeAllocationTest {

    @TempDir
    Path dir;

    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void validatingAHugeLoraWithAShapeCountsItsParametersWithoutAllocatingThem() throws Exception {
        Path f = Files.writeString(dir.resolve("lora.yaml"), "method: lora\nrank: 4096\n"
                + "targets: [in_proj, x_proj, dt_proj, out_proj]\n");
        Cli.run("config", "validate", f.toString(), "--shape", "mamba-tiny"); // warm-up: classes, registry
        long before = allocatedByThisThread();
        Cli r = Cli.run("config", "validate", f.toString(), "--shape", "mamba-130m");
        long allocated = allocatedByThisThread() - before;
        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        ModelShape shape = ModelShape.requirePreset("mamba-130m");
        AdapterFactory factory = new AdapterFactory(PeftMethods.load());
        long count = factory.parameterCount(factory.reader().read(f).getFirst(), shape);
        assertThat(count * 4).as("bytes a created adapter would hold").isGreaterThan(1L << 30);
        assertThat(r.out()).contains(String.format(java.util.Locale.ROOT, "%,d trainable parameters on mamba-130m",
                count));
        assertThat(allocated).as("bytes allocated by validate --shape").isLessThan(64L << 20);
    }

    @Test
    void anAdapterLargerThanTheHeapIsRefusedByNameBeforeAllocation() {
        AdapterFactory factory = new AdapterFactory(PeftMethods.load());
        ModelShape wide = new ModelShape(ModelFamily.MAMBA, 64, 1 << 15, 1 << 16, 1 << 14, 64, 4, 0, 0, 0, 256);
        AdapterConfig config = factory.reader().parse("{\"name\": \"wide\", \"method\": \"state-offset\"}",
                org.ssmpeft.api.config.ConfigFormat.JSON).getFirst();
        assertThat(factory.parameterCount(config, wide)).isEqualTo(64L << 30);
        long before = allocatedByThisThread();
        assertThatThrownBy(() -> factory.create(config, wide, AdapterFactory.seeded(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("adapter 'wide' (state-offset) has 68,719,476,736 trainable parameters")
                .hasMessageContaining("more than this JVM's whole heap");
        assertThat(allocatedByThisThread() - before).isLessThan(16L << 20);
    }
}
