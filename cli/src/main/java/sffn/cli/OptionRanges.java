package sffn.cli;

/** Range checks of numeric options, each failing with the option, the value and the range. */
public final class OptionRanges {
    private OptionRanges() {
    }

    public static void atLeast(String option, long value, long min) {
        if (value < min) throw new IllegalArgumentException(option + " must be at least " + min + ", got " + value);
    }

    public static void atLeast(String option, int[] values, int min) {
        for (int v : values) atLeast(option, v, min);
    }

    /** {@code min <= value <= max} (infinities and NaN are refused where options are parsed). */
    public static void within(String option, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new IllegalArgumentException(option + " must be between " + min + " and " + max + ", got " + value);
        }
    }
}
