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
    void aGapBetweenTensors() throws IOException {
        assertHeaderFails("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[2]", "[8,16]") + "}")
                .hasMessageContaining("tensor 'b'")
                .hasMessageContaining("starts at byte 8 of the data section but the previous tensor 'a' ends at 4"
                        + " (a gap of 4 bytes: safetensors data must be contiguous)");
    }

    @Test
    void unindexedBytesBeforeTheFirstTensor() throws IOException {
        assertHeaderFails("{" + entry("w", "F32", "[3]", "[4,16]") + "}").hasMessageContaining("tensor 'w'")
                .hasMessageContaining("the first tensor starts at byte 4 of the data section, leaving 4 bytes"
                        + " unindexed before it");
    }

    @Test
    void unindexedBytesAfterTheLastTensor() throws IOException {
        assertHeaderFails("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}")
                .hasMessageContaining("tensor 'b'")
                .hasMessageContaining("4 bytes unindexed after the last tensor: it ends at byte 12 of the data"
                        + " section, which is 16 bytes long");
    }

    @Test
    void dataWithoutAnyTensor() throws IOException {
        assertHeaderFails("{\"__metadata__\":{\"format\":\"pt\"}}")
                .hasMessageContaining("the header declares no tensors, but 16 bytes of data follow it");
    }

    @Test
    void anEmptyTensorMustSitWhereThePreviousOneEnds() throws IOException {
        // Hugging Face sorts empty tensors with the others: [4, 4] inside [0, 8] breaks the tiling
        assertHeaderFails("{" + entry("a", "F32", "[4]", "[0,16]") + "," + entry("e", "F32", "[0]", "[4,4]") + "}")
                .hasMessageContaining("tensor 'e'").hasMessageContaining("overlap those of 'a' [0, 16]");
        assertHeaderFails("{" + entry("a", "F32", "[4]", "[0,16]") + "," + entry("e", "F32", "[0]", "[20,20]")
                + "}").hasMessageContaining("run past the data section");
    }

    @Test
    void emptyTensorsAtTheSeamsLoad() throws IOException {
        Path file = RawFiles.write(dir, "{" + entry("e0", "F32", "[0]", "[0,0]") + "," + entry("a", "F32", "[2]",
                "[0,8]") + "," + entry("e1", "F32", "[2,0]", "[8,8]") + "," + entry("b", "I32", "[2]", "[8,16]") + ","
                + entry("e2", "F32", "[0]", "[16,16]") + "}", DATA16);
        try (var f = SafetensorsFile.open(file)) {
            org.assertj.core.api.Assertions.assertThat(f.names()).containsExactly("e0", "a", "e1", "b", "e2");
        }
    }

    /** A valid file of two tensors, header padded with spaces to 8 bytes, as the writer makes it. */
    private static byte[][] paddedHeaderAndData() {
        String json = "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[8,16]") + "}";
        int padded = (json.length() + 7) / 8 * 8 + 8; // at least 8 spaces of padding
        byte[] h = (json + " ".repeat(padded - json.length())).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] data = RawFiles.le(16, b -> b.putFloat(1f).putFloat(2f).putFloat(3f).putFloat(4f));
        return new byte[][] {h, data};
    }

    @Test
    void aPaddedHeaderWithItsTrueLengthLoads() throws IOException {
        byte[][] hd = paddedHeaderAndData();
        try (var f = SafetensorsFile.open(RawFiles.write(dir, hd[0].length, hd[0], hd[1]))) {
            org.assertj.core.api.Assertions.assertThat(f.readFloats("b")).containsExactly(3f, 4f);
        }
    }

    @Test
    void aHeaderLengthOneByteShortIsRefused() throws IOException {
        // the JSON still parses (the lost byte is padding), but every tensor would shift by one byte
        byte[][] hd = paddedHeaderAndData();
        assertOpenFails(RawFiles.write(dir, hd[0].length - 1, hd[0], hd[1])).hasMessageContaining("tensor 'b'")
                .hasMessageContaining("1 byte unindexed after the last tensor: it ends at byte 16 of the data"
                        + " section, which is 17 bytes long");
    }

    @Test
    void aHeaderLengthShortByEveryAmountOfPaddingIsRefused() throws IOException {
        byte[][] hd = paddedHeaderAndData();
        int json = new String(hd[0], java.nio.charset.StandardCharsets.UTF_8).trim().length();
        for (int k = 1; k <= hd[0].length - json; k++) {
            assertOpenFails(RawFiles.write(dir, hd[0].length - k, hd[0], hd[1]))
                    .hasMessageContaining(k + " byte" + (k == 1 ? "" : "s") + " unindexed after the last tensor");
        }
    }

    @Test
    void aHeaderLengthOneByteLongIsRefused() throws IOException {
        // the first data byte (0x00 of 1f) joins the header: not JSON whitespace
        byte[][] hd = paddedHeaderAndData();
        assertOpenFails(RawFiles.write(dir, hd[0].length + 1, hd[0], hd[1]))
                .hasMessageContaining("header is not valid JSON");
    }

    @Test
    void aHeaderLengthTakingASpaceFromTheDataIsRefused() throws IOException {
        // a data byte that happens to be a space still leaves the tensors one byte short of the data section
        byte[][] hd = paddedHeaderAndData();
        byte[] data = new byte[16];
        data[0] = ' ';
        assertOpenFails(RawFiles.write(dir, hd[0].length + 1, hd[0], data)).hasMessageContaining("tensor 'b'")
                .hasMessageContaining("data_offsets [8, 16] run past the data section: expected end <= 15");
    }

    @Test
    void paddingOtherThanSpacesIsRefused() throws IOException {
        String json = "{" + entry("w", "F32", "[4]", "[0,16]") + "}";
        assertHeaderFails(json + "\n  ").hasMessageContaining("header byte " + json.length() + " is 0x0a after the"
                + " JSON object (1 such byte); the format allows only spaces (0x20) as padding");
        assertHeaderFails(json + " \t\r").hasMessageContaining("is 0x09 after the JSON object (2 such bytes)");
    }

    @Test
    void contentBeforeTheJsonObjectIsRefused() throws IOException {
        assertHeaderFails("  {" + entry("w", "F32", "[4]", "[0,16]") + "}")
                .hasMessageContaining("expected the header's JSON object to begin at its first byte ('{'), found"
                        + " byte 0x20 before it");
    }

    @Test
    void headerLengthZeroIsRefused() throws IOException {
        assertOpenFails(RawFiles.write(dir, 0, new byte[0], DATA16))
                .hasMessageContaining("expected the header to be a JSON object, found nothing");
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

    /** A named pipe would block the open until a writer appears: it is refused at once, naming the file. */
    @Test
    void aNamedPipeIsRefusedInsteadOfHanging() throws Exception {
        Path fifo = dir.resolve("model.safetensors");
        boolean made;
        try {
            made = new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0;
        } catch (IOException e) {
            made = false;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(made, "mkfifo is not available here");
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () ->
                assertThatThrownBy(() -> SafetensorsFile.open(fifo)).isInstanceOf(SafetensorsException.class)
                        .hasMessageContaining(fifo.toString()).hasMessageContaining("named pipe"));
    }
}
