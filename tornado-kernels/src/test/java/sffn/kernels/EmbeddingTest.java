package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class EmbeddingTest {
    /** Adding the position row is one correctly rounded float add (<= u |sum|, reached); 2u keeps off the edge. */
    static final double ADD_TOL = 2 * Check.U;
    /** The backward sums at most rows + 1 <= 35 terms per element: 34 u = 2e-6 of sum |terms| in any order. */
    static final double SUM_TOL = 1e-5;

    /** out[r] = wte[tokens[r]] + wpe[posOffset + r % seqLen]. */
    static double[] forward(int[] tokens, double[] wte, double[] wpe, int rows, int seqLen, int posOffset, int c) {
        double[] out = new double[rows * c];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < c; j++) {
                out[r * c + j] = wte[tokens[r] * c + j] + wpe[(posOffset + r % seqLen) * c + j];
            }
        }
        return out;
    }

    /** dwte[tokens[r]] += dout[r] over all rows, repeated tokens adding up. */
    static Expected tokenBackward(int[] tokens, double[] dout, double[] dwte0, int rows, int c) {
        double[] dwte = dwte0.clone();
        double[] mag = new double[dwte0.length];
        for (int i = 0; i < mag.length; i++) mag[i] = Math.abs(dwte0[i]);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < c; j++) {
                dwte[tokens[r] * c + j] += dout[r * c + j];
                mag[tokens[r] * c + j] += Math.abs(dout[r * c + j]);
            }
        }
        return new Expected(dwte, mag);
    }

    /** dwpe[posOffset + t] += sum over the batch of dout[b*seqLen + t]. */
    static Expected positionBackward(double[] dout, double[] dwpe0, int rows, int seqLen, int posOffset, int c) {
        double[] dwpe = dwpe0.clone();
        double[] mag = new double[dwpe0.length];
        for (int i = 0; i < mag.length; i++) mag[i] = Math.abs(dwpe0[i]);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < c; j++) {
                dwpe[(posOffset + r % seqLen) * c + j] += dout[r * c + j];
                mag[(posOffset + r % seqLen) * c + j] += Math.abs(dout[r * c + j]);
            }
        }
        return new Expected(dwpe, mag);
    }

    /** Small vocabularies force repeated tokens; c 130 leaves a ragged last column block of 64. */
    @ParameterizedTest(name = "batch={0} seqLen={1} vocab={2} c={3}")
    @CsvSource({"1,1,1,1", "1,7,3,17", "3,11,257,31", "2,17,5,130", "5,1,11,67"})
    void tokenForwardCopiesRowsAndBackwardScatterAdds(int batch, int seqLen, int vocab, int c) {
        SplittableRandom r = Check.rng("embedding.tokens", batch, seqLen, vocab, c);
        int rows = batch * seqLen;
        int[] tokens = Check.ints(r, rows, vocab);
        float[] wte = randn(r, vocab * c);
        float[] outCpu = poisoned(rows * c);
        float[] outPortable = poisoned(rows * c);
        Embedding.forwardCpu(tokens, wte, outCpu, rows, c);
        Embedding.forward(tokens, Check.inSlice(wte), Check.SLICE_AT, outPortable, rows, c);
        float[] ref = new float[rows * c];
        for (int row = 0; row < rows; row++) System.arraycopy(wte, tokens[row] * c, ref, row * c, c);
        assertBitsEqual("embedding forward (CPU body)", ref, outCpu);
        assertBitsEqual("embedding forward (portable body)", ref, outPortable);

        float[] dout = randn(r, rows * c);
        float[] dwte0 = randn(r, vocab * c);
        float[] dwteCpu = dwte0.clone();
        float[] dwteSlice = Check.inSlice(dwte0);
        Embedding.backwardCpu(tokens, dout, dwteCpu, rows, c);
        Embedding.backward(tokens, dout, dwteSlice, Check.SLICE_AT, rows, c);
        float[] dwtePortable = Check.outOfSlice("embedding dwte", dwteSlice, vocab * c);
        assertBodiesMatch("embedding dwte", dwteCpu, dwtePortable,
                tokenBackward(tokens, toDouble(dout), toDouble(dwte0), rows, c), SUM_TOL);
        boolean[] used = new boolean[vocab];
        for (int t : tokens) used[t] = true;
        for (int t = 0; t < vocab; t++) {
            if (used[t]) continue;
            float[] before = Arrays.copyOfRange(dwte0, t * c, (t + 1) * c);
            assertBitsEqual("embedding dwte row " + t + " (no such token; CPU body)", before,
                    Arrays.copyOfRange(dwteCpu, t * c, (t + 1) * c));
            assertBitsEqual("embedding dwte row " + t + " (no such token; portable body)", before,
                    Arrays.copyOfRange(dwtePortable, t * c, (t + 1) * c));
        }
    }

    @ParameterizedTest(name = "batch={0} seqLen={1} posOffset={2} c={3}")
    @CsvSource({"1,1,0,1", "3,7,0,17", "2,17,5,130", "5,1,3,33", "1,31,0,67"})
    void positionsAddAndBackwardSumOverTheBatch(int batch, int seqLen, int posOffset, int c) {
        SplittableRandom r = Check.rng("embedding.positions", batch, seqLen, posOffset, c);
        int rows = batch * seqLen;
        int maxPos = posOffset + seqLen + 2;
        float[] wpe = randn(r, maxPos * c);
        float[] x = randn(r, rows * c);
        float[] cpu = x.clone();
        float[] portable = x.clone();
        Embedding.addPositionsCpu(wpe, cpu, rows, seqLen, posOffset, c);
        Embedding.addPositions(Check.inSlice(wpe), Check.SLICE_AT, portable, rows, seqLen, posOffset, c);
        double[] ref = new double[rows * c];
        double[] mag = new double[rows * c];
        for (int row = 0; row < rows; row++) {
            for (int j = 0; j < c; j++) {
                double p = wpe[(posOffset + row % seqLen) * c + j];
                ref[row * c + j] = x[row * c + j] + p;
                mag[row * c + j] = Math.abs(x[row * c + j]) + Math.abs(p);
            }
        }
        assertBodiesMatch("embedding add positions", cpu, portable, new Expected(ref, mag), ADD_TOL);

        // positionsBackward writes rows [0, seqLen) of dwpe: the positions of a step starting at 0.
        float[] dout = randn(r, rows * c);
        float[] dwpe0 = randn(r, maxPos * c);
        float[] dwpeCpu = dwpe0.clone();
        float[] dwpeSlice = Check.inSlice(dwpe0);
        Embedding.positionsBackwardCpu(dout, dwpeCpu, rows, seqLen, c);
        Embedding.positionsBackward(dout, dwpeSlice, Check.SLICE_AT, rows, seqLen, c);
        float[] dwpePortable = Check.outOfSlice("embedding dwpe", dwpeSlice, maxPos * c);
        assertBodiesMatch("embedding dwpe", dwpeCpu, dwpePortable,
                positionBackward(toDouble(dout), toDouble(dwpe0), rows, seqLen, 0, c), SUM_TOL);
    }

    /** L = sum dout * (wte[tokens] + wpe[positions]), with repeated tokens. */
    @ParameterizedTest(name = "batch={0} seqLen={1} vocab={2} c={3}")
    @CsvSource({"1,1,1,1", "2,3,2,5", "3,4,5,3"})
    void float64BackwardMatchesFiniteDifferences(int batch, int seqLen, int vocab, int c) {
        SplittableRandom r = Check.rng("embedding.fd", batch, seqLen, vocab, c);
        int rows = batch * seqLen;
        int[] tokens = Check.ints(r, rows, vocab);
        double[] wte = toDouble(randn(r, vocab * c));
        double[] wpe = toDouble(randn(r, seqLen * c));
        double[] dout = toDouble(randn(r, rows * c));
        assertMatchesFiniteDifferences("embedding dwte",
                tokenBackward(tokens, dout, new double[vocab * c], rows, c).value(),
                x -> Check.dot(dout, forward(tokens, x, wpe, rows, seqLen, 0, c)), wte);
        assertMatchesFiniteDifferences("embedding dwpe",
                positionBackward(dout, new double[seqLen * c], rows, seqLen, 0, c).value(),
                x -> Check.dot(dout, forward(tokens, wte, x, rows, seqLen, 0, c)), wpe);
    }
}
