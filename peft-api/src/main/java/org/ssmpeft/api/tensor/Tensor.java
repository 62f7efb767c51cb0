package org.ssmpeft.api.tensor;

import java.util.Arrays;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A float32 tensor in row-major order: a shape and the buffer that holds its values.
 *
 * <p>Adapters keep their trainable parameters in tensors and hand the same objects to the hooks, so a backend
 * accumulates gradients against them by identity. The buffer is mutable on purpose (optimisers update it in place);
 * the shape never changes.
 */
public final class Tensor {

    private final int[] shape;
    private final float[] data;

    private Tensor(int[] shape, float[] data) {
        this.shape = shape;
        this.data = data;
    }

    /** A zero-filled tensor of the given shape. */
    public static Tensor zeros(int... shape) {
        return new Tensor(shape.clone(), new float[Math.toIntExact(elementCount(shape))]);
    }

    /** Wraps {@code data} (not copied) as a tensor of {@code shape}. */
    public static Tensor of(float[] data, int... shape) {
        Objects.requireNonNull(data, "data");
        long n = elementCount(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("tensor of shape " + format(shape) + " needs " + n
                    + " values, found " + data.length);
        }
        return new Tensor(shape.clone(), data);
    }

    /** Number of elements of a shape; every dimension must be >= 0. */
    public static long elementCount(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + format(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** A shape as it reads in messages: {@code (1536, 16)}. */
    public static String format(int... shape) {
        return Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(", ", "(", ")"));
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int axis) {
        return shape[axis];
    }

    public int size() {
        return data.length;
    }

    /** The backing buffer, row-major; writes go to this tensor. */
    public float[] data() {
        return data;
    }

    public boolean hasShape(int... expected) {
        return Arrays.equals(shape, expected);
    }

    public Tensor copy() {
        return new Tensor(shape.clone(), data.clone());
    }

    public void fill(float value) {
        Arrays.fill(data, value);
    }

    /** True when every element is exactly 0 (negative zero included). */
    public boolean isZero() {
        for (float v : data) {
            if (v != 0f) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "Tensor" + format(shape);
    }
}
