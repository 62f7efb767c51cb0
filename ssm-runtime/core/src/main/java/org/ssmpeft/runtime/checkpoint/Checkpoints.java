package org.ssmpeft.runtime.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.backend.ModelSpec;

/** A checkpoint directory of either family, read by the family its {@code config.json} names. */
public final class Checkpoints {

    private Checkpoints() {
    }

    /**
     * The family of the checkpoint in {@code dir}: Mamba-2 when model_type is "mamba2" (Hugging Face) or
     * {@code ssm_cfg.layer} is "Mamba2" (state-spaces), else Mamba-1 (whose reader then checks the rest).
     */
    public static ModelFamily family(Path dir) throws CheckpointException {
        JsonNode root = MambaConfig.readJson(dir.resolve(MambaCheckpoint.CONFIG_FILE));
        return family(root);
    }

    static ModelFamily family(JsonNode root) {
        if (root == null || !root.isObject()) {
            return ModelFamily.MAMBA;
        }
        JsonNode type = root.get("model_type");
        if (type != null && type.isTextual() && type.textValue().equals("mamba2")) {
            return ModelFamily.MAMBA2;
        }
        JsonNode ssm = root.get("ssm_cfg");
        JsonNode layer = ssm == null ? null : ssm.get("layer");
        boolean stateSpaces = type == null && !root.has("hidden_size");
        return stateSpaces && layer != null && layer.isTextual() && layer.textValue().equals("Mamba2")
                ? ModelFamily.MAMBA2 : ModelFamily.MAMBA;
    }

    /** Loads the checkpoint in {@code dir} as its family's weights ({@link MambaWeights} or {@link Mamba2Weights}). */
    public static ModelSpec load(Path dir) throws CheckpointException {
        return switch (family(dir)) {
            case MAMBA -> MambaCheckpoint.load(dir);
            case MAMBA2 -> Mamba2Checkpoint.load(dir);
        };
    }
}
