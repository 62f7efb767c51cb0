package org.ssmpeft.runtime.cuda.scan;

import java.util.List;
import java.util.Locale;

/**
 * How a scan kernel splits its work (the template parameters of {@code kernels/selective_scan.cu}): a block owns one
 * batch row and {@code channels} channels; each channel is shared by {@code lanes} adjacent lanes of a warp, each
 * lane owning {@code statesPerLane} states (so lanes·statesPerLane >= N + n'); time is walked in tiles of
 * {@code tile} steps, which is also the checkpoint interval. The tile depends only on N + n' ({@link #tileFor}), so
 * a forward and a backward of different layouts share the checkpoints.
 *
 * <p>Why several: the recurrence is sequential in time, so its speed is set by how many warps each SM
 * sub-partition has to switch between; more lanes per channel give more warps for the same work (and more
 * cross-lane sums), fewer channels per block give more, smaller blocks. {@link #COMPILED} is every layout the
 * kernel file instantiates; {@link #forward} and {@link #backward} are the ones the launcher uses (chosen by the
 * scan benchmark on the H200, see src/bench/NOTES.md).
 *
 * <p>{@code channelsPerLane} 2 (forward only): a lane computes two channels of the block ({@code channels} on half
 * the threads), reading each step's (B, C) once for both; such a forward's backward and decoding step run in its
 * {@link #single()} layout, whose arithmetic per channel is the same.
 */
public record ScanLayout(int lanes, int statesPerLane, int channels, int tile, int channelsPerLane) {

    /** Every layout the kernel file compiles (its LAYOUT lines), grouped by the N + n' they hold. */
    public static final List<ScanLayout> COMPILED = List.of(
            new ScanLayout(4, 4, 32, 32), new ScanLayout(8, 2, 16, 32), new ScanLayout(8, 2, 32, 32),
            new ScanLayout(16, 1, 8, 32), new ScanLayout(16, 1, 16, 32), new ScanLayout(8, 2, 8, 32),
            new ScanLayout(4, 8, 32, 16), new ScanLayout(8, 4, 16, 16), new ScanLayout(8, 4, 32, 16),
            new ScanLayout(4, 16, 32, 8), new ScanLayout(8, 8, 16, 8), new ScanLayout(8, 8, 32, 8),
            new ScanLayout(8, 2, 32, 32, 2));

    public ScanLayout {
        if ((channelsPerLane != 1 && channelsPerLane != 2) || channels % channelsPerLane != 0
                || lanes * channels / channelsPerLane % 32 != 0 || tile % lanes != 0
                || channels / channelsPerLane % statesPerLane != 0) {
            throw new IllegalArgumentException("scan layout " + lanes + "x" + statesPerLane + ", " + channels
                    + " channels, tile " + tile + ", " + channelsPerLane + " channels per lane: threads must fill"
                    + " warps, the tile a multiple of the lanes, 1 or 2 channels per lane");
        }
    }

    /** A layout with one channel per lane. */
    public ScanLayout(int lanes, int statesPerLane, int channels, int tile) {
        this(lanes, statesPerLane, channels, tile, 1);
    }

    /** Whether only a forward kernel exists in this layout (two channels per lane). */
    public boolean forwardOnly() {
        return channelsPerLane > 1;
    }

    /** The one-channel-per-lane layout with the same lanes, states and threads (itself when it is one). */
    public ScanLayout single() {
        return channelsPerLane == 1 ? this : new ScanLayout(lanes, statesPerLane, channels / channelsPerLane, tile);
    }

    /** Steps per tile for N + n' states: 32 up to 16, 16 up to 32, 8 up to 64 (the backward keeps a tile's states). */
    public static int tileFor(int totalStates) {
        if (totalStates <= 16) {
            return 32;
        }
        if (totalStates <= 32) {
            return 16;
        }
        if (totalStates <= SelectiveScanKernels.MAX_STATES) {
            return 8;
        }
        throw new IllegalArgumentException("the cuda scan holds at most " + SelectiveScanKernels.MAX_STATES
                + " states, asked for " + totalStates);
    }

    /** The forward's (and the decoding step's) layout for N + n' states. */
    public static ScanLayout forward(int totalStates) {
        return switch (tileFor(totalStates)) {
            case 32 -> new ScanLayout(8, 2, 16, 32);
            case 16 -> new ScanLayout(8, 4, 16, 16);
            default -> new ScanLayout(8, 8, 16, 8);
        };
    }

    /** The backward's layout for N + n' states. */
    public static ScanLayout backward(int totalStates) {
        return switch (tileFor(totalStates)) {
            case 32 -> new ScanLayout(8, 2, 16, 32);
            case 16 -> new ScanLayout(8, 4, 16, 16);
            default -> new ScanLayout(8, 8, 16, 8);
        };
    }

    /** Every compiled layout that holds N + n' states (for tests and the benchmark; some forward-only). */
    public static List<ScanLayout> candidates(int totalStates) {
        int tile = tileFor(totalStates);
        return COMPILED.stream().filter(l -> l.tile == tile && l.states() >= totalStates).toList();
    }

    public int threads() {
        return lanes * channels / channelsPerLane;
    }

    /** States a channel holds: lanes x states per lane. */
    public int states() {
        return lanes * statesPerLane;
    }

    public int blocks(int channelCount) {
        return (channelCount + channels - 1) / channels;
    }

    /** The entry-point suffix, e.g. {@code s16k1c8t32}, {@code s8k2c32t32p2} with two channels per lane. */
    public String tag() {
        return String.format(Locale.ROOT, "s%dk%dc%dt%d%s", lanes, statesPerLane, channels, tile,
                channelsPerLane == 1 ? "" : "p" + channelsPerLane);
    }

    /** Dynamic shared memory of the forward (the kernel's FWD_SMEM_FLOATS). */
    public int forwardSharedBytes() {
        int tc = tile * channels;
        int pitch = lanes == 1 ? channels : channels + 32 / lanes;
        return 4 * (4 * tc + 2 * tile * states() + tile * pitch + 2 * channels);
    }

    /** Dynamic shared memory of the backward (the kernel's BWD_SMEM_FLOATS); one channel per lane only. */
    public int backwardSharedBytes() {
        if (forwardOnly()) {
            throw new IllegalStateException("layout " + this + " has no backward; its backward runs in " + single());
        }
        int tc = tile * channels;
        return 4 * (7 * tc + 2 * tile * states() + tile * statesPerLane * threads()
                + threads() / 32 * tile * 2 * states());
    }

    @Override
    public String toString() {
        return tag();
    }
}
