package org.ssmpeft.runtime.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Hand-made safetensors files, valid or not, for the validation tests. */
final class RawFiles {

    private RawFiles() {
    }

    /** A file with the true header length, the given header text and data. */
    static Path write(Path dir, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return write(dir, h.length, h, data);
    }

    /** A file whose length prefix says {@code headerLength}, whatever follows. */
    static Path write(Path dir, long headerLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(header).put(data);
        Path file = Files.createTempFile(dir, "raw", ".safetensors");
        Files.write(file, b.array());
        return file;
    }

    /** {@code n} little-endian bytes filled by {@code fill}. */
    static byte[] le(int n, Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        return b.array();
    }
}
