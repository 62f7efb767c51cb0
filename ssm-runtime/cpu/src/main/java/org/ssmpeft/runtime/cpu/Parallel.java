package org.ssmpeft.runtime.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/** Runs independent tasks {@code 0..n-1} on a fork/join pool, splitting the range in halves. */
final class Parallel {

    private final ForkJoinPool pool;

    // Not the common pool: it has availableProcessors - 1 workers, and its external caller only waits.
    private static final class DefaultPool {
        static final ForkJoinPool POOL = new ForkJoinPool(Runtime.getRuntime().availableProcessors());
    }

    static ForkJoinPool defaultPool() {
        return DefaultPool.POOL;
    }

    Parallel(ForkJoinPool pool) {
        this.pool = pool;
    }

    int threads() {
        return pool.getParallelism();
    }

    /** Calls {@code task} for every index in {@code [0, n)}; in parallel unless {@code n} or the pool is 1. */
    void forEach(int n, IntConsumer task) {
        if (n <= 1 || pool.getParallelism() <= 1) {
            for (int i = 0; i < n; i++) {
                task.accept(i);
            }
            return;
        }
        pool.invoke(new Range(0, n, task));
    }

    /** A task over the index range {@code [lo, hi)}. */
    @FunctionalInterface
    interface RangeTask {
        void run(int lo, int hi);
    }

    /**
     * Splits {@code [0, n)} into blocks of about {@code minWork} work units (one index costs {@code workPerIndex})
     * and runs them in parallel; small ranges run on the calling thread.
     */
    void forRange(int n, long workPerIndex, long minWork, RangeTask task) {
        int perBlock = (int) Math.max(1, Math.min(n, minWork / Math.max(1, workPerIndex)));
        int blocks = (n + perBlock - 1) / perBlock;
        if (blocks <= 1) {
            task.run(0, n);
            return;
        }
        forEach(blocks, i -> task.run(i * perBlock, Math.min(n, (i + 1) * perBlock)));
    }

    /** Tasks of about {@code grain} units each for {@code units} units of work, at least 1. */
    static int chunks(long units, long grain) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (units + grain - 1) / grain));
    }

    private static final class Range extends RecursiveAction {
        private static final long serialVersionUID = 1L;
        private final int lo;
        private final int hi;
        private final transient IntConsumer task;

        Range(int lo, int hi, IntConsumer task) {
            this.lo = lo;
            this.hi = hi;
            this.task = task;
        }

        @Override
        protected void compute() {
            if (hi - lo == 1) {
                task.accept(lo);
                return;
            }
            int mid = (lo + hi) >>> 1;
            invokeAll(new Range(lo, mid, task), new Range(mid, hi, task));
        }
    }
}
