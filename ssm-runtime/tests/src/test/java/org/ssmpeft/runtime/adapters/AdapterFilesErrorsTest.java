package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

/** Every way an adapter folder is refused, with the exact message; and nothing is half applied. */
class AdapterFilesErrorsTest {

    private static final ModelShape TINY = TinyAdapters.shape();
    private static final String TINY_TEXT = TINY.describe();
    private static final List<String> MODULES = List.of("in_proj", "x_proj", "dt_proj", "out_proj");

    private static SafetensorsFile peft;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() throws Exception {
        peft = SafetensorsFile.open(Fixtures.mambaTiny().resolve("peft-grads.safetensors"));
    }

    @AfterAll
    static void close() {
        peft.close();
    }

    private Adapter load(Path d, ModelShape shape) throws AdapterFileException {
        return AdapterFiles.load(d, shape, TinyAdapters.FACTORY);
    }

    private void writePeftLora() throws Exception {
        PeftFolderTest.writePeftLora(dir, peft, List.of(0, 1), MODULES, "null",
                "[\"in_proj\", \"x_proj\", \"dt_proj\", \"out_proj\"]");
    }

    private void replaceInConfig(String from, String to) throws Exception {
        Path c = dir.resolve(AdapterFiles.CONFIG_FILE);
        String text = Files.readString(c);
        assertThat(text).contains(from);
        Files.writeString(c, text.replace(from, to));
    }

    @Test
    void aRankTheWeightsDoNotHaveIsRefusedBeforeTheAdapterIsAllocated() throws Exception {
        writePeftLora();
        replaceInConfig("\"r\": 4,", "\"r\": 4096,");
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class)
                .hasMessageContaining("describes a lora adapter of ")
                .hasMessageContaining("but adapter_model.safetensors holds ");
        assertThat(mx.getCurrentThreadAllocatedBytes() - before).as("bytes allocated to refuse it")
                .isLessThan(16L << 20);
    }

    @Test
    void anUnknownMethodIsRefusedListingTheInstalledOnes() throws Exception {
        AdapterFiles.save(TinyAdapters.stateOffsetH("offset", 1), dir);
        replaceInConfig("\"method\" : \"state-offset\"", "\"method\" : \"state-ofset\"");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_config.json: ssm_peft.adapter.method: unknown"
                        + " PEFT method 'state-ofset'; did you mean 'state-offset'?; installed: additional-scan,"
                        + " bitfit, full-ft, initial-state, lora, partial-ft, prefix, prompt, sdlora, state-offset");
    }

    @Test
    void aConfigWithTextAfterTheJsonIsRefused() throws Exception {
        AdapterFiles.save(TinyAdapters.stateOffsetH("offset", 1), dir);
        Path c = dir.resolve(AdapterFiles.CONFIG_FILE);
        Files.writeString(c, Files.readString(c).strip() + "\nx\n");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class)
                .hasMessageStartingWith("adapter folder " + dir + " cannot be loaded: adapter_config.json: content"
                        + " after the JSON value at line ")
                .hasMessageContaining("found \"x\"; a config file holds one value");
        Files.write(c, new byte[] {'{', (byte) 0xFF, '}'});
        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class)
                .hasMessageContaining("adapter_config.json: not UTF-8 text: byte 0xFF at offset 1 (line 1)");
    }

    @Test
    void anInvalidFieldIsRefusedWithItsPathValueAndRange() throws Exception {
        AdapterFiles.save(TinyAdapters.loraWhole("lora", 1), dir);
        replaceInConfig("\"rank\" : 4", "\"rank\" : 0");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_config.json: ssm_peft.adapter.rank: expected a"
                        + " value in [1, 4096], found 0");
    }

    @Test
    void aBaseOfAnotherShapeIsRefusedNamingEachTensorAndBothShapes() throws Exception {
        AdapterFiles.save(TinyAdapters.stateOffsetH("offset", 1), dir);
        ModelShape narrow = ModelShape.mamba(2, 32, 16, 256);

        assertThatThrownBy(() -> load(dir, narrow)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded (2 problems):\n"
                        + "  tensor 'base_model.model.backbone.layers.0.mixer.state_offset': the state-offset adapter"
                        + " 'offset' on " + narrow.describe() + " needs shape [64, 16], the file has [128, 16] (the"
                        + " adapter was saved for " + TINY_TEXT + ")\n"
                        + "  tensor 'base_model.model.backbone.layers.1.mixer.state_offset': the state-offset adapter"
                        + " 'offset' on " + narrow.describe() + " needs shape [64, 16], the file has [128, 16] (the"
                        + " adapter was saved for " + TINY_TEXT + ")");
    }

    @Test
    void aBaseOfAnotherFamilyIsRefusedNamingTheFamiliesAndTheTensors() throws Exception {
        AdapterFiles.save(TinyAdapters.adapter("h0", "initial-state", new LayerSelection.Some(java.util.BitSet.valueOf(new long[] {1})),
                new org.ssmpeft.stateoffset.InitialStateConfig(org.ssmpeft.stateoffset.StateInit.ZERO), 1), dir);
        ModelShape mamba2 = ModelShape.requirePreset("mamba2-tiny");

        assertThatThrownBy(() -> load(dir, mamba2)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded (2 problems):\n"
                        + "  the adapter was saved for a mamba model (" + TINY_TEXT + ") but the base model is a"
                        + " mamba2 model (" + mamba2.describe() + ")\n"
                        + "  tensor 'base_model.model.backbone.layers.0.mixer.initial_state': the initial-state"
                        + " adapter 'h0' on " + mamba2.describe() + " needs shape [8, 16, 16], the file has [128, 16]"
                        + " (the adapter was saved for " + TINY_TEXT + ")");
    }

    @Test
    void aLoraTargetTheOtherFamilyLacksIsRefusedByTheConfigCheck() throws Exception {
        AdapterFiles.save(TinyAdapters.adapter("lora", "lora", LayerSelection.ALL, TinyAdapters.lora(
                Projection.X_PROJ), 1), dir);
        ModelShape mamba2 = ModelShape.requirePreset("mamba2-tiny");

        assertThatThrownBy(() -> load(dir, mamba2)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded (2 problems):\n"
                        + "  the adapter was saved for a mamba model (" + TINY_TEXT + ") but the base model is a"
                        + " mamba2 model (" + mamba2.describe() + ")\n"
                        + "  adapter_config.json: ssm_peft.adapter.targets[0]: target x_proj does not exist in mamba2"
                        + " blocks; mamba2 has: in_proj, in_proj.x, in_proj.z, in_proj.B, in_proj.C, in_proj.dt, out_proj, head");
    }

    @Test
    void aMissingTensorIsNamedWithItsShape() throws Exception {
        PeftFolderTest.writePeftLora(dir, peft, List.of(0, 1), List.of("in_proj", "x_proj"), "null",
                "[\"in_proj\", \"x_proj\", \"dt_proj\"]");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded (4 problems):\n"
                        + "  missing tensor 'base_model.model.backbone.layers.0.mixer.dt_proj.lora_A.weight': the"
                        + " lora adapter 'default' on " + TINY_TEXT + " needs it with shape [4, 4]\n"
                        + "  missing tensor 'base_model.model.backbone.layers.0.mixer.dt_proj.lora_B.weight': the"
                        + " lora adapter 'default' on " + TINY_TEXT + " needs it with shape [128, 4]\n"
                        + "  missing tensor 'base_model.model.backbone.layers.1.mixer.dt_proj.lora_A.weight': the"
                        + " lora adapter 'default' on " + TINY_TEXT + " needs it with shape [4, 4]\n"
                        + "  missing tensor 'base_model.model.backbone.layers.1.mixer.dt_proj.lora_B.weight': the"
                        + " lora adapter 'default' on " + TINY_TEXT + " needs it with shape [128, 4]");
    }

    @Test
    void anUnexpectedTensorIsNamed() throws Exception {
        PeftFolderTest.writePeftLora(dir, peft, List.of(0, 1), List.of("in_proj", "x_proj"), "null",
                "[\"in_proj\"]");

        AdapterFileException e = org.junit.jupiter.api.Assertions.assertThrows(AdapterFileException.class,
                () -> load(dir, TINY));
        assertThat(e.problems()).containsExactly(
                "unexpected tensor 'base_model.model.backbone.layers.0.mixer.x_proj.lora_A.weight' (shape [4, 128]):"
                        + " the lora adapter 'default' on " + TINY_TEXT + " has no parameter saved under that name",
                "unexpected tensor 'base_model.model.backbone.layers.0.mixer.x_proj.lora_B.weight' (shape [36, 4]):"
                        + " the lora adapter 'default' on " + TINY_TEXT + " has no parameter saved under that name",
                "unexpected tensor 'base_model.model.backbone.layers.1.mixer.x_proj.lora_A.weight' (shape [4, 128]):"
                        + " the lora adapter 'default' on " + TINY_TEXT + " has no parameter saved under that name",
                "unexpected tensor 'base_model.model.backbone.layers.1.mixer.x_proj.lora_B.weight' (shape [36, 4]):"
                        + " the lora adapter 'default' on " + TINY_TEXT + " has no parameter saved under that name");
    }

    @Test
    void aTruncatedPeftFileIsRefusedByTheSafetensorsReader() throws Exception {
        writePeftLora();
        Path weights = dir.resolve(AdapterFiles.WEIGHTS_FILE);
        org.ssmpeft.runtime.safetensors.TensorInfo last;
        try (var f = SafetensorsFile.open(weights)) {
            last = f.names().stream().map(n -> f.find(n).orElseThrow())
                    .max(java.util.Comparator.comparingLong(org.ssmpeft.runtime.safetensors.TensorInfo::end))
                    .orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 100));

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_model.safetensors is refused: safetensors file "
                        + weights + ", tensor '" + last.name() + "': data_offsets [" + last.begin() + ", "
                        + last.end() + "] run past the data section: expected end <= " + (last.end() - 100));
    }

    @Test
    void aCorruptByteInAFileWrittenHereIsCaughtByTheRecordedHash() throws Exception {
        AdapterFiles.save(TinyAdapters.loraWhole("lora", 1), dir);
        Path weights = dir.resolve(AdapterFiles.WEIGHTS_FILE);
        String recorded = AdapterFiles.sha256(weights);
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length - 3] ^= 0x40; // a flipped bit in a float: structurally still a valid file
        Files.write(weights, bytes);
        String actual = AdapterFiles.sha256(weights);

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_model.safetensors: SHA-256 " + actual
                        + " differs from the weights_sha256 " + recorded + " recorded in adapter_config.json; the"
                        + " weights file was changed or replaced after the config was written (corruption, or an"
                        + " interrupted save over an older adapter)");
    }

    @Test
    void nonFiniteAdapterWeightsAreRefusedEvenWithAMatchingHash() throws Exception {
        // saved from a diverged run: the hash matches, the weights are still not usable
        Adapter offset = TinyAdapters.stateOffsetH("offset", 1);
        String param = offset.parameters().keySet().iterator().next();
        float[] w = offset.parameters().get(param).data();
        w[17] = Float.NaN;
        w[18] = Float.NaN;
        w[40] = Float.POSITIVE_INFINITY;
        AdapterFiles.save(offset, dir);
        String key = AdapterKeys.of(offset).get(param);

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_model.safetensors is refused: safetensors file "
                        + dir.resolve(AdapterFiles.WEIGHTS_FILE) + ", tensor '" + key + "': holds 3 non-finite values"
                        + " of 2048, the first NaN at index 17 [1, 1] of shape [128, 16]; weights must be finite (the"
                        + " file is corrupt, or was saved from a run that diverged)");
    }

    @Test
    void anInfinityInAPeftWrittenLoraIsRefused() throws Exception {
        writePeftLora();
        Path weights = dir.resolve(AdapterFiles.WEIGHTS_FILE);
        String victim;
        long at;
        try (var f = SafetensorsFile.open(weights)) {
            victim = f.names().getLast();
            at = f.info(victim).begin();
        }
        byte[] bytes = Files.readAllBytes(weights);
        long dataStart = 8 + java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putFloat((int) (dataStart + at + 4 * 3), Float.NEGATIVE_INFINITY);
        Files.write(weights, bytes); // a PEFT folder records no hash: only the finite check stands in the way

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class)
                .hasMessageContaining("tensor '" + victim + "': holds 1 non-finite value of")
                .hasMessageContaining("the first -Inf at index 3");
    }

    @Test
    void aSaveInterruptedBeforeTheConfigLeavesNothingLoadable() throws Exception {
        Path other = dir.resolve("other");
        AdapterFiles.save(TinyAdapters.loraWhole("lora", 1), other);
        Path fresh = dir.resolve("fresh");
        Files.createDirectories(fresh);
        Files.copy(other.resolve(AdapterFiles.WEIGHTS_FILE), fresh.resolve(AdapterFiles.WEIGHTS_FILE));

        assertThatThrownBy(() -> load(fresh, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + fresh + " cannot be loaded: missing adapter_config.json (an adapter folder holds"
                        + " adapter_config.json and adapter_model.safetensors)");

        // over an older adapter: the new weights are in, the old config is still there
        Path old = dir.resolve("old");
        AdapterFiles.save(TinyAdapters.loraWhole("lora", 2), old);
        Files.copy(other.resolve(AdapterFiles.WEIGHTS_FILE), old.resolve(AdapterFiles.WEIGHTS_FILE),
                StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> load(old, TINY)).isInstanceOf(AdapterFileException.class)
                .hasMessageContaining("adapter_model.safetensors: SHA-256 ")
                .hasMessageContaining("interrupted save over an older adapter");
    }

    @Test
    void peftOptionsWithoutACounterpartHereAreRefusedByName() throws Exception {
        writePeftLora();
        replaceInConfig("\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true");
        replaceInConfig("\"rank_pattern\": {}", "\"rank_pattern\": {\"x_proj\": 8}");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded (2 problems):\n"
                        + "  adapter_config.json: 'fan_in_fan_out' = true: the weights are nn.Linear (out, in);"
                        + " transposed (Conv1D) LoRA factors are not supported\n"
                        + "  adapter_config.json: 'rank_pattern' = {\"x_proj\":8}: one rank for all targets is"
                        + " supported, not a rank per module");
    }

    @Test
    void peftTargetModulesWithoutALoraHereAreRefusedByName() throws Exception {
        writePeftLora();
        replaceInConfig("\"target_modules\": [\"in_proj\"", "\"target_modules\": [\"embeddings\", \"in_proj\"");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_config.json: target_modules: 'embeddings' has no"
                        + " LoRA here; supported modules: in_proj, x_proj, dt_proj, out_proj, lm_head");
    }

    @Test
    void anotherPeftTypeIsRefusedNamingTheLoadableOnes() throws Exception {
        writePeftLora();
        replaceInConfig("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"");

        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: adapter_config.json: peft_type 'IA3' is not supported;"
                        + " loadable: LORA, PROMPT_TUNING (and this framework's own SSM_PEFT folders)");
    }

    @Test
    void aFolderThatIsNotThereOrHasATorchPickleIsRefused() throws Exception {
        assertThatThrownBy(() -> load(dir.resolve("none"), TINY)).isInstanceOf(AdapterFileException.class)
                .hasMessage("adapter folder " + dir.resolve("none") + " cannot be loaded: no such folder");
        Files.writeString(dir.resolve("adapter_config.json"), "{}");
        Files.writeString(dir.resolve("adapter_model.bin"), "pickle");
        assertThatThrownBy(() -> load(dir, TINY)).isInstanceOf(AdapterFileException.class).hasMessage(
                "adapter folder " + dir + " cannot be loaded: missing adapter_model.safetensors (adapter_model.bin is"
                        + " a torch pickle and is not read: save the adapter with safetensors)");
    }

    @Test
    void aFailedLoadLeavesTheServerAsItWas() throws Exception {
        var server = new AdapterServer(new CpuMamba(TinyAdapters.weights()), TinyAdapters.FACTORY);
        server.add(TinyAdapters.stateOffsetH("offset", 1));
        var before = server.current();
        writePeftLora();
        Path weights = dir.resolve(AdapterFiles.WEIGHTS_FILE);
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 1));

        assertThatThrownBy(() -> server.load("lora", dir)).isInstanceOf(AdapterFileException.class);

        assertThat(server.names()).containsExactly("offset");
        assertThat(server.current()).isSameAs(before);
    }
}
