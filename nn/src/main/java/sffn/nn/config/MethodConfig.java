package sffn.nn.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How the FFN linears are structured.
 *
 * @param rank            LowRank rank, or BlockDense's inner width r
 * @param nblocks         blocks of BlockDense and BlockShuffle
 * @param firstLayerDense keep the first transformer layer's FFN dense (the paper's rule)
 */
public record MethodConfig(FfnType name, int rank, int nblocks, PostInit postInit, boolean firstLayerDense) {

    public static final MethodConfig DENSE = new MethodConfig(FfnType.LINEAR, 0, 0, PostInit.NONE, true);

    public MethodConfig {
        String src = "method config";
        if (name == null || postInit == null) throw new ConfigException(src + ": name and post_init are required");
        switch (name) {
            case LINEAR -> { }
            case LOWRANK -> require(rank > 0, src, "rank", "must be positive for lowrank, got " + rank);
            case BLOCKDENSE -> {
                require(rank > 0, src, "rank", "must be positive for blockdense, got " + rank);
                require(nblocks > 0, src, "nblocks", "must be positive for blockdense, got " + nblocks);
                require(rank % nblocks == 0, src, "rank", "(" + rank + ") must be divisible by nblocks (" + nblocks + ")");
            }
            case BLOCKSHUFFLE -> require(nblocks > 0, src, "nblocks", "must be positive for blockshuffle, got " + nblocks);
        }
    }

    private static void require(boolean ok, String src, String field, String problem) {
        if (!ok) throw new ConfigException(src + ": field '" + field + "' " + problem);
    }

    public boolean structured() {
        return name != FfnType.LINEAR;
    }

    /** Whether layer {@code layer}'s FFN uses this structure (else it is dense). */
    public boolean structuredAt(int layer) {
        return structured() && !(firstLayerDense && layer == 0);
    }

    /** Checks the sizes that depend on the model: divisibility of the FFN widths by nblocks. */
    public void checkAgainst(ModelConfig m, String source) {
        if (name == FfnType.LOWRANK || name == FfnType.BLOCKDENSE) {
            int max = Math.min(m.hiddenDim(), m.ffnDim());
            if (rank > max) {
                throw new ConfigException(source + ": field 'rank' (" + rank + ") exceeds the smaller FFN width " + max
                        + " of the model; a low-rank factorisation cannot have a higher rank than that");
            }
        }
        if (name == FfnType.BLOCKDENSE || name == FfnType.BLOCKSHUFFLE) {
            int[][] dims = {{m.hiddenDim(), m.fc1OutDim()}, {m.ffnDim(), m.hiddenDim()}};
            for (int[] d : dims) {
                for (int v : d) {
                    if (v % nblocks != 0) {
                        throw new ConfigException(source + ": field 'nblocks' (" + nblocks + ") must divide the FFN widths "
                                + m.hiddenDim() + ", " + m.fc1OutDim() + " and " + m.ffnDim() + " of the model; " + v + " is not divisible");
                    }
                }
            }
        }
    }

    public static MethodConfig read(Path file) {
        return from(JsonFields.read(file));
    }

    public static MethodConfig from(JsonFields f) {
        try {
            FfnType name = f.choice("name", FfnType.class);
            PostInit fallback = switch (name) {
                case LOWRANK -> PostInit.SVD;
                case BLOCKDENSE, BLOCKSHUFFLE -> PostInit.ORTHO;
                case LINEAR -> PostInit.NONE;
            };
            boolean usesRank = name == FfnType.LOWRANK || name == FfnType.BLOCKDENSE;
            boolean usesBlocks = name == FfnType.BLOCKDENSE || name == FfnType.BLOCKSHUFFLE;
            String method = name.name().toLowerCase(Locale.ROOT);
            if (!usesRank && f.has("rank")) throw f.error("rank", "does not apply to " + method + "; remove it");
            if (!usesBlocks && f.has("nblocks")) throw f.error("nblocks", "does not apply to " + method + "; remove it");
            MethodConfig c = new MethodConfig(name,
                    f.integer("rank", 0),
                    f.integer("nblocks", 0),
                    f.choice("post_init", PostInit.class, fallback),
                    f.bool("first_layer_dense", true));
            f.rejectUnknown();
            return c;
        } catch (ConfigException e) {
            throw e.getMessage().startsWith("method config:")
                    ? new ConfigException(f.source() + e.getMessage().substring("method config".length()))
                    : e;
        }
    }

    public ObjectNode toJson() {
        ObjectNode n = JsonFields.MAPPER.createObjectNode();
        n.put("name", name.name().toLowerCase(Locale.ROOT));
        if (rank > 0) n.put("rank", rank);
        if (nblocks > 0) n.put("nblocks", nblocks);
        n.put("post_init", postInit.name().toLowerCase(Locale.ROOT));
        n.put("first_layer_dense", firstLayerDense);
        return n;
    }
}
