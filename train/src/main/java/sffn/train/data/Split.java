package sffn.train.data;

/** Which part of a prepared data set a shard holds; the tag appears in shard names, {@code <prefix>_<tag>_NNNNNN.bin}. */
public enum Split {
    TRAIN("train"),
    VAL("val");

    private final String tag;

    Split(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }

    /** The name of shard {@code index} of this split, as llm.c's data scripts and {@code sffn prepare} write it. */
    public String shardName(String prefix, int index) {
        return String.format("%s_%s_%06d.bin", prefix, tag, index);
    }
}
