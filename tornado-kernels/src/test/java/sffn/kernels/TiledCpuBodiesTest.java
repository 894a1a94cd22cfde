package sffn.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU bodies that split their work into tiles (attention: query and key tiles of about 96
 * streaming over blocks of 192;
 * block-diagonal matmul: row tiles of about 384, dw row tiles) agree with the portable bodies on
 * shapes spanning several tiles with ragged last tiles, and give the same bits on every run.
 *
 * <p>Bound: both bodies are float32 with different summation orders, so they may differ by
 * twice the a-priori error of their longest sum; relative to the largest magnitude of the
 * output, {@code TOL = 1e-5} covers sums of a few hundred O(1) terms (2 * 300 * 2^-24 = 3.6e-5
 * of the sum of magnitudes, which random signs keep near its square root times the largest term).
 * Outputs start as NaN, so an unwritten element fails.
 */
class TiledCpuBodiesTest {
    private static final double TOL = 1e-5;

    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"1,200,4,2,40", "2,97,3,1,24", "1,193,2,2,64"})
    void attentionMatchesPortableBodiesAcrossTiles(int batch, int seqLen, int nq, int nkv, int d) {
        SplittableRandom r = new SplittableRandom(seqLen * 31L + d);
        int stride = (nq + 2 * nkv) * d;
        float[] qkv = random(r, batch * seqLen * stride, 1.5);
        float[] dout = random(r, batch * seqLen * nq * d, 1.0);
        int nRows = batch * nq * seqLen;

        float[] out = nan(dout.length);
        float[] lse = nan(nRows);
        Attention.forwardCpu(qkv, out, lse, batch, seqLen, nq, nkv, d);
        float[] outRef = new float[dout.length];
        float[] lseRef = new float[nRows];
        Attention.forward(qkv, outRef, lseRef, batch, seqLen, nq, nkv, d);
        close("attention out", out, outRef);
        close("attention lse", lse, lseRef);

        float[] delta = nan(nRows);
        float[] dqkv = nan(qkv.length);
        Attention.backwardCpu(dout, qkv, out, lse, delta, dqkv, batch, seqLen, nq, nkv, d);
        float[] deltaRef = new float[nRows];
        float[] dqkvRef = new float[qkv.length];
        Attention.backwardQuery(dout, qkv, outRef, lseRef, deltaRef, dqkvRef, batch, seqLen, nq, nkv, d);
        Attention.backwardKeyValue(dout, qkv, lseRef, deltaRef, dqkvRef, batch, seqLen, nq, nkv, d);
        close("attention delta", delta, deltaRef);
        close("attention dqkv", dqkv, dqkvRef);

        float[] out2 = nan(dout.length);
        float[] lse2 = nan(nRows);
        Attention.forwardCpu(qkv, out2, lse2, batch, seqLen, nq, nkv, d);
        float[] delta2 = nan(nRows);
        float[] dqkv2 = nan(qkv.length);
        Attention.backwardCpu(dout, qkv, out2, lse2, delta2, dqkv2, batch, seqLen, nq, nkv, d);
        assertArrayEquals(out, out2, "attention out differs between runs");
        assertArrayEquals(lse, lse2, "attention lse differs between runs");
        assertArrayEquals(dqkv, dqkv2, "attention dqkv differs between runs");
    }

    @ParameterizedTest(name = "rows={0} nb={1} q={2} p={3}")
    @CsvSource({"800,3,37,41", "1000,2,100,7", "390,4,49,50", "20,2,13,17"})
    void blockDiagonalMatchesPortableBodiesAcrossTiles(int rows, int nb, int q, int p) {
        SplittableRandom r = new SplittableRandom(rows + 7L * q);
        float[] x = random(r, rows * nb * p, 1.0);
        float[] w = random(r, nb * q * p, 1.0);
        float[] dy = random(r, rows * nb * q, 1.0);
        for (boolean accumulate : new boolean[] {false, true}) {
            float[] y0 = accumulate ? random(r, rows * nb * q, 1.0) : new float[rows * nb * q];
            float[] y = accumulate ? y0.clone() : nan(y0.length);
            float[] yRef = y0.clone();
            BlockDiagMatmul.forwardCpu(x, w, y, rows, nb, q, p, accumulate);
            BlockDiagMatmul.forward(x, w, 0, yRef, rows, nb, q, p, accumulate ? 1 : 0);
            close("blockdiag forward", y, yRef);

            float[] dx0 = accumulate ? random(r, rows * nb * p, 1.0) : new float[rows * nb * p];
            float[] dx = accumulate ? dx0.clone() : nan(dx0.length);
            float[] dxRef = dx0.clone();
            BlockDiagMatmul.backwardInputCpu(dy, w, dx, rows, nb, q, p, accumulate);
            BlockDiagMatmul.backwardInput(dy, w, 0, dxRef, rows, nb, q, p, accumulate ? 1 : 0);
            close("blockdiag backwardInput", dx, dxRef);

            float[] dw0 = accumulate ? random(r, nb * q * p, 1.0) : new float[nb * q * p];
            float[] dw = accumulate ? dw0.clone() : nan(dw0.length);
            float[] dwRef = dw0.clone();
            BlockDiagMatmul.backwardWeightCpu(dy, x, dw, rows, nb, q, p, accumulate);
            BlockDiagMatmul.backwardWeight(dy, x, dwRef, 0, rows, nb, q, p, accumulate ? 1 : 0);
            close("blockdiag backwardWeight", dw, dwRef);

            float[] again = accumulate ? dw0.clone() : nan(dw0.length);
            BlockDiagMatmul.backwardWeightCpu(dy, x, again, rows, nb, q, p, accumulate);
            assertArrayEquals(dw, again, "blockdiag backwardWeight differs between runs");
        }
    }

    /** max |got - want| <= TOL * max |want|, NaN failing. */
    private static void close(String what, float[] got, float[] want) {
        double scale = 0;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < got.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= TOL * scale)) {
                fail(String.format("%s[%d] = %s, portable body %s: error %.3g > %.1e * %.3g", what, i, got[i], want[i],
                        err, TOL, scale));
            }
        }
    }

    private static float[] random(SplittableRandom r, int n, double sigma) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) ((2 * r.nextDouble() - 1) * sigma);
        return x;
    }

    private static float[] nan(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }
}
