package sffn.decode;

/** Which form of a structured FFN linear a decode plan uses. */
public enum FfnPath {
    /** The faster one for the plan's token count, by the measured crossover. */
    AUTO,
    /** The pre-merged dense matrix. */
    MERGED,
    /** The structured factors. */
    STRUCTURED
}
