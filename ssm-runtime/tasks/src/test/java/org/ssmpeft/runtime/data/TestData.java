package org.ssmpeft.runtime.data;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** The sample files under src/test/resources/data/, in the benchmarks' published layouts. */
public final class TestData {

    private TestData() {
    }

    public static Path dir(String task) {
        return resource("data/" + task);
    }

    static Path resource(String path) {
        var url = TestData.class.getResource("/" + path);
        if (url == null) {
            throw new IllegalStateException("test resource " + path + " is missing");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
