package org.ssmpeft.runtime.data;

/**
 * The order in which an epoch visits a data set: a permutation that is a pure function of (seed, epoch, size), so a
 * run resumed at any batch sees exactly the order it would have seen.
 *
 * <p>SplitMix64 (Steele, Lea and Flood, 2014) written out here rather than {@code java.util.Random} or
 * {@code SplittableRandom}, so the order cannot change with the JDK: the stream is seeded with
 * {@code mix(seed) ^ mix(epoch + golden)}, and the permutation is a Fisher-Yates shuffle from the last position down
 * with unbiased bounded draws (rejection as in {@code SplittableRandom.nextLong(bound)}).
 */
public final class ShuffleOrder {

    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

    private ShuffleOrder() {
    }

    /** A permutation of 0..n-1 for this seed and epoch. */
    public static int[] permutation(int n, long seed, int epoch) {
        if (n < 0 || epoch < 0) {
            throw new IllegalArgumentException("size and epoch must be >= 0; got " + n + ", " + epoch);
        }
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        long[] state = {mix(seed) ^ mix(epoch + GOLDEN_GAMMA)};
        for (int i = n - 1; i > 0; i--) {
            int j = (int) bounded(state, i + 1L);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        return order;
    }

    private static long next(long[] state) {
        state[0] += GOLDEN_GAMMA;
        return mix(state[0]);
    }

    /** Uniform in [0, bound). */
    private static long bounded(long[] state, long bound) {
        long m = bound - 1;
        long u = next(state) >>> 1;
        long r = u % bound;
        while (u - r + m < 0) {
            u = next(state) >>> 1;
            r = u % bound;
        }
        return r;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
