package org.ssmpeft.runtime.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.io.AtomicFiles;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    @Test
    void writtenTensorsAndMetadataReadBackExactly() throws Exception {
        float[] w = {1f, -2.5f, Float.MIN_VALUE, Float.MAX_VALUE, -0f, 3.25e-7f};
        long[] ids = {0, 7, Long.MAX_VALUE, -1};
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter().metadata("format", "pt").putF32("w", w, 2, 3).putI64("ids", ids, 4)
                .putF32("empty", new float[0], 0, 5).write(file);

        try (var f = SafetensorsFile.open(file)) {
            assertThat(f.metadata()).isEqualTo(Map.of("format", "pt"));
            assertThat(f.names()).containsExactlyInAnyOrder("w", "ids", "empty");
            assertThat(f.info("w").dtype()).isEqualTo(DType.F32);
            assertThat(f.info("w").shape()).containsExactly(2, 3);
            assertThat(f.readFloats("w")).containsExactly(w);
            assertThat(f.readLongs("ids")).containsExactly(ids);
            assertThat(f.readFloats("empty")).isEmpty();
            assertThat(f.info("empty").shape()).containsExactly(0, 5);
        }
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOf8AndTensorsAreAligned() throws Exception {
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter().putF32("a", new float[] {1f}, 1).putI64("b", new long[] {2}, 1).write(file);
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n % 8).isZero();
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{").matches("(?s)\\{.*\\} *");
        try (var f = SafetensorsFile.open(file)) {
            assertThat(f.info("b").begin()).isZero(); // widest dtype first
            assertThat(f.info("a").begin() % 4).isZero();
        }
    }

    @Test
    void readsInt32AsIntAndLongAndRefusesAnIntOverflow() throws Exception {
        Path file = RawFiles.write(dir, "{\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"big\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}",
                RawFiles.le(8 + 8, b -> b.putInt(-3).putInt(5).putLong(1L << 40)));
        try (var f = SafetensorsFile.open(file)) {
            assertThat(f.readInts("i")).containsExactly(-3, 5);
            assertThat(f.readLongs("i")).containsExactly(-3L, 5L);
            assertThatThrownBy(() -> f.readInts("big")).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("'big'").hasMessageContaining("does not fit in an int");
        }
    }

    @Test
    void readsF16AndBF16AsFloat32() throws Exception {
        // f16: 1.0 = 0x3C00, -2.5 = 0xC100; bf16: 1.0 = 0x3F80, -2.5 = 0xC020
        Path file = RawFiles.write(dir, "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}",
                RawFiles.le(8, b -> b.putShort((short) 0x3C00).putShort((short) 0xC100)
                        .putShort((short) 0x3F80).putShort((short) 0xC020)));
        try (var f = SafetensorsFile.open(file)) {
            assertThat(f.readFloats("h")).containsExactly(1f, -2.5f);
            assertThat(f.readFloats("b")).containsExactly(1f, -2.5f);
        }
    }

    @Test
    void readsTheTransformersFixture() throws Exception {
        try (var f = SafetensorsFile.open(Fixtures.mambaTiny().resolve("reference.safetensors"))) {
            assertThat(f.info("input_ids").dtype()).isEqualTo(DType.I64);
            assertThat(f.info("logits").shape()).containsExactly(2, 24, 256);
            assertThat(java.util.Arrays.stream(f.readLongs("input_ids")).boxed().toList()).hasSize(48).allMatch(id -> id >= 0 && id < 256);
        }
    }

    @Test
    void rewritingReplacesTheFileAndLeavesNoTemporaryFiles() throws Exception {
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter().putF32("a", new float[] {1f}, 1).write(file);
        new SafetensorsWriter().putF32("b", new float[] {2f, 3f}, 2).write(file);
        try (var f = SafetensorsFile.open(file)) {
            assertThat(f.names()).containsExactly("b");
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void aWriteThatFailsHalfwayLeavesTheOldFileIntactAndNoTemporaryFile() throws Exception {
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter().putF32("a", new float[] {1f}, 1).write(file);
        byte[] before = Files.readAllBytes(file);
        assertThatThrownBy(() -> AtomicFiles.write(file, ch -> {
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            throw new IOException("disk full (simulated)");
        })).hasMessageContaining("simulated");
        assertThat(Files.readAllBytes(file)).isEqualTo(before);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void writerRefusesAShapeThatDoesNotMatchTheData() {
        assertThatThrownBy(() -> new SafetensorsWriter().putF32("w", new float[5], 2, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'w'").hasMessageContaining("[2, 3]").hasMessageContaining("5");
    }
}
