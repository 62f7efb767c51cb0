package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.bitfit.BiasTerm;
import org.ssmpeft.bitfit.BitFitConfig;
import org.ssmpeft.finetune.FullFineTuningConfig;
import org.ssmpeft.finetune.LayerParameter;
import org.ssmpeft.finetune.ModelParameter;
import org.ssmpeft.finetune.PartialFineTuningConfig;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.lora.LoraInit;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.LanguageModelConfig;
import org.ssmpeft.sdlora.SdLoraConfig;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * The {@link MethodNumericContract} for every built-in method, several configs each, on every available backend.
 * (Built-in method modules cannot extend it in their own tests: ssm-runtime's tests depend on them.)
 */
class BuiltInMethodsNumericTest {

    /** The methods with a nested contract below. */
    private static final List<String> COVERED = List.of("additional-scan", "bitfit", "full-ft", "initial-state",
            "lora", "partial-ft", "prefix", "prompt", "sdlora", "state-offset");

    @Test
    void everyInstalledMethodHasANumericContractHere() {
        assertThat(PeftMethods.load().names()).containsExactlyInAnyOrderElementsOf(COVERED);
    }

    @Nested
    class StateOffset extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "state-offset";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO),
                    new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.NORMAL));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return ((StateOffsetConfig) config).init() == StateInit.ZERO;
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return true;
        }
    }

    @Nested
    class AdditionalScan extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "additional-scan";
        }

        /**
         * log-range only: with the reference start (A' = -e^N) the extra states forget at once and a' gets no gradient
         * at all, which the finite-difference check would rightly report as an untrained tensor.
         */
        @Override
        protected List<Record> configs() {
            return List.of(new AdditionalScanConfig(2, AdditionalScanConfig.AInit.LOG_RANGE));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return true; // E_C = 0: the extra states are written but not read
        }

        /** Two state extensions concatenate (N + n'₁ + n'₂), they do not add. */
        @Override
        protected boolean parametersAddUp(Record config) {
            return false;
        }
    }

    @Nested
    class InitialState extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "initial-state";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new InitialStateConfig(StateInit.KAIMING_UNIFORM));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return ((InitialStateConfig) config).init() == StateInit.ZERO;
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return true;
        }
    }

    @Nested
    class Prompt extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "prompt";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new PromptConfig(3, 0.5));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return false; // virtual tokens change every later position
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return false; // two prompts do not add up; the adapter set refuses them
        }

        @Override
        protected double randomStd() {
            return 0.5;
        }
    }

    @Nested
    class Prefix extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "prefix";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new PrefixConfig(2, false, 4, 0.5), new PrefixConfig(3, true, 5, 0.5));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return false;
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return false;
        }
    }

    @Nested
    class Lora extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "lora";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ, Projection.X_PROJ,
                            Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD), true),
                    new LoraConfig(3, 2.0, 0.0, List.of(Projection.IN_PROJ_X, Projection.IN_PROJ_Z,
                            Projection.X_PROJ_DT, Projection.X_PROJ_B, Projection.X_PROJ_C), false),
                    new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X,
                            Projection.IN_PROJ_B, Projection.IN_PROJ_C, Projection.IN_PROJ_DT, Projection.OUT_PROJ,
                            Projection.HEAD), false),
                    new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ, Projection.OUT_PROJ), true),
                    // DoRA on every target of each family (whole projections, row blocks, the head)
                    new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ,
                            Projection.OUT_PROJ, Projection.HEAD), false, true),
                    new LoraConfig(2, 2.0, 0.0, List.of(Projection.IN_PROJ_X, Projection.IN_PROJ_Z,
                            Projection.X_PROJ_DT, Projection.X_PROJ_B, Projection.X_PROJ_C), true, true),
                    new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X,
                            Projection.IN_PROJ_B, Projection.IN_PROJ_C, Projection.IN_PROJ_DT, Projection.OUT_PROJ,
                            Projection.HEAD), false, true),
                    // PiSSA (init_lora_weights pissa) on whole projections, row blocks and the head of each family;
                    // r 2 needs targets of at least two rows and columns (not dt_proj or x_proj.dt on dt_rank 1)
                    new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.OUT_PROJ,
                            Projection.HEAD), false, false, 1.0, LoraInit.PISSA),
                    new LoraConfig(2, 2.0, 0.0, List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X,
                            Projection.X_PROJ_B, Projection.X_PROJ_C), true, false, 1.0, LoraInit.PISSA),
                    new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X,
                            Projection.IN_PROJ_B, Projection.IN_PROJ_C, Projection.OUT_PROJ, Projection.HEAD), false,
                            false, 1.0, LoraInit.PISSA));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            // B = 0 (and with DoRA m = ||W||, so m/n = 1); PiSSA's W x + s·B0(A0 x) − s·B0(A0 x) is the base model up
            // to rounding, not bit for bit (PissaTest checks it within float tolerance)
            return ((LoraConfig) config).initLoraWeights() != LoraInit.PISSA;
        }

        /**
         * DoRA on dt_proj needs dt_rank ≥ 2: with one column a row's norm is |W_j + s(BA)_j|, which random factors
         * bring near 0 (6e-4 on the default model of dt_rank 1), and m/n of 10³ is beyond what float32 differences
         * resolve. PiSSA needs r <= min(in, out) of every adapted map (its top-r SVD; the plan refuses less, which
         * random shapes with N 1, dt_rank 1 or one head reach).
         */
        @Override
        protected boolean fits(Record config, LanguageModelConfig model) {
            var c = (LoraConfig) config;
            var shape = model.toShape();
            if (c.initLoraWeights() == LoraInit.PISSA) {
                for (Projection t : c.targets()) {
                    if (t.existsIn(shape.family())
                            && Math.min(t.inFeatures(shape), t.outFeatures(shape)) < c.rank()) {
                        return false;
                    }
                }
            }
            return !(c.useDora() && c.targets().contains(Projection.DT_PROJ) && shape.dtRank() < 2);
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return false; // B·A is bilinear
        }

        /**
         * Two rank-r adapters with scaling alpha/r act as one rank-2r adapter with scaling 2·alpha/2r (the same
         * float) and A = [A₁; A₂], B = [B₁ B₂], since B·A = B₁A₁ + B₂A₂. rsLoRA's alpha/sqrt(r) has no such exact
         * twin, so it is skipped.
         */
        @Override
        protected Optional<Adapter> sumOfTwo(Record config, Adapter a, Adapter b) {
            var c = (LoraConfig) config;
            // DoRA re-normalises each delta's rows by its own norm; two PiSSA deltas each subtract the frozen
            // s·B0·A0, which no single one does twice
            if (c.useRslora() || c.useDora() || c.initLoraWeights() == LoraInit.PISSA) {
                return Optional.empty();
            }
            var doubled = new LoraConfig(2 * c.rank(), 2 * c.alpha(), c.dropout(), c.targets(), false);
            Adapter sum = adapter("a-plus-b", doubled, a.shape(), 0);
            int r = c.rank();
            sum.parameters().forEach((name, t) -> {
                float[] x = a.parameter(name).data();
                float[] y = b.parameter(name).data();
                float[] out = t.data();
                if (name.endsWith("lora_A")) { // (r, in) rows stacked
                    System.arraycopy(x, 0, out, 0, x.length);
                    System.arraycopy(y, 0, out, x.length, y.length);
                } else { // (out, r) columns side by side
                    for (int row = 0; row < x.length / r; row++) {
                        System.arraycopy(x, row * r, out, row * 2 * r, r);
                        System.arraycopy(y, row * r, out, row * 2 * r + r, r);
                    }
                }
            });
            return Optional.of(sum);
        }
    }

    /**
     * SDLoRA (Mamba-1 only, as its reference): the default (D' = N' = 1 on these small models: the first channel and
     * state), half of the channels and states, and a given selection of 4 channels x 2 states that fits the first
     * default model (D 16, N 4) alone, scattered over the channels and states.
     */
    @Nested
    class SdLora extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "sdlora";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new SdLoraConfig(2, 4.0, List.of(Projection.OUT_PROJ), 0.5, 0.5, 10, List.of(), List.of()),
                    new SdLoraConfig(2, 4.0, List.of(Projection.IN_PROJ_X, Projection.OUT_PROJ), 0.75, 0.5, 10,
                            List.of(List.of(3, 15, 0, 8), List.of(10, 2, 7, 5)),
                            List.of(List.of(0, 3, 1, 2, 3, 0, 2, 1), List.of(1, 0, 2, 3, 0, 1, 3, 2))));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return true; // LoRA's B and the sparse deltas are zero
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return false; // the LoRA half is bilinear
        }
    }

    @Nested
    class BitFit extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "bitfit";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new BitFitConfig(List.of(BiasTerm.values())), new BitFitConfig(List.of(BiasTerm.D)));
        }

        @Override
        protected boolean fits(Record config, LanguageModelConfig model) {
            List<BiasTerm> b = ((BitFitConfig) config).biases();
            return (model.useConvBias() || !b.contains(BiasTerm.CONV1D_BIAS))
                    && (model.useBias() || !(b.contains(BiasTerm.IN_PROJ_BIAS) || b.contains(BiasTerm.OUT_PROJ_BIAS)));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return true;
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return true;
        }
    }

    @Nested
    class PartialFineTuning extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "partial-ft";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new PartialFineTuningConfig(java.util.Arrays.stream(LayerParameter.values())
                            .filter(p -> p.existsIn(org.ssmpeft.api.shape.ModelFamily.MAMBA)).toList(),
                            List.of(ModelParameter.EMBEDDINGS_WEIGHT, ModelParameter.NORM_F_WEIGHT)),
                    new PartialFineTuningConfig(List.of(LayerParameter.CONV1D_WEIGHT, LayerParameter.X_PROJ_WEIGHT),
                            List.of(ModelParameter.LM_HEAD_WEIGHT)),
                    new PartialFineTuningConfig(List.of(LayerParameter.NORM_WEIGHT, LayerParameter.IN_PROJ_WEIGHT,
                            LayerParameter.CONV1D_WEIGHT, LayerParameter.DT_BIAS, LayerParameter.A_LOG,
                            LayerParameter.D, LayerParameter.GATE_NORM_WEIGHT, LayerParameter.OUT_PROJ_WEIGHT),
                            List.of(ModelParameter.NORM_F_WEIGHT)));
        }

        @Override
        protected boolean fits(Record config, LanguageModelConfig model) {
            var c = (PartialFineTuningConfig) config;
            return (model.useConvBias() || !c.layerParameters().contains(LayerParameter.CONV1D_BIAS))
                    && (model.useBias() || !(c.layerParameters().contains(LayerParameter.IN_PROJ_BIAS)
                    || c.layerParameters().contains(LayerParameter.OUT_PROJ_BIAS)))
                    && (!model.tieWordEmbeddings() || !c.modelParameters().contains(ModelParameter.LM_HEAD_WEIGHT));
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return true;
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return true;
        }
    }

    @Nested
    class FullFineTuning extends MethodNumericContract {
        @Override
        protected String methodName() {
            return "full-ft";
        }

        @Override
        protected List<Record> configs() {
            return List.of(new FullFineTuningConfig(false, true, true), new FullFineTuningConfig(true, false, false),
                    new FullFineTuningConfig(false, false, true));
        }

        @Override
        protected boolean fits(Record config, LanguageModelConfig model) {
            var c = (FullFineTuningConfig) config;
            return c.tiedHead() == model.tieWordEmbeddings() && c.convBias() == model.useConvBias()
                    && c.linearBiases() == model.useBias();
        }

        @Override
        protected boolean startsAsIdentity(Record config) {
            return true;
        }

        @Override
        protected boolean parametersAddUp(Record config) {
            return true;
        }

        @Override
        protected double randomStd() {
            return 0.02; // a delta on every weight: larger ones drive the random model far from its scale
        }
    }
}
