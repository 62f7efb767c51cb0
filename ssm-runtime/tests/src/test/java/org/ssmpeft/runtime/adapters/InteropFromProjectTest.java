package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * Files the project writes, read by Python: a LoRA adapter (in_proj, x_proj, head) and a prompt-tuning adapter saved
 * by {@link AdapterFiles#save}, loaded once by {@code PeftModel.from_pretrained}, and a LoRA merged on all five
 * projections (in_proj, x_proj, dt_proj, out_proj, head) written by {@link LoraMerge#export}, loaded once by
 * {@code MambaForCausalLM.from_pretrained} ({@code make_interop.py peft-in}). What Python computed on them is
 * committed ({@code interop/peft-in/python-logits.safetensors}, manifest beside it with the SHA-256 of every file
 * Python read).
 *
 * <p>CI has no Python, so this test re-creates the three folders from seeded values and checks they are
 * byte-identical to the committed copies that Python read; then that the project's logits equal Python's within
 * {@value #LOGITS_TOL}. Together: the files the project writes today are the files that were verified to load in
 * PEFT and transformers with these logits. To re-create the committed folders after a deliberate format change, run
 * this test with {@code -Dssmpeft.interop.write=<absolute path of src/test/resources/interop/peft-in>} and then
 * {@code make_interop.py peft-in}.
 */
class InteropFromProjectTest {

    static final double LOGITS_TOL = 1e-5;

    private static SafetensorsFile python;
    private static int[][] ids;
    private static CpuMamba model;

    @TempDir
    static Path written;

    @BeforeAll
    static void writeTheFolders() throws Exception {
        AdapterFiles.save(lora(), written.resolve("project-lora"), Optional.of("mamba-tiny"));
        AdapterFiles.save(prompt(), written.resolve("project-prompt"), Optional.of("mamba-tiny"));
        LoraMerge.export(TinyAdapters.weights(), List.of(mergedLora()), written.resolve("project-merged"));
        String out = System.getProperty("ssmpeft.interop.write");
        if (out != null) {
            for (String sub : List.of("project-lora", "project-prompt", "project-merged")) {
                Path to = Files.createDirectories(Path.of(out).resolve(sub));
                try (var s = Files.list(written.resolve(sub))) {
                    for (Path p : s.toList()) {
                        Files.copy(p, to.resolve(p.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
        python = SafetensorsFile.open(Interop.resource("peft-in/python-logits.safetensors"));
        ids = Fixtures.inputIds(python);
        model = new CpuMamba(TinyAdapters.weights());
    }

    @AfterAll
    static void close() {
        python.close();
    }

    /** LoRA where PEFT has it on Mamba: in_proj, x_proj and the head (tied to the embedding in mamba-tiny). */
    static Adapter lora() {
        return TinyAdapters.adapter("default", "lora", LayerSelection.ALL, new LoraConfig(4, 8.0, 0.0,
                List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.HEAD), false), 171);
    }

    static Adapter prompt() {
        return TinyAdapters.adapter("default", "prompt", LayerSelection.ALL, new PromptConfig(5, 0.02), 172);
    }

    /** LoRA on every projection, also those PEFT refuses (out_proj) or bypasses (dt_proj): merged, they are weights. */
    static Adapter mergedLora() {
        return TinyAdapters.adapter("merged", "lora", LayerSelection.ALL, new LoraConfig(4, 8.0, 0.0,
                List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ,
                        Projection.HEAD), false), 173);
    }

    private static void assertByteIdentical(String sub) throws Exception {
        Path committed = Interop.resource("peft-in/" + sub);
        Path ours = written.resolve(sub);
        TreeSet<String> names = new TreeSet<>();
        try (var s = Files.list(ours)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        TreeSet<String> committedNames = new TreeSet<>();
        try (var s = Files.list(committed)) {
            s.forEach(p -> committedNames.add(p.getFileName().toString()));
        }
        assertThat(names).as(sub + ": files").isEqualTo(committedNames);
        for (String n : names) {
            assertThat(Files.readAllBytes(ours.resolve(n))).as(sub + "/" + n + " as written today vs the copy"
                    + " Python read").isEqualTo(Files.readAllBytes(committed.resolve(n)));
        }
    }

    private static float[] logits(CpuMamba m, AdapterSet set) {
        return m.forward(ids, set, m.newState(ids.length)).values();
    }

    private static double report(String what, float[] ours, String key) throws Exception {
        double err = Fixtures.maxAbsDiff(ours, python.readFloats(key));
        System.out.printf("%s: project vs Python logits max abs error %.3e%n", what, err);
        return err;
    }

    @Test
    void theLoraFolderIsTheOnePeftLoadedAndPeftGotTheProjectsLogits() throws Exception {
        assertByteIdentical("project-lora");
        float[] ours = logits(model, new AdapterSet(TinyAdapters.shape()).add(lora()));
        assertThat(Fixtures.maxAbsDiff(ours, logits(model, model.noAdapters()))).as("the adapter acts")
                .isGreaterThan(0.1);
        assertThat(report("LoRA saved here, PeftModel.from_pretrained", ours, "lora.logits")).isLessThan(LOGITS_TOL);
    }

    @Test
    void thePromptFolderIsTheOnePeftLoadedAndPeftGotTheProjectsLogits() throws Exception {
        assertByteIdentical("project-prompt");
        float[] ours = logits(model, new AdapterSet(TinyAdapters.shape()).add(prompt()));
        assertThat(ours).hasSize(2 * (5 + 16) * 256);
        assertThat(report("prompt tuning saved here, PeftModel.from_pretrained", ours, "prompt.logits"))
                .isLessThan(LOGITS_TOL);
    }

    @Test
    void theMergedExportIsTheOneTransformersLoadedAndItGotTheHookedModelsLogits() throws Exception {
        assertByteIdentical("project-merged");
        float[] hooked = logits(model, new AdapterSet(TinyAdapters.shape()).add(mergedLora()));
        assertThat(report("LoRA on all five projections, hooked here vs merged export in MambaForCausalLM", hooked,
                "merged.logits")).isLessThan(LOGITS_TOL);
        var reloaded = new CpuMamba(MambaCheckpoint.load(written.resolve("project-merged")));
        assertThat(report("merged export reloaded here vs MambaForCausalLM", logits(reloaded,
                reloaded.noAdapters()), "merged.logits")).isLessThan(LOGITS_TOL);
    }

    @Test
    void promptFoldersCarryNumAttentionHeadsForPeftAndOlderOnesWithNullStillLoad() throws Exception {
        Path dir = written.resolve("project-prompt");
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) AdapterFiles.JSON.readTree(
                dir.resolve(AdapterFiles.CONFIG_FILE).toFile());
        assertThat(root.get("num_attention_heads").asInt()).as("PEFT refuses a Mamba prompt config without it")
                .isEqualTo(1);
        Path old = Files.createDirectories(written.resolve("older-prompt"));
        Files.copy(dir.resolve(AdapterFiles.WEIGHTS_FILE), old.resolve(AdapterFiles.WEIGHTS_FILE));
        root.putNull("num_attention_heads");
        Files.writeString(old.resolve(AdapterFiles.CONFIG_FILE), AdapterFiles.JSON.writeValueAsString(root));

        Adapter loaded = AdapterFiles.load(old, TinyAdapters.shape(), TinyAdapters.FACTORY);

        assertThat(loaded.parameters().values().iterator().next().data())
                .isEqualTo(prompt().parameters().values().iterator().next().data());
    }
}
