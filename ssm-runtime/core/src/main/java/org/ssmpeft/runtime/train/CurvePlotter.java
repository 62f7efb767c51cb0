package org.ssmpeft.runtime.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Draws a run's loss/metric curve from its {@link MetricsLog} as a PNG. The engine has no chart library: the trainer
 * finds an implementation with {@link ServiceLoader} ({@code ssm-tasks} ships {@code report.TrainingCurve}, on
 * JFreeChart) and, when none is installed, writes the metrics log alone.
 */
public interface CurvePlotter {

    int DEFAULT_WIDTH = 1000;
    int DEFAULT_HEIGHT = 600;

    /** Writes the chart of {@code metricsLog} to {@code png} (atomically) at {@code width} x {@code height}. */
    void plot(Path metricsLog, Path png, int width, int height) throws IOException;

    /** The first installed plotter, if any. */
    static Optional<CurvePlotter> installed() {
        return ServiceLoader.load(CurvePlotter.class, CurvePlotter.class.getClassLoader()).findFirst();
    }
}
