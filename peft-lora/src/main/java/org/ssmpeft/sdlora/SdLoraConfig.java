package org.ssmpeft.sdlora;

import java.util.HashSet;
import java.util.List;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.InvalidFieldException;
import org.ssmpeft.api.config.Range;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.lora.LoraConfig;

/**
 * Config of SDLoRA. Defaults are the reference's published configs (furiosa-ai/ssm-peft
 * {@code cfg/peft/sd_lora/500it/n0.75_d0.99.json}): LoRA r 8, alpha 8 on out_proj; 99% of the channels and 75% of
 * the states frozen; 500 warm-up steps. The reference's LoRA dropout 0.1 is not applied (the backends have no LoRA
 * dropout), nor its optional "zeroed" dimensions ({@code num_zero}, 0 in every published config).
 *
 * @param rank             LoRA rank r on {@code targets}
 * @param alpha            LoRA scaling numerator, s = alpha / r
 * @param targets          the projections with a LoRA update
 * @param channelFreeze    share of the D channels left frozen; D' = D - round(channelFreeze·D) are updated (at least 1;
 *                         round half to even, as the reference's Python {@code round})
 * @param stateFreeze      share of the N states of a selected channel's A_log left frozen; N' = N - round(stateFreeze·N)
 *                         (at least 1); B and C are updated on all N states of a selected channel
 * @param warmupSteps      optimiser steps of the warm-up run that chooses the dimensions
 * @param selectedChannels per layer of the model, the D' updated channels (an empty list for a layer not adapted);
 *                         empty until a warm-up chose them
 * @param selectedStates   per layer of the model, D'·N' state indices: those of selected channel j at
 *                         [j·N', (j+1)·N')
 */
public record SdLoraConfig(
        @Doc("LoRA rank r on the targets") @Range(min = 1, max = 4096) int rank,
        @Doc("LoRA scaling numerator: s = alpha/r") @Range(min = 0) double alpha,
        @Doc("projections with a LoRA update (the reference: out_proj; in_proj, in_proj.x, in_proj.z also fit)")
        List<Projection> targets,
        @Doc("share of the SSM channels (d_inner) left frozen; the reference's num_freeze.channel")
        @Range(min = 0, max = 1) double channelFreeze,
        @Doc("share of the states (N) of a selected channel's A_log left frozen; the reference's num_freeze.state")
        @Range(min = 0, max = 1) double stateFreeze,
        @Doc("optimiser steps of the warm-up run that selects the dimensions (the reference: 500)")
        @Range(min = 1, max = 1_000_000) int warmupSteps,
        @Doc("per layer of the model, the selected channels ([] for a layer not adapted); empty: chosen by the warm-up"
                + " (a saved adapter carries them)")
        List<List<Integer>> selectedChannels,
        @Doc("per layer of the model, the selected states of each selected channel, channel after channel; empty:"
                + " chosen by the warm-up") List<List<Integer>> selectedStates) {

    public static final SdLoraConfig DEFAULT = new SdLoraConfig(8, 8.0, List.of(Projection.OUT_PROJ), 0.99, 0.75, 500,
            List.of(), List.of());

    public SdLoraConfig {
        targets = List.copyOf(targets);
        selectedChannels = selectedChannels.stream().map(List::copyOf).toList();
        selectedStates = selectedStates.stream().map(List::copyOf).toList();
        lora(rank, alpha, targets); // LoRA's own checks, with its field names
        if (channelFreeze >= 1) {
            throw new InvalidFieldException("channel_freeze", "expected a share in [0, 1), found " + channelFreeze
                    + " (1 would freeze every channel)");
        }
        if (stateFreeze >= 1) {
            throw new InvalidFieldException("state_freeze", "expected a share in [0, 1), found " + stateFreeze
                    + " (1 would freeze every state)");
        }
        if (selectedChannels.size() != selectedStates.size()) {
            throw new InvalidFieldException("selected_states", "expected one list per layer of selected_channels ("
                    + selectedChannels.size() + "), found " + selectedStates.size());
        }
        for (int l = 0; l < selectedChannels.size(); l++) {
            List<Integer> c = selectedChannels.get(l);
            if (new HashSet<>(c).size() != c.size()) {
                throw new InvalidFieldException("selected_channels[" + l + "]", "expected distinct channel indices,"
                        + " found " + c);
            }
            if (c.isEmpty() != selectedStates.get(l).isEmpty()
                    || !c.isEmpty() && selectedStates.get(l).size() % c.size() != 0) {
                throw new InvalidFieldException("selected_states[" + l + "]", "expected N' states per selected"
                        + " channel (" + c.size() + " channels), found " + selectedStates.get(l).size() + " indices");
            }
        }
    }

    private static LoraConfig lora(int rank, double alpha, List<Projection> targets) {
        return new LoraConfig(rank, alpha, 0.0, targets, false);
    }

    /** The LoRA half, as the {@code lora} method's config. */
    public LoraConfig lora() {
        return lora(rank, alpha, targets);
    }

    /** Whether the dimensions are chosen (by a warm-up that ran, or given). */
    public boolean hasSelection() {
        return !selectedChannels.isEmpty();
    }

    /** D': updated channels of a layer of {@code dInner} channels. */
    public int channels(int dInner) {
        return Math.max(1, dInner - (int) Math.rint(channelFreeze * dInner));
    }

    /** N': updated states of a selected channel's A_log. */
    public int states(int dState) {
        return Math.max(1, dState - (int) Math.rint(stateFreeze * dState));
    }

    /** This config with a selection: per layer of the model its channels and their states ([] where not adapted). */
    public SdLoraConfig withSelection(List<List<Integer>> channels, List<List<Integer>> states) {
        return new SdLoraConfig(rank, alpha, targets, channelFreeze, stateFreeze, warmupSteps, channels, states);
    }
}
