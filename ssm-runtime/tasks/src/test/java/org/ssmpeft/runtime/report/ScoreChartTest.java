package org.ssmpeft.runtime.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScoreChartTest {

    @Test
    void writesAPngOfTheRequestedSizeWithAndWithoutErrorBars(@TempDir Path tmp) throws Exception {
        Map<String, Double> means = new LinkedHashMap<>();
        means.put("(base model)", 0.30);
        means.put("state-offset", 0.52);
        means.put("lora", 0.49);
        Path png = tmp.resolve("compare.png");
        ScoreChart.write(png, "glue/rte", "accuracy", means, Map.of("state-offset", 0.02, "lora", 0.03), 640, 400);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(640);
        assertThat(image.getHeight()).isEqualTo(400);
    }
}
