package org.ssmpeft.runtime.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.ssmpeft.runtime.io.AtomicFiles;
import org.ssmpeft.runtime.train.CurvePlotter;

/**
 * The loss/metric curve of a run as a PNG, drawn with JFreeChart from the {@link org.ssmpeft.runtime.train.MetricsLog}
 * (the trainer finds it as its {@link CurvePlotter} through ServiceLoader when this artifact is installed): training loss per step
 * on the left axis, every evaluation score (markers) on the right axis. Rendering is headless: the class sets
 * {@code java.awt.headless=true} unless the program chose otherwise before.
 */
public final class TrainingCurve implements CurvePlotter {

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** For ServiceLoader; the drawing itself is {@link #write(Path, Path, int, int)}. */
    public TrainingCurve() {
    }

    @Override
    public void plot(Path metricsLog, Path png, int width, int height) throws IOException {
        write(metricsLog, png, width, height);
    }

    /** Reads a metrics log and writes the chart to {@code png} (atomically) at {@code width} x {@code height}. */
    public static void write(Path metricsLog, Path png, int width, int height) throws IOException {
        if (width < 16 || height < 16) {
            throw new IllegalArgumentException("curve size must be at least 16 x 16, found " + width + " x " + height);
        }
        JFreeChart chart = chart(metricsLog);
        var bytes = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(bytes, chart, width, height);
        AtomicFiles.write(png, bytes.toByteArray());
    }

    /** The chart of a metrics log. */
    public static JFreeChart chart(Path metricsLog) throws IOException {
        XYSeries loss = new XYSeries("training loss");
        Map<String, XYSeries> scores = new LinkedHashMap<>();
        for (String line : Files.readAllLines(metricsLog, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = JSON.readTree(line);
            int step = n.path("step").asInt();
            switch (n.path("type").asText()) {
                case "step" -> loss.add(step, n.path("loss").asDouble());
                case "eval" -> n.path("scores").properties().forEach(e -> scores
                        .computeIfAbsent(e.getKey(), k -> new XYSeries(k)).add(step, e.getValue().asDouble()));
                default -> {
                }
            }
        }
        var lossData = new XYSeriesCollection(loss);
        JFreeChart chart = ChartFactory.createXYLineChart("Training", "step", "loss", lossData,
                PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        ((NumberAxis) plot.getDomainAxis()).setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        var lossRenderer = new XYLineAndShapeRenderer(true, false);
        lossRenderer.setSeriesPaint(0, new Color(0x1f77b4));
        lossRenderer.setSeriesStroke(0, new BasicStroke(1.5f));
        plot.setRenderer(0, lossRenderer);
        if (!scores.isEmpty()) {
            var scoreData = new XYSeriesCollection();
            scores.values().forEach(scoreData::addSeries);
            var axis = new NumberAxis("evaluation");
            axis.setAutoRangeIncludesZero(false);
            plot.setRangeAxis(1, axis);
            plot.setDataset(1, scoreData);
            plot.mapDatasetToRangeAxis(1, 1);
            var renderer = new XYLineAndShapeRenderer(true, true);
            Color[] palette = {new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd)};
            for (int i = 0; i < scores.size(); i++) {
                renderer.setSeriesPaint(i, palette[i % palette.length]);
            }
            plot.setRenderer(1, renderer);
        }
        return chart;
    }
}
