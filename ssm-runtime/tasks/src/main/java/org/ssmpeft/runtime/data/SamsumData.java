package org.ssmpeft.runtime.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * SAMSum (Gliwa et al., 2019) in its published layout ({@code samsum-corpus}: {@code train.json}, {@code val.json},
 * {@code test.json}, each a JSON array of {@code {id, summary, dialogue}}). Input = the raw dialogue (its
 * {@code \r\n} line breaks kept), output = the summary; no prefix (the paper code's {@code dataset/samsum.py}).
 * Field: {@code id}.
 */
public final class SamsumData {

    private SamsumData() {
    }

    /** A published split from the corpus folder: train.json, val.json or test.json. */
    public static Dataset load(Path dir, Split split) throws IOException {
        String file = switch (split) {
            case TRAIN -> "train.json";
            case VALIDATION -> "val.json";
            case TEST -> "test.json";
        };
        return loadFile(dir.resolve(file), split);
    }

    /** The records of one file, labelled as {@code split}. */
    public static Dataset loadFile(Path file, Split split) throws IOException {
        List<Example> examples = JsonRecords.readArray(file, r -> {
            String id = r.node().has("id") ? r.text("id") : String.valueOf(r.index());
            return new Example(r.text("dialogue"), r.text("summary"), Map.of("id", id));
        });
        return new Dataset("samsum", split, Mode.TRAIN, PromptFormat.generation(""), examples);
    }
}
