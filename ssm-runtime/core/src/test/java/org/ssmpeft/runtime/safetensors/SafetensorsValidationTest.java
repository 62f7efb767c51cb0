package org.ssmpeft.runtime.safetensors;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One test per rule the reader checks; each error names the file, the tensor and expected vs found. */
class SafetensorsValidationTest {

    @TempDir
    Path dir;

    private static final byte[] DATA16 = new byte[16];

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    private AbstractThrowableAssert<?, ? extends Throwable> assertOpenFails(Path file) {
        return assertThatThrownBy(() -> {
            try (var f = SafetensorsFile.open(file)) {
                f.names();
            }
        }).isInstanceOf(SafetensorsException.class).hasMessageContaining(file.toString());
    }

    private AbstractThrowableAssert<?, ? extends Throwable> assertHeaderFails(String header) throws IOException {
        return assertOpenFails(RawFiles.write(dir, header, DATA16));
    }

    @Test
    void fileShorterThanTheLengthPrefix() throws IOException {
        Path f = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3});
        assertOpenFails(f).hasMessageContaining("expected at least 8 bytes").hasMessageContaining("found a 3-byte");
    }

    @Test
    void missingFile() {
        assertOpenFails(dir.resolve("absent.safetensors")).hasMessageContaining("no such file");
    }

    @Test
    void headerLengthAboveTheCap() throws IOException {
        assertOpenFails(RawFiles.write(dir, SafetensorsFile.MAX_HEADER_BYTES + 1, "{}".getBytes(), new byte[0]))
                .hasMessageContaining("header length 100000001 exceeds the cap of 100000000");
    }

    @Test
    void headerLengthThatIsNegativeAsASignedLong() throws IOException {
        assertOpenFails(RawFiles.write(dir, -1L, "{}".getBytes(), new byte[0]))
                .hasMessageContaining("header length 18446744073709551615 exceeds the cap");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() throws IOException {
        assertOpenFails(RawFiles.write(dir, 1000, "{}".getBytes(), new byte[0]))
                .hasMessageContaining("header length 1000 runs past the end of the file")
                .hasMessageContaining("expected at most 2");
    }

    @Test
    void headerThatIsNotUtf8() throws IOException {
        byte[] h = {'{', '"', (byte) 0xff, '"', ':', '1', '}'};
        assertOpenFails(RawFiles.write(dir, h.length, h, new byte[0])).hasMessageContaining("invalid UTF-8");
    }

    @Test
    void headerThatIsNotJson() throws IOException {
        assertHeaderFails("{\"a\": ").hasMessageContaining("header is not valid JSON");
    }

    @Test
    void headerWithTrailingGarbage() throws IOException {
        assertHeaderFails("{} {}").hasMessageContaining("header is not valid JSON");
    }

    @Test
    void headerThatIsNotAnObject() throws IOException {
        assertHeaderFails("[1, 2]").hasMessageContaining("expected the header to be a JSON object, found array");
    }

    @Test
    void duplicateTensorNames() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[2]", "[0,8]") + "," + entry("w", "F32", "[2]", "[8,16]") + "}")
                .hasMessageContaining("Duplicate field 'w'");
    }

    @Test
    void entryThatIsNotAnObject() throws IOException {
        assertHeaderFails("{\"w\": [1, 2]}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("expected an object with dtype, shape and data_offsets, found ARRAY");
    }

    @Test
    void missingDtype() throws IOException {
        assertHeaderFails("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("expected 'dtype' to be a string, found nothing (key missing)");
    }

    @Test
    void dtypeThatIsNotAString() throws IOException {
        assertHeaderFails("{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}")
                .hasMessageContaining("expected 'dtype' to be a string, found number 4");
    }

    @Test
    void unknownDtype() throws IOException {
        assertHeaderFails("{" + entry("w", "F33", "[2]", "[0,8]") + "}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("unknown dtype 'F33'; expected one of").hasMessageContaining("BF16");
    }

    @Test
    void shapeThatIsNotAnArray() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "2", "[0,8]") + "}")
                .hasMessageContaining("expected 'shape' to be an array of non-negative integers, found number 2");
    }

    @Test
    void negativeDimension() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[2,-1]", "[0,8]") + "}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("expected shape[1] to be a non-negative 64-bit integer, found number -1");
    }

    @Test
    void fractionalDimension() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[1.5]", "[0,8]") + "}")
                .hasMessageContaining("expected shape[0] to be a non-negative 64-bit integer, found number 1.5");
    }

    @Test
    void dimensionBeyondALong() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[99999999999999999999]", "[0,8]") + "}")
                .hasMessageContaining("expected shape[0] to be a non-negative 64-bit integer");
    }

    @Test
    void offsetsThatAreNotAPair() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[2]", "[0,4,8]") + "}")
                .hasMessageContaining("expected 'data_offsets' to be an array [begin, end] of two non-negative"
                        + " integers, found array [0,4,8]");
    }

    @Test
    void negativeOffset() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[2]", "[-8,0]") + "}")
                .hasMessageContaining("expected data_offsets[0] to be a non-negative 64-bit integer, found number -8");
    }

    @Test
    void offsetsEndingBeforeTheyBegin() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[0]", "[8,0]") + "}")
                .hasMessageContaining("data_offsets [8, 0]: expected begin <= end");
    }

    @Test
    void shapeAndByteLengthThatDisagree() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[3]", "[0,8]") + "}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] span 8");
    }

    @Test
    void shapeWhoseByteCountOverflows() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[4294967296,4294967296]", "[0,8]") + "}")
                .hasMessageContaining("shape [4294967296, 4294967296] of F32 overflows a 64-bit byte count");
    }

    @Test
    void offsetsPastTheDataSection() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[6]", "[0,24]") + "}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("data_offsets [0, 24] run past the data section: expected end <= 16");
    }

    @Test
    void overlappingTensors() throws IOException {
        assertHeaderFails("{" + entry("a", "F32", "[3]", "[0,12]") + "," + entry("b", "F32", "[2]", "[8,16]") + "}")
                .hasMessageContaining("tensor 'b'")
                .hasMessageContaining("data_offsets [8, 16] overlap those of 'a' [0, 12]");
    }

    @Test
    void metadataThatIsNotAnObjectOfStrings() throws IOException {
        assertHeaderFails("{\"__metadata__\":{\"format\":1}}")
                .hasMessageContaining("expected __metadata__.format to be a string, found NUMBER");
    }

    @Test
    void unknownTensorNameListsTheTensorsPresent() throws IOException {
        Path file = RawFiles.write(dir, "{" + entry("w", "F32", "[4]", "[0,16]") + "}", DATA16);
        try (var f = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> f.readFloats("v")).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("tensor 'v': no such tensor; the file has 1 tensors: w");
        }
    }

    @Test
    void readingIntegersAsFloatsIsRefused() throws IOException {
        Path file = RawFiles.write(dir, "{" + entry("ids", "I64", "[2]", "[0,16]") + "}", DATA16);
        try (var f = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> f.readFloats("ids")).isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("tensor 'ids'")
                    .hasMessageContaining("expected a floating-point dtype (F32, F16, BF16, F64) to read as float32,"
                            + " found I64");
            assertThatThrownBy(() -> f.readLongs("nope")).isInstanceOf(SafetensorsException.class);
        }
    }
}
