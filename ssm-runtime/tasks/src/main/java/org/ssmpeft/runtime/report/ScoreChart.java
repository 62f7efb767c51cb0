package org.ssmpeft.runtime.report;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.StatisticalBarRenderer;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;
import org.ssmpeft.runtime.io.AtomicFiles;

/**
 * A bar chart of one score per method (the main score of a comparison), with the standard deviation over seeds as an
 * error bar where there is one, as a PNG drawn headless with JFreeChart.
 */
public final class ScoreChart {

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private ScoreChart() {
    }

    /**
     * Writes the chart to {@code png} (atomically): a bar per entry of {@code means}, in its order, with the entry of
     * {@code sds} of the same method as its error bar (none when absent).
     */
    public static void write(Path png, String title, String score, Map<String, Double> means,
                             Map<String, Double> sds, int width, int height) throws IOException {
        if (width < 16 || height < 16) {
            throw new IllegalArgumentException("chart size must be at least 16 x 16, found " + width + " x " + height);
        }
        var data = new DefaultStatisticalCategoryDataset();
        means.forEach((method, mean) -> data.add(mean, sds.getOrDefault(method, 0.0), score, method));
        JFreeChart chart = ChartFactory.createBarChart(title, "method", score, data, PlotOrientation.VERTICAL, false,
                false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        var renderer = new StatisticalBarRenderer();
        renderer.setSeriesPaint(0, new Color(0x1f77b4));
        renderer.setErrorIndicatorPaint(Color.BLACK);
        renderer.setShadowVisible(false);
        plot.setRenderer(renderer);
        plot.getDomainAxis().setCategoryLabelPositions(CategoryLabelPositions.UP_45);
        var bytes = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(bytes, chart, width, height);
        AtomicFiles.write(png, bytes.toByteArray());
    }
}
