package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.WarmUp;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.train.TrainingResult.StopReason;
import org.ssmpeft.sdlora.DimensionSelection;
import org.ssmpeft.sdlora.SdLoraConfig;

/**
 * SDLoRA through the trainer on the tiny cpu model (D 32, N 4, R 1, 2 layers): the warm-up run, the selection made
 * from its A_log change, and training that leaves every element outside the selection exactly as the base model has
 * it.
 */
class SdLoraTrainingTest {

    private static final CpuMamba MODEL = TinyMamba.model(5);
    /** D' = 32 - 24 = 8 channels, N' = 4 - 2 = 2 states; 3 warm-up steps. */
    private static final SdLoraConfig CONFIG = new SdLoraConfig(2, 4.0, List.of(Projection.OUT_PROJ), 0.75, 0.5, 3,
            List.of(), List.of());

    private static AdapterSet sdlora(long seed) {
        return new AdapterSet(TinyMamba.CONFIG.toShape()).add(TinyMamba.create("sd", "sdlora", CONFIG, seed));
    }

    private static Trainer.Builder trainer(AdapterSet adapters, int steps, Path dir) {
        return Trainer.builder(MODEL, adapters, TinyMamba.options(steps).build()).outputDirectory(dir)
                .curve(false, 1, 1);
    }

    @Test
    void theWarmUpsALogChangeSelectsTheDimensionsAndNothingOutsideThemMoves(@TempDir Path dir) throws Exception {
        AdapterSet set = sdlora(1);
        Adapter sd = set.get("sd");
        assertThat(((WarmUp) sd).needsWarmUp()).isTrue();
        TrainingResult r = trainer(set, 8, dir).build().train(TinyMamba.data());
        assertThat(r.steps()).isEqualTo(8);
        assertThat(((WarmUp) sd).needsWarmUp()).isFalse();

        // the warm-up: 3 steps of lora + partial-ft(A_log) in warmup-sd/, whose A_log change made the selection
        Path warm = dir.resolve(Trainer.WARMUP_PREFIX + "sd").resolve("checkpoint-3");
        assertThat(Files.isDirectory(warm)).isTrue();
        var saved = TrainingCheckpoint.open(warm).trainable();
        var chosen = (SdLoraConfig) sd.config();
        var shape = sd.shape();
        for (int l = 0; l < shape.layers(); l++) {
            float[] delta = saved.get("adapter/sd-warmup-A_log/backbone.layers." + l + ".mixer.A_log").data();
            assertThat(delta).as("the warm-up trained A_log of layer %d", l).isNotEqualTo(new float[delta.length]);
            var expected = DimensionSelection.select(delta, shape.dInner(), shape.dState(), 8, 2);
            assertThat(chosen.selectedChannels().get(l)).containsExactly(box(expected.channels()));
            assertThat(chosen.selectedStates().get(l)).containsExactly(box(expected.states()));
        }

        // after training: deltas exactly +0.0 outside the selection (θ_base + 0 is θ_base bit for bit), trained inside
        var hook = (ParameterHook) sd;
        int d = shape.dInner();
        int n = shape.dState();
        int rank = shape.dtRank();
        for (int l = 0; l < shape.layers(); l++) {
            boolean[] aMask = new boolean[d * n];
            boolean[] xMask = new boolean[(rank + 2 * n) * d];
            List<Integer> channels = chosen.selectedChannels().get(l);
            for (int j = 0; j < channels.size(); j++) {
                int c = channels.get(j);
                for (int i = 0; i < 2; i++) {
                    aMask[c * n + chosen.selectedStates().get(l).get(j * 2 + i)] = true;
                }
                for (int m = 0; m < 2 * n; m++) {
                    xMask[(rank + m) * d + c] = true;
                }
            }
            checkMasked(hook.parameterDelta("backbone.layers." + l + ".mixer.A_log").orElseThrow().data(), aMask,
                    "A_log of layer " + l);
            checkMasked(hook.parameterDelta("backbone.layers." + l + ".mixer.x_proj.weight").orElseThrow().data(),
                    xMask, "x_proj.weight of layer " + l);
        }
    }

    private static void checkMasked(float[] delta, boolean[] mask, String what) {
        int trained = 0;
        for (int i = 0; i < delta.length; i++) {
            if (mask[i]) {
                trained += delta[i] != 0 ? 1 : 0;
            } else {
                assertThat(Float.floatToRawIntBits(delta[i])).as("%s element %d outside the selection", what, i)
                        .isZero();
            }
        }
        assertThat(trained).as("%s: trained elements inside the selection", what).isGreaterThan(0);
    }

    private static Integer[] box(int[] v) {
        return java.util.Arrays.stream(v).boxed().toArray(Integer[]::new);
    }

    @Test
    void aRunStoppedAfterItsWarmUpAndResumedEndsExactlyAsAnUninterruptedOne(@TempDir Path dir) {
        AdapterSet straight = sdlora(1);
        Trainer whole = trainer(straight, 8, dir.resolve("whole")).build();
        whole.train(TinyMamba.data());

        TrainingResult half = trainer(sdlora(1), 8, dir.resolve("parts")).stopAfter(2).build()
                .train(TinyMamba.data());
        assertThat(half.reason()).isEqualTo(StopReason.STOP_AFTER);
        AdapterSet resumed = sdlora(1);
        Trainer rest = trainer(resumed, 8, dir.resolve("parts")).build();
        assertThat(rest.resume(TinyMamba.data()).steps()).isEqualTo(8);

        assertThat(resumed.get("sd").config()).isEqualTo(straight.get("sd").config());
        assertThat(TinyMamba.bits(rest.parameters())).usingRecursiveComparison()
                .isEqualTo(TinyMamba.bits(whole.parameters()));
    }

    @Test
    void aWarmUpAsLongAsTheRunIsRefusedNamingTheField(@TempDir Path dir) {
        assertThatThrownBy(() -> trainer(sdlora(1), 3, dir).build().train(TinyMamba.data()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("adapter 'sd' (sdlora) warms up for 3 steps (warmup_steps), which leaves nothing of a run"
                        + " of 3 steps; lower its warmup_steps or train for more steps");
    }
}
