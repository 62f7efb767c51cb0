package org.ssmpeft.runtime.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.SsmModel;

/**
 * Scores the model as it stands after an optimiser step: named numbers (accuracy, rouge1, eval_loss, ...). The
 * trainer calls it every {@code evalEvery} steps and after the last one, and may stop early on one of the names.
 * It must not change the adapters.
 */
@FunctionalInterface
public interface Evaluator {

    /** Scores after {@code step} steps; every value finite. */
    Map<String, Double> evaluate(SsmModel model, AdapterSet adapters, int step);

    /** {@code eval_loss}: the mean of {@link SsmModel#loss} over these batches (each batch weighs the same). */
    static Evaluator meanLoss(List<Batch> batches) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("an evaluation needs at least one batch");
        }
        List<Batch> copy = List.copyOf(batches);
        return (model, adapters, step) -> {
            double sum = 0;
            for (Batch b : copy) {
                sum += model.loss(b.tokens(), b.labels(), adapters);
            }
            Map<String, Double> out = new LinkedHashMap<>();
            out.put("eval_loss", sum / copy.size());
            return out;
        };
    }
}
