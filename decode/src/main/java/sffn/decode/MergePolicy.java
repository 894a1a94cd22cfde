package sffn.decode;

import java.util.Map;
import sffn.nn.layers.LinearLayer;

/**
 * Chooses, per structured linear and token count, between the structured factors and the merged
 * matrix. With {@link FfnPath#AUTO} it uses measured crossovers: the structured form is used
 * from {@code crossover} tokens on, the merged one below. A linear with no measurement uses the
 * structured form.
 */
public final class MergePolicy {
    private final FfnPath path;
    private final Map<String, Integer> crossovers;

    /** @param crossovers by {@link #shapeKey}: smallest token count at which the structured form wins */
    public MergePolicy(FfnPath path, Map<String, Integer> crossovers) {
        this.path = path;
        this.crossovers = Map.copyOf(crossovers);
    }

    public static MergePolicy fixed(FfnPath path) {
        return new MergePolicy(path, Map.of());
    }

    public FfnPath path() {
        return path;
    }

    public Map<String, Integer> crossovers() {
        return crossovers;
    }

    public boolean useMerged(LinearLayer layer, int tokens) {
        return switch (path) {
            case MERGED -> true;
            case STRUCTURED -> false;
            case AUTO -> {
                Integer c = crossovers.get(shapeKey(layer));
                yield c != null && tokens < c;
            }
        };
    }

    /** Linears of the same structure and shape share a crossover: "lowrank 256x1024". */
    public static String shapeKey(LinearLayer layer) {
        String kind = layer.structure().getClass().getSimpleName().replace("Linear", "").toLowerCase(java.util.Locale.ROOT);
        return kind + " " + layer.structure().in() + "x" + layer.structure().out();
    }
}
