package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.lora.LoraConfig;

/** The rows {@code peft compare} trains: every installed method, and the option rows of lora (DoRA, LoRA+). */
class MethodDefaultsTest {

    private final AdapterFactory factory = new AdapterFactory(PeftMethods.load());

    @Test
    void theDefaultRunTrainsEveryInstalledMethodAndDoraAndOffersLoraPlusOnRequest() {
        List<String> installed = factory.methods().names();
        List<String> rows = MethodDefaults.defaultRows(installed);
        assertThat(rows).containsAll(installed).contains("lora-dora").doesNotContain("lora-plus", "lora-pissa");
        assertThat(rows.indexOf("lora-dora")).isEqualTo(rows.indexOf("lora") + 1);
        assertThat(MethodDefaults.onRequest(installed)).containsExactly("lora-plus", "lora-pissa");
        assertThat(MethodDefaults.defaultRows(List.of("state-offset"))).containsExactly("state-offset");
    }

    @Test
    void theOptionRowsAreLoraConfigsWithTheirOption() {
        var dora = (LoraConfig) factory.reader().parse(MethodDefaults.config("lora-dora"), ConfigFormat.YAML)
                .getFirst().config();
        var plus = (LoraConfig) factory.reader().parse(MethodDefaults.config("lora-plus"), ConfigFormat.YAML)
                .getFirst().config();
        var lora = (LoraConfig) factory.reader().parse(MethodDefaults.config("lora"), ConfigFormat.YAML)
                .getFirst().config();
        assertThat(dora).isEqualTo(new LoraConfig(lora.rank(), lora.alpha(), lora.dropout(), lora.targets(), false,
                true));
        assertThat(plus).isEqualTo(new LoraConfig(lora.rank(), lora.alpha(), lora.dropout(), lora.targets(), false,
                false, 16));
        assertThat(MethodDefaults.lr("lora-plus")).isEqualTo(1e-3);
        assertThat(MethodDefaults.paperLr("lora-dora")).isEqualTo(MethodDefaults.paperLr("lora"));
        ModelShape s = ModelShape.preset("mamba-130m").orElseThrow();
        var spec = factory.reader().parse(MethodDefaults.config("lora-dora"), ConfigFormat.YAML).getFirst();
        assertThat(factory.parameterCount(spec, s)).isEqualTo(1_243_008);
    }

    /** The example configs read and count what their comments say (run from the examples module's folder). */
    @Test
    void theExampleConfigsOfDoraLoraPlusAndPissaReadAndCountAsTheirCommentsSay() {
        ModelShape s = ModelShape.preset("mamba-130m").orElseThrow();
        var dora = factory.reader().read(java.nio.file.Path.of("configs/dora.yaml")).getFirst();
        var plus = factory.reader().read(java.nio.file.Path.of("configs/lora-plus.yaml")).getFirst();
        assertThat(((LoraConfig) dora.config()).useDora()).isTrue();
        assertThat(((LoraConfig) plus.config()).loraplusLrRatio()).isEqualTo(16);
        assertThat(factory.parameterCount(dora, s)).isEqualTo(1_243_008);
        assertThat(factory.parameterCount(plus, s)).isEqualTo(1_204_224);
        var pissa = factory.reader().read(java.nio.file.Path.of("configs/pissa.yaml")).getFirst();
        assertThat(((LoraConfig) pissa.config()).initLoraWeights()).isEqualTo(org.ssmpeft.lora.LoraInit.PISSA);
        assertThat(factory.parameterCount(pissa, s)).isEqualTo(1_204_224); // the frozen B0, A0 are not parameters
    }
}
