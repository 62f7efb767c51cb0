package org.ssmpeft.runtime.adapters;

import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * The interop transcripts of {@code src/test/resources/interop/}: files written by Hugging Face PEFT, transformers
 * and torch ({@code ssm-runtime/core/src/test/python/make_interop.py}, one {@code manifest.json} per folder saying
 * how each was made) and files the project wrote that Python read once.
 */
public final class Interop {

    private Interop() {
    }

    /** The test resource {@code interop/<relative>} as a path (this module's test classes are a folder). */
    public static Path resource(String relative) {
        var url = Interop.class.getResource("/interop/" + relative);
        if (url == null) {
            throw new IllegalStateException("test resource interop/" + relative + " is missing; it is made by"
                    + " ssm-runtime/core/src/test/python/make_interop.py (see its manifest.json)");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
