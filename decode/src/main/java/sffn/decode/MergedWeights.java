package sffn.decode;

import java.util.LinkedHashMap;
import java.util.Map;
import sffn.kernels.StepScalars;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.layers.LinearLayer;

/**
 * Every structured FFN linear folded into one dense [out, in] matrix. These structures have no
 * non-linearity inside, so the fold is exact up to float rounding; a guide still present (a
 * checkpoint saved mid-way through self-guided training) folds in too:
 * {@code W = a G + (1 - a) U V}.
 */
public final class MergedWeights {
    private final Map<LinearLayer, Parameter> merged = new LinkedHashMap<>();

    public MergedWeights(Gpt model) {
        float a = model.scalars().data[StepScalars.GUIDE_ALPHA];
        for (LinearLayer l : model.structuredFfnLinears()) {
            Parameter w = new Parameter(l.prefix() + ".merged", false, l.structure().out(), l.structure().in());
            float[] m = l.mergedWeight();
            if (l.guide() != null) {
                float[] g = l.guide().value.data;
                for (int i = 0; i < m.length; i++) m[i] = a * g[i] + (1 - a) * m[i];
            }
            System.arraycopy(m, 0, w.value.data, 0, m.length);
            merged.put(l, w);
        }
    }

    public Parameter of(LinearLayer layer) {
        return merged.get(layer);
    }

    public long bytes() {
        long n = 0;
        for (Parameter p : merged.values()) n += 4L * p.size();
        return n;
    }
}
