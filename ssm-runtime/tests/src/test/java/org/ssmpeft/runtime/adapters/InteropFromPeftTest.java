package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

/**
 * Adapters made by Hugging Face PEFT itself ({@code get_peft_model} on transformers' MambaForCausalLM of the
 * mamba-tiny fixture, trained 6 AdamW steps, {@code save_pretrained}; see {@code interop/peft-out/manifest.json} and
 * {@code make_interop.py peft-out}) load here and give PEFT's logits on the same ids, within the parity tolerance
 * {@value #LOGITS_TOL} (measured: printed).
 */
class InteropFromPeftTest {

    static final double LOGITS_TOL = 1e-5;

    private static SafetensorsFile peftLogits;
    private static CpuMamba model;
    private static int[][] ids;

    @TempDir
    Path tmp;

    @BeforeAll
    static void open() throws Exception {
        peftLogits = SafetensorsFile.open(Interop.resource("peft-out/peft-logits.safetensors"));
        ids = Fixtures.inputIds(peftLogits);
        model = new CpuMamba(TinyAdapters.weights());
    }

    @AfterAll
    static void close() {
        peftLogits.close();
    }

    private static double compare(String what, Adapter adapter, String key) throws Exception {
        float[] ours = model.forward(ids, new AdapterSet(TinyAdapters.shape()).add(adapter),
                model.newState(ids.length)).values();
        float[] theirs = peftLogits.readFloats(key);
        double err = Fixtures.maxAbsDiff(ours, theirs);
        double moved = Fixtures.maxAbsDiff(theirs, model.forward(ids, model.noAdapters(),
                model.newState(ids.length)).values());
        System.out.printf("%s written by PEFT: project vs PEFT logits max abs error %.3e (the adapter moves them by"
                + " %.3e)%n", what, err, moved);
        return err;
    }

    @Test
    void aLoraAdapterTrainedAndSavedByPeftGivesPeftsLogits() throws Exception {
        Adapter lora = AdapterFiles.load(Interop.resource("peft-out/lora"), TinyAdapters.shape(),
                TinyAdapters.FACTORY);

        assertThat(lora.config()).isEqualTo(new LoraConfig(4, 8.0, 0.0, List.of(Projection.IN_PROJ,
                Projection.X_PROJ, Projection.HEAD), false));
        assertThat(lora.parameter("layers.0.in_proj.lora_B").data()).as("trained: lora_B left zero")
                .isNotEqualTo(new float[256 * 4]);
        assertThat(compare("LoRA (in_proj, x_proj, lm_head)", lora, "lora.logits")).isLessThan(LOGITS_TOL);
    }

    @Test
    void peftsCopyOfTheBaseHeadIsTheFixturesEmbeddingSoLeavingItUnappliedChangesNothing() throws Exception {
        try (var f = SafetensorsFile.open(Interop.resource("peft-out/lora").resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(f.names()).contains(AdapterFiles.PEFT_HEAD_BASE_COPY);
            assertThat(f.readFloats(AdapterFiles.PEFT_HEAD_BASE_COPY)).isEqualTo(TinyAdapters.weights().embedding());
        }
    }

    @Test
    void aWrongShapedCopyOfTheBaseHeadIsRefused() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("lora"));
        Path source = Interop.resource("peft-out/lora");
        Files.copy(source.resolve(AdapterFiles.CONFIG_FILE), dir.resolve(AdapterFiles.CONFIG_FILE));
        var w = new SafetensorsWriter().metadata("format", "pt");
        try (var f = SafetensorsFile.open(source.resolve(AdapterFiles.WEIGHTS_FILE))) {
            for (String n : f.names()) {
                if (n.equals(AdapterFiles.PEFT_HEAD_BASE_COPY)) {
                    w.putF32(n, new float[255 * 64], 255, 64);
                } else {
                    w.putF32(n, f.readFloats(n), f.info(n).shape());
                }
            }
        }
        w.write(dir.resolve(AdapterFiles.WEIGHTS_FILE));

        assertThatThrownBy(() -> AdapterFiles.load(dir, TinyAdapters.shape(), TinyAdapters.FACTORY))
                .isInstanceOf(AdapterFileException.class)
                .hasMessageContaining("lm_head.base_layer.weight")
                .hasMessageContaining("[256, 64]");
    }

    @Test
    void aPromptTuningAdapterTrainedAndSavedByPeftGivesPeftsLogits() throws Exception {
        Adapter prompt = AdapterFiles.load(Interop.resource("peft-out/prompt"), TinyAdapters.shape(),
                TinyAdapters.FACTORY);

        assertThat(((PromptConfig) prompt.config()).numVirtualTokens()).isEqualTo(5);
        float[] ours = model.forward(ids, new AdapterSet(TinyAdapters.shape()).add(prompt),
                model.newState(ids.length)).values();
        assertThat(ours).hasSize(2 * 21 * 256);
        double err = Fixtures.maxAbsDiff(ours, peftLogits.readFloats("prompt.logits"));
        System.out.printf("prompt tuning (5 tokens) written by PEFT: project vs PEFT logits max abs error %.3e%n",
                err);
        assertThat(err).isLessThan(LOGITS_TOL);
    }

}
