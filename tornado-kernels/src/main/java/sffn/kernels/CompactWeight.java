package sffn.kernels;

import sffn.kernels.plan.KernelCall;

/**
 * A weight stored for decoding in {@link WeightFormat#BF16} or {@link WeightFormat#INT8}, with
 * the kernel calls that read it as stored. Rows are everything but the last dimension, which is
 * the input dimension (K) of the products: [out, in] for a dense weight, [nb, q, p] for a
 * block-diagonal one.
 */
public sealed interface CompactWeight {

    String name();

    WeightFormat format();

    /** Bytes a product reads: the weights, and the scales. */
    long bytes();

    /** The values the kernels compute with, as float32. */
    float[] dequantised();

    /** {@code C[M,N] (+)= A[M,K] . W[N,K]^T}. */
    KernelCall matmul(Tensor a, Tensor c, int m, int n, int k, boolean accumulate);

    /** The block-diagonal product of {@link BlockDiagMatmul}, W [nb, q, p]. */
    KernelCall blockDiag(Tensor x, Tensor y, int rows, int nb, int q, int p, boolean accumulate);

    record Bf16Weight(ShortTensor bits) implements CompactWeight {
        public String name() {
            return bits.name;
        }

        public WeightFormat format() {
            return WeightFormat.BF16;
        }

        public long bytes() {
            return 2L * bits.size();
        }

        public float[] dequantised() {
            float[] w = new float[bits.size()];
            Bf16.widen(bits.data, w);
            return w;
        }

        public KernelCall matmul(Tensor a, Tensor c, int m, int n, int k, boolean accumulate) {
            return new KernelCall.Bf16MatmulForward(a, bits, c, m, n, k, accumulate);
        }

        public KernelCall blockDiag(Tensor x, Tensor y, int rows, int nb, int q, int p, boolean accumulate) {
            return new KernelCall.Bf16BlockDiagForward(x, bits, y, rows, nb, q, p, accumulate);
        }
    }

    /** {@code q} with the shape of the weight; {@code scale} [rows, groups(K)]. */
    record Int8Weight(ByteTensor q, Tensor scale) implements CompactWeight {
        public String name() {
            return q.name;
        }

        public WeightFormat format() {
            return WeightFormat.INT8;
        }

        public long bytes() {
            return q.size() + 4L * scale.size();
        }

        public float[] dequantised() {
            int[] s = q.shape();
            int k = s[s.length - 1];
            float[] w = new float[q.size()];
            Int8Groups.dequantise(q.data, scale.data, k == 0 ? 0 : q.size() / k, k, w);
            return w;
        }

        public KernelCall matmul(Tensor a, Tensor c, int m, int n, int k, boolean accumulate) {
            return new KernelCall.Int8MatmulForward(a, q, scale, c, m, n, k, accumulate);
        }

        public KernelCall blockDiag(Tensor x, Tensor y, int rows, int nb, int qq, int p, boolean accumulate) {
            return new KernelCall.Int8BlockDiagForward(x, q, scale, y, rows, nb, qq, p, accumulate);
        }
    }

    /** The shape of the scales of an int8 weight of this shape: the last dimension counts groups. */
    static int[] scaleShape(int[] shape) {
        int[] s = shape.clone();
        s[s.length - 1] = Int8Groups.groups(shape[shape.length - 1]);
        return s;
    }

    /**
     * {@code w} in {@code format} (not FP32): bf16 tensors keep w's name; int8 ones name the
     * int8 tensor after w and its scales {@code <name>.scale}.
     */
    static CompactWeight compress(Tensor w, WeightFormat format) {
        int[] shape = w.shape();
        return switch (format) {
            case BF16 -> {
                ShortTensor b = new ShortTensor(w.name, shape);
                Bf16.compress(w.data, b.data);
                yield new Bf16Weight(b);
            }
            case INT8 -> {
                ByteTensor q = new ByteTensor(w.name, shape);
                Tensor s = new Tensor(w.name + ".scale", scaleShape(shape));
                int k = shape[shape.length - 1];
                try {
                    Int8Groups.quantise(w.data, k == 0 ? 0 : w.size() / k, k, q.data, s.data);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("cannot quantise " + w.name + ": " + e.getMessage(), e);
                }
                yield new Int8Weight(q, s);
            }
            case FP32 -> throw new IllegalArgumentException("fp32 weights are not compact: " + w.name);
        };
    }
}
